"""Who is acting: proven, never typed.

* PostgreSQL: the session's role (`session_user`), proven by the server's
  authentication (peer over the Unix socket, password, certificate, GSS).
  Row-level security keys on the same name, so the database and keydesk
  agree on who acts even for someone who bypasses keydesk.
* SQLite: the OS user running keydesk, from the process's uid (not from the
  environment); through `sudo -u OWNER`, the admin who ran sudo
  (`SUDO_USER`, which sudo sets), so a team can share one service account
  and still have a true audit trail. The store file is the boundary:
  whoever can run as its owner can edit the file (see keydesk.store.path).
* A trusted caller that proved the name another way passes it in code,
  never through argv or the environment: `keydesk demo` (its own throwaway
  store) and `keydesk ssh-session ACCOUNT` (sshd's forced command).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from typing import TYPE_CHECKING

from keydesk import validation
from keydesk.errors import PermissionDenied

if TYPE_CHECKING:
    from keydesk.store.engine import Store


def os_account(environ: Mapping[str, str] = os.environ) -> str:
    """The OS user running this process, or the admin who ran it through sudo."""
    me = _user_name(os.getuid())
    invoker = environ.get("SUDO_USER")
    if not invoker or invoker == me:
        return me
    try:
        entry = pwd.getpwnam(invoker)
    except KeyError:
        raise PermissionDenied(
            f"SUDO_USER names {invoker!r}, who is not a user of this host; "
            "refusing to guess who you are"
        ) from None
    if environ.get("SUDO_UID") != str(entry.pw_uid):
        raise PermissionDenied(
            f"SUDO_USER ({invoker}) and SUDO_UID disagree; refusing to guess who you are"
        )
    return invoker


def acting_account(store: Store, *, proven: str | None = None) -> str:
    """Who acts on `store`. `proven` is a name a trusted caller proved (see
    the module's docstring); on PostgreSQL it must be the session's role."""
    role = store.database_role()
    if role is not None:
        if proven is not None and proven != role:
            raise PermissionDenied(
                f"on PostgreSQL you act as your database role ({role}), not as {proven}; "
                f"connect as the role {proven} to act as it"
            )
        return role
    return sqlite_account(proven)


def sqlite_account(proven: str | None = None) -> str:
    """Who acts on a SQLite store: the name a trusted caller proved, or the OS user."""
    if proven is not None:
        return validation.name(proven, "the account name")
    return os_account()


def typed_account_refused(backend: str, source: str) -> str:
    """Why a typed account name (`source`: --account or $KEYDESK_ACCOUNT)
    cannot say who acts, in one line."""
    if backend == "postgresql":
        return (
            f"{source} cannot choose who acts on PostgreSQL: you act as your database role "
            "(session_user), which the server proves when you connect; connect as another "
            "role to act as it"
        )
    return (
        f"{source} is only for keydesk demo: on a SQLite store you act as your OS user "
        f"({_user_name(os.getuid())}), which the system proves; to use a store another user "
        "owns, run keydesk as that user (sudo -u OWNER keydesk …), which records you as the "
        "admin who ran sudo"
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise PermissionDenied(
            f"uid {uid} has no name in this host's user database; keydesk names accounts "
            "by user name"
        ) from None
