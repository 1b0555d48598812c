"""`keydesk scan --revoke` for keys whose secret this account cannot check
(an admin on PostgreSQL, whose role cannot read hashes).

Such a key was matched by its public key alone. Revoking on that match would
let a file holding a live key's public key with any secret revoke the real
key, so it is revoked only by a server that checks the secret: `keydesk
serve`'s POST /v1/revoke, named with `--revoke-via URL`. Without one it is
shown as unverified and left alone, with one line saying how.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from keydesk.errors import InvalidInput, KeydeskError
from keydesk.validation import LOCAL_HOSTS

if TYPE_CHECKING:
    from keydesk.keys import PrivateKey
    from keydesk.service import KeyService
    from keydesk.views import KeyView

HOW = (
    "to revoke a key found leaked, have its secret checked: keydesk scan --revoke --revoke-via "
    "https://<keydesk serve> (its POST /v1/revoke checks it), or scan as the store's owner"
)
TIMEOUT_SECONDS = 10


class ReportFailed(KeydeskError):
    """The server named with --revoke-via did not take the report."""


def revoke_url(value: str) -> str:
    """keydesk serve's /v1/revoke under `value`: https, or http on this
    host only (a private key is sent there)."""
    parts = urlsplit(value.strip())
    local = parts.scheme == "http" and (parts.hostname or "") in LOCAL_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or local):
        raise InvalidInput(
            f"--revoke-via {value!r}: give keydesk serve's https:// URL "
            "(http:// only on localhost): the keys found are sent there"
        )
    return value.strip().rstrip("/") + "/v1/revoke"


def revoke_through(url: str, service: KeyService, private_key: PrivateKey) -> KeyView | None:
    """Report `private_key` to keydesk serve at `url`, which revokes it if
    its secret matches; then ask the store. The key as revoked, or None:
    the server did not revoke it (its secret is not the stored one)."""
    body = json.dumps({"api_key": private_key.reveal()}).encode()
    request = urllib.request.Request(  # noqa: S310 - https, or http on localhost (revoke_url)
        url, data=body, method="POST", headers={"content-type": "application/json"}
    )
    # Plain http goes to this host only, never through $http_proxy (which
    # urllib honours for localhost too): the key would cross it in clear.
    plain = urlsplit(url).scheme == "http"
    opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if plain else []))
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as answer:
            answer.read()
    except urllib.error.HTTPError as error:
        raise ReportFailed(f"{url} answered {error.code} for {private_key.public_key}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ReportFailed(
            f"could not report {private_key.public_key} to {url}: {reason}"
        ) from None
    found = service.found_key(private_key)
    if found.key is not None and found.key.status.value == "revoked":
        return found.key
    return None
