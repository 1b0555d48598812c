"""The documented import path of the route guards (README):
`requires_scopes` for Starlette and FastAPI routes behind `KeydeskAuth`.
It lives in keydesk.http.guards."""

from keydesk.http.guards import requires_scopes

__all__ = ["requires_scopes"]
