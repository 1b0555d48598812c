"""Key tags (`env=prod`, `team=payments`): what a tag may be, and how a
shell writes one. ASCII only, so no tag reads like another (`env` and
one with a Cyrillic e) and every tag is safe to show, to type and to filter on.
PostgreSQL refuses any other with the same rules (revision 0007)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from keydesk.errors import InvalidInput
from keydesk.validation import shown_literally

TAG_NAME_MAX = 20
TAG_VALUE_MAX = 40  # "name=value" fits an audit label (64)
TAGS_PER_KEY = 20
# Names are folded to lower case (`Env` is `env`); values keep their case.
NAME_PATTERN = rf"[a-z0-9][a-z0-9_.-]{{0,{TAG_NAME_MAX - 1}}}"
VALUE_PATTERN = rf"[A-Za-z0-9_.:/@+-]{{1,{TAG_VALUE_MAX}}}"
_NAME = re.compile(NAME_PATTERN)
_VALUE = re.compile(VALUE_PATTERN)


class Tag(NamedTuple):
    name: str
    value: str

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


def tag_name(text: str) -> str:
    """A tag's name as stored, or InvalidInput saying what a name may be."""
    name = text.strip().lower()
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"tag name {shown_literally(text)!r}: use 1-{TAG_NAME_MAX} letters, digits, "
            "'_', '.' or '-', starting with a letter or digit (e.g. env)"
        )
    return name


def parse_tag(text: str) -> Tag:
    """`name=value` as a Tag, or InvalidInput in one line saying why not."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or not value.strip():
        raise InvalidInput(f"tag {shown_literally(text)!r}: expected NAME=VALUE, e.g. env=prod")
    value = value.strip()
    if not _VALUE.fullmatch(value):
        raise InvalidInput(
            f"tag {shown_literally(text)!r}: a value is 1-{TAG_VALUE_MAX} letters, digits "
            "or _ . : / @ + - (no spaces)"
        )
    return Tag(tag_name(name), value)


def parse_tags(texts: Iterable[str]) -> tuple[Tag, ...]:
    """Several `name=value`, one per name (the last given wins, as a shell's
    repeated option would), at most TAGS_PER_KEY."""
    tags = {tag.name: tag for tag in map(parse_tag, texts)}
    if len(tags) > TAGS_PER_KEY:
        raise InvalidInput(f"a key may carry at most {TAGS_PER_KEY} tags")
    return tuple(sorted(tags.values()))


def tags_text(tags: Iterable[Tag]) -> str:
    """Tags as lists show them: `env=prod team=payments` ("" for none)."""
    return " ".join(map(str, tags))


def stored_tags(text: str | None) -> tuple[Tag, ...]:
    """The list reads' aggregate ("name=value" lines) as sorted Tags."""
    if not text:
        return ()
    return tuple(sorted(Tag(*line.split("=", 1)) for line in text.split("\n") if "=" in line))
