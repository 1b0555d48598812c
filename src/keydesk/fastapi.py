"""The documented import path of the FastAPI dependency (README):
`Security(KeydeskKey(…), scopes=[…])` gives a route the request key's
`VerifiedKey`. It lives in keydesk.http.fastapi; `pip install
'keydesk[fastapi]'`."""

from keydesk.http.fastapi import KeydeskKey
from keydesk.verify.verified_key import VerifiedKey

__all__ = ["KeydeskKey", "VerifiedKey"]
