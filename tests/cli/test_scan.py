"""`keydesk scan`: what it prints, how it exits, and revoking what leaked."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keydesk.cli import main
from keydesk.identity import acting_account
from keydesk.keys import PrivateKey, generate_key_pair
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from tests.conftest import build_world

ROOT = Path(__file__).parents[2]
GIT = ("git", "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false")


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.delenv("KEYDESK_DATABASE_URL", raising=False)
    # keydesk acts as the OS user (the connection's role on PostgreSQL), who has
    # no role anywhere in these stores: holding the key is enough.
    monkeypatch.delenv("KEYDESK_ACCOUNT", raising=False)


@pytest.fixture
def world(store_url, migrated):
    store = open_store(store_url, create=True)
    yield build_world(store)
    store.dispose()


@pytest.fixture
def run(capsys, monkeypatch):
    def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)


def secret(created) -> str:
    return created.private_key.reveal()


def test_planted_keys_are_found_with_their_status_and_never_printed(
    world, store_url, tmp_path, run
):
    live, dead = world.owner.create_key("github", "prod"), world.owner.create_key("github", "old")
    world.owner.revoke_key(dead.key.public_key)
    stranger = generate_key_pair().private_key.reveal()  # checksum-valid, not in this store
    tree = tmp_path / "tree"
    (tree / "deep").mkdir(parents=True)
    (tree / "deep" / "app.env").write_text(f"# config\nKEY={secret(live)}\n")
    (tree / "old.txt").write_text(f"{secret(dead)} {stranger}\n")

    code, out, err = run("--db", store_url, "scan", str(tree))
    assert code == 2 and err == ""
    lines = sorted(out.splitlines())  # a folder's files come before its subfolders
    assert len(lines) == 3
    assert lines[0] == (
        f"{tree}/deep/app.env:2: {secret(live)[:9]}… {live.key.public_key} active, "
        "label 'prod', integration github"
    )
    assert (
        f"{tree}/old.txt:1: {secret(dead)[:9]}… {dead.key.public_key} revoked, "
        "label 'old', integration github"
    ) in lines
    assert f"{tree}/old.txt:1: {stranger[:9]}… kdpk_{stranger[5:21]} unknown" in lines
    for key in (secret(live), secret(dead), stranger):
        assert key not in out and key[22:40] not in out

    code, out, _ = run("--db", store_url, "scan", "--json", str(tree / "old.txt"))
    assert code == 1
    assert [f["status"] for f in json.loads(out)] == ["revoked", "unknown"]


def test_exit_status_clean_and_incomplete(world, store_url, tmp_path, run):
    (tmp_path / "clean.txt").write_text("kdsk_not_a_key\n")
    assert run("--db", store_url, "scan", str(tmp_path / "clean.txt"))[0] == 0
    code, out, err = run("--db", store_url, "scan", str(tmp_path / "missing"))
    assert code == 3 and out == "" and err.count("\n") == 1 and "no such file" in err
    code, _, err = run("--db", store_url, "scan", "--nope")
    assert code == 3 and err.count("\n") == 1  # a usage error is not "a live key"


def test_files_left_out_on_purpose_are_counted_in_one_line_unless_verbose(
    world, store_url, tmp_path, run
):
    """A walk over a project says "40 binary files … skipped" once, not a
    line per `__pycache__` file that hid what mattered; --verbose lists them.
    What could not be read is still named, and the exit status is as before."""
    cache = tmp_path / "app" / "__pycache__"
    cache.mkdir(parents=True)
    for n in range(40):
        (cache / f"m{n}.cpython-311.pyc").write_bytes(b"\xa7\r\r\n\0\0\0\0code")
    (tmp_path / "app" / "main.py").write_text("print('hello')\n")
    (tmp_path / "app" / "latest").symlink_to("main.py")
    app = str(tmp_path / "app")

    code, out, err = run("--db", store_url, "scan", app)
    assert (code, out) == (0, "")
    assert err == ("keydesk: 40 binary files and 1 symbolic link skipped (--verbose lists them)\n")
    code, out, err = run("--db", store_url, "scan", app, str(tmp_path / "missing"))
    assert code == 3
    assert [line.split(": ", 1)[0] for line in err.splitlines()] == ["keydesk"] * 2
    assert f"{tmp_path}/missing: skipped" in err and "40 binary files and 1 symbolic" in err
    code, out, err = run("--db", store_url, "scan", "--verbose", app)
    assert code == 0 and "(--verbose lists them)" not in err
    assert err.count(": skipped, binary file\n") == 40
    assert f"{app}/latest: skipped, symbolic link, not followed" in err


def test_without_a_store_every_key_counts_as_live(tmp_path, run):
    leaked = generate_key_pair().private_key.reveal()
    code, out, err = run(
        "--db", str(tmp_path / "typo.db"), "scan", "-", stdin=f"x {leaked}\n".encode()
    )
    assert code == 2 and "<stdin>:1:" in out and out.rstrip().endswith("unchecked")
    assert "no keydesk store" in err and "counts as live" in err
    assert not (tmp_path / "typo.db").exists()


def test_history_and_ignored_files_are_scanned(world, store_url, tmp_path, run):
    old, ignored = world.owner.create_key("github", "old"), world.owner.create_key("github", "ci")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("*.env\n")
    (repo / "config.py").write_text(f"KEY = '{secret(old)}'\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "oops")
    (repo / "config.py").write_text("KEY = os.environ['KEY']\n")
    git(repo, "commit", "-qam", "fix")
    (repo / "ci.env").write_text(f"KEY={secret(ignored)}\n")

    code, out, _ = run("--db", store_url, "scan", "--git", str(repo))
    assert code == 2
    assert f"{repo}/ci.env:1:" in out and ignored.key.public_key in out
    (history,) = [line for line in out.splitlines() if old.key.public_key in line]
    assert ":config.py:1:" in history and history.split(":")[0] != str(repo / "config.py")
    code, out, _ = run("--db", store_url, "scan", "--respect-gitignore", str(repo))
    assert code == 0 and out == ""


def test_with_no_path_the_current_folder_is_scanned_recursively_ignored_files_too(
    tmp_path, run, monkeypatch
):
    """README: `keydesk scan` alone scans the current folder, recursively (ignored files too)."""
    leaked = generate_key_pair()
    repo = tmp_path / "repo"
    (repo / "deep").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("*.env\n")
    (repo / "deep" / "ci.env").write_text(f"KEY={leaked.private_key.reveal()}\n")
    monkeypatch.chdir(repo)
    code, out, _err = run("scan")  # no store here: the key is unchecked, so live
    assert (code, out.split(": ", 1)[0]) == (2, "./deep/ci.env:1")
    assert leaked.public_key in out
    assert run("scan", "--respect-gitignore")[:2] == (0, "")  # git does ignore it


def test_an_unreadable_file_is_named_on_one_line_and_the_exit_is_3(run):
    """README: what could not be read (an unreadable file) is named, a line each.
    /proc/self/mem opens but fails to read, even for root."""
    code, out, err = run("scan", "/proc/self/mem")
    assert (code, out) == (3, "")
    named = [line for line in err.splitlines() if "/proc/self/mem" in line]
    assert named == ["keydesk: /proc/self/mem: skipped, read failed: input/output error"]


def test_revoke_what_leaked_then_verify_gives_401(world, store_url, tmp_path, run):
    created = world.owner.create_key("github", "prod")
    leak = tmp_path / "shell_history"
    leak.write_text(f"curl -H 'Authorization: Bearer {secret(created)}' https://api\n")

    code, _out, err = run("--db", store_url, "scan", "--revoke", "--yes", str(leak))
    assert code == 1, err  # found, and dead now
    assert f"revoked {created.key.public_key}" in err
    code, _, err = run("--db", store_url, "verify", stdin=secret(created).encode())
    assert code == 1 and "401 Unauthorized: revoked" in err

    (event,) = [e for e in world.owner.audit("acme") if e.action == "key.revoke.leaked"]
    assert event.actor == acting_account(world.store) and event.target == created.key.public_key
    assert event.label is not None and event.label.startswith("found at ")
    assert "shell_history:1" in event.label or event.label.endswith("…")
    assert world.owner.key(created.key.public_key).revoked_by is None  # who has no account


def test_revoke_asks_once_and_refuses_without_a_terminal(world, store_url, tmp_path, run):
    created = world.owner.create_key("github", "prod")
    (tmp_path / "a").write_text(secret(created))
    code, _, err = run("--db", store_url, "scan", "--revoke", str(tmp_path), stdin=b"")
    assert code == 2 and "--yes" in err
    assert world.owner.key(created.key.public_key).is_active


def test_the_service_revokes_only_the_key_whose_secret_is_presented(world):
    created = world.owner.create_key("github", "prod")
    outsider = KeyService(world.store, "mallory")
    forged = PrivateKey(generate_key_pair().private_key.reveal())
    assert outsider.found_key(forged).key is None
    # The right id with another secret is not proof.
    same_id = created.private_key.reveal()[:22] + forged.reveal()[22:65]
    from keydesk.keys import checksum

    same_id += checksum(same_id)
    assert outsider.found_key(PrivateKey(same_id)).status == "unknown"
    with pytest.raises(Exception, match="no key"):
        outsider.revoke_leaked_key(PrivateKey(same_id), "x")
    assert world.owner.key(created.key.public_key).is_active
    view = outsider.found_key(created.private_key).key
    assert view is not None and view.label == "prod"


def test_a_look_alike_with_a_live_keys_id_is_not_that_key(world, store_url, tmp_path, run):
    from keydesk.keys import checksum

    created = world.owner.create_key("github", "prod")
    other = generate_key_pair().private_key.reveal()
    body = secret(created)[:22] + other[22:65]
    (tmp_path / "a").write_text(f"{secret(created)}\n{body + checksum(body)}\n")
    code, out, _ = run("--db", store_url, "scan", "--json", str(tmp_path / "a"))
    assert code == 2
    assert [f["status"] for f in json.loads(out)] == ["active", "unknown"]


def test_staged_blocks_a_commit_with_one_line_per_key_and_honours_the_allow_list(
    tmp_path, run, monkeypatch
):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    demo, real = generate_key_pair(), generate_key_pair()
    (repo / ".keydesk-scan-allow").write_text(f"# demo data\n{demo.public_key}\nnot-a-key\n")
    (repo / "snapshot.svg").write_text(f"<text>{demo.private_key.reveal()}</text>\n")
    git(repo, "add", ".")
    monkeypatch.chdir(repo)
    code, out, err = run("scan", "--staged")
    assert code == 0 and out == "" and "line 3 ignored" in err

    (repo / "settings.py").write_text(f"\n\nAPI_KEY = '{real.private_key.reveal()}'\n")
    git(repo, "add", "settings.py")
    code, out, err = run("scan", "--staged")
    assert code == 2 and out == ""
    (line,) = [line for line in err.splitlines() if "is staged" in line]
    assert line.startswith("keydesk: settings.py:3: a keydesk private key")
    assert real.public_key in line and real.private_key.reveal() not in err


def test_staged_outside_a_repository_fails_closed(tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run("scan", "--staged")
    assert code == 3 and "not scanned" in err


def test_this_repository_allows_its_own_demo_keys(run, monkeypatch):
    """Snapshots and screenshots hold seeded demo keys; the allow-list at the
    top of this repository names them, so the pre-commit hook passes here."""
    monkeypatch.chdir(ROOT)
    code, out, err = run("scan", "screenshots", "tests/tui/__snapshots__")
    assert (code, out) == (0, ""), err


def test_a_folders_allow_list_applies_from_any_directory(tmp_path, run, monkeypatch):
    """`keydesk scan DIR` reads DIR's `.keydesk-scan-allow` (or its parents'),
    as the TUI's scan does, wherever it is run from."""
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()
    git(repo, "init", "-q")
    demo = generate_key_pair()
    (repo / ".keydesk-scan-allow").write_text(f"{demo.public_key}\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "example.md").write_text(f"API_KEY={demo.private_key.reveal()}\n")
    monkeypatch.chdir(elsewhere)
    code, out, err = run("scan", str(repo / "docs"))
    assert (code, out) == (0, ""), err
    monkeypatch.chdir(repo)  # and from inside it, as before
    assert run("scan", "docs")[:2] == (0, "")
