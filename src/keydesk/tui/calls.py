"""Running service calls off the event loop, with errors shown, never raised.

Every store round trip and argon2 hash goes through `call_service`, so the
interface never freezes and a failure is a notification, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.dom import DOMNode
from textual.worker import Worker, get_current_worker

from keydesk.errors import KeydeskError
from keydesk.tui.display import visible

T = TypeVar("T")


def call_service(
    node: DOMNode,
    work: Callable[[], T],
    on_success: Callable[[T], Any],
    *,
    on_error: Callable[[str], Any] | None = None,
    group: str = "service",
    exclusive: bool = True,
) -> Worker[None]:
    """Run `work` in a thread; hand its result to `on_success` on the UI
    thread, or its user-facing error to `on_error` (default: a notification)."""
    app = node.app

    def report(message: str) -> None:
        if on_error is not None:
            on_error(message)
        else:
            app.notify(visible(message), severity="error", title="keydesk", markup=False)

    def run() -> None:
        try:
            result = work()
        except KeydeskError as error:
            app.call_from_thread(report, error.message)
            return
        except Exception as error:  # the UI must survive anything the store throws
            app.call_from_thread(
                report, f"unexpected error ({type(error).__name__}); the operation did not complete"
            )
            return
        if not get_current_worker().is_cancelled:
            app.call_from_thread(on_success, result)

    return node.run_worker(run, thread=True, group=group, exclusive=exclusive, exit_on_error=False)
