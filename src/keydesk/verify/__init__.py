"""Verifying presented API keys, at request speed.

verifier.py       the Verifier: a key's whole check, composed of the parts below
verified_key.py   what a valid key is (VerifiedKey), safe to log
stored_key.py     a key's row as the verifier reads it, and the SQL that reads it
store_reads.py    reading rows: bare read-only sqlite3, or PostgreSQL with timeouts
lookups.py        concurrent lookups coalesced into one read; the store's health logged
secret_checks.py  a secret seen for the first time: argon2, the digest caches
gates.py          one check at a time per public key, a few waiting, then 429
hashing.py        the argon2 threads, and how long their checks take
refusals.py       the refusal log, a bounded number of lines a second
bookkeeping.py    last-used times, usage counts, rehashes: queued, written by one thread
usage.py          usage counts (and where keys were used from) added up in memory
limits.py         per-key rates and quotas, counted across processes in batches
store_writes.py   the bookkeeping's SQL, one transaction a batch
log.py            the one logger, `keydesk.verify`
"""

from keydesk.verify.gates import RETRY_AFTER_SECONDS
from keydesk.verify.hashing import MIN_CHECK_SAMPLES
from keydesk.verify.refusals import RefusalLog
from keydesk.verify.verified_key import VerifiedKey
from keydesk.verify.verifier import Verifier

__all__ = ["MIN_CHECK_SAMPLES", "RETRY_AFTER_SECONDS", "RefusalLog", "VerifiedKey", "Verifier"]
