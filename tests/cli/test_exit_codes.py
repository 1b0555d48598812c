"""Exit statuses a script can tell apart (README, "Exit status"): 0 done,
1 refused or not found, 2 usage, 3 the store unavailable or busy, 70 a bug,
130 interrupted, 141 stdout closed; `scan` and `verify` keep their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keydesk import errors
from keydesk.cli import context
from keydesk.cli.exit_codes import exit_code
from keydesk.ssh.errors import SessionRefused
from keydesk.ssh.gate import SshKeyNotApproved


def test_done_is_0(configured):
    assert configured("key", "create", "--integration", "github", "--label", "ci")[0] == 0


def _key(cli) -> str:
    _, out, _ = cli("key", "create", "--integration", "github", "--label", "k", "--json")
    return str(json.loads(out)["public_key"])


@pytest.mark.parametrize(
    ("why", "args", "needle"),
    [
        ("not found", ("key", "revoke", "kdpk_AAAAAAAAAAAAAAAA", "--yes"), "no key"),
        ("not found", ("key", "list", "--integration", "nope"), "no integration"),
        ("exists", ("init", "--workspace", "acme"), "acme"),
        # a value of the right shape that the rules refuse (InvalidInput)
        ("invalid", ("key", "create", "--integration", "github", "--label", "a\x1b[1m"), "escape"),
        (
            "invalid",
            ("integration", "edit", "github", "--redirect-uri", "http://x.example/cb"),
            "https",
        ),
    ],
)
def test_refused_or_not_found_is_1(configured, why, args, needle):
    code, out, err = configured(*args)
    assert (code, out) == (1, "") and needle in err and err.count("\n") == 1, why


def test_permission_denied_and_already_revoked_are_1(configured):
    configured("member", "add", "--workspace", "acme", "--account", "bob", "--role", "viewer")
    code, _, err = configured(
        "key", "create", "--integration", "github", "--label", "x", actor="bob"
    )
    assert code == 1 and "viewer" in err
    public_key = _key(configured)
    assert configured("key", "revoke", public_key, "--yes")[0] == 0
    code, _, err = configured("key", "revoke", public_key, "--yes")
    assert code == 1 and "already revoked" in err


def test_a_confirmation_not_given_is_1(configured):
    code, _, err = configured("key", "revoke", _key(configured), stdin="")
    assert code == 1 and "--yes" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("key", "list", "--integration", "github", "--bogus"), "unrecognized arguments"),
        (("key", "create", "--label", "x"), "required"),  # --integration left out
        (("integratoin", "list"), "did you mean 'integration'?"),
        (("key",), "choose a command"),
        (("audit", "--limit", "x"), "invalid int"),
        (("audit", "--limit", "0"), "--limit must be at least 1"),  # UsageError
        (("integration", "edit", "github"), "nothing to change"),  # UsageError
        (("key", "list"), "give --integration or --workspace"),  # UsageError
        ((), "need a terminal"),  # the TUI with no terminal (NoTerminal)
        (("key", "revoke", "kdpk_nope", "--yes"), "not a public key: 'kdpk_nope'"),  # malformed
        (("key", "rotate", "nope", "--overlap", "1h"), "not a public key"),
        (("key", "usage", "kdpk_"), "not a public key"),
    ],
)
def test_usage_is_2(configured, args, needle):
    code, out, err = configured(*args)
    assert (code, out) == (2, "") and needle in err and err.count("\n") == 1


def test_no_store_is_3_and_none_is_made(cli, tmp_path):
    typo = tmp_path / "typo.db"
    code, _, err = cli("--db", str(typo), "key", "list", "--integration", "github")
    assert code == 3 and "no keydesk store at" in err and not typo.exists()


def test_an_unsafe_store_is_3(configured, tmp_path):
    os.chmod(tmp_path / "cli.db", 0o666)  # others could replace it
    code, _, err = configured("integration", "list")
    assert code == 3 and err.count("\n") == 1


def test_a_bug_is_70_interrupted_130_closed_stdout_141(configured, monkeypatch):
    for raised, expected in ((RuntimeError("bug"), 70), (KeyboardInterrupt(), 130)):

        def broken(*_args: object, raised: BaseException = raised, **_kw: object) -> None:
            raise raised

        monkeypatch.setattr(context, "service", broken)
        code, _, err = configured("integration", "configure", "github")
        assert code == expected and err.count("\n") == 1
    monkeypatch.setattr(
        context, "service", lambda *_a, **_k: (_ for _ in ()).throw(BrokenPipeError)
    )
    assert configured("integration", "configure", "github")[0] == 141


def test_verify_keeps_1_for_a_refused_key_and_2_for_usage(configured):
    assert configured("verify", stdin="not-a-key\n")[0] == 1
    assert configured("verify", "kdsk_x")[0] == 2


def test_scan_keeps_its_own_codes(configured, tmp_path):
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing here\n")
    assert configured("scan", str(clean))[0] == 0
    assert configured("scan", "--yes", str(clean))[0] == 3  # a usage error: fail closed
    assert configured("scan", "--bogus")[0] == 3


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (errors.NotFound("x"), 1),
        (errors.PermissionDenied("x"), 1),
        (SshKeyNotApproved("x"), 1),
        (SessionRefused("x"), 1),
        (errors.AlreadyRevoked("x"), 1),
        (errors.AlreadyExists("x"), 1),
        (errors.InvalidInput("x"), 1),
        (errors.InvalidLabel("x"), 1),
        (errors.IntegrationNotConfigured("x"), 1),
        (errors.UsageError("x"), 2),
        (errors.NoTerminal("x"), 2),
        (errors.StoreUnavailable("x"), 3),
        (errors.StoreNotFound("x"), 3),
        (errors.UnsafeStore("x"), 3),
        (errors.TooManyAttempts("x"), 3),
    ],
)
def test_the_table(error, expected):
    assert exit_code(error) == expected


def test_every_exit_code_is_in_the_readme():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    for code in (0, 1, 2, 3, 70, 130, 141):
        assert f"\n| {code} |" in section, code


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (("integratoin", "list"), "did you mean 'integration'?"),
        (("key", "creat"), "did you mean 'create'?"),
        (("key", "list", "--jsn"), "did you mean '--json'?"),
        (("workspace", "lst"), "did you mean 'list'?"),
    ],
)
def test_did_you_mean(configured, args, meant):
    code, out, err = configured(*args)
    assert (code, out) == (2, "") and meant in err and err.count("\n") == 1


def test_the_internal_command_is_listed_nowhere(configured):
    _, _, err = configured("sesion")  # no command is close: every choice is listed
    assert "choose from demo, init" in err and "ssh-session" not in err
    _, _, err = configured("ssh-sesion")  # close to ssh-session: still never named
    assert "ssh-session" not in err
    done = subprocess.run(
        [sys.executable, "-m", "keydesk", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "ssh-session" not in done.stdout and "completion" in done.stdout
