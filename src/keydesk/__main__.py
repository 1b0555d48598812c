"""`keydesk` and `python -m keydesk`. The terminal stops echoing before
anything else loads (keydesk.tui.held_keys.hold_from_the_start)."""

from __future__ import annotations


def main() -> int:
    from keydesk.tui.held_keys import hold_from_the_start, let_go

    hold_from_the_start()
    try:
        from keydesk.cli import main as run

        return run()
    finally:
        let_go()


if __name__ == "__main__":
    raise SystemExit(main())
