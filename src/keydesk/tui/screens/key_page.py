"""One API key's page: what it is, its life (created, expiry, rotation),
its usage (a sparkline of the last 24 hours and 7 days, refusals with a
wrong secret), and its audit events; Revoke and Rotate through the app's
one flow for each. Every read runs in a worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from keydesk.limits import stored_limit
from keydesk.tui.actions import integration_action, key_action
from keydesk.tui.calls import call_service
from keydesk.tui.display import content
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.integration_words import no_new_key, why_cannot, why_not_key
from keydesk.tui.screens.key_limits import KeyLimitsScreen
from keydesk.tui.widgets import Header, KeyFooter, Pairs
from keydesk.views import (
    HOUR,
    AuditView,
    IntegrationView,
    KeyView,
    UsageView,
    in_words,
    stop_time,
)
from keydesk.views.limits import SourceCount, recent_sources
from keydesk.views.tags import tags_text
from keydesk.views.usage import usage_hour
from keydesk.wording import when

WEEK = timedelta(days=7)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class KeyPage:
    """One read of everything the page shows."""

    key: KeyView
    usage: UsageView
    events: list[AuditView]
    quota_used: int | None = None
    sources: tuple[SourceCount, ...] = ()  # the last 24 hours', new networks marked


class KeyScreen(KeydeskScreen[None]):
    BINDINGS = [
        Binding("escape,q", "back", "Back", key_display="esc", id="key.back",
                tooltip="Back to the API Keys tab, this key still highlighted"),
        Binding("t", "rotate", "Rotate", id="key.rotate",
                tooltip="Rotate: a replacement now, the old key stops after the overlap you choose"),
        Binding("x,delete", "revoke", "Revoke", key_display="x", id="key.revoke",
                tooltip="Revoke this key (immediate, irreversible)"),
        Binding("K", "keep", "Keep key", id="key.keep",
                tooltip="Keep this key: cancel the stop its rotation set (its replacement was revoked)"),
        Binding("p", "copy_public", "Copy public key", id="key.copy_public",
                tooltip="Copy the public key"),
        Binding("l", "limits", "Limits", id="key.limits",
                tooltip="Change this key's rate, quota and networks"),
        Binding("r", "refresh", "Refresh", show=False, id="key.refresh",
                tooltip="Read the key, its usage and its events again"),
        # As on the list and the tab: `g`, a label and Enter typed at once
        # from here fired the label's letters as this page's keys (t rotated,
        # and Enter chose the overlap).
        Binding("g", "generate", "New key", show=False, id="key.generate",
                tooltip="Generate an API key for this key's integration"),
    ]  # fmt: skip

    def __init__(self, integration: IntegrationView, key: KeyView) -> None:
        super().__init__()
        self.integration = integration
        self.key = key
        self.page: KeyPage | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="key-page"):
            yield Static(id="key-title", classes="form-title")
            yield Pairs([], id="key-facts")
            yield Static(
                "Accepted per hour, last 24 hours", classes="field-label", id="usage-day-title"
            )
            yield Sparkline([], id="usage-day")
            yield Static(
                "Accepted per 6 hours, last 7 days", classes="field-label", id="usage-week-title"
            )
            yield Sparkline([], id="usage-week")
            yield Static(id="usage-counts")
            yield Static("Used from, last 24 hours", classes="field-label", id="sources-title")
            yield Pairs([], id="key-sources")
            yield Static("Audit events", classes="field-label")
            yield Pairs([], id="key-events")
        yield KeyFooter()

    def on_mount(self) -> None:
        for chart in ("#usage-day", "#usage-week"):
            self._show_chart(chart, [])  # until the usage is read
        self._show_sources(())
        self._show_key(self.key)
        self.action_refresh()

    def uncovered(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        public_key = self.key.public_key
        since = self.keydesk.now() - WEEK

        def read() -> KeyPage:
            calls = self.keydesk.calls  # each waits, in the worker, for a store still opening
            key = calls.key(public_key)
            hours = calls.key_sources(public_key, usage_hour(since.timestamp()))
            day_ago = usage_hour((self.keydesk.now() - DAY).timestamp())
            return KeyPage(
                key,
                calls.key_usage(public_key, since),
                calls.audit(key=public_key, limit=50),
                calls.quota_used(public_key) if key.limits.quota else None,
                tuple(recent_sources(hours, day_ago)),
            )

        call_service(self, read, self._show, group="key-page")

    def _show(self, page: KeyPage) -> None:
        self.page = page
        self._show_key(page.key)
        now = self.keydesk.now()
        hours = [h for h in page.usage.hours if now - WEEK <= h.start <= now]
        day = [h.accepted for h in hours[-24:]]
        week = [h.accepted for h in hours]
        self._show_chart("#usage-day", day)
        self._show_chart("#usage-week", [sum(week[i : i + 6]) for i in range(0, len(week), 6)])
        wrong = page.usage.wrong_secrets_since(now - HOUR)
        refused = f"{wrong:,} refused attempt{'s' if wrong != 1 else ''} with a wrong secret"
        counts = f"{sum(day):,} accepted in the last 24 hours · {sum(week):,} in 7 days · "
        never = page.key.last_used_at is None and not any(week)
        if never:  # one line where the headings stood
            counts = "Never used" + (f" · {refused} in the last hour" if wrong else "")
        else:
            counts += f"{refused} in the last hour"
        line = self.query_one("#usage-counts", Static)
        line.update(content(counts))
        line.set_class(never, "field-label")
        self.query_one("#key-events", Pairs).show(
            [(when(e.at), _event_line(e, self.key.public_key)) for e in page.events]
            or [("—", "no events")]
        )
        self._show_sources(page.sources)

    def _show_chart(self, chart: str, data: list[int]) -> None:
        """A flat line of zeros would draw as full bars: no use shows no
        chart, nor its heading (headings over nothing read as missing data)."""
        sparkline = self.query_one(chart, Sparkline)
        sparkline.data = data
        sparkline.display = any(data)
        self.query_one(f"{chart}-title").display = any(data)

    def _show_sources(self, sources: tuple[SourceCount, ...]) -> None:
        """Busiest first; a network this key was not used from before is marked."""
        self.query_one("#sources-title").display = bool(sources)
        pairs = self.query_one("#key-sources", Pairs)
        pairs.display = bool(sources)
        pairs.show(
            [(s.source, f"{s.count:,}" + ("  new network" if s.new else "")) for s in sources[:10]]
        )

    def _show_key(self, key: KeyView) -> None:
        self.key = key
        now = self.keydesk.now()
        self.query_one("#key-title", Static).update(content(f"API key {key.label}"))
        expiry = "never"
        if key.revoked_at is not None:
            expiry = f"— (revoked {when(key.revoked_at)})"
        elif key.expires_at is not None:
            left = key.expires_at - now
            expiry = stop_time(key.expires_at) + (
                f" ({in_words(left)} left)" if left > timedelta(0) else " (passed)"
            )
        rows = [
            ("Label", key.label),
            ("Public key", key.public_key),
            ("Integration", key.integration),
            ("Scopes", " ".join(key.scopes) or "—"),
            ("Status", key.status_words(now)),
            ("Created", f"{when(key.created_at)} by {key.creator}"),
            ("Expires", expiry),
            ("Last used", when(key.last_used_at)),
        ]
        if key.tags:
            rows.insert(4, ("Tags", tags_text(key.tags)))
        if key.revoked_at is not None:
            rows.append(("Revoked", f"{when(key.revoked_at)} by {key.revoked_by or '—'}"))
        rows += self._limit_rows(key)
        if key.replaces:
            rows.append(("Replaces", key.replaces))
        if key.replaced_by:
            # Still said once the key is kept (K): its stop is gone, not the revocation.
            if key.stop_is_orphaned(now):
                gone = " (revoked: K keeps this key)"
            else:
                gone = " (revoked)" if key.replacement_revoked else ""
            rows.append(("Replaced by", key.replaced_by + gone))
        self.query_one("#key-facts", Pairs).show(rows)
        self.refresh_bindings()

    def _limit_rows(self, key: KeyView) -> list[tuple[str, str]]:
        """A limited key's limits (with its quota left, once read) and networks."""
        limits = key.limits
        if not limits.any:  # said, or `l` is found only through ?
            settable = self.integration.can_manage and key.is_active
            return [("Limits", "none (l to set)" if settable else "none")]
        quota = limits.quota or "none"
        used = self.page.quota_used if self.page and self.page.key.id == key.id else None
        limit = stored_limit(limits.quota)
        if limit is not None and used is not None:
            quota += f" ({max(0, limit.count - used):,} left)"
        return [
            ("Limits", f"rate {limits.rate or 'none'} · quota {quota}"),
            ("Networks", limits.networks),
        ]

    # -- actions -----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("revoke", "rotate", "keep"):
            return key_action(self.integration, self.key, action, self.keydesk.now())
        if action == "limits":
            return self.integration.can_manage and self.key.is_active
        if action == "generate":
            return integration_action(self.integration, action)
        return True

    def why_not(self, action: str) -> str | None:
        # Configuring is done on the integration's page, Escape away.
        if action == "generate" and not self.integration.can_issue_keys:
            return no_new_key(self.integration, "esc, then ")
        return why_not_key(self.integration, self.key, action, self.keydesk.now(), "esc, then ")

    def why_hidden(self, action: str) -> str | None:
        if action in ("rotate", "revoke", "keep", "limits") and not self.integration.can_manage:
            return why_cannot(self.integration, action)  # the role
        return self.why_not(action)  # l on a key that no longer works, K with nothing to keep

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_revoke(self) -> None:
        if self.key.is_active:
            self.keydesk.revoke_key(self.key, on_revoked=lambda _key: self.action_refresh())

    def action_rotate(self) -> None:
        if self.key.is_active:
            self.keydesk.rotate_key(self.key)

    def action_keep(self) -> None:
        self.keydesk.keep_key(self.key, on_kept=lambda _key: self.action_refresh())

    def action_limits(self) -> None:
        public_key = self.key.public_key

        def save(limits: dict[str, Any] | None) -> None:
            if limits is not None:
                call_service(
                    self,
                    lambda: self.keydesk.calls.edit_key_limits(public_key, **limits),
                    lambda _key: self.action_refresh(),
                    group="key-limits",
                )

        self.app.push_screen(KeyLimitsScreen(self.key), save)

    def action_generate(self) -> None:
        self.keydesk.generate_key(self.integration.id)

    def action_copy_public(self) -> None:
        self.keydesk.copy_text(self.key.public_key, "Public key")


def _event_line(event: AuditView, public_key: str) -> str:
    """Who did what to this key; of a rotation, the other key and when the
    old one stops (a bare public key at the end said neither)."""
    parts = [event.actor, event.action]
    if event.related == public_key:  # this key is the rotation's replacement
        parts.append(f"replaced {event.target}")
    elif event.related:
        parts += [f"replacement {event.related}", event.label or ""]
    return " · ".join(part for part in parts if part)
