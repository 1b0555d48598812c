"""The CLI contract, end to end, in a temporary store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import build_world
from tests.support.fakes import last_character_changed


def test_key_lifecycle(configured):
    cli = configured
    code, out, _ = cli("key", "create", "--integration", "github", "--label", "CI Runner", "--json")
    assert code == 0
    created = json.loads(out)
    assert {"api_key", "public_key", "label", "integration", "created_at"} <= created.keys()
    assert created["api_key"].startswith("kdsk_") and created["label"] == "CI Runner"

    code, out, _ = cli("verify", stdin=created["api_key"] + "\n")
    assert code == 0 and created["public_key"] in out and "CI Runner" in out and "github" in out

    code, out, _ = cli("key", "list", "--integration", "github", "--json")
    (listed,) = json.loads(out)
    assert listed["status"] == "active" and listed["created_by"] == "alice"
    for field in ("public_key", "label", "created_at", "revoked_at", "last_used_at"):
        assert field in listed
    assert created["api_key"] not in out and "argon2" not in out

    code, out, _ = cli("key", "revoke", created["public_key"], "--yes", "--json")
    assert code == 0 and json.loads(out)["status"] == "revoked"

    code, out, err = cli("verify", stdin=created["api_key"])
    assert code == 1 and "401 Unauthorized: revoked" in err

    code, _, err = cli("key", "revoke", created["public_key"], "--yes")
    assert code == 1 and "already revoked" in err and err.count("\n") == 1


def test_key_create_without_json_warns_once(configured):
    code, out, _ = configured("key", "create", "--integration", "github", "--label", "prod")
    assert code == 0
    assert out.count("kdsk_") == 1 and "never be shown again" in out


def test_verify_reads_the_environment(configured, monkeypatch):
    _, out, _ = configured("key", "create", "--integration", "1", "--label", "prod", "--json")
    monkeypatch.setenv("KEYDESK_API_KEY", json.loads(out)["api_key"])
    code, out, _ = configured("verify", "--json")
    assert code == 0 and json.loads(out)["valid"] is True


def test_verify_refuses_garbage_with_a_reason(configured):
    code, out, err = configured("verify", "--json", stdin="not-a-key\n")
    assert code == 1 and json.loads(out)["reason"] == "malformed"
    assert err.startswith("401 Unauthorized: malformed")


def test_verify_takes_no_key_argument(configured):
    code, out, err = configured("verify", "kdsk_x")
    assert code == 2 and out == "" and "unrecognized arguments" in err and err.count("\n") == 1


def test_revoke_needs_yes_when_not_at_a_terminal(configured):
    _, out, _ = configured("key", "create", "--integration", "github", "--label", "p", "--json")
    code, _, err = configured("key", "revoke", json.loads(out)["public_key"], stdin="")
    assert code == 1 and "--yes" in err


def test_permissions_and_members(configured):
    cli = configured
    assert (
        cli("member", "add", "--workspace", "acme", "--account", "bob", "--role", "viewer")[0] == 0
    )
    code, _, err = cli("key", "create", "--integration", "github", "--label", "x", actor="bob")
    assert code == 1 and "viewer" in err
    code, out, _ = cli("integration", "list", "--json", actor="bob")
    assert [i["name"] for i in json.loads(out)] == ["github"]


def test_integration_commands(cli):
    cli("init", "--workspace", "acme")
    code, _, _ = cli(
        "integration", "add", "--workspace", "acme", "--name", "gl", "--provider", "GitLab"
    )
    assert code == 0
    code, _, err = cli("integration", "configure", "gl")
    assert code == 1 and "client id and redirect URI" in err
    code, out, _ = cli("integration", "list", "--json")
    assert json.loads(out)[0]["status"] == "draft"
    code, _, err = cli("key", "create", "--integration", "gl", "--label", "x")
    assert code == 1 and "draft" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("key", "create", "--integration", "github", "--label", "a\x1b[31mb"), "escape sequence"),
        (("key", "create", "--integration", "github", "--label", ""), "required"),
        (("key", "create", "--integration", "nope", "--label", "x"), "no integration"),
        (("key", "revoke", "kdpk_AAAAAAAAAAAAAAAA", "--yes"), "no key"),
        (
            ("member", "add", "--workspace", "acme", "--account", "x", "--role", "god"),
            "unknown role",
        ),
        (("--db", "mysql://x/y", "integration", "list"), "unsupported database"),
    ],
)
def test_bad_input_is_one_line_without_traceback(configured, args, needle):
    code, _out, err = configured(*args)
    assert code != 0 and err.count("\n") == 1
    assert needle in err and "Traceback" not in err
    assert "\x1b" not in err


def test_the_real_command_end_to_end(sqlite_url, migrated):
    """`python -m keydesk` makes a key and verifies it, in processes of its
    own. The store is set up in process (the service, ~1 s of CPU less per
    command): the real `init` is run in tests/e2e/test_identity.py, the real
    `integration add` in tests/e2e/test_ssh.py's deployment."""
    from keydesk.store.engine import open_store

    store = open_store(sqlite_url, create=True)
    try:
        build_world(store).admit_keydesk_commands()  # the processes act as the OS user
    finally:
        store.dispose()
    env = {**os.environ, "KEYDESK_DATABASE_URL": sqlite_url}
    env.pop("KEYDESK_API_KEY", None)
    env.pop("KEYDESK_ACCOUNT", None)

    def run(*args, stdin=None):
        return subprocess.run(
            [sys.executable, "-m", "keydesk", *args], input=stdin, env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    made = run("key", "create", "--integration", "github", "--label", "L", "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    ok = run("verify", stdin=created["api_key"])
    assert ok.returncode == 0, ok.stderr
    bad = run("verify", stdin=last_character_changed(created["api_key"]))
    assert bad.returncode == 1 and bad.stderr.startswith("401 Unauthorized: ")


@pytest.mark.parametrize("argv", [(), ("demo",)])
def test_the_tui_without_a_terminal_says_what_to_run_and_ends(tmp_path, argv):
    """cron, a pipe, `ssh -T`: no terminal to draw on. One line, exit 2, at
    once, and no store made (Textual would otherwise spin for ever), nor a
    demo's folder."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        "KEYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "TMPDIR": str(scratch),
    }
    done = subprocess.run(
        [sys.executable, "-m", "keydesk", *argv], stdin=subprocess.DEVNULL, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.count("\n") == 1
    assert "need a terminal" in done.stderr and "ssh -t" in done.stderr
    assert "\x1b" not in done.stderr
    assert not (tmp_path / "none.db").exists()
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("input_tty", "output_tty", "said"),
    [
        (False, True, "standard input is not one"),  # keydesk </dev/null in a terminal
        (True, False, "standard output is not one"),  # keydesk | less
        (False, False, "standard input and output are not one"),
    ],
)
def test_the_tui_without_a_terminal_names_the_stream_that_is_not_one(
    monkeypatch, input_tty, output_tty, said
):
    from keydesk.cli.interface import require_terminal
    from keydesk.errors import NoTerminal

    monkeypatch.setattr(sys.stdin, "isatty", lambda: input_tty, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: output_tty, raising=False)
    with pytest.raises(NoTerminal) as refused:
        require_terminal()
    assert said in refused.value.message
