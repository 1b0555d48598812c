"""A key in UTF-16 or UTF-32 text (what PowerShell 5's `>` writes: a mark
and UTF-16LE) is a key, in files, stdin, git history and what is staged
alike; a staged binary file is reported skipped, as on disk (#19 item 6,
second attack pass)."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from keydesk.keys import generate_key_pair
from keydesk.scan import (
    Finding,
    Skipped,
    scan_bytes,
    scan_git_history,
    scan_paths,
    scan_staged,
    scan_stream,
)

ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"]
MARKS = {"utf-16-le": b"\xff\xfe", "utf-32-be": b"\x00\x00\xfe\xff"}


def new_key() -> str:
    return generate_key_pair().private_key.reveal()


def public(key: str) -> str:
    return "kdpk_" + key[5:21]


def wide(text: str, encoding: str) -> bytes:
    """`text` as Windows tools write it: `utf-16`/`utf-32` carry their mark;
    `utf-16-le` is also written without one (a NUL after each character)."""
    return MARKS.get(encoding, b"") + text.encode(encoding)


def found(events) -> list[tuple[str, str]]:
    return [(e.location, e.public_key) for e in events if isinstance(e, Finding)]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_key_in_wide_text_is_found_in_a_file_a_walk_and_stdin(tmp_path, encoding):
    key = new_key()
    data = wide(f"# settings\r\nAPI_KEY={key}\r\n", encoding)
    (tmp_path / "creds.env").write_bytes(data)
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    events = list(scan_paths([tmp_path]))
    assert found(events) == [(f"{tmp_path}/creds.env:2", public(key))]
    assert [str(e) for e in events if isinstance(e, Skipped)] == [
        f"{tmp_path}/image.png: skipped, binary file"
    ]
    assert found(scan_paths([tmp_path / "creds.env"])) == [(f"{tmp_path}/creds.env:2", public(key))]
    assert found(scan_bytes(data, "b")) == [("b:2", public(key))]
    for chunk in (1, 7, 64, 4096):  # the key cut anywhere, in raw and decoded bytes
        assert found(scan_stream(io.BytesIO(data), "-", chunk_size=chunk)) == [("-:2", public(key))]


def test_wide_text_with_no_nul_in_its_first_bytes_is_still_decoded(tmp_path):
    """CJK text in UTF-16 has no NUL byte: the mark alone says what it is."""
    key = new_key()
    (tmp_path / "notes.txt").write_bytes(("\u4e2d" * 6000 + f"\n{key}\n").encode("utf-16"))
    assert found(scan_paths([tmp_path])) == [(f"{tmp_path}/notes.txt:2", public(key))]


def test_binary_files_that_only_look_wide_are_still_skipped(tmp_path):
    (tmp_path / "zeros.bin").write_bytes(b"\0" * 100)
    (tmp_path / "mixed.bin").write_bytes(b"a\0b\0\0\0c\0" * 10)
    events = list(scan_paths([tmp_path]))
    assert sorted(str(e) for e in events) == [
        f"{tmp_path}/mixed.bin: skipped, binary file",
        f"{tmp_path}/zeros.bin: skipped, binary file",
    ]


# -- git ---------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    return path


def _git(repo: Path, *args: str) -> str:
    identity = ("-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false")
    done = subprocess.run(["git", *identity, *args], cwd=repo, capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_staged_key_in_wide_text_is_found_and_a_staged_binary_file_is_reported(repo, encoding):
    key = new_key()
    (repo / "we ird.env").write_bytes(wide(f"A=1\nAPI_KEY={key}\n", encoding))
    (repo / "logo.png").write_bytes(b"\x89PNG\0\0\0data")
    _git(repo, "add", "-A")
    events = list(scan_staged(repo))
    assert found(events) == [("we ird.env:2", public(key))]
    assert [(str(e), e.failed) for e in events if isinstance(e, Skipped)] == [
        ("logo.png: skipped, binary file", False)
    ]


def test_git_history_finds_a_wide_key_where_it_was_added_even_after_deletion(repo):
    kept, later = new_key(), new_key()
    (repo / "creds.env").write_bytes(wide(f"A={kept}\n", "utf-16"))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "leak")
    first = _git(repo, "rev-parse", "HEAD")
    (repo / "creds.env").write_bytes(wide(f"x\nA={kept}\nB={later}\n", "utf-32"))
    _git(repo, "commit", "-q", "-am", "more")
    second = _git(repo, "rev-parse", "HEAD")
    _git(repo, "rm", "-q", "creds.env")
    _git(repo, "commit", "-q", "-m", "gone")
    events = list(scan_git_history(repo))
    assert sorted(found(events)) == sorted(
        [(f"{first}:creds.env:1", public(kept)), (f"{second}:creds.env:3", public(later))]
    )
    assert not [e for e in events if isinstance(e, Skipped)]  # history names no binary file


def test_the_pre_commit_hook_blocks_a_powershell_written_key(repo, tmp_path, monkeypatch, capsys):
    """The attack as run: `keydesk scan --staged` passed with exit 0 and no note."""
    from keydesk.cli import main

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KEYDESK_DATABASE_URL", raising=False)
    key = new_key()
    (repo / "creds.env").write_bytes(wide(f"API_KEY={key}\r\n", "utf-16"))  # PowerShell 5's `>`
    (repo / "logo.png").write_bytes(b"\x89PNG\0\0\0data")
    _git(repo, "add", "-A")
    monkeypatch.chdir(repo)
    code = main(["scan", "--staged"])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        f"keydesk: creds.env:1: a keydesk private key (kdsk_{key[5:9]}…, {public(key)}) is staged"
        in err
    )
    assert "keydesk: 1 binary file skipped (--verbose lists them)" in err
    assert key[22:] not in err


def test_a_line_appended_in_ascii_to_wide_text_is_read_too(repo, tmp_path):
    """`echo KEY=… >> f` (git-bash, WSL) on a file PowerShell made: the file
    is UTF-16 then ASCII. Both parts are read, on disk and when staged."""
    wide_key, ascii_key = new_key(), new_key()
    data = wide(f"A={wide_key}\r\n", "utf-16") + f"B={ascii_key}\n".encode()
    (tmp_path / "mixed.env").write_bytes(data)
    both = [public(wide_key), public(ascii_key)]
    assert [k for _, k in found(scan_paths([tmp_path / "mixed.env"]))] == both
    assert [k for _, k in found(scan_paths([tmp_path]))] == both
    (repo / "mixed.env").write_bytes(data)
    _git(repo, "add", "-A")
    assert found(scan_staged(repo)) == [("mixed.env:1", both[0]), ("mixed.env:2", both[1])]
