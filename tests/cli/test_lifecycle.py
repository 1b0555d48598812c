"""A key's life on the command line: expiry and the workspace's lifetime policy,
rotation with an overlap, per-key scopes, usage, stale and expiring keys,
and integration edit/disable/enable. Each test runs on SQLite and on
PostgreSQL, through `keydesk.cli.main` as the store's owner."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from keydesk.cli import main
from keydesk.errors import Unauthorized, UnauthorizedReason
from keydesk.keys import checksum
from keydesk.store.engine import open_store
from keydesk.verify import Verifier
from keydesk.views import utcnow

SCOPES = "repo read:org read:user"


class Keydesk:
    """`keydesk ARGS…` in-process on one store, as its owner (the OS user on
    SQLite; on PostgreSQL the connection's role)."""

    def __init__(self, url: str, monkeypatch, capsys) -> None:
        self.url = url
        self._monkeypatch = monkeypatch
        self._capsys = capsys

    def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        self._monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["--db", self.url, *args])
        out, err = self._capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, err
        return out

    def json(self, *args: str):
        return json.loads(self.ok(*args, "--json"))

    def refused(self, *args: str) -> str:
        """The one line a refusal prints (asserted to be one line)."""
        code, out, err = self(*args)
        assert code != 0, out
        assert err.startswith("keydesk: ") and err.count("\n") == 1, err
        assert "Traceback" not in err and "internal error" not in err
        return err

    def create(self, label: str, *options: str) -> dict:
        return self.json("key", "create", "--integration", "github", "--label", label, *options)

    def sql(self, statement: str, **values) -> None:
        store = open_store(self.url)
        try:
            with store.engine.begin() as connection:
                connection.execute(sa.text(statement), values)
        finally:
            store.dispose()

    def verify(self, api_key: str) -> tuple[int, str]:
        code, out, err = self("verify", "--json", stdin=api_key)
        return code, json.loads(out).get("reason", "valid") if out else err


SET_UP = (
    ("init", "--workspace", "acme"),
    ("integration", "add", "--workspace", "acme", "--name", "github", "--provider", "GitHub",
     "--client-id", "Iv1.abc", "--redirect-uri", "https://app.example.com/cb",
     "--scopes", SCOPES, "--configure"),
)  # fmt: skip


@pytest.fixture
def kd(store_url, migrated, monkeypatch, capsys) -> Keydesk:
    """A store with workspace acme and a configured integration github
    (`init` on a migrated store: these tests are not about making one)."""
    monkeypatch.delenv("KEYDESK_ACCOUNT", raising=False)
    monkeypatch.delenv("KEYDESK_API_KEY", raising=False)
    kd = Keydesk(store_url, monkeypatch, capsys)
    for argv in SET_UP:
        kd.ok(*argv)
    return kd


@pytest.fixture(scope="module")
def set_up_once(module_store_url) -> str:
    """module_store_url set up as `kd`'s store."""
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.delenv("KEYDESK_ACCOUNT", raising=False)
        patch.delenv("KEYDESK_API_KEY", raising=False)
        for argv in SET_UP:
            assert main(["--db", module_store_url, *argv]) == 0
    return module_store_url


@pytest.fixture
def kd_refused(set_up_once, monkeypatch, capsys) -> Keydesk:
    """`kd` on a store set up once per module and backend, for the tests
    whose every command is refused (so none changes what another reads)."""
    monkeypatch.delenv("KEYDESK_ACCOUNT", raising=False)
    monkeypatch.delenv("KEYDESK_API_KEY", raising=False)
    return Keydesk(set_up_once, monkeypatch, capsys)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _about(moment: datetime, expected: datetime) -> bool:
    return abs(moment - expected) < timedelta(minutes=1)


# -- expiry and scopes at creation ------------------------------------------------


def test_a_key_created_without_an_expiry_option_lives_90_days_as_in_the_tui(kd):
    key = kd.create("default")
    assert key["lifetime_days"] == 90
    stops = datetime.fromisoformat(key["expires_at"])
    assert timedelta(days=89, hours=23) < stops - utcnow() <= timedelta(days=90)


def test_create_with_expiry_and_scopes(kd):
    key = kd.create("prod", "--expires-in", "90d", "--scope", "repo", "--scope", "read:user")
    assert _about(_at(key["expires_at"]), utcnow() + timedelta(days=90))
    assert key["lifetime_days"] == 90
    assert key["scopes"] == ["repo", "read:user"]  # in the integration's order
    code, out, _ = kd("verify", "--json", stdin=key["api_key"])
    assert code == 0 and json.loads(out)["scopes"] == ["repo", "read:user"]

    dated = kd.create("ci", "--expires-at", "2099-03-01")
    assert dated["expires_at"] == "2099-03-01T00:00:00+00:00"  # a date is midnight UTC
    assert dated["scopes"] == SCOPES.split()  # no --scope: all of the integration's

    forever = kd.create("forever", "--no-expiry")
    assert forever["expires_at"] is None and forever["lifetime_days"] is None


def test_create_says_what_the_key_may_do_and_until_when(kd):
    out = kd.ok(
        "key", "create", "--integration", "github", "--label", "p", "--expires-at",
        "2099-03-01T12:30", "--scope", "repo",
    )  # fmt: skip
    assert "Scopes:      repo\n" in out and "Expires:     2099-03-01 12:30 UTC\n" in out
    out = kd.ok("key", "create", "--integration", "github", "--label", "q", "--no-expiry")
    assert "Expires:     never\n" in out and out.count("kdsk_") == 1


def test_expires_in_takes_minutes_hours_and_weeks(kd):
    """README: `--expires-in` takes `30m`, `12h`, `2w`: the key expires that far from now."""
    for span, length in (("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)),
                         ("2w", timedelta(weeks=2))):  # fmt: skip
        key = kd.create(span, "--expires-in", span)
        assert _about(_at(key["expires_at"]), utcnow() + length), (span, key["expires_at"])


def test_expires_at_with_a_zone_is_stored_in_utc(kd):
    """README: `--expires-at` is UTC unless it names a zone."""
    key = kd.create("zoned", "--expires-at", "2099-01-01T12:00+02:00")
    assert key["expires_at"] == "2099-01-01T10:00:00+00:00"
    (listed,) = kd.json("key", "list", "--integration", "github")
    assert listed["expires_at"] == "2099-01-01T10:00:00+00:00"


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (("--expires-in", "soon"), "--expires-in 'soon' is not a duration"),
        (("--expires-in", "0d"), "--expires-in '0d' is no time at all: give a span of at least 1m"),
        (("--expires-in", "999999w"), "longer than 36500 days"),
        (("--expires-at", "next tuesday"), "neither a date"),
        (("--expires-at", "2001-01-01"), "the expiry must be in the future"),
        (("--expires-in", "9d", "--no-expiry"), "not allowed with argument"),
        (
            ("--scope", "admin"),
            "'github' has no scope 'admin' (its scopes: repo read:org read:user)",
        ),
        (("--scope", "\x1b[2J"), "escape sequence"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_create_refuses_bad_expiry_and_scopes_in_one_line(kd_refused, options, needle):
    kd = kd_refused
    err = kd.refused("key", "create", "--integration", "github", "--label", "x", *options)
    assert needle in err and "\x1b" not in err
    assert kd.json("key", "list", "--integration", "github") == []  # nothing was made


# -- the workspace's lifetime policy ------------------------------------------------


def test_policy_caps_new_keys_and_the_refusal_states_it(kd):
    assert kd.json("workspace", "set-policy", "--max-key-lifetime", "30d") == {
        "workspace": "acme", "role": "owner", "max_key_lifetime_days": 30,
    }  # fmt: skip
    policy = "keys in acme must expire within 30 days (its owners' policy)"
    err = kd.refused("key", "create", "--integration", "github", "--label", "x", "--no-expiry")
    assert policy in err and "at most 30d" in err
    assert kd.create("capped")["lifetime_days"] == 30  # the default, 90 days, within the cap
    err = kd.refused(
        "key", "create", "--integration", "github", "--label", "x", "--expires-in", "31d"
    )
    assert policy in err and "further than 30 days away" in err
    assert kd.create("ok", "--expires-in", "30d")["lifetime_days"] == 30
    assert kd.json("workspace", "list") == [
        {"workspace": "acme", "role": "owner", "max_key_lifetime_days": 30}
    ]
    out = kd.ok("workspace", "set-policy", "--max-key-lifetime", "none")
    assert out == "keys in acme may live without an expiry\n"
    assert kd.create("forever", "--no-expiry")["expires_at"] is None
    events = [json.loads(line) for line in kd.ok("audit", "--json").splitlines()]
    assert [e["label"] for e in events if e["action"] == "workspace.policy"] == [
        "max key lifetime 30d", "max key lifetime none",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("0", "is not a duration"),
        ("0d", "'0d' is no time at all: give a span of at least 1d"),
        ("12h", "must be whole days"),
        ("forever", "is not a duration"),
        ("999999d", "longer than 36500 days"),
    ],
)
def test_policy_refuses_bad_lifetimes(kd_refused, value, needle):
    assert needle in kd_refused.refused("workspace", "set-policy", "--max-key-lifetime", value)


def test_policy_names_the_workspace_when_there_are_several(kd):
    kd.ok("init", "--workspace", "beta")
    err = kd.refused("workspace", "set-policy", "--max-key-lifetime", "90d")
    assert "several workspaces (acme, beta); give --workspace" in err
    kd.ok("workspace", "set-policy", "--workspace", "beta", "--max-key-lifetime", "90d")
    assert "no workspace named 'nope'" in kd.refused(
        "workspace", "set-policy", "--workspace", "nope", "--max-key-lifetime", "90d"
    )


def test_only_owners_set_the_policy(configured):
    configured("member", "add", "--workspace", "acme", "--account", "bob", "--role", "admin")
    code, _, err = configured("workspace", "set-policy", "--max-key-lifetime", "30d", actor="bob")
    assert code != 0 and "only owners may set its key policy" in err and err.count("\n") == 1


# -- rotation with an overlap ------------------------------------------------------------


def test_rotate_with_an_overlap_keeps_both_keys_working_until_it_ends(kd):
    old = kd.create("prod", "--expires-in", "90d", "--scope", "repo")
    rotated = kd.json("key", "rotate", old["public_key"], "--overlap", "24h")
    new_public = rotated["public_key"]
    assert rotated["api_key"].startswith(f"kdsk_{new_public[5:]}_")
    assert rotated["label"] == f"prod ({utcnow():%Y-%m-%d})"  # today's dated replacement
    assert rotated["scopes"] == ["repo"] and rotated["lifetime_days"] == 90  # the same rule
    assert rotated["replaces"] == old["public_key"]
    assert rotated["old_key"]["replaced_by"] == new_public
    stops = _at(rotated["old_key_stops_at"])
    assert _about(stops, utcnow() + timedelta(hours=24))
    assert _at(rotated["old_key"]["expires_at"]) == stops

    assert kd.verify(old["api_key"]) == (0, "valid")  # both work during the overlap
    assert kd.verify(rotated["api_key"]) == (0, "valid")
    table = kd.ok("key", "list", "--integration", "github")
    assert f"rotating -> {new_public} (24 hours left)" in table  # not one short (#21)

    events = [json.loads(line) for line in kd.ok("audit", "--json").splitlines()]
    rotations = [e for e in events if e["action"] == "key.rotate"]
    assert len(rotations) == 1  # one event names both keys
    assert rotations[0]["target"] == old["public_key"]
    assert rotations[0]["related"] == new_public
    assert not [e for e in events if e["action"] == "key.create" and e["target"] == new_public]
    table = kd.ok("audit").splitlines()
    assert [line for line in table if f"{old['public_key']} -> {new_public}" in line]
    for key in (old["public_key"], new_public):  # each key's trail shows the rotation
        trail = kd.ok("audit", "--key", key, "--json")
        assert '"action": "key.rotate"' in trail

    # The old key stops when the overlap ends: move its deadline into the past.
    kd.sql("UPDATE api_key SET expires_at = :at WHERE public_key = :pk",
           at=utcnow() - timedelta(seconds=1), pk=old["public_key"])  # fmt: skip
    assert kd.verify(old["api_key"]) == (1, "expired")
    assert kd.verify(rotated["api_key"]) == (0, "valid")


def test_rotate_says_when_the_old_key_stops(kd):
    old = kd.create("prod", "--no-expiry")
    out = kd.ok("key", "rotate", old["public_key"], "--overlap", "1h", "--label", "prod-2")
    assert out.count("kdsk_") == 1 and "API key 'prod-2' for integration github" in out
    last = out.splitlines()[-1]
    prefix = f"{old['public_key']} stops working at "
    assert last.startswith(prefix) and last.endswith(" UTC."), last
    stops = datetime.strptime(last[len(prefix) : -len(" UTC.")], "%Y-%m-%d %H:%M")
    assert _about(stops.replace(tzinfo=UTC), utcnow() + timedelta(hours=1))


def test_rotate_with_no_overlap_revokes_the_old_key_at_once(kd):
    old = kd.create("prod", "--no-expiry")
    out = kd.ok("key", "rotate", old["public_key"], "--overlap", "0")
    assert f"{old['public_key']} was revoked now: it stopped working at once." in out
    assert kd.verify(old["api_key"]) == (1, "revoked")
    listed = {k["label"]: k for k in kd.json("key", "list", "--integration", "github")}
    assert listed["prod"]["status"] == "revoked"
    assert listed[f"prod ({utcnow():%Y-%m-%d})"]["expires_at"] is None  # no expiry, as before


def test_rotate_refusals(kd):
    old = kd.create("prod", "--no-expiry")
    first = kd.json("key", "rotate", old["public_key"], "--overlap", "1h")
    err = kd.refused("key", "rotate", old["public_key"], "--overlap", "1h")
    assert f"already being replaced by {first['public_key']}" in err
    assert "not a duration (0, 1h, 24h, 7d)" in kd.refused(
        "key", "rotate", first["public_key"], "--overlap", "5"
    )
    assert "--overlap '-1h' is not a duration" in kd.refused(
        "key", "rotate", first["public_key"], "--overlap=-1h"
    )
    assert "required" in kd.refused("key", "rotate", first["public_key"])  # no default overlap
    assert "no key kdpk_AAAAAAAAAAAAAAAA" in kd.refused(
        "key", "rotate", "kdpk_AAAAAAAAAAAAAAAA", "--overlap", "1h"
    )
    kd.ok("key", "revoke", first["public_key"], "--yes")
    assert "is revoked; create a new key instead" in kd.refused(
        "key", "rotate", first["public_key"], "--overlap", "1h"
    )


def test_rotation_follows_a_policy_set_since(kd):
    old = kd.create("prod", "--no-expiry", "--scope", "read:org")
    kd.ok("workspace", "set-policy", "--max-key-lifetime", "30d")
    (kept,) = kd.json("key", "list", "--integration", "github")
    assert kept["expires_at"] is None  # keys that exist keep their expiry
    new = kd.json("key", "rotate", old["public_key"], "--overlap", "7d")
    assert new["lifetime_days"] == 30 and new["scopes"] == ["read:org"]
    assert _about(_at(new["expires_at"]), utcnow() + timedelta(days=30))


# -- finding keys that expire soon or are not used ---------------------------------------


def test_list_expiring_within_and_unused_for(kd):
    soon = kd.create("soon", "--expires-in", "3d")
    later = kd.create("later", "--expires-in", "60d")
    stale = kd.create("stale", "--no-expiry")
    kd.create("fresh", "--no-expiry")
    gone = kd.create("gone", "--expires-in", "1h")
    for key in (stale, gone):
        kd.sql("UPDATE api_key SET created_at = :at WHERE public_key = :pk",
               at=utcnow() - timedelta(days=40), pk=key["public_key"])  # fmt: skip
    kd.sql("UPDATE api_key SET expires_at = :at WHERE public_key = :pk",
           at=utcnow() - timedelta(minutes=1), pk=gone["public_key"])  # fmt: skip

    expiring = kd.json("key", "list", "--expiring-within", "14d")
    assert [k["public_key"] for k in expiring] == [soon["public_key"]]
    assert [k["label"] for k in kd.json("key", "list", "--expiring-within", "90d")] == [
        "soon", "later",
    ]  # soonest first  # fmt: skip
    assert kd.json("key", "list", "--workspace", "acme", "--expiring-within", "14d") == expiring
    assert kd.json("key", "list", "--integration", "github", "--expiring-within", "14d") == expiring
    unused = kd.json("key", "list", "--unused-for", "30d")
    assert [k["public_key"] for k in unused] == [stale["public_key"]]

    table = kd.ok("key", "list", "--workspace", "acme")
    assert "expiring in 2 days" in table or "expiring in 3 days" in table  # words, not colour
    assert "active, unused for 40 days" in table
    assert later["public_key"] in table
    listed = kd.ok("integration", "list")
    assert "EXPIRING SOON" in listed.splitlines()[0]
    assert kd.json("integration", "list")[0]["expiring_keys"] == 1

    kd.ok("key", "revoke", soon["public_key"], "--yes")  # only live keys are listed
    assert kd.json("key", "list", "--expiring-within", "14d") == []


def test_unused_for_lists_the_stalest_first(kd):
    """README: `--unused-for` lists stalest first: by last use, a key never
    used by when it was made."""
    made = [kd.create(label, "--no-expiry") for label in ("used-80d", "used-40d", "never-60d")]
    for key, created, used in zip(made, (100, 200, 60), (80, 40, None), strict=True):
        kd.sql("UPDATE api_key SET created_at = :created, last_used_at = :used "
               "WHERE public_key = :pk", created=utcnow() - timedelta(days=created),
               used=None if used is None else utcnow() - timedelta(days=used),
               pk=key["public_key"])  # fmt: skip
    listed = kd.json("key", "list", "--unused-for", "30d")
    assert [k["label"] for k in listed] == ["used-80d", "never-60d", "used-40d"]


def test_expiring_and_unused_lists_cover_every_workspace_unless_one_is_named(kd):
    """README: `--expiring-within` and `--unused-for` list across all your
    workspaces unless `--workspace` names one."""
    kd.ok("init", "--workspace", "beta")
    kd.ok("integration", "add", "--workspace", "beta", "--name", "gitlab", "--provider", "GitLab",
          "--client-id", "Iv1.b", "--redirect-uri", "https://app.example.com/cb", "--configure")  # fmt: skip
    acme = kd.create("acme-key", "--expires-in", "3d")
    beta = kd.json("key", "create", "--integration", "gitlab", "--label", "beta-key",
                   "--expires-in", "2d")  # fmt: skip
    for key, days in ((acme, 50), (beta, 40)):
        kd.sql("UPDATE api_key SET created_at = :at WHERE public_key = :pk",
               at=utcnow() - timedelta(days=days), pk=key["public_key"])  # fmt: skip

    def labels(*args: str) -> list[str]:
        return [k["label"] for k in kd.json("key", "list", *args)]

    assert labels("--expiring-within", "14d") == ["beta-key", "acme-key"]
    assert labels("--expiring-within", "14d", "--workspace", "beta") == ["beta-key"]
    assert labels("--unused-for", "30d") == ["acme-key", "beta-key"]
    assert labels("--unused-for", "30d", "--workspace", "acme") == ["acme-key"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "give --integration or --workspace"),
        (("--expiring-within", "two weeks"), "--expiring-within 'two weeks' is not a duration"),
        (("--unused-for", ""), "--unused-for"),
        (("--workspace", "nope"), "no workspace"),
    ],
)
def test_list_refuses_bad_filters(kd_refused, args, needle):
    assert needle in kd_refused.refused("key", "list", *args)


# -- usage ------------------------------------------------------------------------------------


def test_usage_counts_accepted_and_refused_presentations(kd):
    key = kd.create("prod", "--no-expiry")
    api_key = key["api_key"]
    body = api_key[:30] + ("A" if api_key[30] != "A" else "B") + api_key[31:-6]
    wrong = body + checksum(body)  # a real public key with a wrong secret
    store = open_store(kd.url)
    verifier = Verifier(store.engine)
    try:
        for _ in range(3):
            verifier.verify(api_key)
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(wrong)
        assert refused.value.reason is UnauthorizedReason.WRONG_SECRET
        verifier.flush()
    finally:
        verifier.close()
        store.dispose()

    usage = kd.json("key", "usage", key["public_key"], "--since", "1d")
    assert usage["accepted"] == 3 and usage["refused"] == {"wrong_secret": 1}
    assert usage["wrong_secret_last_hour"] == 1
    assert [(h["accepted"], h["refused"]) for h in usage["hours"]] == [(3, {"wrong_secret": 1})]
    out = kd.ok("key", "usage", key["public_key"])
    assert "3 accepted; refused: 1 wrong_secret" in out
    assert "1 refused attempts with a wrong secret in the last hour" in out


def test_usage_of_a_quiet_key_and_bad_input(kd):
    key = kd.create("prod", "--no-expiry")
    usage = kd.json("key", "usage", key["public_key"], "--since", "2020-01-01")
    assert usage["accepted"] == 0 and usage["hours"] == []
    back = utcnow() - _at(usage["since"])  # at most 366 days (every hour is a row), whole hours
    assert timedelta(days=366) <= back < timedelta(days=366, hours=1, minutes=1)
    assert "--since 'yesterday'" in kd.refused(
        "key", "usage", key["public_key"], "--since", "yesterday"
    )
    assert "not a public key" in kd.refused("key", "usage", "kdpk_short")


# -- integration edit / disable / enable --------------------------------------------------


def test_integration_edit_disable_enable(kd):
    key = kd.create("prod", "--no-expiry")
    edited = kd.json(
        "integration", "edit", "github", "--scopes", "repo,read:user",
        "--redirect-uri", "https://new.example.com/cb", "--client-id", "Iv1.new",
    )  # fmt: skip
    assert edited["scopes"] == ["repo", "read:user"]
    assert edited["redirect_uri"] == "https://new.example.com/cb"
    assert edited["client_id"] == "Iv1.new"
    code, out, _ = kd("verify", "--json", stdin=key["api_key"])
    assert code == 0 and json.loads(out)["scopes"] == [
        "repo",
        "read:user",
    ]  # narrowed, never widened

    assert "--yes" in kd.refused("integration", "disable", "github")  # no terminal to ask
    assert kd.json("integration", "disable", "github", "--yes")["status"] == "disabled"
    assert kd.verify(key["api_key"]) == (1, "integration_disabled")
    assert "already disabled" in kd.refused("integration", "disable", "github", "--yes")
    assert kd.ok("integration", "enable", "github") == "integration github is enabled\n"
    assert kd.verify(key["api_key"]) == (0, "valid")
    assert "already enabled" in kd.refused("integration", "enable", "github")
    actions = [json.loads(line)["action"] for line in kd.ok("audit", "--json").splitlines()]
    assert actions[-3:] == ["integration.update", "integration.disable", "integration.configure"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("edit", "github"), "nothing to change"),
        (("edit", "github", "--redirect-uri", "http://evil.example/cb"), "https"),
        (("edit", "nope", "--client-id", "x"), "no integration"),
        (("enable", "gitlab"), "is a draft, not disabled; configure it with"),
        (("disable", "nope", "--yes"), "no integration"),
    ],
)
def test_integration_commands_refuse_in_one_line(kd, args, needle):
    kd.ok("integration", "add", "--workspace", "acme", "--name", "gitlab", "--provider", "GitLab")
    assert needle in kd.refused("integration", *args)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("typed", "disabled"), [("disable\n", True), ("no\n", False)])
def test_disable_at_a_terminal_asks_first(configured, monkeypatch, capsys, typed, disabled):
    monkeypatch.setattr(sys, "stdin", _Terminal(typed))
    code = main(["integration", "disable", "github"], actor="alice")
    out, err = capsys.readouterr()
    assert "confirm" not in out  # the prompt is not in what a pipe reads
    assert "Type 'disable' to confirm" in err and "keydesk integration enable github" in err
    assert disabled or err.endswith("keydesk: not disabled\n")
    status = json.loads(configured("integration", "list", "--json")[1])[0]["status"]
    assert (code == 0) is disabled and (status == "disabled") is disabled
