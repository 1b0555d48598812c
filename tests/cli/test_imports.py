"""What the command line loads before it does anything, and how `key list
--json` streams: `--help` starts like a small script, and a SQLite store
never loads the PostgreSQL dialect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from contextlib import redirect_stdout

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from keydesk.cli import main
from keydesk.cli.output import key_json
from keydesk.service import KeyService
from keydesk.store import dbapi
from keydesk.store.engine import open_store
from keydesk.store.models import ApiKey
from tests.conftest import build_world

HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "textual", "argon2", "alembic", "platformdirs")


def loaded_by(argv: list[str], env: dict[str, str] | None = None, stdin: str = "") -> set[str]:
    """Top-level packages and keydesk modules in sys.modules after `keydesk ARGV`."""
    code = (
        "import sys\n"
        "from keydesk.cli import main\n"
        f"code = main({argv!r})\n"
        "sys.stdout.flush()\n"
        "print('\\n'.join(sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return set(done.stderr.split("\n"))


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["key", "--help"], ["scan", "--help"]])
def test_help_and_version_load_nothing_heavy(argv):
    modules = loaded_by(argv)
    assert "keydesk.cli" in modules
    assert not {m for m in modules if m.split(".")[0] in HEAVY}
    # nor the read-models, the scanner or the store: only the parser
    assert not modules & {"keydesk.views", "keydesk.scan", "keydesk.keys", "keydesk.store.engine"}


@pytest.fixture
def sqlite_store(sqlite_url, migrated):
    url = sqlite_url
    store = open_store(url, create=True)
    world = build_world(store)
    created = world.owner.create_key("github", "prod")
    yield url, world, created
    store.dispose()


def test_listing_an_up_to_date_sqlite_store_loads_no_sqlalchemy(sqlite_store):
    """`key list`, `integration list`, `workspace list`, `member list` and
    `audit` read a SQLite store on a bare sqlite3 connection
    (keydesk.store.queries): they start as fast as Python."""
    url, world, _ = sqlite_store
    world.admit_keydesk_commands()  # the process acts as the OS user
    env = {"KEYDESK_DATABASE_URL": url}
    listings = (["key", "list", "--integration", "github", "--json"], ["integration", "list"])
    for argv in (*listings, ["workspace", "list"], ["member", "list"], ["audit", "--json"]):
        modules = loaded_by(argv, env, "")
        assert "keydesk.store.queries" in modules, argv  # the command did read the store
        assert not {m for m in modules if m.split(".")[0] in HEAVY}, argv


def test_verifying_on_an_up_to_date_sqlite_store_loads_no_sqlalchemy(sqlite_store):
    """`keydesk verify` reads and writes its bookkeeping on bare sqlite3
    connections: argon2 is the only heavy thing it needs."""
    url, world, created = sqlite_store
    world.admit_keydesk_commands()
    modules = loaded_by(["verify"], {"KEYDESK_DATABASE_URL": url}, created.private_key.reveal())
    assert "keydesk.verify" in modules and "argon2" in modules  # the command did check the key
    assert not {m for m in modules if m.split(".")[0] in set(HEAVY) - {"argon2"}}
    assert not {m for m in modules if "postgresql" in m or m.startswith("psycopg")}


def test_scanning_with_an_up_to_date_sqlite_store_loads_no_sqlalchemy(sqlite_store, tmp_path):
    """`keydesk scan` looks up what it finds on a bare sqlite3 connection
    (Reads.found_key): importing SQLAlchemy was most of a short scan's time."""
    url, world, created = sqlite_store
    world.admit_keydesk_commands()
    (tmp_path / "leak.env").write_text(f"API_KEY={created.private_key.reveal()}\n")
    modules = loaded_by(["scan", str(tmp_path / "leak.env")], {"KEYDESK_DATABASE_URL": url})
    assert "keydesk.store.queries" in modules and "argon2" in modules  # it did check the key
    assert not {m for m in modules if m.split(".")[0] in set(HEAVY) - {"argon2"}}


def test_key_list_json_is_the_same_bytes_as_one_json_dump(sqlite_store, capsys, monkeypatch):
    url, world, _ = sqlite_store
    world.owner.create_key("github", 'café ✓ "quoted"')
    world.owner.revoke_key(world.owner.create_key("github", "old").key.public_key)
    expected = json.dumps(
        [key_json(k) for k in world.owner.keys("github")], indent=2, ensure_ascii=False
    )
    assert (
        main(["--db", url, "key", "list", "--integration", "github", "--json"], actor="alice") == 0
    )
    assert capsys.readouterr().out == expected + "\n"
    world.owner.add_integration("acme", "empty", "P")
    assert (
        main(["--db", url, "key", "list", "--integration", "empty", "--json"], actor="alice") == 0
    )
    assert capsys.readouterr().out == "[]\n"


def _seed(world, count: int) -> None:
    template = world.owner.keys("github")[0]
    with world.store.engine.begin() as connection:
        connection.execute(
            sa.insert(ApiKey),
            [
                {"integration_id": template.integration_id, "public_key": f"kdpk_{n:016d}",
                 "label": f"k{n}", "secret_hash": "-", "created_by": 1,
                 "created_at": template.created_at}
                for n in range(count)
            ],
        )  # fmt: skip


def _peak_listing(url: str, monkeypatch) -> int:
    with open(os.devnull, "w") as sink, redirect_stdout(sink):
        tracemalloc.start()
        try:
            argv = ["--db", url, "key", "list", "--integration", "github", "--json"]
            assert main(argv, actor="alice") == 0
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_key_list_json_streams_in_flat_memory(sqlite_store, monkeypatch):
    # Fetches of 100 rows (1,000 in use). The small listing is past 2,000
    # rows: Python keeps up to 2,000 freed objects of a size for reuse, which
    # grows the peak until then whatever the streaming (one more column in a
    # key's row took 500 -> 2,500 rows from 1.1x to 1.8x, 2,500 -> 10,000 stayed 1.0x).
    monkeypatch.setattr(dbapi, "BATCH", 100)
    url, world, _ = sqlite_store
    _seed(world, 2_500)
    small = _peak_listing(url, monkeypatch)
    with world.store.engine.begin() as connection:
        # The seeded rows only (a real key's random public key may start kdpk_0 too).
        connection.execute(sa.delete(ApiKey).where(ApiKey.secret_hash == "-"))
    _seed(world, 10_000)
    large = _peak_listing(url, monkeypatch)
    assert large < small * 1.5, (small, large)  # 4x the rows, not 4x the memory


def test_streamed_keys_are_keys_in_order(sqlite_store, monkeypatch):
    _, world, _ = sqlite_store
    for n in range(5):
        world.owner.create_key("github", f"k{n}")
    service = KeyService(world.store, "alice")
    monkeypatch.setattr(dbapi, "BATCH", 2)  # several fetches
    with service.reading() as reads:
        streamed = list(reads.keys("github", stream=True))
    assert streamed == service.keys("github")


def test_output_stream_is_plain_text(capsys):
    from keydesk.cli.output import print_json_list

    print_json_list(iter([{"a": 1}, {"b": [1, 2]}]))
    assert capsys.readouterr().out == json.dumps([{"a": 1}, {"b": [1, 2]}], indent=2) + "\n"


@pytest.mark.parametrize(
    "items",
    [
        [],
        [{}],
        [{"a": 1, "b": None, "c": True, "d": False, "e": 'x\n"\\\u2028é\x1b', "f": -3}],
        [{"nested": [1, {"x": None}], "n": 1.5}, {"s": "plain"}],
        [{1: "int key"}, {"e": __import__("enum").IntEnum("E", "A").A}],
        [{"scopes": ["repo", 'r"\\\u2028é\x1b']}, {"scopes": []}, {"mixed": ["a", 1]}],
    ],
)
def test_streamed_json_matches_json_dumps(items, capsys):
    from keydesk.cli.output import print_json_list

    print_json_list(iter(items))
    assert capsys.readouterr().out == json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def test_streamed_keys_convert_times_as_the_store_does(world):
    """A streamed read of keys reads raw datetimes (SQLite text, PostgreSQL values) and
    converts them itself: the same views as keys(), on both backends."""
    from datetime import UTC, datetime, timedelta

    created = world.owner.create_key(
        "github", "expiring", expires_at=datetime.now(UTC) + timedelta(days=1)
    )
    world.owner.create_key("github", "other")
    world.owner.revoke_key(created.key.public_key)
    with world.owner.reading() as reads:
        listed = list(reads.keys("github", stream=True))
    assert listed == world.owner.keys("github")
    assert all(k.created_at.tzinfo is UTC for k in listed)
    assert listed[-1].revoked_at is not None and listed[-1].expires_at is not None


def test_opening_a_current_store_loads_no_orm(sqlite_store):
    """What a verifier pays to open the store: SQLAlchemy Core and the
    driver; the ORM (SQLModel, pydantic), Alembic and argon2 only when used."""
    url, _, _ = sqlite_store
    code = (
        "import sys\n"
        "from keydesk.store.engine import open_store\n"
        f"open_store({url!r}).dispose()\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = set(subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split())  # fmt: skip
    assert "sqlalchemy.dialects.sqlite" in loaded
    heavy = {"sqlmodel", "pydantic", "alembic", "argon2", "sqlalchemy.orm"}
    assert not {m for m in loaded if m in heavy or m.split(".")[0] in heavy}


# -- `keydesk` alone: the TUI's parser ------------------------------------------------

GLOBAL_TOKENS = st.sampled_from(
    ["--db", "--account", "--db=x.db", "--account=bob", "x.db", "-", "--no-mouse", "--no-mouse=1"]
)
OTHER_TOKENS = st.sampled_from(["key", "list", "--help", "--version", "--json", "--", "--d", ""])


@settings(deadline=None)  # behaviour, not speed: a loaded CI machine must not fail it
@given(st.lists(st.one_of(GLOBAL_TOKENS, OTHER_TOKENS), max_size=5))
def test_the_tuis_parser_reads_what_the_full_parser_reads(argv):
    """`keydesk` with only --db/--account parses without the commands (the
    first frame does not wait for 30 subparsers), and reads exactly what the
    full parser would; anything else goes to the full parser."""
    import argparse
    import contextlib
    import io

    from keydesk.cli import GROUPS
    from keydesk.cli.parser import build_parser, opens_tui

    def parse(parser: argparse.ArgumentParser) -> object:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                args, extra = parser.parse_known_args(argv)
            except SystemExit as exit_:
                return ("exit", exit_.code, err.getvalue())
        options = {k: v for k, v in vars(args).items() if k in ("db", "account", "no_mouse")}
        return (options, extra, getattr(args, "handler", None))

    if opens_tui(argv):
        assert parse(build_parser()) == parse(build_parser(*GROUPS))


def test_opening_the_tui_builds_no_command_parsers(monkeypatch):
    import keydesk.cli as cli

    built: list[tuple[object, ...]] = []
    monkeypatch.setattr(cli, "build_parser", lambda *groups: built.append(groups) or _stop())
    for argv, commands in (([], False), (["--db", "x.db"], False), (["key", "list"], True)):
        with pytest.raises(_Stop):
            cli.main(argv)
        assert bool(built.pop()) is commands, argv


class _Stop(Exception):
    pass


def _stop():
    raise _Stop


def test_a_command_builds_only_its_own_parsers_and_help_lists_them_all(capsys):
    """`keydesk scan …` builds the scan group's parser alone (every group's
    cost each run ~40 ms); --help anywhere before the command lists all."""
    assert main(["--db", "sqlite:///nowhere.db", "scan", "--help"]) == 0
    assert "usage: keydesk scan" in capsys.readouterr().out
    for argv in (["--help"], ["--help", "scan"], ["--db", "x", "-h", "key"]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "scan" in out and "integration" in out and "audit" in out, argv
