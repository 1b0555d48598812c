"""An integration's flows: its page opened, its form (add, edit), and the
confirmed status changes (configure, disable), from its list, its page or
the palette."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App

from keydesk.tui.calls import call_service
from keydesk.tui.messages import IntegrationsChanged
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.integration_words import configure_lines, saved_words
from keydesk.tui.store_calls import StoreCalls
from keydesk.views import IntegrationView
from keydesk.views.words import counted


class IntegrationFlows:
    def __init__(self, app: App[Any], calls: StoreCalls) -> None:
        self._app = app
        self._calls = calls

    def open(
        self, integration: IntegrationView, tab: str = "api-keys", highlight: str | None = None
    ) -> None:
        from keydesk.tui.screens.integration_detail import IntegrationDetailScreen

        self._app.push_screen(IntegrationDetailScreen(integration, tab=tab, highlight=highlight))

    def add(self, workspace: str) -> None:
        from keydesk.tui.screens.integration_form import IntegrationFormScreen

        self._app.push_screen(IntegrationFormScreen(workspace), self._saved)

    def edit(self, integration: IntegrationView) -> None:
        from keydesk.tui.screens.integration_form import IntegrationFormScreen

        self._app.push_screen(
            IntegrationFormScreen(integration.workspace, integration), self._saved
        )

    def _saved(self, integration: IntegrationView | None) -> None:
        if integration is not None:
            self._app.notify(saved_words(integration), title="keydesk", markup=False)
            self._app.screen.post_message(IntegrationsChanged(select=integration.id))

    def configure(self, integration: IntegrationView) -> None:
        missing = integration.missing_settings()
        if missing:  # asking "Configure?" would only lead to a refusal
            self._app.push_screen(
                ConfirmScreen(
                    f"{integration.name} cannot be configured yet",
                    [
                        f"Configuring needs its {missing}.",
                        "Edit settings (e) to fill it in: with “Configure now” ticked there, "
                        "saving configures the integration.",
                    ],
                    confirm="Edit settings",
                    confirm_key="e",
                    id="configure-missing",
                ),
                lambda edit: self.edit(integration) if edit else None,
            )
            return
        self._change(
            integration,
            ConfirmScreen(
                f"Configure {integration.name}?",
                configure_lines(integration),
                confirm="Configure",
            ),
            self._calls.configure_integration,
        )

    def disable(self, integration: IntegrationView) -> None:
        n = integration.active_keys
        self._change(
            integration,
            ConfirmScreen(
                f"Disable {integration.name}?",
                [
                    f"Its {counted(n, 'active key')} stop{'s' if n == 1 else ''} working at "
                    f"once: every request presenting {'it' if n == 1 else 'them'} gets 401 "
                    "Unauthorized until you configure it again."
                    if n
                    else "It has no active key: no request stops working.",
                    "No new keys can be generated while it is disabled.",
                ],
                confirm="Disable",
                destructive=True,
                # Not `d`, the key that asked (and the reveal page's Done): `ddd`
                # typed out of habit must never stop every key.
                confirm_key="D",
            ),
            self._calls.disable_integration,
        )

    def _change(
        self,
        integration: IntegrationView,
        question: ConfirmScreen,
        change: Callable[[int], IntegrationView],
    ) -> None:
        app = self._app

        def confirmed(yes: bool | None) -> None:
            if yes:
                call_service(
                    app,
                    lambda: change(integration.id),
                    lambda changed: app.screen.post_message(IntegrationsChanged(select=changed.id)),
                    group="integration-change",
                )

        app.push_screen(question, confirmed)
