"""Time argon2 hash and verify with keydesk's parameters (and the library
defaults, for contrast). Prints figures; not a test.

    python bench/hashing.py
    python bench/hashing.py --smoke    # a few of each, in seconds (CI)

keydesk's parameters are read from the hash of a key keydesk itself issued
(in a throwaway store), so this keeps measuring what keydesk does whatever
its modules are called.
"""

from __future__ import annotations

import argparse
import hmac
import secrets
import statistics
import tempfile
import time

from argon2 import PasswordHasher
from benchlib import make_key, seed


def median_ms(action, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="3 and 1 runs: seconds, for CI")
    args = parser.parse_args()
    ours, theirs = (3, 1) if args.smoke else (200, 10)
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-hash-") as folder:
        keydesk = seed(f"sqlite:///{folder}/hash.db", {"github": 1}).hasher
    text = make_key()
    stored = keydesk.hash(text)
    print(
        f"keydesk argon2id t={keydesk.time_cost} m={keydesk.memory_cost} KiB "
        f"p={keydesk.parallelism}"
    )
    print(f"  hash   {median_ms(lambda: keydesk.hash(text), ours):7.3f} ms (median of {ours})")
    print(
        f"  verify {median_ms(lambda: keydesk.verify(stored, text), ours):7.3f} ms "
        f"(median of {ours})"
    )
    # What memory costs a verify (4 MiB was keydesk's until #25), and a MAC for scale.
    print(f"argon2id t=1 p=1 verify by memory, for contrast (median of {ours})")
    for kib in (8, 64, 256, 4096):
        other = PasswordHasher(time_cost=1, memory_cost=kib, parallelism=1)
        made = other.hash(text)
        took = median_ms(lambda other=other, made=made: other.verify(made, text), ours)
        print(f"  m={kib:>4} KiB {took * 1000:8.1f} µs")
    mac_key = secrets.token_bytes(32)
    took = median_ms(lambda: hmac.digest(mac_key, text.encode(), "sha256"), ours)
    print(f"HMAC-SHA256    {took * 1000:8.1f} µs")
    defaults = PasswordHasher()
    default_hash = defaults.hash(text)
    print(
        f"argon2-cffi defaults (t={defaults.time_cost} m={defaults.memory_cost} KiB "
        f"p={defaults.parallelism}), for contrast"
    )
    print(f"  hash   {median_ms(lambda: defaults.hash(text), theirs):7.2f} ms (median of {theirs})")
    print(
        f"  verify {median_ms(lambda: defaults.verify(default_hash, text), theirs):7.2f} ms "
        f"(median of {theirs})"
    )


if __name__ == "__main__":
    main()
