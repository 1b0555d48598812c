"""Messages screens send each other through the app, instead of reaching
across into another screen's widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class KeysChanged(Message):
    """An integration's keys changed; `highlight` is a public key to show."""

    integration_id: int
    highlight: str | None = None


@dataclass
class IntegrationsChanged(Message):
    """Integrations were added or changed state; `select` an id to show."""

    select: int | None = None
