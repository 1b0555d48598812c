"""Time argon2 hash and verify with keydesk's parameters (and the library
defaults, for contrast). Prints figures; not a test.

    python bench/hashing.py
"""

from __future__ import annotations

import statistics
import time

from argon2 import PasswordHasher

from keydesk.keys import (
    HASH_MEMORY_KIB,
    HASH_PARALLELISM,
    HASH_TIME_COST,
    check_secret,
    generate_key_pair,
    hash_private_key,
)


def median_ms(action, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    key = generate_key_pair().private_key
    stored = hash_private_key(key)
    text = key.reveal()
    print(f"keydesk argon2id t={HASH_TIME_COST} m={HASH_MEMORY_KIB} KiB p={HASH_PARALLELISM}")
    print(f"  hash   {median_ms(lambda: hash_private_key(key), 200):7.2f} ms (median of 200)")
    print(f"  verify {median_ms(lambda: check_secret(stored, key), 200):7.2f} ms (median of 200)")
    defaults = PasswordHasher()
    default_hash = defaults.hash(text)
    print("argon2-cffi defaults (t=3 m=65536 KiB p=4), for contrast")
    print(f"  hash   {median_ms(lambda: defaults.hash(text), 10):7.2f} ms (median of 10)")
    print(
        f"  verify {median_ms(lambda: defaults.verify(default_hash, text), 10):7.2f} ms (median of 10)"
    )


if __name__ == "__main__":
    main()
