"""The Flask app that tests/http/test_wsgi.py runs under a real gunicorn
(helpers, not tests): `KeydeskWSGI` in front, its store named by
KEYDESK_DATABASE_URL, as an app deployed by the README's lines would be."""

from __future__ import annotations

from flask import Flask

from keydesk.wsgi import KeydeskWSGI, current_key

app = Flask(__name__)


@app.get("/repos")
def repos():
    return {"label": current_key().label}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


app.wsgi_app = KeydeskWSGI(app.wsgi_app)
