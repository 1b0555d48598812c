"""One check of a SQLite store's file for every way of naming it and every
entry point (keydesk.store.path): the real file, symlinks followed, and
every folder on the way to it, as OpenSSH's StrictModes; refused at start-up
in one line; an unreadable store said as such; a refused init leaves nothing."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keydesk.asgi import KeydeskAuth
from keydesk.cli import main
from keydesk.config import database_url
from keydesk.errors import StoreUnavailable, UnsafeStore
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.store.sqlite_file import open_for_reading
from keydesk.verify import Verifier
from tests.support.os_users import python_for


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: files owned by another user, and running as another user")


def make_store(path: Path) -> Path:
    store = open_store(f"sqlite:///{path}", create=True)
    KeyService(store, "alice").create_workspace("acme")
    store.dispose()
    return path


async def _app(scope, receive, send):  # never reached: the store is refused first
    raise AssertionError("the protected app was reached")


# -- #19 item 2: the default store moved to a 0777 folder, a symlink left behind ----------


@pytest.fixture
def moved_default(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """The attack as filed: the default store moved into a folder anyone may
    write to (`bob` could then delete its -wal and un-revoke a key), and a
    symlink left where keydesk looks for it. Returns (link, real file)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("KEYDESK_DATABASE_URL", raising=False)
    link = make_store(Path(database_url().removeprefix("sqlite:///")))
    shared = tmp_path / "ww"
    shared.mkdir()
    shared.chmod(0o777)
    real = shared / "keydesk.db"
    shutil.move(link, real)
    link.symlink_to(real)
    return link, real


NAMINGS: dict[str, Callable[[Path, pytest.MonkeyPatch], str | None]] = {
    "default path": lambda link, mp: None,
    "plain --db path": lambda link, mp: str(link),
    "sqlite:/// URL": lambda link, mp: f"sqlite:///{link}",
    "%XX-encoded URL": lambda link, mp: f"sqlite:///{link.parent}/%6B%65ydesk.db",
    "KEYDESK_DATABASE_URL": lambda link, mp: mp.setenv("KEYDESK_DATABASE_URL", str(link)),
}


def _bare(url: str) -> None:
    with open_for_reading(url):
        pass


ENTRY_POINTS: dict[str, Callable[[str], object]] = {
    "open_store (CLI, TUI, serve, scan)": open_store,
    "bare reads (key list, TUI lists)": _bare,
    "Verifier (verify)": Verifier,
    "KeydeskAuth middleware": lambda url: KeydeskAuth(_app, database_url=url),
}


@pytest.mark.parametrize("naming", NAMINGS)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_symlinked_store_in_a_folder_others_write_is_refused(
    moved_default, monkeypatch, naming, entry
):
    link, real = moved_default
    url = database_url(NAMINGS[naming](link, monkeypatch))
    with pytest.raises(UnsafeStore) as refused:
        ENTRY_POINTS[entry](url)
    message = refused.value.message
    assert "\n" not in message
    assert f"refusing to open {real} (where {link} leads)" in message  # the real file
    assert message.endswith(f"fix: chmod go-w {real.parent}")
    real.parent.chmod(0o700)  # the fix it gives works
    open_store(url).dispose()


def test_a_symlinked_store_is_one_line_from_the_cli(moved_default, capsys):
    link, real = moved_default
    for argv in (["key", "list", "--workspace", "acme"], ["integration", "list"], ["audit"]):
        assert main(["--db", str(link), *argv], actor="alice") != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"refusing to open {real}" in err, err


def test_scan_never_asks_a_symlinked_unsafe_store(moved_default, tmp_path, capsys):
    link, real = moved_default
    text = tmp_path / "notes.txt"
    text.write_text("nothing secret\n")
    main(["--db", str(link), "scan", str(text)], actor="alice")
    assert f"refusing to open {real}" in capsys.readouterr().err


def test_the_attack_precondition_holds_another_user_could_delete_the_wal(open_base):
    """Why it is refused: in a 0777 folder another user removes the -wal
    (with it a revocation not yet checkpointed) and nothing stops him."""
    needs_root()
    real = make_store(open_base / "ww" / "keydesk.db")
    real.parent.chmod(0o777)
    wal = Path(f"{real}-wal")
    wal.touch(mode=0o600)
    subprocess.run(["runuser", "-u", "nobody", "--", "rm", "-f", str(wal)], check=True, timeout=30)
    assert not wal.exists()
    with pytest.raises(UnsafeStore, match=f"fix: chmod go-w {real.parent}$"):
        Verifier(f"sqlite:///{real}")


# -- every folder on the way, as StrictModes -------------------------------------------


def test_every_folder_on_the_way_is_checked_not_only_the_stores(tmp_path):
    path = make_store(tmp_path / "a" / "b" / "keydesk.db")
    above = tmp_path / "a"
    above.chmod(0o777)  # another user could rename b away and put his own b there
    with pytest.raises(UnsafeStore, match=f"the folder on its way {above} is writable"):
        open_store(f"sqlite:///{path}")
    above.chmod(0o1777)  # sticky but not root's: its owner could still swap b
    if os.geteuid() != 0:
        with pytest.raises(UnsafeStore):
            open_store(f"sqlite:///{path}")
    above.chmod(0o775)
    with pytest.raises(UnsafeStore, match=f"fix: chmod g-w {above}$"):
        open_store(f"sqlite:///{path}")
    above.chmod(0o755)
    open_store(f"sqlite:///{path}").dispose()


def test_every_symlink_on_the_way_and_its_folder_is_checked_not_only_the_real_files(tmp_path):
    """A link in a folder others write to could be pointed at another store
    of yours (an old copy, its key not yet revoked): refused, though the
    real file's own folders are all safe."""
    real = make_store(tmp_path / "safe" / "keydesk.db")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o700)
    (shared / "hop.db").symlink_to(real)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    (mine / "keydesk.db").symlink_to(shared / "hop.db")  # a link to a link
    url = f"sqlite:///{mine / 'keydesk.db'}"
    open_store(url).dispose()
    shared.chmod(0o777)
    for opener in (open_store, Verifier, _bare):
        with pytest.raises(UnsafeStore, match=f"the folder on its way {shared} is writable"):
            opener(url)


def test_a_symlink_of_another_user_in_a_sticky_folder_is_refused(tmp_path):
    """In /tmp (root's, sticky) only a link's owner may replace it: yours
    may lead to your store; another user's may not."""
    needs_root()
    real = make_store(tmp_path / "safe" / "keydesk.db")
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    link = sticky / "keydesk.db"
    link.symlink_to(real)
    open_store(f"sqlite:///{link}").dispose()
    os.lchown(link, 65534, 65534)
    for named in (f"sqlite:///{link}", str(link)):  # a plain path too: its link is kept
        with pytest.raises(UnsafeStore, match=f"the symlink {link} on its way belongs to nobody"):
            open_store(database_url(named))


def test_a_root_sticky_folder_on_the_way_is_fine_but_not_as_the_stores_own(tmp_path):
    """/tmp (root's, sticky): others may not rename what is yours in it."""
    needs_root()
    shared = tmp_path / "shared"
    path = make_store(shared / "mine" / "keydesk.db")
    shared.chmod(0o1777)
    open_store(f"sqlite:///{path}").dispose()
    with pytest.raises(UnsafeStore, match="move it to a folder of your own"):
        open_store(f"sqlite:///{shared / 'x.db'}", create=True)


def test_a_group_writable_store_folder_is_refused(tmp_path):
    path = make_store(tmp_path / "data" / "keydesk.db")
    path.parent.chmod(0o770)
    with pytest.raises(UnsafeStore, match=f"writable by its group .*fix: chmod g-w {path.parent}$"):
        open_store(f"sqlite:///{path}")


def test_a_folder_on_the_way_owned_by_another_user_is_refused(tmp_path):
    needs_root()
    path = make_store(tmp_path / "theirs" / "mine" / "keydesk.db")
    os.chown(tmp_path / "theirs", 65534, -1)
    with pytest.raises(UnsafeStore, match=f"{tmp_path / 'theirs'} belongs to nobody"):
        Verifier(f"sqlite:///{path}")


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_companion_file_that_is_a_symlink_is_refused(tmp_path, suffix):
    path = make_store(tmp_path / "data" / "keydesk.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.touch(mode=0o600)
    Path(f"{path}{suffix}").symlink_to(elsewhere)
    with pytest.raises(UnsafeStore, match=f"{path}{suffix} is a symlink"):
        open_store(f"sqlite:///{path}")


def test_sqlite_uri_names_that_could_open_another_file_are_refused(tmp_path):
    path = make_store(tmp_path / "keydesk.db")
    for opener in (open_store, Verifier):  # the verifier reads by its own URI, never the URL's
        with pytest.raises(StoreUnavailable, match="not accepted"):
            opener(f"sqlite:///file:{path}?uri=true")
    with pytest.raises(StoreUnavailable, match="not accepted"):
        open_store(f"sqlite:///{path}?uri=true&immutable=1")  # immutable: the -wal unread


# -- #19 item 3: the middleware's store, refused at start-up ---------------------------------


def test_the_middleware_refuses_a_0666_store_in_a_0777_folder_when_it_is_made(tmp_path):
    """As filed: bob wrote a key of his own into such a file and got 200."""
    path = make_store(tmp_path / "ww" / "keydesk.db")
    path.parent.chmod(0o777)
    path.chmod(0o666)
    with pytest.raises(UnsafeStore) as refused:
        KeydeskAuth(_app, database_url=f"sqlite:///{path}")
    message = refused.value.message
    assert "\n" not in message and f"refusing to open {path}" in message and "fix:" in message


def test_a_starlette_app_with_the_middleware_does_not_start_on_an_unsafe_store(tmp_path):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    path = make_store(tmp_path / "ww" / "keydesk.db")
    path.chmod(0o644)
    app = Starlette()
    app.add_middleware(KeydeskAuth, database_url=f"sqlite:///{path}")
    with pytest.raises(UnsafeStore, match=f"fix: chmod 600 {path}$"), TestClient(app):
        pass  # start-up (lifespan) builds the middleware: no request is ever answered


def test_keydesk_verify_and_serve_refuse_by_the_same_check(tmp_path, capsys, monkeypatch):
    path = make_store(tmp_path / "ww" / "keydesk.db")
    path.parent.chmod(0o777)
    monkeypatch.setenv("KEYDESK_API_KEY", "kdsk_x")
    for argv in (["verify"], ["serve", "--port", "0"]):
        assert main(["--db", str(path), *argv], actor="alice") != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"chmod go-w {path.parent}" in err, err


# -- #19 item 7: an unreadable store; a refused init leaves nothing ------------------------


@pytest.fixture
def open_base() -> Iterator[Path]:
    """A folder anyone may enter (tmp_path's parents are root's 0700)."""
    base = Path(tempfile.mkdtemp(prefix="keydesk-unreadable-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    python = python_for("nobody")
    if isinstance(python, str):
        pytest.skip(python)
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *python[0], "-m", "keydesk", *argv],
        env={**os.environ, **python[1], "HOME": "/"},
        capture_output=True, text=True, timeout=60, check=False, cwd="/",
    )  # fmt: skip


def test_a_store_in_a_folder_you_cannot_enter_is_unreadable_not_missing(open_base):
    needs_root()
    path = make_store(open_base / "svc" / "keydesk.db")  # svc: root's, 0700
    done = _as_nobody("--db", str(path), "key", "list", "--workspace", "acme")
    assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
    assert f"cannot read the store at {path}: permission denied" in done.stderr
    assert f"you may not enter {path.parent}, which belongs to root" in done.stderr
    assert "no keydesk store" not in done.stderr and "create one" not in done.stderr


def test_a_store_you_may_not_read_says_so_and_how_to_fix_it(open_base):
    needs_root()
    path = make_store(open_base / "mine" / "keydesk.db")
    for each in (path.parent, path):
        os.chown(each, 65534, 65534)
    path.chmod(0)
    for argv in (["key", "list", "--workspace", "acme"], ["integration", "list"], ["audit"]):
        done = _as_nobody("--db", str(path), *argv)
        assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
        expected = f"cannot read the store at {path}: permission denied (mode 0000); fix: chmod 600"
        assert expected in done.stderr, done.stderr


def _leftovers(path: Path) -> list[Path]:
    return [p for p in (Path(f"{path}{s}") for s in ("", "-wal", "-shm", "-journal")) if p.exists()]


def test_init_refused_in_tmp_leaves_no_file(capsys):
    path = Path("/tmp") / f"keydesk-{secrets.token_hex(6)}.db"
    try:
        assert main(["--db", str(path), "init", "--workspace", "acme"], actor="alice") != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "move it to a folder of your own" in err, err
        assert _leftovers(path) == []
    finally:
        for leftover in _leftovers(path):
            leftover.unlink()


def test_init_refused_after_the_store_is_made_leaves_nothing_it_made(tmp_path, monkeypatch, capsys):
    from keydesk.errors import InvalidInput

    def refuse(self, name):
        raise InvalidInput("refused for the test")

    monkeypatch.setattr(KeyService, "create_workspace", refuse)
    path = tmp_path / "new" / "deeper" / "keydesk.db"
    assert main(["--db", str(path), "init", "--workspace", "acme"], actor="alice") != 0
    assert "refused for the test" in capsys.readouterr().err
    assert _leftovers(path) == [] and not (tmp_path / "new").exists()


def test_init_refused_for_who_runs_it_leaves_no_store(tmp_path, monkeypatch, capsys):
    """The OS user is found only once the store is open: a refusal then
    (an inconsistent sudo environment) takes the new store away again."""
    monkeypatch.setenv("SUDO_USER", "no-such-user-kd")
    monkeypatch.setenv("SUDO_UID", "4242")
    path = tmp_path / "new" / "keydesk.db"
    assert main(["--db", str(path), "init", "--workspace", "acme"]) != 0
    assert "not a user of this host" in capsys.readouterr().err
    assert _leftovers(path) == [] and not path.parent.exists()


def test_the_tuis_first_run_checks_before_it_asks_or_makes(monkeypatch, capsys):
    opened: list[str] = []
    monkeypatch.setattr("keydesk.tui.app.run", lambda url, **_: opened.append(url) or 0)
    monkeypatch.setattr("keydesk.cli.interface.has_terminal", lambda: True)
    path = Path("/tmp") / f"keydesk-{secrets.token_hex(6)}.db"
    try:
        assert main(["--db", str(path)], actor="alice") != 0
        err = capsys.readouterr().err
        assert "move it to a folder of your own" in err and "no keydesk store" not in err, err
        assert opened == [] and _leftovers(path) == []
    finally:
        for leftover in _leftovers(path):
            leftover.unlink()


def test_a_refused_init_on_an_existing_store_leaves_it_whole(tmp_path, capsys):
    path = make_store(tmp_path / "keydesk.db")
    before = path.stat().st_ino
    assert main(["--db", str(path), "init", "--workspace", "acme"], actor="alice") != 0
    assert capsys.readouterr().err.count("\n") == 1
    assert path.stat().st_ino == before
    store = open_store(f"sqlite:///{path}")
    assert [ws.name for ws in KeyService(store, "alice").workspaces()] == ["acme"]
    store.dispose()


# -- `..` after a name that is not a folder: the kernel refuses, SQLite would not ------------


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("back", ["nothere/..", "evil.db/.."])
def test_a_path_going_back_from_what_is_not_a_folder_is_refused(tmp_path, entry, back):
    """SQLite resolves a store's name itself and drops the name before `..`
    whatever it is: through `l.db -> nothere/../evil.db` it opened evil.db
    (mode 0666) while the check, told the path went through a missing
    folder, took the store for one not made yet and checked no file."""
    folder = tmp_path / "kopmw"
    evil = make_store(folder / "evil.db")
    evil.chmod(0o666)
    Path(f"{evil}-wal").symlink_to(tmp_path / "elsewhere-wal")
    link = folder / "l.db"
    link.symlink_to(f"{back}/evil.db")
    for url in (f"sqlite:///{link}", f"sqlite:///{folder}/{back}/evil.db"):
        with pytest.raises(StoreUnavailable) as refused:
            ENTRY_POINTS[entry](url)
        assert "'..'" in refused.value.message and "\n" not in refused.value.message
    assert sorted(p.name for p in folder.iterdir()) == ["evil.db", "evil.db-wal", "l.db"]


def test_a_path_going_back_from_a_folder_is_followed_and_checked(tmp_path):
    folder = tmp_path / "kopmw"
    (folder / "sub").mkdir(parents=True)
    store = make_store(folder / "k.db")
    link = folder / "l.db"
    link.symlink_to("sub/../k.db")
    assert open_store(f"sqlite:///{link}").engine.url.database == str(store)
    store.chmod(0o666)
    for url in (f"sqlite:///{link}", str(folder / "sub" / ".." / "k.db")):
        with pytest.raises(UnsafeStore, match="mode 0666"):
            open_store(database_url(url))


def test_init_through_a_missing_folder_and_back_makes_nothing(tmp_path, capsys):
    link = tmp_path / "l.db"
    link.symlink_to("nothere/../new.db")
    assert main(["--db", str(link), "init", "--workspace", "acme"]) != 0
    assert "'..'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.db"]
