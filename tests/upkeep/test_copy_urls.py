"""`keydesk store copy --to URL` with a URL that is no usable PostgreSQL
URL: one line, never an internal error, never the password (no PostgreSQL
needed: nothing is reached)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u:s3cretpw@host:notaport/db",
        "garbage s3cretpw",
        "postgresql+psycopg://u@127.0.0.1:1/db?password=s3cretpw",
    ],
)
def test_a_bad_target_url_is_one_line_without_its_password(configured, url):
    code, out, err = configured("store", "copy", "--to", url)
    assert code != 0 and out == ""
    assert "internal error" not in err and "s3cretpw" not in err and len(err.splitlines()) == 1
