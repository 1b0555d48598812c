"""History read blob by blob (keydesk.scan.git_blobs): each blob is read
once however many commits carry it, blobs are asked for ahead of the scan
and their answers kept in step, and a key comes back where it is re-added."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from keydesk.keys import generate_key_pair
from keydesk.scan import Finding, git_blobs, scan_git_history

GIT = ("git", "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false")


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    return path


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def new_key() -> str:
    return generate_key_pair().private_key.reveal()


def found(events) -> list[tuple[str, str]]:
    return sorted((e.location, e.public_key) for e in events if isinstance(e, Finding))


def test_a_key_is_found_again_where_it_comes_back_and_not_where_it_moves(repo):
    key = new_key()
    (repo / "a.env").write_text(f"KEY={key}\n")
    added = commit(repo, "leak")
    (repo / "a.env").write_text("KEY=\n")
    commit(repo, "remove")
    (repo / "a.env").write_text(f"KEY={key}\n")  # the same blob as `added`'s
    back = commit(repo, "revert the removal")
    git(repo, "mv", "a.env", "b.env")
    commit(repo, "rename")
    public = "kdpk_" + key[5:21]
    assert found(scan_git_history(repo)) == sorted(
        [(f"{added}:a.env:1", public), (f"{back}:a.env:1", public)]
    )


def test_blobs_asked_for_ahead_keep_in_step_with_a_file_read_twice(repo, monkeypatch):
    """A UTF-16 file with an ASCII line appended is read twice (decoded,
    then as it is) while answers to later requests wait in the pipe."""
    monkeypatch.setattr(git_blobs, "_AHEAD", 3)
    expected = []
    for n in range(10):
        key = new_key()
        if n == 4:
            data = f"A={key}\r\n".encode("utf-16") + f"B={(ascii_key := new_key())}\n".encode()
            (repo / "mixed.env").write_bytes(data)
        else:
            (repo / f"f{n}.txt").write_text(f"{'x' * n}\n{key}\n")
        sha = commit(repo, f"c{n}")
        if n == 4:
            expected += [(f"{sha}:mixed.env:1", "kdpk_" + key[5:21])]
            expected += [(f"{sha}:mixed.env:2", "kdpk_" + ascii_key[5:21])]
        else:
            expected.append((f"{sha}:f{n}.txt:2", "kdpk_" + key[5:21]))
    assert found(scan_git_history(repo)) == sorted(expected)


def test_settings_in_the_repository_do_not_hide_history(repo):
    """A first commit with `log.showRoot` off, a subfolder's paths with
    `diff.relative` on: read all the same."""
    git(repo, "config", "log.showRoot", "false")
    git(repo, "config", "diff.relative", "true")
    key = new_key()
    (repo / "top.env").write_text(f"{key}\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "x").write_text("x\n")
    first = commit(repo, "first")
    public = "kdpk_" + key[5:21]
    assert found(scan_git_history(repo)) == [(f"{first}:top.env:1", public)]
    assert found(scan_git_history(repo / "sub")) == [(f"{first}:top.env:1", public)]
