"""A big walk read by worker processes (keydesk.scan.spread) reports what
one process does, in the same order: keys with their lines, skipped files,
UTF-16 text, keys across chunk boundaries; and stopping early stops it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from keydesk.keys import generate_key_pair
from keydesk.scan import Finding, scan_paths, spread
from keydesk.scan.streams import CHUNK_SIZE


def described(events) -> list[tuple[str, ...]]:
    return [
        ("found", e.location, e.public_key, e.private_key.reveal())
        if isinstance(e, Finding)
        else ("skipped", str(e), str(e.failed))
        for e in events
    ]


@pytest.fixture
def tree(tmp_path) -> Path:
    rng = random.Random(7)
    for n in range(40):
        folder = tmp_path / f"d{n % 4}" / f"e{n % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"line {i} kdsk_ mention {rng.getrandbits(64):x}\n" for i in range(200)]
        for _ in range(n % 3):
            lines.insert(
                rng.randrange(len(lines)), f"KEY={generate_key_pair().private_key.reveal()}\n"
            )
        (folder / f"f{n:02d}.log").write_text("".join(lines))
    key = generate_key_pair().private_key.reveal()
    (tmp_path / "d0" / "wide.txt").write_text(f"KEY={key}\n", encoding="utf-16")
    (tmp_path / "d1" / "blob.bin").write_bytes(b"\0\1" + key.encode())
    (tmp_path / "d2" / "link").symlink_to(tmp_path / "d0")
    big = b"x" * (CHUNK_SIZE - 30) + key.encode() + b"\n"  # across the 1 MiB boundary
    (tmp_path / "d3" / "big.log").write_bytes(big)
    return tmp_path


def test_workers_report_what_one_process_does_in_the_same_order(tree, monkeypatch):
    alone = described(scan_paths([tree]))
    monkeypatch.setattr(spread, "PAYS_FROM", 0)  # workers from the first file
    monkeypatch.setattr(spread, "IN_FLIGHT", 1)  # and a short queue of small batches,
    monkeypatch.setattr(spread, "BATCH_FILES", 3)  # so results wait in it
    spread_out = described(scan_paths([tree], workers=2))
    assert spread_out == alone
    assert sum(1 for e in alone if e[0] == "found") == 39 + 1 + 1  # 0, 1, 2 a file; wide; big
    assert any("binary file" in e[1] for e in alone if e[0] == "skipped")


def test_a_small_walk_starts_no_worker(tree, monkeypatch):
    def refuse(workers: int):
        raise AssertionError("a walk under PAYS_FROM bytes forked")

    monkeypatch.setattr(spread, "_start", refuse)
    assert described(scan_paths([tree], workers=2)) == described(scan_paths([tree]))


def test_stopping_early_stops_the_workers(tree, monkeypatch):
    monkeypatch.setattr(spread, "PAYS_FROM", 0)
    events = scan_paths([tree], workers=2)
    first = next(e for e in events if isinstance(e, Finding))
    events.close()  # type: ignore[attr-defined]  # cancels the queue, does not wait on it
    assert first.public_key.startswith("kdpk_")
