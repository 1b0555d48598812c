"""Django: `KeydeskAuth`'s rules as Django middleware, and a per-view scope
guard:

    # settings.py
    MIDDLEWARE = ["keydesk.django.KeydeskMiddleware", …]   # first
    KEYDESK_DATABASE_URL = "postgresql+psycopg://…"   # else $KEYDESK_DATABASE_URL
    KEYDESK_EXEMPT_PATHS = ["/healthz"]               # the default
    KEYDESK_TRUSTED_PROXIES = ["127.0.0.1"]           # as KeydeskAuth's trusted_proxies

    # views.py
    @requires_scopes("repo")
    def repos(request):
        return JsonResponse({"public_key": request.api_key.public_key})

Middleware rather than a wrapper of the WSGI application: it is where
Django looks for what answers before a view, and Django's test client runs
it. The check and answers are `KeydeskWSGI`'s, on `request.META` (the WSGI
environ under a WSGI server, made from the scope under ASGI): a valid key's
identity is `request.api_key` (and `request.META["keydesk.api_key"]`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from keydesk.http.limits import ratelimit_headers
from keydesk.http.middleware import (
    SCOPE_KEY,
    Refusal,
    RequestCheck,
    refusal_payload,
    scope_names,
    scope_refusal,
)
from keydesk.http.wsgi import forget_credentials, redact_environ, scope_of
from keydesk.verify.verified_key import VerifiedKey

__all__ = ["KeydeskMiddleware", "requires_scopes"]


class KeydeskMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        verifier = getattr(settings, "KEYDESK_VERIFIER", None)
        trusted = tuple(getattr(settings, "KEYDESK_TRUSTED_PROXIES", ()))
        self.check = (
            RequestCheck(verifier, trusted_proxies=trusted)
            if verifier is not None
            else _shared_check(getattr(settings, "KEYDESK_DATABASE_URL", None), trusted)
        )
        self.exempt_paths = frozenset(getattr(settings, "KEYDESK_EXEMPT_PATHS", ("/healthz",)))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope = scope_of(request.META)
        refused = self.check.screen(scope)
        if refused is not None:
            redact_environ(request.META, scope)
            if scope["path"] != request.path_info:  # Django logs request.path on a 4xx
                request.path = request.path_info = scope["path"]
        elif request.path_info in self.exempt_paths:
            return self.get_response(request)
        answer = refused or self.check.verify(scope)
        if not isinstance(answer, VerifiedKey):
            forget_credentials(request.META)
            return _response(answer)
        request.META[SCOPE_KEY] = answer
        request.api_key = answer  # as Starlette's request.state.api_key
        response = self.get_response(request)
        for name, value in ratelimit_headers(answer.limits):  # a limited key's every answer
            response[name.decode("latin-1")] = value.decode("latin-1")
        return response


@functools.cache
def _shared_check(database_url: str | None, trusted: tuple[str, ...]) -> RequestCheck:
    """One verifier per store and process: Django makes its middleware once
    per handler, and a test client makes a handler of its own."""
    return RequestCheck(database_url=database_url, trusted_proxies=trusted)


class requires_scopes:  # lower case: used like a function, @requires_scopes("repo")
    """A view (sync or async) answers only a key with every one of `scopes`;
    any other gets 403 `insufficient_scope` (401 without the middleware:
    fail closed). For a class-based view: `method_decorator(requires_scopes(…),
    name="dispatch")`."""

    def __init__(self, *scopes: str) -> None:
        self.scopes = scope_names(scopes)

    def __call__(self, view: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def guarded_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return self._refused(request) or await view(request, *args, **kwargs)

            return guarded_async

        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return self._refused(request) or view(request, *args, **kwargs)

        return guarded

    def _refused(self, request: HttpRequest) -> HttpResponse | None:
        refused = scope_refusal({SCOPE_KEY: request.META.get(SCOPE_KEY)}, self.scopes)
        return None if refused is None else _response(refused)


def _response(refusal: Refusal) -> HttpResponse:
    payload, headers = refusal_payload(refusal)
    return HttpResponse(
        payload,
        status=refusal[0],
        headers={name.decode("latin-1"): value.decode("latin-1") for name, value in headers},
    )
