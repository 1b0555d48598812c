"""HTTP: the verify server (`keydesk serve`), the ASGI middleware and the
route guards. Public import paths: keydesk.asgi, keydesk.guards."""
