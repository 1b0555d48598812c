"""Who acts is proven, never typed; a SQLite store is opened only when no
one else can read or replace it (OpenSSH's StrictModes, for a database)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from keydesk.cli import main
from keydesk.errors import PermissionDenied, UnsafeStore
from keydesk.identity import acting_account, os_account
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from tests.conftest import copy_store_file
from tests.support.os_users import python_for
from tests.support.sshd import system_user

ME = pwd.getpwuid(os.getuid()).pw_name


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: files owned by another user, and throwaway OS users")


# -- the OS user ---------------------------------------------------------------------


def test_the_os_user_is_read_from_the_process_uid_not_the_environment():
    assert os_account({"USER": "mallory", "LOGNAME": "mallory"}) == ME


def test_through_sudo_the_admin_who_ran_it_acts():
    nobody = pwd.getpwnam("nobody")
    environ = {"SUDO_USER": "nobody", "SUDO_UID": str(nobody.pw_uid)}
    if ME == "nobody":
        pytest.skip("running as nobody")
    assert os_account(environ) == "nobody"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SUDO_USER": "no-such-user-kd", "SUDO_UID": "4242"}, "not a user of this host"),
        ({"SUDO_USER": "nobody", "SUDO_UID": "0"}, "disagree"),
        ({"SUDO_USER": "nobody"}, "disagree"),
    ],
)
def test_an_inconsistent_sudo_environment_is_refused(environ, message):
    if ME == "nobody":
        pytest.skip("running as nobody")
    with pytest.raises(PermissionDenied, match=message):
        os_account(environ)


def test_a_trusted_caller_may_pass_a_proven_account_on_sqlite(sqlite_url):
    store = open_store(sqlite_url, create=True)
    assert acting_account(store) == os_account()
    assert acting_account(store, proven="alice") == "alice"
    store.dispose()


# -- typed names are refused -----------------------------------------------------


@pytest.fixture
def run(cli):
    """`keydesk` as it runs for a user: the account is not passed in."""
    return lambda *args: cli(*args, actor=None)


@pytest.mark.parametrize(
    "args",
    [
        ("--account", "alice", "init", "--workspace", "acme"),
        ("init", "--workspace", "acme", "--account", "alice"),
        ("--account", "alice", "integration", "list"),
        ("--account", "alice", "member", "list"),
        ("--account", "alice", "audit"),
        ("--account", "alice"),  # the TUI
    ],
)
def test_account_flag_is_refused_outside_the_demo_with_the_reason(run, args, tmp_path):
    code, out, err = run(*args)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--account is only for keydesk demo" in err and f"OS user ({ME})" in err
    assert not (tmp_path / "cli.db").exists()  # refused before anything was opened


def test_account_environment_is_refused_too(run, monkeypatch):
    monkeypatch.setenv("KEYDESK_ACCOUNT", "alice")
    code, _, err = run("init", "--workspace", "acme")
    assert code != 0 and err.count("\n") == 1
    assert "KEYDESK_ACCOUNT is only for keydesk demo" in err


def test_on_postgres_the_refusal_names_the_database_role(run):
    code, _, err = run(
        "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "--account", "alice", "key",
        "list", "--integration", "x",
    )  # fmt: skip
    assert code != 0 and err.count("\n") == 1
    assert "cannot choose who acts on PostgreSQL" in err and "session_user" in err


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_an_empty_account_is_an_error_not_a_fallback(run, monkeypatch, where):
    monkeypatch.setenv("KEYDESK_ACCOUNT", "" if where == "environment" else "alice")
    args = ("--account", "", "demo") if where == "flag" else ("demo",)
    code, _, err = run(*args)
    assert code != 0 and err.count("\n") == 1
    assert "is empty" in err


def test_the_demo_accepts_an_account(run, monkeypatch):
    import keydesk.tui.app

    opened: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        keydesk.tui.app,
        "run",
        lambda url, proven=None, mouse=True: opened.append((url, proven)) or 0,
    )
    monkeypatch.setattr("keydesk.cli.interface.has_terminal", lambda: True)
    assert run("demo", "--account", "bob")[0] == 0
    monkeypatch.setenv("KEYDESK_ACCOUNT", "carol")
    assert run("demo")[0] == 0
    monkeypatch.delenv("KEYDESK_ACCOUNT")
    assert run("demo")[0] == 0
    assert [proven for _url, proven in opened] == ["bob", "carol", "alice"]


def test_commands_act_as_the_os_user_end_to_end(tmp_path):
    env = {**os.environ, "KEYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}"}
    env.pop("KEYDESK_ACCOUNT", None)

    def keydesk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "keydesk", *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    made = keydesk("init", "--workspace", "ops", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["owner"] == os_account(env)
    events = keydesk("audit", "--json").stdout.splitlines()
    assert [json.loads(line)["actor"] for line in events] == [os_account(env)]


def test_sudo_records_the_admin_who_ran_it(tmp_path):
    """The shared-service-account pattern: the store belongs to `svc`; an
    admin runs `sudo -u svc keydesk …` and the trail names the admin."""
    needs_root()
    if shutil.which("sudo") is None:
        pytest.skip("sudo is not installed (Debian: apt-get install -y sudo; .ci/run does)")
    with system_user() as (svc, home):
        python = python_for(svc)
        if isinstance(python, str):
            pytest.skip(python)
        url = f"sqlite:///{home}/keydesk.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUDO_")} | python[1]
        preserve = f"--preserve-env={','.join(python[1])}"
        command = ["sudo", preserve, "-u", svc, "-H", *python[0], "-m", "keydesk", "--db", url]
        made = subprocess.run(
            [*command, "init", "--workspace", "shared", "--json"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["owner"] == ME  # the admin who ran sudo, not svc
        assert pwd.getpwuid((home / "keydesk.db").stat().st_uid).pw_name == svc
        # Root itself may not open svc's store: a root-owned -wal would lock svc out.
        with pytest.raises(UnsafeStore, match=f"belongs to {svc}"):
            open_store(url)


# -- the store file ---------------------------------------------------------------


@pytest.fixture
def store_file(tmp_path, sqlite_template) -> Path:
    """A private store file with workspace acme in it: a copy of the worker's
    migrated template (these tests are about opening a store, not making one)."""
    path = tmp_path / "data" / "keydesk.db"
    path.parent.mkdir(mode=0o700)
    copy_store_file(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    KeyService(store, "alice").create_workspace("acme")
    store.dispose()
    return path


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_store_others_can_read_is_never_opened(store_file, suffix, mode):
    path = store_file
    target = Path(f"{path}{suffix}")
    target.touch()
    target.chmod(mode)
    with pytest.raises(UnsafeStore) as refused:
        open_store(f"sqlite:///{path}")
    message = refused.value.message
    assert "\n" not in message and f"refusing to open {target}" in message
    assert message.endswith(f"fix: chmod 600 {target}")
    os.chmod(target, 0o600)  # the fix it gives works
    open_store(f"sqlite:///{path}").dispose()


def test_a_store_in_a_folder_others_can_write_is_never_opened(store_file):
    path = store_file
    path.parent.chmod(0o777)
    with pytest.raises(UnsafeStore, match=f"fix: chmod go-w {path.parent}$"):
        open_store(f"sqlite:///{path}")
    path.parent.chmod(0o1777)  # sticky, like /tmp: others may still add a -wal beside it
    with pytest.raises(UnsafeStore, match="move it to a folder of your own"):
        open_store(f"sqlite:///{path}")
    path.parent.chmod(0o755)
    open_store(f"sqlite:///{path}").dispose()


def test_a_store_owned_by_another_user_is_never_opened(store_file):
    needs_root()
    path = store_file
    os.chown(path, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(UnsafeStore) as refused:
        open_store(f"sqlite:///{path}")
    assert "belongs to nobody" in refused.value.message
    assert "sudo -u nobody keydesk" in refused.value.message
    assert refused.value.message.endswith(f"chown {ME} {path}")


def test_an_unsafe_store_is_one_line_from_the_cli(store_file, capsys):
    path = store_file
    path.chmod(0o644)
    assert main(["--db", str(path), "integration", "list"], actor="alice") != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"chmod 600 {path}" in err


def test_every_folder_keydesk_makes_is_private_whatever_the_umask(tmp_path, monkeypatch):
    """The default store under a fresh HOME with umask 000: ~/.local,
    ~/.local/share and ~/.local/share/keydesk are all made 0700."""
    from keydesk.config import database_url

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("KEYDESK_DATABASE_URL", raising=False)
    old = os.umask(0)
    try:
        open_store(database_url(), create=True).dispose()
    finally:
        os.umask(old)
    made = [tmp_path / ".local", tmp_path / ".local/share", tmp_path / ".local/share/keydesk"]
    assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in made] == [oct(0o700)] * 3
    assert stat.S_IMODE((made[-1] / "keydesk.db").stat().st_mode) == 0o600


def test_a_umask_that_takes_the_owner_bits_still_makes_a_usable_store(tmp_path):
    old = os.umask(0o777)
    try:
        store = open_store(f"sqlite:///{tmp_path / 'a' / 'b' / 'keydesk.db'}", create=True)
        KeyService(store, "alice").create_workspace("acme")
        store.dispose()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
