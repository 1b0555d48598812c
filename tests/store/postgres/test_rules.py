"""Revision 0006's rules on a PostgreSQL store set up for a team, attacked
through each role's own login with SQL typed by hand (the second attack
pass of issue #19): ids nobody can use up, the CLI's look-alike test in
the database, values keydesk never writes refused, and a leaked key's
note under a label's rules.

The cast (tests/support/pg_team.py): alice owns acme, carol is an admin there and
vic a viewer; bob owns globex; `verifier` is keydesk serve's role.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa

from keydesk.errors import PermissionDenied
from keydesk.validation import skeletons
from keydesk.verify import Verifier
from tests.support.pg_team import Team, acme_with_github

pytestmark = pytest.mark.postgres

INT4_MAX = 2**31 - 1
SEQUENCES = (
    "workspace_id_seq",
    "account_id_seq",
    "membership_id_seq",
    "integration_id_seq",
    "api_key_id_seq",
    "audit_event_id_seq",
    "ssh_approval_id_seq",
)


def _peopled(team: Team) -> Team:
    alice = acme_with_github(team)
    alice.add_member("acme", team.role("carol"), "admin")
    alice.add_member("acme", team.role("vic"), "viewer")
    alice.create_key("github", "prod")
    return team


@pytest.fixture
def acme(team: Team) -> Team:
    return _peopled(team)


@pytest.fixture(scope="module")
def refusing_acme(team_pool) -> Iterator[Team]:
    """`acme`, made once for the tests whose every write the database
    refuses (so none changes what another reads)."""
    with team_pool.team() as team:
        yield _peopled(team)


def as_superuser(team: Team, statement: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(team.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def refused(team: Team, who: str, statement: str, params: tuple = ()) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as error:
        team.sql(who, statement, params)
    return error.value


# -- ids nobody can use up -----------------------------------------------------------


def test_a_viewer_cannot_use_up_the_ids_every_workspace_writes_with(acme):
    """A viewer drew api_key_id_seq to int4's end (2^31 nextval calls, ~35
    minutes), and no workspace could write again. Ids are bigint now: drawn
    past 2^31 here (as the server's superuser, not 2^31 calls), everything
    keydesk writes and the verifier reads works on."""
    team = acme
    for sequence in SEQUENCES:
        error = refused(team, "vic", f"SELECT setval('{sequence}', {INT4_MAX})")
        assert "permission denied for sequence" in str(error)
    rows = as_superuser(
        team, "SELECT sequencename, data_type::text, max_value FROM pg_sequences ORDER BY 1"
    )
    wide = {name: (kind, top) for name, kind, top in rows if name in SEQUENCES}
    assert wide == dict.fromkeys(SEQUENCES, ("bigint", 2**63 - 1))
    # What the viewer's 2^31 nextval calls would have done:
    for sequence in SEQUENCES:
        as_superuser(team, f"SELECT setval('{sequence}', {INT4_MAX})")
    team.sql("vic", "SELECT nextval('api_key_id_seq')")  # allowed, and harmless now
    alice = team.service_as("alice")
    alice.add_integration("acme", "stripe", "Stripe", configure=False)
    alice.add_member("acme", f"dave_{team.tag}", "member")
    created = alice.create_key("github", "after")
    rotated = alice.rotate_key(created.key.public_key, timedelta(hours=1))
    alice.revoke_key(rotated.created.key.public_key)
    bob = team.service_as("bob")
    bob.create_workspace("globex")
    assert bob.add_integration("globex", "gh", "GitHub").id > INT4_MAX
    assert created.key.id > INT4_MAX and rotated.created.key.replaces == created.key.public_key
    assert f"dave_{team.tag}" in {m.account for m in alice.members("acme").members}
    verifier = Verifier(team.store_as("verifier").engine)
    try:
        assert verifier.verify(created.private_key).public_key == created.key.public_key
    finally:
        verifier.close()
    # keydesk_create_workspace draws a workspace id even when refused, and every
    # audited write an event id: neither runs out either (pass 3's N1).
    assert bob.create_workspace("initech").id > INT4_MAX
    revoke = alice.audit("acme", key=rotated.created.key.public_key, limit=1)
    assert [(event.action, event.id > INT4_MAX) for event in revoke] == [("key.revoke", True)]
    ids = as_superuser(
        team,
        " UNION ALL ".join(
            f"SELECT max(id) FROM {table}"
            for table in ("account", "membership", "workspace", "audit_event")
        ),
    )
    assert all(value > INT4_MAX for (value,) in ids)


# -- the CLI's look-alike test, in the database ------------------------------------------


def _letters() -> list[str]:
    """Every Latin, Greek and Cyrillic letter, and the ASCII digits."""
    scripts = ("LATIN ", "GREEK ", "CYRILLIC ", "DIGIT ")
    return [
        chr(point)
        for point in range(0x30, 0x20000)
        if unicodedata.category(chr(point))[0] in "LN"
        and unicodedata.name(chr(point), "").startswith(scripts)
    ]


def test_the_database_and_the_cli_read_every_letter_alike(acme):
    """The database's skeletons are the CLI's, for each of ~2,000 letters
    alone and in a name (the frozen table of 106 missed 385 pairs the CLI
    refuses: llona ~ Ilona, \u041dR ~ HR, aIice ~ alice)."""
    names = [form for char in _letters() for form in (char, f"x{char}y", char.upper())]
    engine = sa.create_engine(acme.url)  # the function is the owner's (its triggers call it)
    try:
        with engine.connect() as connection:
            query = "SELECT n, keydesk_skeletons(n) FROM unnest(CAST(:names AS text[])) n"
            rows = list(connection.execute(sa.text(query), {"names": names}))
    finally:
        engine.dispose()
    differ = [(n, set(db), set(skeletons(n))) for n, db in rows if set(db) != set(skeletons(n))]
    assert len(rows) == len(names) > 6000
    assert differ == []


def test_look_alikes_the_frozen_table_missed_are_refused_and_renames_too(acme):
    team = acme
    bob = team.service_as("bob")
    for existing, spoof in (("Ilona", "llona"), ("HR", "\u041dR"), ("KMS", "\u041a\u041cS")):
        bob.create_workspace(existing)
        error = refused(team, "alice", "SELECT keydesk_create_workspace(%s)", (spoof,))
        assert error.sqlstate == "KD005", spoof
    with pytest.raises(PermissionDenied, match="looks like that of another workspace"):
        team.service_as("alice").create_workspace("llona")
    alice_name = team.role("alice")
    spoof = alice_name.replace("l", "I", 1)
    error = refused(team, "carol", "INSERT INTO account (name, created_at) VALUES (%s, now())",
                    (spoof,))  # fmt: skip
    assert error.sqlstate == "KD005" and "another account" in str(error)
    # A rename is checked as a creation is: gitlab renamed githu\u042c next to github.
    team.service_as("alice").add_integration("acme", "gitlab", "GitLab")
    error = refused(team, "carol", "UPDATE integration SET name = %s WHERE name = 'gitlab'",
                    ("githu\u042c",))  # fmt: skip
    assert error.sqlstate == "KD005" and "another integration in its workspace" in str(error)
    error = refused(team, "alice", "UPDATE workspace SET name = 'Ilona' WHERE name = 'acme'")
    assert "permission denied" in str(error) or error.sqlstate == "KD005"


def _race(team: Team, first: str, second: str, params: tuple[str, str]) -> psycopg.Error:
    """`first` runs as alice in an open transaction; `second`, as carol,
    must wait for it (seen waiting on a lock in pg_stat_activity, not
    timed), then is refused once alice commits. Its error is returned."""
    alice, carol = team.connect("alice"), team.connect("carol")
    try:
        alice.autocommit = False
        alice.execute(first, (params[0],))
        carol.execute("SET statement_timeout = '60s'")
        pid = carol.info.backend_pid
        errors: list[psycopg.Error] = []

        def insert() -> None:
            try:
                carol.execute(second, (params[1],))
            except psycopg.Error as error:
                errors.append(error)

        racer = threading.Thread(target=insert)
        racer.start()
        waiting: list[tuple[object, ...]] = []
        for _ in range(600):  # the racer reaches the lock long before this ends
            waiting = as_superuser(team, "SELECT wait_event_type FROM pg_stat_activity"
                                   f" WHERE pid = {pid} AND state = 'active'")  # fmt: skip
            if waiting == [("Lock",)] or not racer.is_alive():
                break
            threading.Event().wait(0.05)
        assert waiting == [("Lock",)] and racer.is_alive()
        alice.commit()
        racer.join(60)
        assert not racer.is_alive() and len(errors) == 1
        return errors[0]
    finally:
        alice.close()
        carol.close()


def test_two_look_alikes_written_at_once_are_not_both_kept(acme):
    """Pass 3's N2: PAYROLL and its Cyrillic look-alike (or billing and bil1ing in one
    workspace) added by two open transactions each missed the other's row,
    and both committed. The check now waits for the other's commit."""
    team = acme
    error = _race(team, "SELECT keydesk_create_workspace(%s)", "SELECT keydesk_create_workspace(%s)",
                  ("PAYROLL", "\u0420AYROLL"))  # fmt: skip
    assert error.sqlstate == "KD005" and "another workspace" in str(error)
    insert = ("INSERT INTO integration (workspace_id, name, provider, status, scopes)"
              " SELECT id, %s, 'x', 'draft', '' FROM workspace WHERE name = 'acme'")  # fmt: skip
    error = _race(team, insert, insert, ("billing", "bil1ing"))
    assert error.sqlstate == "KD005" and "another integration" in str(error)
    names = as_superuser(team, "SELECT name FROM workspace UNION ALL SELECT name FROM integration")
    assert {"PAYROLL", "billing"} <= {n for (n,) in names}
    assert not {"\u0420AYROLL", "bil1ing"} & {n for (n,) in names}
    with team.connect("carol") as carol:
        carol.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(psycopg.Error, match="only in a READ COMMITTED transaction"):
            carol.execute(insert, ("invoicing",))


# -- values keydesk never writes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "statement"),
    [
        ("carol", "UPDATE integration SET status = 'pwned'"),
        ("carol", "UPDATE membership SET role = 'god' WHERE account_id ="
                  " (SELECT id FROM account WHERE name = session_user)"),
        ("carol", "INSERT INTO api_key (integration_id, public_key, label, secret_hash,"
                  " created_at, created_by, scopes, lifetime_days, expires_at)"
                  " SELECT i.id, 'kdpk_yyyyyyyyyyyyyyyy', 'lt', 'h', now(), a.id, '',"
                  " 2000000000, now() + interval '1 day' FROM integration i, account a"
                  " WHERE a.name = session_user"),
        ("alice", "UPDATE workspace SET max_key_lifetime_days = 2000000000"),
        ("alice", "UPDATE workspace SET max_key_lifetime_days = -5"),
        ("alice", "UPDATE workspace SET max_key_lifetime_days = 0"),
        ("carol", "UPDATE integration SET provider = E'Git\\u001b]52;c;ZXZpbA==\\u0007'"),
        ("carol", "UPDATE integration SET scopes = E'read\\nwrite'"),
        ("carol", "UPDATE integration SET client_id = E'x\\u202ey'"),
        ("carol", "UPDATE integration SET redirect_uri = 'javascript:alert(1)'"),
        ("carol", "UPDATE integration SET redirect_uri = 'http://evil.example/cb'"),
        ("carol", "UPDATE integration SET redirect_uri = 'https://a.example/cb#x'"),
        *(("carol", "INSERT INTO api_key (integration_id, public_key, label, secret_hash,"
                    " created_at, created_by, scopes, expires_at)"
                    " SELECT i.id, 'kdpk_zzzzzzzzzzzzzzzz', 'far', 'h', now(), a.id, '',"
                    f" '{far}' FROM integration i, account a WHERE a.name = session_user")
          for far in ("infinity", "20000-01-01 00:00+00")),
        ("carol", "UPDATE integration SET scopes = 'read,write'"),
        ("carol", "UPDATE integration SET scopes = 'read  write'"),
        ("carol", "UPDATE integration SET scopes = ' read'"),
    ],
)  # fmt: skip
def test_values_keydesk_never_writes_are_refused_by_the_database(refusing_acme, who, statement):
    """Each broke every member's listing or key commands with exit 70."""
    error = refused(refusing_acme, who, statement)
    assert isinstance(error, psycopg.errors.CheckViolation), statement


def test_not_even_the_servers_superuser_stores_a_time_keydesk_cannot_read(acme):
    """Pass 3's N3: one key's 'infinity' broke key list and revoke for everyone."""
    for column in ("expires_at", "last_used_at", "revoked_at", "created_at"):
        with pytest.raises(sa.exc.IntegrityError, match=f"api_key_{column}_range"):
            as_superuser(acme, f"UPDATE api_key SET {column} = '-infinity'")
    acme.service_as("alice").create_key("github", "still fine")


@pytest.mark.parametrize("early", ["1500-01-01", "1999-12-31 23:59:59.999999+00"])
def test_not_even_the_servers_superuser_stores_a_time_before_the_year_2000(refusing_acme, early):
    """README: a key's times are in years 2000 to 9999."""
    for column in ("expires_at", "last_used_at", "revoked_at", "created_at"):
        with pytest.raises(sa.exc.IntegrityError, match=f"api_key_{column}_range"):
            as_superuser(refusing_acme, f"UPDATE api_key SET {column} = '{early}'")


def test_the_limits_keydesk_writes_are_accepted(acme):
    alice = acme.service_as("alice")
    for uri in ("http://localhost:8000/cb", "http://[::1]/cb", "https://a.example/cb?x=1"):
        alice.update_integration("github", redirect_uri=uri)
    assert alice.set_key_policy("acme", 36_500).max_key_lifetime_days == 36_500
    assert alice.set_key_policy("acme", 1).max_key_lifetime_days == 1
    assert alice.set_key_policy("acme", None).max_key_lifetime_days is None


# -- a leaked key's note -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("note", "needle"),
    [
        ("found at kdsk_" + "A" * 24, "looks like a private key"),
        ("found at \x1b[2Jlog", "control or invisible"),
        ("found at " + "x" * 60, "longer than 64"),
        ("found at\u202eevil", "control or invisible"),
    ],
)
def test_a_leaked_keys_note_obeys_a_labels_rules(acme, note, needle):
    """keydesk_mark_leaked (every user may call it) stored a private key."""
    public_key = acme.service_as("alice").keys("github")[0].public_key
    with acme.connect("carol") as connection:
        connection.autocommit = False
        connection.execute(
            "UPDATE api_key SET revoked_at = now(), revoked_by ="
            " (SELECT id FROM account WHERE name = session_user) WHERE public_key = %s",
            (public_key,),
        )
        with pytest.raises(psycopg.Error) as error:
            connection.execute("SELECT keydesk_mark_leaked(%s, %s)", (public_key, note))
        connection.rollback()
    assert error.value.sqlstate == "KD005" and needle in str(error.value)
    assert all(e.label != note for e in acme.service_as("alice").audit("acme", limit=1000))


def test_a_leak_found_in_an_unprintable_place_is_still_revoked(acme):
    """keydesk's own note is made printable first, so the revocation (in
    the same transaction) is never refused for it."""
    carol = acme.service_as("carol")
    key = carol.keys("github")[0]
    carol.revoke_key(key.public_key, leaked_at="/tmp/evil\x1b[2J\u202e name ")
    (event, *_) = carol.audit("acme", key=key.public_key)
    assert event.action == "key.revoke.leaked"
    assert event.label == "found at /tmp/evil\\x1b[2J\\x202e name"
