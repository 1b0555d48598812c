"""Small steps on the ORM's rows that several parts of the service take:
a saved row's id, an account by name, a flush that turns a unique-constraint
race into the pre-check's error, the look-alike name rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from keydesk import validation
from keydesk.errors import AlreadyExists, PermissionDenied
from keydesk.store.models import Account, ApiKey


class KeyRef(NamedTuple):
    """The key a change is about, as the service reads it: never its hash
    (keydesk.verify reads keys its own way)."""

    id: int
    public_key: str
    label: str
    integration_id: int


KEY_REF_COLUMNS = (
    col(ApiKey.id), col(ApiKey.public_key), col(ApiKey.label), col(ApiKey.integration_id),
)  # fmt: skip


def row_id(value: int | None) -> int:
    """A saved row's primary key (SQLModel types it optional until a flush)."""
    assert value is not None, "row not flushed"
    return value


def account(session: Session, name: str, *, create: bool = False) -> Account:
    found = session.exec(select(Account).where(Account.name == name)).first()
    if found is None:
        if not create:
            raise PermissionDenied(f"{name} is not a member of any workspace")
        refuse_look_alike(name, session.exec(select(Account.name)), "account")
        found = Account(name=name)
        session.add(found)
        session.flush()
    return found


def refuse_look_alike(name: str, existing: Iterable[str], what: str) -> None:
    """Refuse a new name a reader could take for an existing one (`prod`,
    `pr\\u043ed` with a Cyrillic o, a full-width p, `Prod`): see validation.skeletons."""
    other = validation.confusable_with(name, existing)
    if other is not None:
        raise AlreadyExists(
            f"the name {name!r} looks like the existing {what} {other!r}; "
            "choose a name that reads differently"
        )


def flush(session: Session, conflict: str, error: type[Exception] = AlreadyExists) -> None:
    """Flush, turning a unique-constraint race into the same error the
    pre-check gives."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise error(conflict) from None
