"""A new private key is shown once, so `key create` and `key rotate` leave no
working key that nobody saw: a closed standard output is refused before
anything is made, and one that cannot take the key (a full disk, a reader
gone) gets the new key revoked and a one-line failure."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import pytest

CREATE = ("key", "create", "--integration", "github", "--label", "ci")


def _keys(cli) -> dict[str, dict]:
    code, out, err = cli("key", "list", "--integration", "github", "--json")
    assert code == 0, err
    return {key["label"]: key for key in json.loads(out)}


@contextmanager
def _full_disk() -> Iterator[IO[str]]:
    with open("/dev/full", "w") as full:  # every write: ENOSPC
        yield full


@contextmanager
def _reader_gone() -> Iterator[IO[str]]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # `keydesk key create | (exec 0<&-)`
    with os.fdopen(write_end, "w") as pipe:
        yield pipe


def test_a_closed_standard_output_is_refused_and_nothing_is_made(configured, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", None)  # what Python gives `keydesk … >&-`
        code, _out, err = configured(*CREATE)
    assert code == 2
    assert err == (
        "keydesk: standard output is closed, so a new API key would be shown to no one; "
        "nothing was created\n"
    )
    assert "ci" not in _keys(configured)


@pytest.mark.parametrize("output", [_full_disk, _reader_gone], ids=["full-disk", "reader-gone"])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_key_that_cannot_be_written_out_is_revoked(configured, monkeypatch, output, as_json):
    with output() as stream, monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", stream)
        code, _out, err = configured(*CREATE, *(["--json"] if as_json else []))
    key = _keys(configured)["ci"]
    assert code == 1 and key["status"] == "revoked"
    assert err.count("\n") == 1 and "kdsk_" not in err
    assert "the new API key could not be written to standard output (" in err
    assert err.endswith(f"so no one has it: {key['public_key']} was revoked; "
                        "create another where the output is kept\n")  # fmt: skip


def test_a_rotation_that_cannot_be_written_out_is_undone(configured, monkeypatch):
    code, out, _ = configured(*CREATE, "--json")
    old = json.loads(out)
    with _full_disk() as full, monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", full)
        code, _out, err = configured("key", "rotate", old["public_key"], "--overlap", "1d")
    keys = _keys(configured)
    replacement = next(k for label, k in keys.items() if label != "ci")
    assert code == 1 and replacement["status"] == "revoked"
    assert keys["ci"]["status"] == "active" and keys["ci"]["expires_at"] >= old["expires_at"]
    assert err.endswith(f"{replacement['public_key']} was revoked and {old['public_key']} "
                        "keeps working as before\n")  # fmt: skip
