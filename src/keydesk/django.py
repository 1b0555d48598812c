"""The documented import path of the Django integration (README):
`MIDDLEWARE = ["keydesk.django.KeydeskMiddleware", …]` and `requires_scopes`
for views. It lives in keydesk.http.django; `pip install 'keydesk[django]'`."""

from keydesk.http.django import KeydeskMiddleware, requires_scopes

__all__ = ["KeydeskMiddleware", "requires_scopes"]
