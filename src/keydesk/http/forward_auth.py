"""/v1/verify, the endpoint a reverse proxy asks before passing a request on
(nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`).

It answers any method: nginx's subrequest keeps the client's (a POST stays a
POST), Caddy and Traefik send GET. It never reads the body: the key comes
only from the one `Authorization` header (KeydeskAuth answers every request
without a valid key, so this runs only for one). A 200 carries the key's
identity in response headers the proxy copies onto the request it passes
upstream, and the same JSON body as ever:

  X-Keydesk-Public-Key    kdpk_…, the key's public half (never the secret)
  X-Keydesk-Integration   the integration's name
  X-Keydesk-Scopes        the key's scopes, separated by single spaces

Names and scopes are printable text, possibly beyond ASCII: each goes
percent-encoded as UTF-8 (RFC 3986), so plain ASCII ones read as they are
and no value can break a header or a proxy's parsing.

`?scope=a&scope=b` (or `?scope=a+b`) on the proxy's verify URL makes a key
without those scopes get 403 `insufficient_scope`, as `requires_scopes` does
in an app: one proxy location per scope set, chosen in the proxy's config,
never by the client."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse

from keydesk.http.middleware import SCOPE_KEY, Receive, Scope, Send, scope_refusal, send_refusal
from keydesk.verify.verified_key import VerifiedKey

PUBLIC_KEY_HEADER = "X-Keydesk-Public-Key"
INTEGRATION_HEADER = "X-Keydesk-Integration"
SCOPES_HEADER = "X-Keydesk-Scopes"
IDENTITY_HEADERS = (PUBLIC_KEY_HEADER, INTEGRATION_HEADER, SCOPES_HEADER)
ANSWERS_KEPT = 10_000  # answers made once per key (each ~0.5 KB)

# RFC 3986 unreserved and sub-delims stay as they are: readable, and never
# a header's delimiter; `%`, spaces, controls and non-ASCII are encoded.
_SAFE = "!$&'()*+,;=:@/~-._"


def identity_headers(identity: VerifiedKey) -> dict[str, str]:
    """What a proxy copies upstream: who the key is, nothing of its secret."""
    return {
        PUBLIC_KEY_HEADER: identity.public_key,
        INTEGRATION_HEADER: quote(identity.integration, safe=_SAFE),
        SCOPES_HEADER: " ".join(quote(scope, safe=_SAFE) for scope in identity.scopes),
    }


def required_scopes(scope: Scope) -> tuple[str, ...]:
    query = scope.get("query_string")
    if not query:  # nearly every request: no parsing
        return ()
    params = QueryParams(query)
    return tuple(s for value in params.getlist("scope") for s in value.replace(",", " ").split())


class VerifyEndpoint:
    """An ASGI app rather than a Starlette function endpoint: a Route over
    it matches every method. A key's answer is made once and kept (a few
    thousand keys at most: the same keys ask again and again); one with
    limits is made each time, as its counts change."""

    def __init__(self) -> None:
        # By the identity object (the verifier hands the same one back while
        # the key's row is unchanged), which the entry holds, so its id is
        # not reused while kept.
        self._answers: dict[int, tuple[VerifiedKey, bytes, list[tuple[bytes, bytes]]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        identity: VerifiedKey = scope[SCOPE_KEY]  # KeydeskAuth let only a valid key through
        needed = required_scopes(scope)  # nearly always none: nothing to check
        refused = scope_refusal(scope, needed) if needed else None
        if refused is not None:
            await send_refusal(scope, receive, send, refused)
            return
        kept = None if identity.limits else self._answers.get(id(identity))
        if kept is not None and kept[0] is identity:
            body, headers = kept[1], kept[2]
        else:
            body, headers = self._answer(identity)
        # A list of its own: a server or middleware may add to it.
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    def _answer(self, identity: VerifiedKey) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        """The body and headers JSONResponse would send."""
        answer = JSONResponse(
            {"valid": True, **identity.as_dict()},
            headers={"cache-control": "no-store", **identity_headers(identity)},
        )
        made = (bytes(answer.body), answer.raw_headers)
        if not identity.limits:
            if len(self._answers) >= ANSWERS_KEPT:
                self._answers.clear()
            self._answers[id(identity)] = (identity, *made)
        return made
