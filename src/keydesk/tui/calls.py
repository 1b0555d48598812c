"""Running service calls off the event loop, with errors shown, never raised.

Every store round trip and argon2 hash goes through `call_service`, so the
interface never freezes and a failure is a notification, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.app import App
from textual.dom import DOMNode
from textual.worker import Worker, get_current_worker

from keydesk.errors import KeydeskError
from keydesk.tui.display import ended, visible

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
    thread, or its user-facing error to `on_error` (default: a notification).
    A cancelled call (an exclusive group's newer call replaced it) delivers
    nothing."""
    app = node.app

    def report(message: str) -> None:
        if on_error is not None:
            on_error(message)
        else:
            notify_error(app, message)

    def run() -> None:
        try:
            result = work()
        except KeydeskError as error:
            deliver(node, report, error.message)
            return
        except Exception as error:  # the UI must survive anything the store throws
            deliver(
                node,
                report,
                f"unexpected error ({type(error).__name__}); the operation did not complete",
            )
            return
        deliver(node, on_success, result)

    # A fixed description: Textual would otherwise build one from repr() of
    # the arguments, on the UI thread (a list of 100,000 keys: 150 ms).
    return node.run_worker(
        run,
        thread=True,
        group=group,
        exclusive=exclusive,
        exit_on_error=False,
        description=f"keydesk {group}",
    )


def notify_error(app: App[Any], message: str) -> None:
    """A service call's user-facing error, as a notification (shown literally),
    ending as a sentence does."""
    app.notify(visible(ended(message)), severity="error", title="keydesk", markup=False)


def deliver(node: DOMNode, callback: Callable[[T], Any], value: T) -> None:
    """From a service call's thread: run `callback(value)` on the UI thread,
    unless the call was cancelled meanwhile (also for partial results)."""
    if not get_current_worker().is_cancelled:
        node.app.call_from_thread(callback, value)
