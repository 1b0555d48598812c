"""The documented import path of the ASGI middleware (README): protect any
Starlette, FastAPI or plain ASGI app with `KeydeskAuth`. It lives in
keydesk.http.middleware, beside the server and the route guards."""

from keydesk.http.middleware import KeydeskAuth

__all__ = ["KeydeskAuth"]
