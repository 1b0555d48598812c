"""`keydesk key revoke --tag/--created-by/--integration/--unused-for`: the
filters, the confirmation (count and sample; refused off a terminal without
--yes), the one-line refusals, and `key revoke PUBLIC_KEY` left as it was.
Also `key create --tag`, `key edit --tag/--untag` and `key list --tag`."""

from __future__ import annotations

import io
import json
import sqlite3
import sys

import pytest

from keydesk.cli import main
from tests.conftest import add_workspace


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _key(cli, label: str, *tags: str, integration: str = "github") -> str:
    args = ["key", "create", "--integration", integration, "--label", label, "--json"]
    for tag in tags:
        args += ["--tag", tag]
    code, out, err = cli(*args)
    assert code == 0, err
    return json.loads(out)["public_key"]


def _statuses(cli) -> dict[str, str]:
    out = cli("key", "list", "--workspace", "acme", "--json")[1]
    return {k["label"]: k["status"] for k in json.loads(out)}


@pytest.fixture
def tagged(configured):
    """Five keys of github: three staging (two by alice, one by bob), two prod."""
    configured("member", "add", "--workspace", "acme", "--account", "bob", "--role", "admin")
    _key(configured, "s1", "env=staging", "team=pay")
    _key(configured, "s2", "env=staging")
    code, _out, err = configured(
        "key", "create", "--integration", "github", "--label", "s3", "--tag", "env=staging",
        "--json", actor="bob",
    )  # fmt: skip
    assert code == 0, err
    _key(configured, "p1", "env=prod", "team=pay")
    _key(configured, "p2", "env=prod")
    return configured


def test_tags_show_in_create_list_json_and_filter(tagged):
    code, out, _ = tagged("key", "list", "--tag", "team=pay")
    lines = out.splitlines()
    assert code == 0 and "TAGS" in lines[0] and len(lines) == 3
    assert any("env=staging team=pay" in line for line in lines)
    listed = json.loads(tagged("key", "list", "--tag", "env=prod", "--json")[1])
    assert {k["label"]: k["tags"] for k in listed} == {
        "p1": {"env": "prod", "team": "pay"},
        "p2": {"env": "prod"},
    }


def test_key_edit_tags_and_untags(tagged):
    public = json.loads(tagged("key", "list", "--tag", "env=prod", "--json")[1])[1]["public_key"]
    code, out, _ = tagged("key", "edit", public, "--tag", "env=staging", "--untag", "team")
    assert code == 0 and out == f"{public} (p1): tags env=staging\n"
    code, _, err = tagged("key", "edit", public, "--untag", "team")
    assert code == 1 and err == f"keydesk: key {public} has no tag 'team'; nothing was changed\n"
    assert tagged("key", "edit", public)[0] == 2  # nothing to change: usage
    code, _, err = tagged("key", "edit", public, "--tag", "env")
    assert code == 1 and "expected NAME=VALUE, e.g. env=prod" in err and err.count("\n") == 1


def test_revoke_by_filters_combined_with_yes(tagged):
    code, out, err = tagged("key", "revoke", "--tag", "env=staging", "--created-by", "alice",
                            "--integration", "github", "--yes")  # fmt: skip
    assert (code, err) == (0, "")
    assert out == "revoked 2 keys matching tag env=staging, created by alice, integration github\n"
    assert _statuses(tagged) == {
        "s1": "revoked", "s2": "revoked", "s3": "active", "p1": "active", "p2": "active",
    }  # fmt: skip
    code, out, _ = tagged("key", "revoke", "--tag", "env=staging", "--yes", "--json")
    done = json.loads(out)
    assert code == 0 and len(done["revoked"]) == 1 and done["skipped"] == []
    code, out, _ = tagged("key", "revoke", "--tag", "env=staging", "--yes")
    assert (code, out) == (
        0,
        "no active key you may revoke matches tag env=staging: none revoked\n",
    )
    events = json.loads(f"[{','.join(tagged('audit', '--json')[1].splitlines())}]")
    batches = [(e["target"], e["label"]) for e in events if e["action"] == "key.revoke.batch"]
    assert batches == [
        ("tag env=staging, created by alice, integration github", "2 keys revoked"),
        ("tag env=staging", "1 key revoked"),
    ]


def test_revoke_unused_for_revokes_the_stale_keys_only(tagged, tmp_path):
    """Stale: last used before the span, or never used and made before it."""
    from datetime import timedelta

    from keydesk.views import utcnow

    def ago(days: int) -> str:
        return (utcnow() - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S.%f")

    with sqlite3.connect(tmp_path / "cli.db") as db:
        for label, created, used in (
            ("s1", ago(200), ago(100)),  # used, but not for 100 days
            ("s2", ago(200), ago(1)),  # old, used yesterday
            ("p2", ago(120), None),  # never used, made 120 days ago
        ):
            db.execute(
                "UPDATE api_key SET created_at = ?, last_used_at = ? WHERE label = ?",
                (created, used, label),
            )
    code, out, err = tagged("key", "revoke", "--unused-for", "90d", "--yes")
    assert (code, err) == (0, "")
    assert out == "revoked 2 keys matching unused for 90 days\n"
    assert _statuses(tagged) == {
        "s1": "revoked", "s2": "active", "s3": "active", "p1": "active", "p2": "revoked",
    }  # fmt: skip


def test_revoke_many_with_workspace_revokes_only_that_workspaces_keys(tagged):
    """README: `--workspace` only narrows: matching keys elsewhere stay active."""
    add_workspace(tagged, "beta", "gitlab", "GitLab")
    beta = _key(tagged, "b1", "env=staging", integration="gitlab")
    code, out, err = tagged(
        "key", "revoke", "--tag", "env=staging", "--workspace", "beta", "--yes", "--json"
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "filter": "tag env=staging, in beta",
        "revoked": [beta],
        "skipped": [],
    }
    assert "revoked" not in _statuses(tagged).values()  # acme's three staging keys


def test_revoke_many_in_two_workspaces_writes_one_batch_event_in_each(tagged):
    """README: each workspace gets one `key.revoke.batch` naming what was asked."""
    add_workspace(tagged, "beta", "gitlab", "GitLab")
    _key(tagged, "b1", "env=staging", integration="gitlab")
    code, out, err = tagged("key", "revoke", "--tag", "env=staging", "--yes")
    assert (code, out, err) == (0, "revoked 4 keys matching tag env=staging\n", "")
    events = [json.loads(line) for line in tagged("audit", "--json")[1].splitlines()]
    batches = sorted(
        (e["workspace"], e["target"], e["label"])
        for e in events
        if e["action"] == "key.revoke.batch"
    )
    assert batches == [
        ("acme", "tag env=staging", "3 keys revoked"),
        ("beta", "tag env=staging", "1 key revoked"),
    ]


def test_revoke_many_skips_a_key_that_expired_since_the_question(tagged, monkeypatch, tmp_path):
    """README: a key expired since the question is left as it is and counted
    (`skipped` in `--json`)."""
    from datetime import timedelta

    import keydesk.cli.key_bulk as key_bulk
    from keydesk.views import utcnow

    listed = json.loads(tagged("key", "list", "--workspace", "acme", "--json")[1])
    public = {k["label"]: k["public_key"] for k in listed}
    past = (utcnow() - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.%f")

    def expire_then_confirm(*_args: object) -> bool:
        with sqlite3.connect(tmp_path / "cli.db") as db:  # s2 expires while the question waits
            db.execute("UPDATE api_key SET expires_at = ? WHERE label = 's2'", (past,))
        return True

    monkeypatch.setattr(sys, "stdin", _Terminal(""))
    monkeypatch.setattr(key_bulk, "confirmed", expire_then_confirm)
    code, out, err = tagged("key", "revoke", "--tag", "env=staging", "--json")
    assert code == 0, err
    done = json.loads(out)
    assert done["skipped"] == [public["s2"]]
    assert sorted(done["revoked"]) == sorted([public["s1"], public["s3"]])
    statuses = _statuses(tagged)
    assert (statuses["s1"], statuses["s2"], statuses["s3"]) == ("revoked", "expired", "revoked")


def test_revoke_many_off_a_terminal_without_yes_is_refused(tagged, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = tagged("key", "revoke", "--tag", "env=staging")
    assert code == 1
    assert err == (
        "keydesk: not revoked: 3 active keys match tag env=staging; "
        "pass --yes to revoke them when not at a terminal\n"
    )
    assert "revoked" not in _statuses(tagged).values()


@pytest.mark.parametrize(("typed", "revoked"), [("revoke\n", True), ("no\n", False)])
def test_revoke_many_at_a_terminal_states_count_and_sample(tagged, monkeypatch, capsys, typed,
                                                           revoked):  # fmt: skip
    monkeypatch.setattr(sys, "stdin", _Terminal(typed))
    code = main(["key", "revoke", "--tag", "env=prod"], actor="alice")
    _out, err = capsys.readouterr()
    assert err.startswith("Revoke 2 active keys matching tag env=prod?\n  kdpk_")
    assert "  p2  (github, by alice)" in err and "401 Unauthorized" in err
    assert "Type 'revoke' to confirm" in err
    assert (code == 0) is revoked
    assert (_statuses(tagged)["p1"] == "revoked") is revoked


def test_revoke_many_sample_names_five_and_counts_the_rest(configured, monkeypatch, capsys):
    for n in range(7):
        _key(configured, f"k{n}", "env=ci")
    monkeypatch.setattr(sys, "stdin", _Terminal("no\n"))
    main(["key", "revoke", "--tag", "env=ci"], actor="alice")
    err = capsys.readouterr().err
    assert err.count("  kdpk_") == 5 and "  … and 2 more\n" in err


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        ((), 2, "give a public key, or at least one filter: --tag, --created-by"),
        (("--workspace", "acme", "--yes"), 2, "at least one filter"),
        (("kdpk_0000000000000000", "--tag", "env=prod"), 2, "not both"),
        (("--tag", "env"), 1, "expected NAME=VALUE"),
        (("--unused-for", "soon"), 1, "--unused-for"),
        (("--integration", "nope", "--yes"), 1, "no integration 'nope'"),
    ],
)
def test_revoke_many_refuses_in_one_line(tagged, args, code, needle):
    got, out, err = tagged("key", "revoke", *args)
    assert got == code and needle in err and err.count("\n") == 1 and out == ""


@pytest.mark.parametrize("option", ["--created-by", "--integration"])
def test_revoke_many_refuses_a_private_key_as_a_filter_without_echoing_it(tagged, option):
    """A filter's value is echoed in the summary, its --json and the audit note
    (--created-by echoed a key whole; --integration already refused one: kept so)."""
    code, out, err = tagged("key", "create", "--integration", "github", "--label", "x", "--json")
    private = json.loads(out)["api_key"]
    for extra in ((), ("--json",)):
        code, out, err = tagged(
            "key", "revoke", "--tag", "env=prod", option, private, "--yes", *extra
        )
        assert (code, out) == (1, "") and err.count("\n") == 1
        assert private[:9] in err and private not in err and "not stored or logged" in err
    assert "revoked" not in _statuses(tagged).values()
    assert private not in tagged("audit", "--workspace", "acme", "--json")[1]


def test_a_viewer_revokes_nothing_and_an_admin_only_their_workspaces_keys(tagged):
    tagged("member", "add", "--workspace", "acme", "--account", "vic", "--role", "viewer")
    code, out, _ = tagged("key", "revoke", "--tag", "env=prod", "--yes", actor="vic")
    assert (code, out) == (0, "no active key you may revoke matches tag env=prod: none revoked\n")
    assert "revoked" not in _statuses(tagged).values()


def test_single_key_revoke_is_unchanged(tagged):
    public = json.loads(tagged("key", "list", "--tag", "env=prod", "--json")[1])[0]["public_key"]
    code, out, err = tagged("key", "revoke", public, "--yes")
    assert (code, out, err) == (0, f"revoked {public} (p2)\n", "")
    code, _, err = tagged("key", "revoke", public, "--yes")
    assert code == 1 and err == f"keydesk: key {public} (p2) is already revoked\n"


def test_revoke_many_on_sqlite_loads_no_sqlalchemy_and_audits_each_key(tmp_path):
    """On an up-to-date SQLite store the whole command is plain SQL on a
    bare sqlite3 connection (keydesk.store.bulk_revoke): importing
    SQLAlchemy cost more CPU than revoking 10,000 keys."""
    from keydesk.store.engine import open_store
    from tests.cli.test_imports import HEAVY, loaded_by
    from tests.conftest import build_world

    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url, create=True)
    world = build_world(store)
    world.admit_keydesk_commands()  # the process acts as the OS user
    staging = [world.owner.create_key("github", f"s{n}", tags=["env=staging"]) for n in range(3)]
    kept = world.owner.create_key("github", "p", tags=["env=prod"])
    modules = loaded_by(
        ["key", "revoke", "--tag", "env=staging", "--yes"], {"KEYDESK_DATABASE_URL": url}
    )
    assert "keydesk.store.bulk_revoke" in modules
    assert not {m for m in modules if m.split(".")[0] in HEAVY}
    assert not any(world.owner.key(k.key.public_key).is_active for k in staging)
    assert world.owner.key(kept.key.public_key).is_active
    events = [(e.action, e.target) for e in world.owner.audit(workspace="acme")]
    assert events.count(("key.revoke.batch", "tag env=staging")) == 1
    assert {t for a, t in events if a == "key.revoke"} == {k.key.public_key for k in staging}
    store.dispose()


def test_revoke_many_that_fails_midway_revokes_nothing(tagged, monkeypatch):
    """The bare SQLite way is one transaction too: the events fail after
    the UPDATE, and every key stays active."""
    import keydesk.store.bulk_revoke as bulk

    def fail(*_args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(bulk, "_events", fail)
    code, out, err = tagged("key", "revoke", "--tag", "env=staging", "--yes")
    assert code != 0 and out == "" and "disk I/O error" in err
    assert "revoked" not in _statuses(tagged).values()


def test_revoke_many_into_a_store_replaced_while_asking_is_refused(tagged, monkeypatch, tmp_path):
    """The bare SQLite way, as the service: a store replaced under the
    command (while the confirmation waited) takes no writes, which would be
    lost with the old file; the store now at that path is left as it is."""
    import keydesk.cli.key_bulk as key_bulk

    store, new = tmp_path / "cli.db", tmp_path / "new.db"

    def replace_then_confirm(*_args: object) -> bool:
        old, copy = sqlite3.connect(store), sqlite3.connect(new)
        old.backup(copy)  # with what the WAL holds
        old.close()
        copy.close()
        new.chmod(0o600)
        new.replace(store)
        return True

    monkeypatch.setattr(sys, "stdin", _Terminal(""))
    monkeypatch.setattr(key_bulk, "confirmed", replace_then_confirm)
    code, out, err = tagged("key", "revoke", "--tag", "env=staging")
    assert code != 0 and out == ""
    assert (
        err
        == f"keydesk: the store at {store} was deleted or replaced under this process; nothing was revoked\n"
    )
    assert "revoked" not in _statuses(tagged).values()
