"""Leak scanner: planted real keys are found once each, where they are;
look-alikes, random text and hostile files are not findings and not crashes."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keydesk.keys import BASE62, PRIVATE_KEY_LENGTH, generate_key_pair
from keydesk.scan import (
    Finding,
    ScanRequest,
    Sighting,
    Skipped,
    run_scan,
    scan_bytes,
    scan_git_history,
    scan_paths,
    scan_staged,
    scan_stream,
)

GIT_IDENTITY = ("-c", "user.name=Test", "-c", "user.email=test@example.com")
GIT_QUIET = ("-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false")


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory, monkeypatch):
    """Neither our git nor the scanner's reads this machine's git config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_IDENTITY, *GIT_QUIET, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def new_key() -> str:
    return generate_key_pair().private_key.reveal()


def found(events) -> list[tuple[str, str]]:
    return [(e.location, e.public_key) for e in events if isinstance(e, Finding)]


def notes(events) -> dict[str, str]:
    return {e.path: e.reason for e in events if isinstance(e, Skipped)}


def public(key: str) -> str:
    return "kdpk_" + key[5:21]


# --- what a finding shows ---------------------------------------------------


def test_a_finding_shows_public_key_and_redacted_prefix_never_the_secret():
    key = new_key()
    (finding,) = scan_bytes(f"token = {key}\n".encode(), "app.env")
    assert finding.location == "app.env:1"
    assert finding.public_key == public(key)
    assert finding.redacted == key[:9] + "…"
    assert finding.private_key.reveal() == key  # kept to prove possession (revoke)
    for shown in (repr(finding), str(finding), f"{finding}", repr([finding])):
        assert key not in shown and key[22:] not in shown and key[22:40] not in shown
        assert public(key) in shown


def test_the_pipeline_leaves_allow_listed_keys_out_and_looks_each_key_up_once(tmp_path):
    """`keydesk scan` and the TUI's scan both run `run_scan`: the allow-list's
    notes come first, an allowed key is left out, and a key found twice is
    looked up once."""
    (tmp_path / ".git").mkdir()  # the top of a work tree: no allow-list above is read
    demo, leaked = generate_key_pair(), new_key()
    (tmp_path / ".keydesk-scan-allow").write_text(f"{demo.public_key}\nnot-a-key\n")
    (tmp_path / "a.env").write_text(f"{demo.private_key.reveal()}\n{leaked}\n{leaked}\n")
    asked: list[str] = []

    def look_up(key):
        asked.append(key.reveal())
        return len(asked)

    events = list(run_scan(ScanRequest((str(tmp_path),)), look_up))
    assert events[0] == Skipped(
        f"{tmp_path}/.keydesk-scan-allow", "line 2 ignored: not a public key (kdpk_…)"
    )
    sightings = [(e.finding.location, e.verdict) for e in events if isinstance(e, Sighting)]
    assert sightings == [(f"{tmp_path}/a.env:2", 1), (f"{tmp_path}/a.env:3", 1)]
    assert asked == [leaked]
    # Over SSH no allow-list is read (the server's folders are not the admin's).
    unlisted = run_scan(ScanRequest((str(tmp_path),), allow_lists=False), lambda key: None)
    assert len([e for e in unlisted if isinstance(e, Sighting)]) == 3


# --- files and directories --------------------------------------------------


def test_keys_in_a_tree_are_found_once_each_with_their_line(tmp_path):
    a, b, c = new_key(), new_key(), new_key()
    (tmp_path / "app.env").write_text(f"# config\n\nKEY={a}\n")
    deep = tmp_path / "src" / "deep" / "er"
    deep.mkdir(parents=True)
    # The same key on two lines is two findings; two keys on one line, two.
    (deep / "notes.md").write_text(f"{b}\nmiddle\n`{b}`\n{a},{c}\n")
    events = list(scan_paths([tmp_path]))
    assert sorted(found(events)) == sorted(
        [
            (f"{tmp_path}/app.env:3", public(a)),
            (f"{deep}/notes.md:1", public(b)),
            (f"{deep}/notes.md:3", public(b)),
            (f"{deep}/notes.md:4", public(a)),
            (f"{deep}/notes.md:4", public(c)),
        ]
    )
    assert not notes(events)


def test_git_internals_are_not_walked(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / ".git" / "leak").write_text(new_key())
    assert list(scan_paths([tmp_path])) == []


def test_ignored_files_are_scanned_unless_asked_to_respect_gitignore(tmp_path):
    kept, ignored, in_ignored_dir = new_key(), new_key(), new_key()
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("*.env\nbuild/\n")
    (tmp_path / "config.py").write_text(f"KEY = '{kept}'\n")
    (tmp_path / "prod.env").write_text(f"KEY={ignored}\n")
    (tmp_path / "build" / "out").mkdir(parents=True)
    (tmp_path / "build" / "out" / "bundle.js").write_text(f"k='{in_ignored_dir}'\n")

    everything = {key for _, key in found(scan_paths([tmp_path]))}
    assert everything == {public(kept), public(ignored), public(in_ignored_dir)}

    respectful = list(scan_paths([tmp_path], respect_gitignore=True))
    assert found(respectful) == [(f"{tmp_path}/config.py:1", public(kept))]
    assert notes(respectful) == {
        f"{tmp_path}/prod.env": "ignored by git",
        f"{tmp_path}/build": "ignored by git",
    }
    # Named explicitly, an ignored file or folder is scanned all the same.
    named = scan_paths([tmp_path / "prod.env", tmp_path / "build"], respect_gitignore=True)
    assert {key for _, key in found(named)} == {public(ignored), public(in_ignored_dir)}


def test_a_nested_repository_brings_its_own_ignore_rules(tmp_path):
    inner = tmp_path / "projects" / "api"
    inner.mkdir(parents=True)
    git(inner, "init", "-q")
    (inner / ".gitignore").write_text("secrets.txt\n")
    (inner / "secrets.txt").write_text(new_key())
    visible = new_key()
    (inner / "main.py").write_text(visible)
    events = list(scan_paths([tmp_path], respect_gitignore=True))
    assert [key for _, key in found(events)] == [public(visible)]
    assert notes(events) == {f"{inner}/secrets.txt": "ignored by git"}


def test_stdin_is_read_when_named_dash():
    key = new_key()
    events = list(scan_paths(["-"], stdin=io.BytesIO(f"first\n{key}\n".encode())))
    assert found(events) == [("<stdin>:2", public(key))]


def test_real_stdin_in_a_process():
    key = new_key()
    code = "from keydesk.scan import scan_paths; print(*scan_paths(['-']), sep='\\n')"
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=f"a\nb\nc {key}\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == f"<stdin>:3: {key[:9]}… ({public(key)})"


@pytest.mark.parametrize("chunk_size", [1, 7, 70, 71, 72, 128])
def test_a_key_across_a_chunk_boundary_is_found_once(chunk_size):
    key = new_key()
    for start in range(0, 2 * chunk_size + PRIVATE_KEY_LENGTH, max(1, chunk_size // 7)):
        data = b"\n" * start + key.encode() + b"\nx\n"
        events = list(scan_stream(io.BytesIO(data), "f", chunk_size=chunk_size))
        assert found(events) == [(f"f:{start + 1}", public(key))], start


@pytest.mark.parametrize("chunk_size", [1, 50, 71, 200])
def test_files_count_lines_lazily_and_still_right(tmp_path, chunk_size):
    # Files count newlines only up to each key (re-reading what was skipped);
    # pipes count as they go. Both must give the same lines.
    rng = random.Random(chunk_size)
    keys = [new_key() for _ in range(12)]
    parts = [b"\n" * rng.randint(0, 3) + b"x" * rng.randint(0, 150) + k.encode() for k in keys]
    data = b"\n".join(parts) + b"\n"
    (tmp_path / "f").write_bytes(data)
    from_file = found(scan_paths([tmp_path / "f"], chunk_size=chunk_size))
    from_pipe = found(scan_stream(io.BytesIO(data), f"{tmp_path}/f", chunk_size=chunk_size))
    assert from_file == from_pipe == found(scan_bytes(data, f"{tmp_path}/f"))
    assert [key for _, key in from_file] == [public(k) for k in keys]


def test_a_key_across_the_default_chunk_boundary_of_a_file(tmp_path):
    keys = [new_key() for _ in range(3)]
    boundary = 1 << 20
    data = bytearray(b"log line without secrets\n" * (3 * boundary // 25))
    for n, key in enumerate(keys, start=1):
        at = n * boundary - 30  # straddles chunk n and n + 1
        data[at : at + len(key)] = key.encode()
    (tmp_path / "big.log").write_bytes(bytes(data))
    events = list(scan_paths([tmp_path / "big.log"]))
    lines = [data.count(b"\n", 0, n * boundary - 30) + 1 for n in range(1, 4)]
    assert found(events) == [
        (f"{tmp_path}/big.log:{line}", public(key)) for line, key in zip(lines, keys, strict=True)
    ]


def test_a_huge_single_line_is_streamed_not_held(tmp_path):
    first, last = new_key(), new_key()
    path = tmp_path / "one-line.min.js"
    with path.open("wb") as out:
        out.write(first.encode())
        for _ in range(24):
            out.write(b"a" * (1 << 20))  # 24 MiB, no newline
        out.write(last.encode() + b"\n")
    tracemalloc.start()
    try:
        events = list(scan_paths([path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found(events) == [(f"{path}:1", public(first)), (f"{path}:1", public(last))]
    assert peak < 4 << 20


def test_invalid_utf8_around_a_key_does_not_matter(tmp_path):
    key = new_key()
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 \xff\xfe\x80\n\xc3(" + key.encode() + b"\xff\n")
    assert found(scan_paths([tmp_path])) == [(f"{tmp_path}/latin1.txt:2", public(key))]


def test_binary_files_are_skipped_in_a_walk_but_scanned_when_named(tmp_path):
    key = new_key()
    blob = b"SQLite format 3\x00" + b"\x01" * 100 + key.encode()
    (tmp_path / "app.db").write_bytes(blob)
    events = list(scan_paths([tmp_path]))
    assert notes(events) == {f"{tmp_path}/app.db": "binary file"} and not found(events)
    assert found(scan_paths([tmp_path / "app.db"])) == [(f"{tmp_path}/app.db:1", public(key))]


def test_symlink_loops_fifos_and_dangling_links_are_notes_not_hangs(tmp_path):
    key = new_key()
    (tmp_path / "real.txt").write_text(key)
    (tmp_path / "loop").symlink_to(tmp_path)  # a folder that contains itself
    (tmp_path / "a").symlink_to(tmp_path / "b")  # a -> b -> a
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    os.mkfifo(tmp_path / "pipe")
    events = list(scan_paths([tmp_path]))
    assert found(events) == [(f"{tmp_path}/real.txt:1", public(key))]  # once, not via link.txt
    not_followed = "symbolic link, not followed"
    assert notes(events) == {
        f"{tmp_path}/{name}": not_followed for name in ("a", "b", "dangling", "link.txt", "loop")
    } | {f"{tmp_path}/pipe": "not a regular file (fifo)"}

    named = list(
        scan_paths([tmp_path / n for n in ("a", "dangling", "pipe", "missing", "link.txt")])
    )
    assert notes(named) == {
        f"{tmp_path}/a": "symbolic link loop",
        f"{tmp_path}/dangling": "broken symbolic link",
        f"{tmp_path}/pipe": "not a regular file (fifo)",
        f"{tmp_path}/missing": "no such file or directory",
    }
    assert found(named) == [(f"{tmp_path}/link.txt:1", public(key))]  # named: followed


def test_devices_are_not_read():
    assert notes(scan_paths(["/dev/zero"])) == {
        "/dev/zero": "not a regular file (character device)"
    }


def test_hostile_file_names_are_escaped_in_locations(tmp_path):
    key = new_key()
    name = os.fsdecode(b"\x1b[2Jfake.txt:1: all clear\n\xff")
    (tmp_path / name).write_text(key)
    ((location, _),) = found(scan_paths([tmp_path]))
    assert "\x1b" not in location and "\n" not in location
    assert location == f"{tmp_path}/\\x1b[2Jfake.txt:1: all clear\\x0a\\xff:1"


# --- git --------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    return path


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_history_finds_a_key_deleted_long_ago_where_it_was_added(repo):
    key = new_key()
    (repo / "README").write_text("hello\n")
    commit(repo, "first")
    (repo / "config").mkdir()
    (repo / "config" / "dev.env").write_text(f"A=1\nB=2\nKEY={key}\n")
    leaked = commit(repo, "add dev settings")
    for n in range(5):
        (repo / "README").write_text(f"hello {n}\n")
        commit(repo, f"change {n}")
    (repo / "config" / "dev.env").unlink()
    commit(repo, "remove the key")

    assert found(scan_paths([repo])) == []
    events = list(scan_git_history(repo))
    assert events == [e for e in events if isinstance(e, Finding)]
    assert found(events) == [(f"{leaked}:config/dev.env:3", public(key))]


def test_history_reports_a_branch_key_once_and_what_a_merge_added(repo):
    on_branch, in_merge = new_key(), new_key()
    (repo / "a.txt").write_text("base\n")
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "b.txt").write_text(f"{on_branch}\n")
    branch_commit = commit(repo, "feature")
    git(repo, "checkout", "-q", "main")
    (repo / "a.txt").write_text("base\nmain\n")
    commit(repo, "main moves on")
    git(repo, "merge", "-q", "--no-edit", "feature")
    (repo / "b.txt").write_text(f"{on_branch}\nmerged {in_merge}\n")  # an "evil" merge
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    merge = git(repo, "rev-parse", "HEAD")
    assert sorted(found(scan_git_history(repo))) == sorted(
        [(f"{branch_commit}:b.txt:1", public(on_branch)), (f"{merge}:b.txt:2", public(in_merge))]
    )


def test_history_covers_other_branches_and_amended_commits(repo):
    amended_away, other_branch = new_key(), new_key()
    (repo / "x").write_text(amended_away)
    first = commit(repo, "oops")
    (repo / "x").write_text("fixed")
    git(repo, "commit", "-q", "--amend", "-am", "clean")  # only the reflog has `first`
    git(repo, "branch", "side")
    git(repo, "checkout", "-q", "side")
    (repo / "y").write_text(other_branch)
    side = commit(repo, "side")
    git(repo, "checkout", "-q", "main")
    assert sorted(found(scan_git_history(repo))) == sorted(
        [(f"{first}:x:1", public(amended_away)), (f"{side}:y:1", public(other_branch))]
    )


def test_history_paths_with_spaces_tabs_and_unicode(repo):
    keys = {name: new_key() for name in ("with space.txt", "tab\there", "café.env")}
    for name, key in keys.items():
        (repo / name).write_text(f"{key}\n")
    sha = commit(repo, "odd names")
    assert sorted(found(scan_git_history(repo))) == sorted(
        [
            (f"{sha}:with space.txt:1", public(keys["with space.txt"])),
            (f"{sha}:tab\\x09here:1", public(keys["tab\there"])),
            (f"{sha}:café.env:1", public(keys["café.env"])),
        ]
    )


def test_history_of_a_repository_without_commits_is_empty(repo):
    (repo / "staged.txt").write_text(new_key())
    git(repo, "add", "-A")
    assert list(scan_git_history(repo)) == []


def test_history_outside_a_repository_is_a_note(tmp_path):
    (event,) = scan_git_history(tmp_path)
    assert isinstance(event, Skipped) and event.reason.startswith("not scanned: ")


def test_stopping_early_ends_the_git_process(repo):
    for n in range(3):
        (repo / f"f{n}").write_text(new_key())
        commit(repo, f"c{n}")
    events = scan_git_history(repo)
    assert isinstance(next(events), Finding)
    events.close()  # kills git instead of leaving it blocked on a full pipe


def test_staged_mode_sees_only_added_lines(repo):
    old, new = new_key(), new_key()
    (repo / "settings.py").write_text(f"# {old}\nDEBUG = False\n")
    commit(repo, "before")
    (repo / "settings.py").write_text(f"DEBUG = False\nKEY = '{new}'\n")  # removes old
    (repo / "unstaged.txt").write_text(new_key())
    git(repo, "add", "settings.py")
    assert found(scan_staged(repo)) == [("settings.py:2", public(new))]


@pytest.mark.parametrize("piece", [40, 71, 100])
def test_git_lines_longer_than_a_piece_are_read_in_pieces(repo, piece):
    keys = [new_key() for _ in range(30)]
    lines = [f"{'x' * n}{key}{'y' * (n % 7)}" for n, key in enumerate(keys, start=25)]
    (repo / "wide.txt").write_text("\n".join(["short", *lines, "end"]) + "\n")
    git(repo, "add", "-A")
    expected = [(f"wide.txt:{n}", public(key)) for n, key in enumerate(keys, start=2)]
    assert found(scan_staged(repo, chunk_size=piece)) == expected  # what 1 MiB lines would do


def test_staged_mode_in_a_repository_without_commits(repo):
    key = new_key()
    (repo / "first.txt").write_text(f"\n{key}\n")
    git(repo, "add", "-A")
    assert found(scan_staged(repo)) == [("first.txt:2", public(key))]
    assert list(scan_staged(repo.parent)) != [] and not found(scan_staged(repo.parent))


# --- nothing that is not a key ----------------------------------------------


def test_one_changed_character_is_never_a_finding():
    key = new_key()
    rng = random.Random(13)
    for at in range(len(key)):
        other = rng.choice([c for c in BASE62 + "_" if c != key[at]])
        twisted = key[:at] + other + key[at + 1 :]
        assert not list(scan_bytes(twisted.encode())), at


def test_random_bodies_of_the_right_shape_are_not_findings():
    rng = random.Random(62)
    body = "".join
    candidates = "\n".join(
        f"kdsk_{body(rng.choices(BASE62, k=16))}_{body(rng.choices(BASE62, k=49))}"
        for _ in range(20_000)
    )
    assert not list(scan_bytes(candidates.encode()))


FRAGMENTS = st.sampled_from([b"kdsk_", b"kdpk_", b"_", b"\n", b"\x00", b"\xff", b"kdsk"])
KEYISH = st.lists(
    st.one_of(FRAGMENTS, st.text(BASE62, max_size=80).map(str.encode), st.binary(max_size=8)),
    max_size=30,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(), st.text().map(str.encode), KEYISH))
def test_text_without_a_planted_key_yields_nothing(data):
    assert not list(scan_bytes(data))
    assert not list(scan_stream(io.BytesIO(data), "x", chunk_size=16))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(KEYISH, st.just(b"KEY")), max_size=6), st.integers(1, 200))
def test_planted_keys_are_found_the_same_whatever_the_chunk_size(parts, chunk_size):
    keys = [new_key() for part in parts if part == b"KEY"]
    it = iter(keys)
    data = b"".join(next(it).encode() if part == b"KEY" else part for part in parts)
    whole = found(scan_bytes(data, "x"))
    assert [key for _, key in whole] == [public(k) for k in keys]
    assert found(scan_stream(io.BytesIO(data), "x", chunk_size=chunk_size)) == whole


def test_kernel_pseudo_filesystems_are_not_walked_into(tmp_path, monkeypatch):
    # /proc/kcore would read memory and /proc/kmsg never ends: met in a walk,
    # such folders are a note; named, they are scanned like any other.
    (tmp_path / "proc").mkdir()
    key = new_key()
    (tmp_path / "proc" / "environ").write_text(key)
    monkeypatch.setattr("keydesk.scan.files.PSEUDO_FILESYSTEMS", {str(tmp_path / "proc")})
    events = list(scan_paths([tmp_path]))
    assert not found(events)
    assert notes(events) == {
        f"{tmp_path}/proc": "kernel pseudo-filesystem (name it to scan inside)"
    }
    assert [k for _, k in found(scan_paths([tmp_path / "proc"]))] == [public(key)]


def test_git_modes_on_a_missing_folder_are_notes(tmp_path):
    for scan in (scan_git_history, scan_staged):
        (event,) = scan(tmp_path / "gone")
        assert event == Skipped(
            f"{tmp_path}/gone", "not scanned: no such file or directory", failed=True
        )
