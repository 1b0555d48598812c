"""HTTP: the verify server (server, `keydesk serve`), the ASGI middleware
(middleware) and the route guards (guards); the framework integrations,
each an extra, over the middleware's RequestCheck: fastapi (a security
dependency), wsgi (Flask or any WSGI app), django (Django middleware).
Public import paths, which re-export them: keydesk.asgi, keydesk.guards,
keydesk.fastapi, keydesk.wsgi, keydesk.django."""
