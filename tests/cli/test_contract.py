"""The CLI's promises under hostile input: one line on stderr and a non-zero
exit for every refusal, never a traceback, nothing that styles or moves the
terminal, no private key echoed, no password from a database URL, and no
store created by a command that is not meant to create one."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from keydesk.cli import main
from keydesk.errors import InvalidInput, NotFound
from keydesk.store.engine import open_store
from keydesk.store.models import ApiKey
from tests.conftest import build_world
from tests.support.fakes import seeded_key_pairs

PRIVATE_KEY = seeded_key_pairs(8)().private_key.reveal()  # the same in every xdist worker
DB_PASSWORD = "s3cr3t-pw"

# Values that must be refused wherever a command takes them.
REFUSED = {
    "ten kB": "x" * 10_240,
    "NUL": "a\x00b",
    "CSI colour": "\x1b[31mred\x1b[0m",
    "clear screen": "\x1b[2J\x1b[H",
    "OSC title": "\x1b]0;pwned\x07",
    "RTL override": "abc\u202egnp.exe",
    "newline": "first\nsecond",
    "private key": PRIVATE_KEY,
}
# Values a command may accept (or refuse, in one line).
ODD = {
    "empty": "",
    "dot dot slash": "../../etc/passwd",
    "bad IPv6": "https://[::1/cb",
    "bad host": "https://[zz]/cb",
    "fragment": "https://e.example/cb#x",
    "bad port": f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:notaport/db",
    "percent junk": "http://%zz%00/..",
    "option-like": "--json",
}
HOSTILE = {**REFUSED, **ODD}

# Every command with every value it takes: (argv with {} in one slot).
# `serve --host` is left out: a value it accepts would start a server.
COMMANDS = {
    "init --workspace": ["init", "--workspace", "{}"],
    "member add --workspace": [
        "member",
        "add",
        "--workspace",
        "{}",
        "--account",
        "bob",
        "--role",
        "admin",
    ],
    "member add --account": [
        "member",
        "add",
        "--workspace",
        "acme",
        "--account",
        "{}",
        "--role",
        "admin",
    ],
    "member add --role": [
        "member",
        "add",
        "--workspace",
        "acme",
        "--account",
        "bob",
        "--role",
        "{}",
    ],
    "integration add --workspace": [
        "integration",
        "add",
        "--workspace",
        "{}",
        "--name",
        "n",
        "--provider",
        "p",
    ],
    "integration add --name": [
        "integration",
        "add",
        "--workspace",
        "acme",
        "--name",
        "{}",
        "--provider",
        "p",
    ],
    "integration add --provider": [
        "integration",
        "add",
        "--workspace",
        "acme",
        "--name",
        "n",
        "--provider",
        "{}",
    ],
    "integration add --client-id": [
        "integration",
        "add",
        "--workspace",
        "acme",
        "--name",
        "n",
        "--provider",
        "p",
        "--client-id",
        "{}",
    ],
    "integration add --redirect-uri": [
        "integration",
        "add",
        "--workspace",
        "acme",
        "--name",
        "n",
        "--provider",
        "p",
        "--redirect-uri",
        "{}",
    ],
    "integration add --scopes": [
        "integration",
        "add",
        "--workspace",
        "acme",
        "--name",
        "n",
        "--provider",
        "p",
        "--scopes",
        "{}",
    ],
    "integration configure NAME": ["integration", "configure", "{}"],
    "integration configure --workspace": [
        "integration",
        "configure",
        "gitlab",
        "--workspace",
        "{}",
    ],
    "integration list --workspace": ["integration", "list", "--workspace", "{}"],
    "key create --integration": ["key", "create", "--integration", "{}", "--label", "l"],
    "key create --label": ["key", "create", "--integration", "github", "--label", "{}"],
    "key list --integration": ["key", "list", "--integration", "{}"],
    "key revoke PUBLIC_KEY": ["key", "revoke", "{}", "--yes"],
    "key create --expires-in": [
        "key",
        "create",
        "--integration",
        "github",
        "--label",
        "l",
        "--expires-in",
        "{}",
    ],
    "key create --expires-at": [
        "key",
        "create",
        "--integration",
        "github",
        "--label",
        "l",
        "--expires-at",
        "{}",
    ],
    "key create --scope": [
        "key",
        "create",
        "--integration",
        "github",
        "--label",
        "l",
        "--scope",
        "{}",
    ],
    "key list --workspace": ["key", "list", "--workspace", "{}"],
    "key list --expiring-within": ["key", "list", "--expiring-within", "{}"],
    "key list --unused-for": ["key", "list", "--unused-for", "{}"],
    "key rotate PUBLIC_KEY": ["key", "rotate", "{}", "--overlap", "1h"],
    "key rotate --overlap": ["key", "rotate", "kdpk_AAAAAAAAAAAAAAAA", "--overlap", "{}"],
    "key rotate --label": [
        "key",
        "rotate",
        "kdpk_AAAAAAAAAAAAAAAA",
        "--overlap",
        "1h",
        "--label",
        "{}",
    ],
    "key usage PUBLIC_KEY": ["key", "usage", "{}"],
    "key usage --since": ["key", "usage", "kdpk_AAAAAAAAAAAAAAAA", "--since", "{}"],
    "workspace set-policy --workspace": [
        "workspace",
        "set-policy",
        "--workspace",
        "{}",
        "--max-key-lifetime",
        "30d",
    ],
    "workspace set-policy --max-key-lifetime": [
        "workspace",
        "set-policy",
        "--max-key-lifetime",
        "{}",
    ],
    "integration edit NAME": ["integration", "edit", "{}", "--client-id", "c"],
    "integration edit --client-id": ["integration", "edit", "github", "--client-id", "{}"],
    "integration edit --redirect-uri": ["integration", "edit", "github", "--redirect-uri", "{}"],
    "integration edit --scopes": ["integration", "edit", "github", "--scopes", "{}"],
    "integration disable NAME": ["integration", "disable", "{}", "--yes"],
    "integration enable NAME": ["integration", "enable", "{}"],
    "serve --port": ["serve", "--port", "{}"],
    "scan PATH": ["scan", "{}"],
    "--db": ["--db", "{}", "integration", "list"],
    "--account": ["--account", "{}", "integration", "list"],
    "key list --db": ["key", "list", "--integration", "github", "--db", "{}"],
    "verify --db": ["verify", "--db", "{}"],
    "init --db": ["init", "--workspace", "w", "--db", "{}"],
}
# Where a refused value may still end in success: a scan without a store
# counts every key as live and carries on; the acting account's fallback is
# the identity rules' business.
MAY_SUCCEED = {("--account", "empty"), ("scan PATH", "option-like")}
MAY_SUCCEED_WITHOUT_STORE = {"scan PATH"}


@pytest.fixture(scope="module")
def template_store(tmp_path_factory) -> Path:
    """One migrated store with a world and a key, copied for each test (a
    migration per test would cost more than the test)."""
    path = tmp_path_factory.mktemp("template") / "cli.db"
    store = open_store(f"sqlite:///{path}", create=True)
    world = build_world(store)
    world.owner.create_key("github", "prod")
    store.dispose()  # checkpoints the WAL into the file
    return path


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys, template_store):
    path = tmp_path / "cli.db"
    shutil.copyfile(template_store, path)
    os.chmod(path, 0o600)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("KEYDESK_DATABASE_URL", url)
    monkeypatch.delenv("KEYDESK_ACCOUNT", raising=False)
    monkeypatch.delenv("KEYDESK_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args), actor="alice")  # proven, as keydesk ssh-session passes it
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_one_clean_line(
    code: int, out: str, err: str, value: str = "", *, db_url: bool = True
) -> None:
    """`db_url`: the value went to --db, so its password must not be shown
    (a name that merely contains a URL is shown literally, as typed)."""
    assert "Traceback" not in out + err and "internal error" not in err
    if code != 0:
        assert err.endswith("\n") and err.count("\n") == 1, err
        assert err.startswith(("keydesk: ", "401 Unauthorized: ")), err
    for raw in ("\x1b", "\u202e", "\x00", "\x07", PRIVATE_KEY, PRIVATE_KEY[22:50]):
        assert raw not in out + err
    if db_url:
        assert DB_PASSWORD not in out + err
    if PRIVATE_KEY[:9] in err:  # echoed: then only redacted, and said so
        assert PRIVATE_KEY[:9] + "…" in err and "not stored or logged" in err


@pytest.mark.parametrize("value_name", HOSTILE)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_with_every_hostile_value(cli, command, value_name):
    value = HOSTILE[value_name]
    argv = [value if arg == "{}" else arg for arg in COMMANDS[command]]
    code, out, err = cli(*argv)
    assert_one_clean_line(code, out, err, value, db_url="--db" in command)
    exempt = (command, value_name) in MAY_SUCCEED or command in MAY_SUCCEED_WITHOUT_STORE
    if value_name in REFUSED and not exempt:
        assert code != 0, (out, err)


@pytest.mark.parametrize("value_name", HOSTILE)
def test_verify_with_every_hostile_value_on_stdin(cli, value_name):
    code, out, err = cli("verify", stdin=HOSTILE[value_name])
    assert code == 1 and out == ""
    assert_one_clean_line(code, out, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["key"],
        ["key", "create"],
        ["key", "create", "--integration"],
        ["member", "add", "--workspace", "acme"],
        ["integration", "configure"],
        ["nope"],
        ["--nope", "key", "list"],
        ["key", "list", "--integration", "github", "extra"],
        ["scan", "--yes"],
        ["scan", "--staged", "--revoke"],
        ["key", "rotate", "kdpk_AAAAAAAAAAAAAAAA"],
        [
            "key",
            "create",
            "--integration",
            "g",
            "--label",
            "l",
            "--no-expiry",
            "--expires-in",
            "1d",
        ],
        ["workspace", "set-policy"],
        ["workspace"],
    ],
    ids=" ".join,
)
def test_usage_errors_are_one_line(cli, argv):
    code, out, err = cli(*argv)
    assert code != 0 and out == ""
    assert_one_clean_line(code, out, err)
    assert "--help" in err and "usage:" not in err


def test_help_and_version_are_normal(cli):
    code, out, err = cli("--help")
    assert code == 0 and out.startswith("usage: keydesk") and out.count("\n") > 10 and err == ""
    code, out, _ = cli("key", "create", "--help")
    assert code == 0 and "--label" in out
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("keydesk ")


def test_private_key_in_every_argument_is_never_echoed(cli):
    """A live key of this very store, pasted into each argument in turn."""
    code, out, _ = cli("key", "create", "--integration", "github", "--label", "live", "--json")
    live = json.loads(out)["api_key"]
    assert code == 0 and live in out  # the one time it is shown
    for command, argv in COMMANDS.items():
        code, out, err = cli(*[live if arg == "{}" else arg for arg in argv])
        assert live not in out + err and live[22:40] not in out + err, command
        assert code != 0 or command == "scan PATH", command


def test_errors_redact_private_keys_at_the_root():
    error = NotFound(f"no integration {PRIVATE_KEY!r}")
    for text in (error.message, str(error), repr(error), repr(error.args)):
        assert PRIVATE_KEY not in text and PRIVATE_KEY[22:40] not in text
    assert error.message == (
        f"no integration '{PRIVATE_KEY[:9]}…' "
        "(this looks like a private key; it was not stored or logged)"
    )
    assert InvalidInput("kdsk_prod is a fine label").message == "kdsk_prod is a fine label"


# --- no store is created by accident (issue 8, item 2) --------------------------

NON_CREATING = [
    ["member", "add", "--workspace", "acme", "--account", "bob", "--role", "admin"],
    ["integration", "add", "--workspace", "acme", "--name", "n", "--provider", "p"],
    ["integration", "configure", "github"],
    ["integration", "list"],
    ["key", "create", "--integration", "github", "--label", "x"],
    ["key", "list", "--integration", "github"],
    ["key", "revoke", "kdpk_AAAAAAAAAAAAAAAA", "--yes"],
    ["verify"],
    ["serve", "--port", "1"],
]


@pytest.mark.parametrize("argv", NON_CREATING, ids=" ".join)
def test_a_typo_in_db_creates_nothing(cli, tmp_path, argv):
    typo = tmp_path / "sub" / "typo.db"
    code, out, err = cli("--db", str(typo), *argv)
    assert code != 0 and out == ""
    assert err == (
        f"keydesk: no keydesk store at {typo} (create one with: keydesk init --workspace NAME)\n"
    )
    assert not typo.exists() and not typo.parent.exists()


def test_init_creates_the_store_and_then_commands_find_it(cli, tmp_path):
    path = tmp_path / "new" / "k.db"
    assert cli("--db", str(path), "init", "--workspace", "w")[0] == 0
    code, out, _ = cli("--db", str(path), "integration", "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_init_with_a_refused_name_leaves_no_store(cli, tmp_path):
    path = tmp_path / "k.db"
    code, _, err = cli("--db", str(path), "init", "--workspace", "\x1b[2J")
    assert code != 0 and "escape sequence" in err and not path.exists()


def test_no_store_on_postgresql_means_no_schema(store_url, capsys, monkeypatch):
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: an empty database")
    monkeypatch.delenv("KEYDESK_ACCOUNT", raising=False)  # the connection's role acts
    assert main(["--db", store_url, "key", "list", "--integration", "x"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("keydesk: no keydesk store at postgresql+psycopg://")
    assert "(create one with: keydesk init" in err and err.count("\n") == 1
    assert main(["--db", store_url, "init", "--workspace", "acme"]) == 0
    assert main(["--db", store_url, "integration", "list"]) == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--db", "/etc/hostname", "integration", "list"], "/etc/hostname is not a keydesk store"),
        (
            ["--db", "/etc/passwd/x.db", "integration", "list"],
            "no keydesk store at /etc/passwd/x.db",
        ),
        (
            ["--db", "/etc/passwd/x.db", "init", "--workspace", "w"],
            "a part of the path is not a folder",
        ),
        (
            [
                "--db",
                f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:notaport/db",
                "integration",
                "list",
            ],
            "not a database URL: postgresql+psycopg://u:***@127.0.0.1:notaport/db",
        ),
        (
            ["--db", f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:1/db", "integration", "list"],
            "the store is unavailable",
        ),
        (
            ["--db", "postgresql+asyncpg://u@127.0.0.1/db", "integration", "list"],
            "keydesk[postgres]",
        ),
        (["--db", "sqlite:///x.db?timeout=soon", "integration", "list"], "no keydesk store"),
        (["--db", "/", "integration", "list"], "keydesk: "),
    ],
)
def test_store_errors_are_one_line(cli, argv, needle):
    code, out, err = cli(*argv)
    assert code != 0 and needle in err
    assert_one_clean_line(code, out, err)


# --- the TUI's first run ------------------------------------------------------


class Opened(list):
    """The URLs the TUI was opened on, and what it was told to say first."""

    notices: list[str | None]


@pytest.fixture
def fake_tui(monkeypatch):
    opened = Opened()
    opened.notices = []

    def run(url, proven=None, mouse=True, notice=None):
        opened.append(url)
        opened.notices.append(notice)
        return 0

    monkeypatch.setattr("keydesk.tui.app.run", run)
    monkeypatch.setattr("keydesk.cli.interface.has_terminal", lambda: True)
    return opened


def test_first_run_creates_the_default_store_and_says_where_in_the_tui(
    cli, fake_tui, tmp_path, monkeypatch
):
    monkeypatch.delenv("KEYDESK_DATABASE_URL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    code, _, err = cli()
    path = tmp_path / "data" / "keydesk" / "keydesk.db"
    assert code == 0 and err == ""  # stderr is hidden behind the screen
    assert path.exists() and fake_tui == [f"sqlite:///{path}"]
    assert fake_tui.notices == [f"Created your store at {path} (readable by you only)."]
    code, _, err = cli()  # the second time there is nothing to say
    assert code == 0 and err == "" and fake_tui.notices[-1] is None


def test_no_mouse_leaves_the_mouse_to_the_terminal(cli, monkeypatch, tmp_path):
    mice: list[bool] = []
    monkeypatch.setattr(
        "keydesk.tui.app.run",
        lambda url, proven=None, mouse=True, notice=None: mice.append(mouse) or 0,
    )
    monkeypatch.setattr("keydesk.cli.interface.has_terminal", lambda: True)
    for argv in ((), ("--no-mouse",), ("demo",), ("demo", "--no-mouse"), ("--no-mouse", "demo")):
        assert cli(*argv)[0] == 0, argv
    assert mice == [True, False, True, False, False]


def test_first_run_on_a_named_path_asks_first(cli, fake_tui, tmp_path):
    typo = tmp_path / "typo.db"
    code, _, err = cli("--db", str(typo))  # stdin is not a terminal: nothing to ask
    assert code != 0 and "no keydesk store at" in err and not typo.exists()
    assert fake_tui == []


# --- the real process -----------------------------------------------------------


def test_a_closed_stdout_ends_quietly(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url, create=True)
    world = build_world(store)
    world.admit_keydesk_commands()  # the process below acts as the OS user
    first = world.owner.create_key("github", "key 0").key
    with store.engine.begin() as connection:  # more than a pipe holds (64 KiB), cheaply
        connection.execute(
            sa.insert(ApiKey),
            [
                {"integration_id": first.integration_id, "public_key": f"kdpk_{n:016d}",
                 "label": f"key {n}", "secret_hash": "-", "created_by": 1,
                 "created_at": first.created_at}
                for n in range(1, 1000)
            ],
        )  # fmt: skip
    store.dispose()
    env = {**os.environ, "KEYDESK_DATABASE_URL": url}
    env.pop("KEYDESK_ACCOUNT", None)
    for fmt in ([], ["--json"]):
        reader = subprocess.Popen(
            [sys.executable, "-m", "keydesk", "key", "list", "--integration", "github", *fmt],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert reader.stdout is not None and reader.stderr is not None
        assert reader.stdout.readline()  # like `head -n 1`: one line, then hang up
        reader.stdout.close()
        assert reader.wait(timeout=60) == 141  # the shell's convention for SIGPIPE
        assert reader.stderr.read() == b""
        reader.stderr.close()


def test_no_traceback_from_the_real_command(tmp_path):
    env = dict(os.environ)
    env.pop("KEYDESK_ACCOUNT", None)
    for argv in (
        ["--db", "/etc/hostname", "integration", "list"],
        ["--db", "postgresql+psycopg://u:pw@127.0.0.1:notaport/db", "key", "list", "--integration", "x"],
        ["integration", "add", "--workspace", "w", "--name", "n", "--provider", "p",
         "--redirect-uri", "https://[::1/cb", "--db", str(tmp_path / "missing.db")],
    ):  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "keydesk", *argv], env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr and ":pw@" not in done.stderr
    assert not Path(tmp_path / "missing.db").exists()
