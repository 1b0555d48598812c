"""Limits and networks in the TUI: the create form sets them (a bad one
refused on its line), a key's page shows them with the quota left and where
the key was used from, marking a network it was not used from before."""

from __future__ import annotations

from datetime import timedelta

from textual import events
from textual.widgets import Input, Label, Static

from keydesk.service import KeyService
from keydesk.store.models import KeySource
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.widgets.guarded_input import KEY_CLEARED
from keydesk.verify import Verifier
from keydesk.views import utcnow
from keydesk.views.usage import usage_hour
from tests.tui.screenshots import open_create_form, open_integration, open_key_page, settle


async def test_the_create_form_sets_limits_and_refuses_a_bad_one_on_its_line(demo_store):
    app = KeydeskApp(KeyService(demo_store, "alice"))
    async with app.run_test(size=(60, 20)) as pilot:
        form = await open_create_form(pilot, "github")
        form.query_one("#rate", Input).value = "600 per minute"
        form.query_one("#allow-from", Input).value = "10.0.0.0/8 2001:db8::/32"
        await pilot.press(*"limited", "enter")
        await settle(pilot)
        error = str(form.query_one("#limits-error", Static).render())
        assert "is not a limit" in error and "\n" not in error
        line = form.query_one("#limits-error", Static).region  # scrolled into sight
        assert line.y > 0 and line.bottom <= app.size.height - 1  # above the footer
        form.query_one("#rate", Input).value = "600/min"
        form.query_one("#quota", Input).value = "1000/d"
        form.query_one("#label", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
    (key,) = [k for k in KeyService(demo_store, "alice").keys("github") if k.label == "limited"]
    assert (key.limits.rate, key.limits.quota) == ("600/min", "1000/d")
    assert key.limits.allow_from == ("10.0.0.0/8", "2001:db8::/32")


async def test_the_create_forms_limits_are_labelled_and_blank_means_none_as_in_l(demo_store):
    """Rate, quota and networks are named on their lines (not by placeholders
    alone); the workspace's default rate is filled in, and cleared it means
    no rate, as a blank rate does in `l`."""

    alice = KeyService(demo_store, "alice")
    alice.set_default_rate("acme", "600/min")
    app = KeydeskApp(alice)
    async with app.run_test(size=(60, 20)) as pilot:
        await open_integration(pilot, "github")
        await pilot.press("g")
        await settle(pilot)
        form = app.screen
        assert "Limits (blank: none)" in [str(label.render()) for label in form.query(Label)]
        for name, field in (("Rate", "#rate"), ("Quota", "#quota"), ("Networks", "#allow-from")):
            row = form.query_one(field, Input).parent
            assert str(row.query_one(Label).render()) == name
        assert form.query_one("#rate", Input).value == "600/min"
        assert "600/min: the workspace's default" in str(form.query_one("#rate-default").render())
        form.query_one("#rate", Input).value = ""
        await pilot.press(*"unlimited", "enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        await pilot.press("c", "d")  # copied, Done: the key's tab
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        await pilot.press(*"defaulted", "enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
    rates = {k.label: k.limits.rate for k in alice.keys("github")}
    assert (rates["unlimited"], rates["defaulted"]) == (None, "600/min")


async def test_a_keys_page_shows_limits_quota_left_and_sources_marking_new_networks(demo_store):
    alice = KeyService(demo_store, "alice")
    created = alice.create_key(
        "github", "fenced", quota="100/month", allow_from=["0.0.0.0/0", "::/0"],
        expires_at=utcnow() + timedelta(days=30),
    )  # fmt: skip
    verifier = Verifier(demo_store.engine)
    try:
        for source in ("203.0.113.5", "203.0.113.5", "198.51.100.7"):
            verifier.verify(created.private_key.reveal(), source)
        verifier.flush()
    finally:
        verifier.close()
    with demo_store.session() as session:  # used from 203.0.113.0/24 two days ago too
        session.add(
            KeySource(
                api_key_id=created.key.id,
                hour=usage_hour(utcnow().timestamp()) - 48,
                source="203.0.113.9",
                count=4,
            )
        )
        session.commit()
    app = KeydeskApp(alice)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_key_page(pilot, "github", created.key.public_key)
        page = app.screen
        assert isinstance(page, KeyScreen)
        facts = dict(page.query_one("#key-facts").rows)
        print(page.key.limits, page.page and page.page.key.limits, facts)
        assert facts["Limits"] == "rate none · quota 100/month (97 left)"
        assert facts["Networks"] == "0.0.0.0/0 ::/0"
        assert page.query_one("#key-sources").rows == [
            ("203.0.113.5", "2"),  # 203.0.113.0/24 was seen before
            ("198.51.100.7", "1  new network"),
        ]


async def test_l_on_a_keys_page_changes_its_limits_and_refuses_a_bad_one(demo_store):
    from keydesk.tui.screens.key_limits import KeyLimitsScreen

    alice = KeyService(demo_store, "alice")
    created = alice.create_key("github", "editable", rate="5/s")
    app = KeydeskApp(alice)
    async with app.run_test(size=(60, 20)) as pilot:
        await open_key_page(pilot, "github", created.key.public_key)
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, KeyLimitsScreen)
        assert dialog.query_one("#limit-rate", Input).value == "5/s"
        dialog.query_one("#limit-from", Input).value = "10.0.0.1/8"
        await pilot.press("enter")
        await settle(pilot)
        assert "did you mean 10.0.0.0/8" in str(dialog.query_one("#limit-error", Static).render())
        dialog.query_one("#limit-rate", Input).focus()
        await pilot.press("end")  # focus selected the rate: the paste goes after it
        app.post_message(events.Paste(created.private_key.reveal()))  # pasted in the wrong place
        await settle(pilot)
        assert dialog.query_one("#limit-rate", Input).value == "5/s"  # cleared at once
        assert str(dialog.query_one("#limit-error", Static).render()) == KEY_CLEARED
        dialog.query_one("#limit-from", Input).value = "10.0.0.0/8"
        dialog.query_one("#limit-rate", Input).value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen)
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert dict(app.screen.query_one("#key-facts").rows)["Networks"] == "10.0.0.0/8"
    limits = alice.key(created.key.public_key).limits
    assert (limits.rate, limits.allow_from) == (None, ("10.0.0.0/8",))


async def test_a_keys_page_offers_l_and_its_dialog_boxes_its_fields(demo_store):
    """`l Limits` in the footer and a Limits row before any limit is set
    (#21 walk: only ? revealed it); the dialog's fields are boxed, as the
    create form's are, and fit at 60x20."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    from keydesk.tui.screens.key_limits import KeyLimitsScreen

    alice = KeyService(demo_store, "alice")
    created = alice.create_key("github", "plain", rate="none")
    app = KeydeskApp(alice)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_key_page(pilot, "github", created.key.public_key)
        page = app.screen
        assert isinstance(page, KeyScreen)
        assert dict(page.query_one("#key-facts").rows)["Limits"] == "none (l to set)"
        keys = [k.description for k in page.query_one(Footer).query(FooterKey)]
        assert "Limits" in keys, keys
        await pilot.resize_terminal(60, 20)
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, KeyLimitsScreen)
        for name in ("rate", "quota", "from"):
            field = dialog.query_one(f"#limit-{name}", Input)
            assert field.styles.border_top[0] not in ("", "none", "hidden"), name
            assert field.region.y >= 0 and field.region.bottom <= app.size.height - 1, name
