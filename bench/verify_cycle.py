"""`bench/verify.py --cycle 1000,12000,100000`: is there a cliff past the
verifier's cache? Prints figures; not a test.

One SQLite (or --db) store holding max(N) real keys, each with its own argon2
hash. For each N, a new `Verifier` sees keys[:N] once (the first pass: every
key cold, all of them, however long it takes: the rate asked for is the steady
state of N keys cycled), then cycles through them in order for --seconds, each
round going on where the last stopped: the warm rate with N distinct keys. The floor of each row is the same verifier cycling the
smallest N, measured in the same run, interleaved round by round, so the
ratio is "N keys against the smallest N" (issue #25: at least 0.8).

Then what an attacker's requests cost, CPU per refusal (every thread of this
process): a wrong secret for a real public key (a fresh secret each time, so
the failure cache never answers), and a forged key (an unknown id). The floor
of those rows is a warm verify's CPU.
"""

from __future__ import annotations

import secrets
import time

from benchlib import BASE62, Row, cycling, make_key, median, rate

from keydesk.keys import checksum
from keydesk.verify import Verifier


def _prime(verifier: Verifier, keys: list[str]) -> tuple[int, float]:
    """Verify each key once (cold): (keys seen, ms each)."""
    start = time.perf_counter()
    for key in keys:
        verifier.verify(key)
    verifier.flush(60.0)  # its last-used and rehash writes are in before the rounds
    return len(keys), (time.perf_counter() - start) * 1000 / len(keys)


def _wrong_secret(public_key: str) -> str:
    body = f"kdsk_{public_key[5:]}_{''.join(secrets.choice(BASE62) for _ in range(43))}"
    return body + checksum(body)


def _cpu_per_refusal(verifier: Verifier, presented: list[str]) -> float:
    """CPU ms per refused key, every thread of this process."""
    cpu = time.process_time()
    for key in presented:
        try:
            verifier.verify(key)
        except Exception as exc:
            if type(exc).__name__ not in ("Unauthorized", "TooManyAttempts"):
                raise
    return (time.process_time() - cpu) * 1000 / len(presented)


def _warm_cpu(verifier: Verifier, keys: list[str], count: int) -> float:
    step = cycling(verifier.verify, keys)
    cpu = time.process_time()
    for _ in range(count):
        step()
    return (time.process_time() - cpu) * 1000 / count


def cycle(
    store_engine, keys: list[str], sizes: list[int], seconds: float, rounds: int
) -> list[Row]:
    sizes = sorted(sizes)
    verifiers, primes = {}, {}
    for size in sizes:
        verifiers[size] = Verifier(store_engine)
        primes[size] = _prime(verifiers[size], keys[:size])
    share = seconds / rounds
    rates: dict[int, list[float]] = {size: [] for size in sizes}
    steps = {size: cycling(verifiers[size].verify, keys[:size]) for size in sizes}
    for _ in range(rounds):
        for size in sizes:
            rates[size].append(rate(steps[size], share))
    smallest = median(rates[sizes[0]])
    rows = []
    for size in sizes:
        seen, cold_ms = primes[size]
        first = f"first pass {cold_ms:.3f} ms/key" + (
            f" (stopped after {seen:,} keys)" if seen < size else ""
        )
        rows.append(Row(f"warm verify cycling {size:,} distinct keys (floor: {sizes[0]:,})",
                        median(rates[size]), smallest, "/s",
                        paired=median([a / b for a, b in zip(rates[size], rates[sizes[0]], strict=True)]),
                        note=first))  # fmt: skip

    verifier = verifiers[sizes[0]]
    warm = _warm_cpu(verifier, keys[: sizes[0]], 3_000)
    targets = keys[: sizes[0]]
    wrong = [_wrong_secret("kdpk_" + targets[n % len(targets)][5:21]) for n in range(2_000)]
    rows.append(Row("wrong secret for a real key: CPU per refusal (floor: a warm verify)",
                    _cpu_per_refusal(verifier, wrong), warm, "ms", False))  # fmt: skip
    forged = [make_key() for _ in range(2_000)]
    rows.append(Row("forged key (unknown id): CPU per refusal (floor: a warm verify)",
                    _cpu_per_refusal(verifier, forged), warm, "ms", False))  # fmt: skip
    for verifier in verifiers.values():
        verifier.close()
    return rows
