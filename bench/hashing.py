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
    parser.add_argument("--smoke", action="store_true", help="5 and 2 runs: seconds, for CI")
    args = parser.parse_args()
    ours, theirs = (5, 2) if args.smoke else (200, 10)
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-hash-") as folder:
        keydesk = seed(f"sqlite:///{folder}/hash.db", {"github": 1}).hasher
    text = make_key()
    stored = keydesk.hash(text)
    print(
        f"keydesk argon2id t={keydesk.time_cost} m={keydesk.memory_cost} KiB "
        f"p={keydesk.parallelism}"
    )
    print(f"  hash   {median_ms(lambda: keydesk.hash(text), ours):7.2f} ms (median of {ours})")
    print(
        f"  verify {median_ms(lambda: keydesk.verify(stored, text), ours):7.2f} ms "
        f"(median of {ours})"
    )
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
