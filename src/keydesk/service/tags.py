"""Key tags: set when a key is made, changed later by owners and admins,
each change audited (`key.tag env=prod`, `key.untag env=prod`), as
PostgreSQL's trail writes them (revision 0007)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk.errors import InvalidInput
from keydesk.service.context import ServiceContext
from keydesk.service.rows import KeyRef, row_id
from keydesk.store.models import ApiKeyTag
from keydesk.views import KeyView
from keydesk.views.tags import TAGS_PER_KEY, Tag, parse_tag, parse_tags, tag_name


def untag_names(texts: Iterable[str]) -> tuple[Tag | str, ...]:
    """`--untag` values: a name (`env`), or `env=prod` to remove it only
    while it has that value."""
    return tuple(parse_tag(text) if "=" in text else tag_name(text) for text in texts)


def write_tags(
    context: ServiceContext,
    session: Session,
    key: KeyRef,
    workspace_id: int,
    add: Sequence[Tag],
    remove: Sequence[Tag | str] = (),
) -> None:
    """Remove, then add (a name given both ways ends with the new value);
    one event per tag that changed. A tag to remove that the key lacks is
    refused: a typo must not pass for done."""
    table = ApiKeyTag.__table__  # type: ignore[attr-defined]  # SQLModel's table
    held: dict[str, str] = {
        name: value
        for name, value in session.execute(
            sa.select(col(ApiKeyTag.name), col(ApiKeyTag.value)).where(
                col(ApiKeyTag.api_key_id) == key.id
            )
        ).all()
    }
    events: list[tuple[str, Tag]] = []
    for item in remove:
        name = item if isinstance(item, str) else item.name
        if name not in held or (isinstance(item, Tag) and held[name] != item.value):
            raise InvalidInput(
                f"key {key.public_key} has no tag {str(item)!r}; nothing was changed"
            )
        session.execute(sa.delete(table).where(table.c.api_key_id == key.id, table.c.name == name))
        events.append(("key.untag", Tag(name, held.pop(name))))
    for tag in add:
        if held.get(tag.name) == tag.value:
            continue  # already so: no change, no event
        if tag.name in held:
            session.execute(
                sa.update(table)
                .where(table.c.api_key_id == key.id, table.c.name == tag.name)
                .values(value=tag.value)
            )
        else:
            session.execute(
                sa.insert(table).values(api_key_id=key.id, name=tag.name, value=tag.value)
            )
        held[tag.name] = tag.value
        events.append(("key.tag", tag))
    if len(held) > TAGS_PER_KEY:
        raise InvalidInput(f"a key may carry at most {TAGS_PER_KEY} tags; nothing was changed")
    for action, tag in events:
        context.audit(
            session, workspace_id, action, key.public_key, str(tag),
            integration_id=key.integration_id,
        )  # fmt: skip


def edit_tags(
    context: ServiceContext, public_key: str, add: Iterable[str], remove: Iterable[str]
) -> KeyView:
    """Tag and untag a key (owners and admins), in one transaction."""
    adding, removing = parse_tags(add), untag_names(remove)
    if not adding and not removing:
        raise InvalidInput("give a tag to add (--tag NAME=VALUE) or remove (--untag NAME)")
    with context.session() as session:
        key = context.key_ref(session, public_key)
        ws = context.key_workspace(session, key)
        context.require_manage(session, ws, "tag keys")
        write_tags(context, session, key, row_id(ws.id), adding, removing)
        return context.key_view(session, key.id)
