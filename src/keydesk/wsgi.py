"""The documented import path of the WSGI middleware (README): protect a
Flask (or any WSGI) app with `KeydeskWSGI`; `requires_scopes` guards a
Flask view; `current_key()` is the request's verified key. It lives in
keydesk.http.wsgi and needs no framework."""

from keydesk.http.wsgi import KeydeskWSGI, NoVerifiedKey, current_key, requires_scopes

__all__ = ["KeydeskWSGI", "NoVerifiedKey", "current_key", "requires_scopes"]
