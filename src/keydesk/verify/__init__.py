"""Verifying presented API keys, at request speed (see verifier.py)."""

from keydesk.verify.verifier import RETRY_AFTER_SECONDS, RefusalLog, VerifiedKey, Verifier

__all__ = ["RETRY_AFTER_SECONDS", "RefusalLog", "VerifiedKey", "Verifier"]
