"""A membership's role changed with SQL to one keydesk does not know: the
Members screen says which row, under its table, and the interface goes on
(it said "unexpected error (ValueError)")."""

from __future__ import annotations

import sqlalchemy as sa
from textual.notifications import Notify

from tests.tui.screenshots import settle


async def test_the_members_screen_says_so_and_stays_up(make_app, demo_store):
    with demo_store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE membership SET role = 'superboss' WHERE account_id ="
                " (SELECT id FROM account WHERE name = 'carol')"
            )
        )
    app = make_app()
    posted: list[object] = []
    async with app.run_test(size=(100, 30), message_hook=posted.append) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        notices = [m.notification.message for m in posted if isinstance(m, Notify)]
        note = str(app.screen.note.render())
        assert note.startswith("The members could not be read: "), note
        assert "account 'carol' has the role 'superboss'" in note, note
        assert not any("unexpected error" in n for n in [*notices, note])
        await pilot.press("escape")
        await settle(pilot)
        assert app.is_running
