"""Leaked keys on a PostgreSQL store set up for a team (revision 0004):
`POST /v1/revoke` as keydesk serve's verifier role, and `keydesk scan` as an
admin whose role cannot read hashes, so whose matches are never revoked on
their public key alone (#19 item 7), only through keydesk serve.

The cast (tests/support/pg_team.py): alice owns acme, carol is an admin there and
vic a viewer; bob owns globex; `verifier` is keydesk serve's role.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors
from starlette.testclient import TestClient

from keydesk.cli import main
from keydesk.errors import AlreadyRevoked, NotFound, Unauthorized, UnauthorizedReason
from keydesk.http.server import create_app
from keydesk.keys import PrivateKey, checksum, generate_key_pair
from keydesk.verify import Verifier
from keydesk.views import UNVERIFIED, UnprovenKey
from tests.conftest import _postgres_database
from tests.support.pg_team import Team, acme_with_github
from tests.support.servers import uvicorn_thread

pytestmark = pytest.mark.postgres

NOT_CHECKED = "not checked against the hash on PostgreSQL: an admin cannot read hashes"


@dataclass
class Leaks:
    team: Team
    live: str  # private keys: acme's active key, its revoked one, globex's key
    dead: str
    globex: str

    @staticmethod
    def public(private: str) -> str:
        return "kdpk_" + private[5:21]


@pytest.fixture
def leaks(team) -> Leaks:
    """The cast's keys on a team of the test's own: for tests that revoke or
    change a key."""
    return _made_leaks(team)


@pytest.fixture(scope="module")
def module_leaks(module_team) -> Leaks:
    """`leaks`, made once per module (~0.9 s a team): for tests that only
    read it or are refused (those that could revoke say nothing was)."""
    return _made_leaks(module_team)


def _made_leaks(team: Team) -> Leaks:
    alice = acme_with_github(team)
    alice.add_member("acme", team.role("carol"), "admin")
    alice.add_member("acme", team.role("vic"), "viewer")
    live = alice.create_key("github", "prod")
    dead = alice.create_key("github", "old")
    alice.revoke_key(dead.key.public_key)
    bob = team.service_as("bob")
    bob.create_workspace("globex")
    bob.add_integration(
        "globex", "stripe", "Stripe", client_id="ca_1",
        redirect_uri="https://globex.example/cb", configure=True,
    )  # fmt: skip
    globex = bob.create_key("stripe", "billing")
    return Leaks(
        team, live.private_key.reveal(), dead.private_key.reveal(), globex.private_key.reveal()
    )


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _verified_as(leaks: Leaks, private: str) -> UnauthorizedReason | None:
    """What keydesk serve's role answers for `private` now (None: accepted)."""
    check = Verifier(leaks.team.store_as("verifier").engine)
    try:
        check.verify(PrivateKey(private))
    except Unauthorized as refusal:
        return refusal.reason
    finally:
        check.close()
    return None


def _leak_events(team: Team, who: str = "alice", workspace: str = "acme") -> list:
    trail = team.service_as(who).audit(workspace)
    return [event for event in trail if event.action == "key.revoke.leaked"]


# -- revision 0004 --------------------------------------------------------------------


def test_only_the_verifier_role_may_call_the_revocation_function(module_leaks):
    leaks = module_leaks
    team = leaks.team
    public = leaks.public(leaks.live)
    for who in ("alice", "carol", "vic", "bob"):
        with pytest.raises(psycopg.Error) as error:
            team.sql(who, "SELECT keydesk_revoke_leaked(%s, 'x')", (public,))
        assert isinstance(error.value, errors.InsufficientPrivilege), who
    assert team.service_as("alice").key(public).is_active
    # Admins may ask only whether a public key exists, not more.
    assert team.sql("carol", "SELECT keydesk_key_exists(%s)", (public,)) == [(True,)]
    with pytest.raises(psycopg.Error):
        team.sql("verifier", "SELECT keydesk_key_exists(%s)", (public,))


def test_the_functions_are_owner_safe(module_leaks):
    leaks = module_leaks
    rows = leaks.team.sql(
        "alice",
        "SELECT p.proname, p.prosecdef, array_to_string(p.proconfig, ','),"
        " pg_get_userbyid(p.proowner), has_function_privilege('public', p.oid, 'EXECUTE')"
        " FROM pg_proc p WHERE p.proname IN ('keydesk_revoke_leaked', 'keydesk_key_exists')",
    )
    assert len(rows) == 2
    for name, definer, config, owner, public_may in rows:
        assert definer, name
        assert config.startswith("search_path=pg_catalog, public, pg_temp"), name
        assert owner == leaks.team.owner and not public_may, name


def test_the_function_revokes_once_audits_once_and_changes_nothing_after(leaks):
    team = leaks.team
    public = leaks.public(leaks.live)
    call = "SELECT keydesk_revoke_leaked(%s, 'found at POST /v1/revoke from 10.0.0.7')"
    assert team.sql("verifier", call, (public,)) == [("revoked",)]
    assert team.sql("verifier", call, (public,)) == [("already_revoked",)]
    assert team.sql("verifier", call, ("kdpk_ZZZZZZZZZZZZZZZZ",)) == [("unknown",)]
    key = team.service_as("alice").key(public)
    assert key.status.value == "revoked" and key.revoked_by is None  # the role has no account
    (event,) = _leak_events(team)
    assert (event.actor, event.target) == (team.role("verifier"), public)
    assert event.label == "found at POST /v1/revoke from 10.0.0.7"
    assert event.integration == "github"


@pytest.fixture
def database(postgres_template) -> Iterator[str]:
    """A copy of the worker's migrated store, as the superuser (the test
    downgrades it and upgrades it again; a migration of its own first cost
    ~1 s)."""
    yield from _postgres_database(postgres_template)


def test_downgrade_drops_the_functions_and_upgrade_restores_them(database):
    from alembic import command

    from keydesk.store.engine import open_store
    from keydesk.store.migrations import _config

    open_store(database, create=True).dispose()
    engine = sa.create_engine(database)
    names = sa.text(
        "SELECT proname FROM pg_proc WHERE proname IN"
        " ('keydesk_revoke_leaked', 'keydesk_key_exists') ORDER BY proname"
    )
    try:
        for target, expected in (
            ("0003", []),
            ("head", ["keydesk_key_exists", "keydesk_revoke_leaked"]),
        ):
            with engine.begin() as connection:
                config = _config()
                config.attributes["connection"] = connection
                (command.downgrade if target == "0003" else command.upgrade)(config, target)
            with engine.connect() as connection:
                assert list(connection.execute(names).scalars()) == expected, target
    finally:
        engine.dispose()


# -- POST /v1/revoke as the verifier role ---------------------------------------------


@pytest.fixture
def served(leaks):
    with TestClient(create_app(leaks.team.store_as("verifier"))) as client:
        yield client


def test_a_report_revokes_as_the_verifier_role_with_the_reporter_audited(leaks, served):
    public = leaks.public(leaks.live)
    assert served.get("/v1/verify", headers=_bearer(leaks.live)).status_code == 200
    response = served.post("/v1/revoke", json={"api_key": leaks.live})
    assert (response.status_code, response.json()) == (200, {"public_key": public})
    refused = served.get("/v1/verify", headers=_bearer(leaks.live))
    assert refused.status_code == 401 and refused.json()["reason"] == "revoked"
    (event,) = _leak_events(leaks.team)
    assert event.actor == leaks.team.role("verifier") and event.target == public
    assert event.label == "found at POST /v1/revoke from testclient"
    # Reported again: the same answer, no second event.
    assert served.post("/v1/revoke", headers=_bearer(leaks.live)).status_code == 200
    assert len(_leak_events(leaks.team)) == 1


def test_dead_unknown_and_forged_reports_get_the_same_answer_and_change_nothing(module_leaks):
    leaks = module_leaks
    other = generate_key_pair().private_key.reveal()
    body = leaks.live[:22] + other[22:65]
    wrong_secret = body + checksum(body)
    with TestClient(create_app(leaks.team.store_as("verifier"))) as served:
        for presented in (leaks.dead, other, wrong_secret):
            response = served.post("/v1/revoke", headers=_bearer(presented))
            assert (response.status_code, response.json()) == (
                200, {"public_key": leaks.public(presented)},
            )  # fmt: skip
        assert served.get("/v1/verify", headers=_bearer(leaks.live)).status_code == 200
    assert _leak_events(leaks.team) == []


def test_any_workspace_is_reachable_and_the_rate_limit_holds(leaks, served):
    from keydesk.http.server import REVOKES_PER_MINUTE

    assert served.post("/v1/revoke", headers=_bearer(leaks.globex)).status_code == 200
    (event,) = _leak_events(leaks.team, "bob", "globex")
    assert event.target == leaks.public(leaks.globex)
    answers = [
        served.post("/v1/revoke", headers=_bearer(leaks.dead)).status_code
        for _ in range(REVOKES_PER_MINUTE)
    ]
    assert answers[-1] == 429 and answers.count(200) == REVOKES_PER_MINUTE - 1


def test_the_service_checks_possession_before_calling_the_function(leaks):
    verifier = leaks.team.service_as("verifier")
    other = generate_key_pair().private_key.reveal()
    body = leaks.live[:22] + other[22:65]
    with pytest.raises(NotFound):
        verifier.revoke_leaked_key(PrivateKey(body + checksum(body)), "x")
    assert verifier.revoke_leaked_key(PrivateKey(leaks.live), "x") == leaks.public(leaks.live)
    with pytest.raises(AlreadyRevoked):
        verifier.revoke_leaked_key(PrivateKey(leaks.live), "x")
    assert _verified_as(leaks, leaks.live) is UnauthorizedReason.REVOKED


# -- keydesk scan as an admin -----------------------------------------------------------


@pytest.fixture
def scan(request, capsys, monkeypatch):
    """`keydesk scan ARGS` as `who`, on the team of the test's `leaks` or `module_leaks`."""
    monkeypatch.delenv("KEYDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv("KEYDESK_ACCOUNT", raising=False)
    shared = "module_leaks" in request.fixturenames
    team = request.getfixturevalue("module_leaks" if shared else "leaks").team

    def run(who: str, *args: str) -> tuple[int, str, str]:
        code = main(["--db", team.url_as(who), "scan", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _plant(folder: Path, *keys: str) -> Path:
    folder.mkdir(exist_ok=True)
    leak = folder / "app.env"
    leak.write_text("".join(f"KEY{n}={key}\n" for n, key in enumerate(keys, start=1)))
    return leak


def test_an_admin_sees_each_status_matched_by_public_key_and_is_told_so(
    module_leaks, scan, tmp_path
):
    leaks = module_leaks
    stranger = generate_key_pair().private_key.reveal()
    leak = _plant(tmp_path / "tree", leaks.live, leaks.dead, stranger)
    code, out, err = scan("carol", str(leak))
    assert code == 2
    lines = out.splitlines()
    assert lines == [
        f"{leak}:1: {leaks.live[:9]}… {leaks.public(leaks.live)} active, label 'prod', "
        "integration github (matched by public key)",
        f"{leak}:2: {leaks.dead[:9]}… {leaks.public(leaks.dead)} revoked, label 'old', "
        "integration github (matched by public key)",
        f"{leak}:3: {stranger[:9]}… {leaks.public(stranger)} unknown (matched by public key)",
    ]
    assert err.count("\n") == 1 and NOT_CHECKED in err
    for key in (leaks.live, leaks.dead, stranger):
        assert key[22:60] not in out + err

    code, out, _ = scan("carol", "--json", str(_plant(tmp_path / "dead", leaks.dead, stranger)))
    assert code == 1  # only dead keys
    assert [(f["status"], f["secret_checked"]) for f in json.loads(out)] == [
        ("revoked", False), ("unknown", False),
    ]  # fmt: skip


def test_an_expired_key_is_dead(leaks, scan, tmp_path):
    # The superuser moves the expiry into the past: no admin's role may.
    engine = sa.create_engine(leaks.team.url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE api_key SET expires_at = now() - interval '1 day' WHERE public_key = :pk"
            ),
            {"pk": leaks.public(leaks.live)},
        )
    engine.dispose()
    code, out, _ = scan("vic", str(_plant(tmp_path / "t", leaks.live)))
    assert code == 1 and " expired, label 'prod'" in out


def test_a_key_in_another_workspace_counts_as_live_and_is_not_revoked(module_leaks, scan, tmp_path):
    leaks = module_leaks
    leak = _plant(tmp_path / "t", leaks.globex)
    code, out, err = scan("carol", "--revoke", "--yes", str(leak))
    assert code == 2
    assert out.rstrip().endswith(
        f"{leaks.public(leaks.globex)} other-workspace (matched by public key)"
    )
    assert f"cannot revoke {leaks.public(leaks.globex)}: it is in a workspace you are not" in err
    assert "/v1/revoke" in err
    assert leaks.team.service_as("bob").key(leaks.public(leaks.globex)).is_active


def _forged(live: str) -> str:
    """A file's look-alike of `live`: its public key, another secret, a valid checksum."""
    other = generate_key_pair().private_key.reveal()
    body = live[:22] + other[22:65]
    return body + checksum(body)


@pytest.mark.parametrize("who", ["carol", "vic"])
def test_a_key_matched_by_public_key_is_never_revoked_on_that_match(
    module_leaks, scan, tmp_path, who
):
    leaks = module_leaks
    # #19 item 7: a forgery (the live key's public key, another secret) revoked the real key.
    leak = _plant(tmp_path / "t", _forged(leaks.live), leaks.live)
    code, out, err = scan(who, "--revoke", "--yes", str(leak))
    assert code == 2, err  # still live
    assert out.count(" active, ") == 2
    public = leaks.public(leaks.live)
    lines = err.splitlines()
    for line in (1, 2):
        assert f"keydesk: {leak}:{line}: {public}: {UNVERIFIED}" in lines
    assert sum("--revoke-via" in line for line in lines) == 1  # how, said once
    assert leaks.team.service_as("alice").key(public).is_active
    assert _leak_events(leaks.team) == [] and _verified_as(leaks, leaks.live) is None


def test_the_service_refuses_to_revoke_what_the_actor_cannot_check(module_leaks):
    leaks = module_leaks
    for private in (_forged(leaks.live), leaks.live):
        with pytest.raises(UnprovenKey, match="matched by public key only, not revoked"):
            leaks.team.service_as("carol").revoke_found_key(PrivateKey(private), "x")
    assert _verified_as(leaks, leaks.live) is None


def test_revoke_via_keydesk_serve_revokes_the_real_key_and_not_on_a_forgery(
    leaks, scan, tmp_path, monkeypatch
):
    # Keys sent over plain http to this host never cross a proxy (urllib would use it).
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    leak = _plant(tmp_path / "t", _forged(leaks.live), leaks.live, _forged(leaks.live))
    with uvicorn_thread(create_app(leaks.team.store_as("verifier"))) as base:
        code, _out, err = scan("carol", "--revoke", "--yes", "--revoke-via", base, str(leak))
    public = leaks.public(leaks.live)
    assert code == 1, err  # found, and dead now
    assert f"keydesk: {leak}:1: {public}: {UNVERIFIED} ({base}/v1/revoke checked it)" in err
    assert f"revoked {public} ('prod') of github" in err
    (event,) = _leak_events(leaks.team)  # once: by the server, which checked the secret
    assert event.actor == leaks.team.role("verifier") and event.target == public
    assert _verified_as(leaks, leaks.live) is UnauthorizedReason.REVOKED


def test_revoke_via_a_forgery_alone_revokes_nothing(module_leaks, scan, tmp_path):
    leaks = module_leaks
    leak = _plant(tmp_path / "t", _forged(leaks.live))
    with uvicorn_thread(create_app(leaks.team.store_as("verifier"))) as base:
        code, _out, err = scan("carol", "--revoke", "--yes", "--revoke-via", base, str(leak))
    assert code == 2 and f"{UNVERIFIED} ({base}/v1/revoke checked it)" in err
    assert _leak_events(leaks.team) == [] and _verified_as(leaks, leaks.live) is None


@pytest.mark.parametrize("url", ["http://keys.example.com", "ftp://x", "keys.example.com"])
def test_revoke_via_sends_keys_only_over_https_or_to_this_host(module_leaks, scan, tmp_path, url):
    leaks = module_leaks
    leak = _plant(tmp_path / "t", leaks.live)
    code, out, err = scan("carol", "--revoke", "--yes", "--revoke-via", url, str(leak))
    assert code == 3 and out == "" and "https://" in err and err.count("\n") == 1


@pytest.mark.parametrize("who", ["superuser", "owner role"])
def test_the_store_owner_checks_secrets_as_on_sqlite(module_leaks, tmp_path, capsys, who):
    leaks = module_leaks
    other = generate_key_pair().private_key.reveal()
    body = leaks.live[:22] + other[22:65]
    forged = body + checksum(body)  # the right public key, a wrong secret
    leak = _plant(tmp_path / "t", leaks.live, forged)
    url = sa.make_url(leaks.team.url)
    if who == "owner role":  # the superuser's session acting as the owner role
        url = url.update_query_dict({"options": f"-c role={leaks.team.owner}"})
    code = main(["--db", url.render_as_string(hide_password=False), "scan", "--json", str(leak)])
    out, err = capsys.readouterr()
    assert code == 2 and err == ""
    assert [(f["status"], f["secret_checked"]) for f in json.loads(out)] == [
        ("active", True), ("unknown", True),
    ]  # fmt: skip
