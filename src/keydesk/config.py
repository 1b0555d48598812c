"""Where the store lives and who is acting: flags, then environment, then defaults."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from keydesk.errors import InvalidInput
from keydesk.validation import looks_like_private_key

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
        return f"sqlite:///{os.path.realpath(os.path.expanduser(url))}"
    return url


def acting_account(flag: str | None = None) -> str:
    name = flag or os.environ.get(ACCOUNT_ENV)
    if not name:
        import getpass

        try:
            name = getpass.getuser()
        except (KeyError, OSError) as exc:
            raise InvalidInput(
                f"cannot tell who you are: pass --account or set {ACCOUNT_ENV}"
            ) from exc
    return name.strip()
