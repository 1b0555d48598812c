"""Where the store lives, from flags, then environment, then defaults; and
the account name a user typed, which only `keydesk demo` accepts (who acts
is proven, never typed: see keydesk.identity)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from keydesk.errors import InvalidInput
from keydesk.redaction import looks_like_private_key
from keydesk.store.path import absolute, refuse_unnamable

if TYPE_CHECKING:
    from pathlib import Path

DATABASE_ENV = "KEYDESK_DATABASE_URL"
ACCOUNT_ENV = "KEYDESK_ACCOUNT"


def default_database_path() -> Path:
    from platformdirs import user_data_path  # only when the default is needed

    return user_data_path("keydesk", appauthor=False) / "keydesk.db"


def database_url(flag: str | None = None) -> str:
    """A SQLAlchemy URL; a plain file path means a SQLite file there."""
    url = flag or os.environ.get(DATABASE_ENV)
    if not url:
        return f"sqlite:///{default_database_path()}"
    if not url.isprintable():  # a NUL or an escape sequence: no path or URL has one
        raise InvalidInput(
            f"the database path or URL {url!r} contains a control or invisible character"
        )
    if looks_like_private_key(url):  # never a file name: `init` would make one
        raise InvalidInput(f"the database path or URL {url!r} is refused")
    if "://" not in url:
        refuse_unnamable(url)  # `file:/path` is SQLite's URI name, not a folder named file:
        # Absolute, symlinks and `..` kept: the store check follows them as
        # the kernel does, and checks every folder on the way (keydesk.store.path).
        return f"sqlite:///{absolute(url)}"
    return url


def backend_of(url: str) -> str:
    """ "sqlite", "postgresql", …: the URL's scheme without its driver
    (read without importing SQLAlchemy)."""
    return url.partition(":")[0].partition("+")[0].lower()


def typed_account(flag: str | None = None) -> tuple[str, str] | None:
    """The account name given with --account or $KEYDESK_ACCOUNT, and which
    of the two gave it; None when neither did. An empty value is an error,
    never a silent fall-back to the other source."""
    for value, source in ((flag, "--account"), (os.environ.get(ACCOUNT_ENV), ACCOUNT_ENV)):
        if value is None:
            continue
        if not value.strip():
            raise InvalidInput(f"{source} is empty; give an account name or leave it out")
        return value.strip(), source
    return None
