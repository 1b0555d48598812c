"""HTTP: the verify server (server, `keydesk serve`), the ASGI middleware
(middleware) and the route guards (guards). Public import paths, which
re-export them: keydesk.asgi, keydesk.guards."""
