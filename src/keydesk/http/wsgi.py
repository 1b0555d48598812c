"""WSGI middleware: `KeydeskAuth`'s rules for Flask or any WSGI app, in one
line, with a per-view scope guard for Flask:

    app.wsgi_app = KeydeskWSGI(app.wsgi_app, database_url="postgresql+psycopg://…")

    @app.get("/repos")
    @requires_scopes("repo")
    def repos():
        return {"public_key": current_key().public_key}

The same check as `KeydeskAuth` (`RequestCheck`), made on the WSGI environ,
and the same answers: 401 + `WWW-Authenticate`, 403 `insufficient_scope`,
400 for a key anywhere but `Authorization`, 429, 503, each with the same
JSON body, RateLimit headers on a limited key's answers; `exempt_paths`
(the app's own paths, PATH_INFO) pass unchecked; `trusted_proxies` as
`KeydeskAuth`'s.
A valid key's identity is in `environ["keydesk.api_key"]`, and
`current_key()` while the app answers.

What a WSGI server logs of a request comes from the environ (gunicorn's
access log: REQUEST_METHOD, RAW_URI, PATH_INFO, QUERY_STRING,
REMOTE_ADDR, Referer, User-Agent): a request carrying a key elsewhere has
those redacted before it is answered, and a refused one its Authorization
(the user name of Basic credentials is logged). A WSGI server joins repeated headers into one, so two
`Authorization` headers arrive as one malformed value (401 `malformed`).
Django: keydesk.http.django, Django middleware over the same pieces.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

from keydesk.errors import KeydeskError
from keydesk.http.limits import ratelimit_headers
from keydesk.http.middleware import (
    INVALID_ANSWER_SECONDS,
    SCOPE_KEY,
    Refusal,
    RequestCheck,
    Scope,
    refusal_payload,
    scope_names,
    scope_refusal,
)
from keydesk.http.screening import REDACTED
from keydesk.verify.verified_key import VerifiedKey
from keydesk.verify.verifier import Verifier

__all__ = ["KeydeskWSGI", "NoVerifiedKey", "current_key", "requires_scopes"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_current: ContextVar[VerifiedKey | None] = ContextVar("keydesk_api_key", default=None)


class NoVerifiedKey(KeydeskError):
    """`current_key()` outside a request that `KeydeskWSGI` let through."""


class KeydeskWSGI:
    def __init__(
        self,
        app: WSGIApp,
        *,
        verifier: Verifier | None = None,
        database_url: str | None = None,
        exempt_paths: Iterable[str] = ("/healthz",),
        invalid_answer_seconds: float = INVALID_ANSWER_SECONDS,
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.check = RequestCheck(
            verifier, database_url, invalid_answer_seconds, trusted_proxies=trusted_proxies
        )
        self.verifier = self.check.verifier
        self.exempt_paths = frozenset(exempt_paths)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        scope = scope_of(environ)
        refused = self.check.screen(scope)
        if refused is not None:
            redact_environ(environ, scope)
        elif scope["path"] in self.exempt_paths:
            return self.app(environ, start_response)
        answer = refused or self.check.verify(scope)
        if not isinstance(answer, VerifiedKey):
            forget_credentials(environ)
            return _answer(answer, start_response)
        environ[SCOPE_KEY] = answer
        if answer.limits:  # a limited key's every answer says where it stands
            start_response = _adding(start_response, ratelimit_headers(answer.limits))
        token = _current.set(answer)
        try:
            return self.app(environ, start_response)
        finally:
            _current.reset(token)


def current_key() -> VerifiedKey:
    """The verified key of the request being answered, in a view behind
    `KeydeskWSGI`; `NoVerifiedKey` elsewhere (an exempt path, no middleware)."""
    identity = _current.get()
    if identity is None:
        raise NoVerifiedKey("no verified API key on this request: is KeydeskWSGI in front?")
    return identity


class requires_scopes:  # lower case: used like a function, @requires_scopes("repo")
    """A Flask view answers only a key with every one of `scopes`; any other
    gets 403 `insufficient_scope` (401 without `KeydeskWSGI`: fail closed).
    The refusal is a WSGI app, which Flask sends as the view's response."""

    def __init__(self, *scopes: str) -> None:
        self.scopes = scope_names(scopes)

    def __call__(self, view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refused = scope_refusal({SCOPE_KEY: _current.get()}, self.scopes)
            if refused is not None:
                return _refusal_app(refused)
            return view(*args, **kwargs)

        return guarded


def scope_of(environ: Environ) -> Scope:
    """What `RequestCheck` reads of a request, as an ASGI scope has it."""
    headers = [(_header(name), _raw(value)) for name, value in environ.items() if _header(name)]
    uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    return {
        "type": "http",
        "method": str(environ.get("REQUEST_METHOD") or ""),
        "path": _raw(environ.get("PATH_INFO") or "").decode("utf-8", "replace"),
        "raw_path": _raw(uri.partition("?")[0]),
        "query_string": _raw(environ.get("QUERY_STRING") or ""),
        "headers": headers,
        "client": (str(environ.get("REMOTE_ADDR") or ""), int(environ.get("REMOTE_PORT") or 0)),
    }


def _header(name: str) -> bytes:
    """The header an environ key holds (b"" for none)."""
    if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    return b""


def _raw(value: object) -> bytes:
    """The bytes as sent: PEP 3333 strings hold them decoded as latin-1.
    Django under ASGI fills META with text already decoded: UTF-8 then."""
    text = str(value)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def forget_credentials(environ: Environ) -> None:
    """A refused request's `Authorization` leaves the environ: gunicorn's
    access log writes the user name of `Basic` credentials, which a key
    sent that way would be."""
    if "HTTP_AUTHORIZATION" in environ:
        environ["HTTP_AUTHORIZATION"] = REDACTED.decode()


def redact_environ(environ: Environ, scope: Scope) -> None:
    """Put back into the environ what `RequestCheck.screen` redacted in the
    scope: the server's access log reads it once the request is answered."""
    seen = scope_of(environ)
    if scope["method"] != seen["method"]:
        environ["REQUEST_METHOD"] = scope["method"]
    if scope["path"] != seen["path"]:
        environ["PATH_INFO"] = scope["path"]
    if scope["query_string"] != seen["query_string"]:
        environ["QUERY_STRING"] = scope["query_string"].decode("latin-1")
    if scope["client"] != seen["client"]:
        environ["REMOTE_ADDR"] = scope["client"][0]
    redacted = {name for name, value in scope["headers"] if value == REDACTED}
    for name in [name for name in environ if _header(name) in redacted]:
        environ[name] = REDACTED.decode()
    query = environ.get("QUERY_STRING")
    uri = scope["raw_path"].decode("latin-1") + (f"?{query}" if query else "")
    for name in ("RAW_URI", "REQUEST_URI"):
        if name in environ:
            environ[name] = uri


def _adding(start_response: StartResponse, extra: list[tuple[bytes, bytes]]) -> StartResponse:
    named = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in extra]

    def starting(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        return start_response(status, [*headers, *named], *exc_info)

    return starting


def _refusal_app(refusal: Refusal) -> WSGIApp:
    return lambda _environ, start_response: _answer(refusal, start_response)


def _answer(refusal: Refusal, start_response: StartResponse) -> list[bytes]:
    status = refusal[0]
    payload, headers = refusal_payload(refusal)
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers],
    )
    return [payload]
