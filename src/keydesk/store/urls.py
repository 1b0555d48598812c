"""A store's URL fit to show: a SQLite file's path, or the URL with its
password as ``***``. Plain text, no SQLAlchemy: the TUI says where it opens
the store before SQLAlchemy is loaded, and a URL SQLAlchemy cannot parse
is shown the same way."""

from __future__ import annotations

import re
import urllib.parse

from keydesk.store.sqlite_file import is_file_path

# The password as SQLAlchemy's URL parser reads it: after the user (which
# runs to ':' or '/') and up to the first '@'. Spaces included: SQLAlchemy
# writes a password's spaces as they are.
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")
# libpq also takes the password as a query parameter (?password=…).
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def shown_url(url: str) -> str:
    """Where the store at `url` is, fit for a message or a screen."""
    scheme, _, rest = url.partition("://")
    if scheme.split("+")[0] == "sqlite":
        # As SQLAlchemy reads it: the database after the (empty) host, up to the query.
        database = urllib.parse.unquote(rest.partition("/")[2].partition("?")[0])
        if is_file_path(database):
            return database
    return _QUERY_PASSWORD.sub(r"\1***", _PASSWORD.sub(r"\1***@", url, count=1))
