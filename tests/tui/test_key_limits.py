"""Limits and networks in the TUI: the create form sets them (a bad one
refused on its line), a key's page shows them with the quota left and where
the key was used from, marking a network it was not used from before."""

from __future__ import annotations

from datetime import timedelta

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Label, Static

from keydesk.service import KeyService
from keydesk.store.models import KeySource
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.widgets.guarded_input import KEY_CLEARED
from keydesk.verify import Verifier
from keydesk.views import utcnow
from keydesk.views.usage import usage_hour
from tests.tui.screenshots import open_create_form, open_key_page, settle


async def test_the_create_form_labels_sets_and_refuses_limits_blank_meaning_none_as_in_l(
    demo_store,
):
    """Rate, quota and networks are named on their lines (not by placeholders
    alone); the workspace's default rate is filled in, and cleared it means
    no rate, as a blank rate does in `l`. Limits typed are set, a bad one
    refused on its line, in sight above the footer at 60x20. One walk: three
    keys made one after another from the same form."""

    alice = KeyService(demo_store, "alice")
    alice.set_default_rate("acme", "600/min")
    app = KeydeskApp(alice)
    async with app.run_test(size=(60, 20)) as pilot:
        form = await open_create_form(pilot, "github")
        labels = [str(label.render()) for label in form.query(Label)]
        assert "Limits (blank: none)" in labels, ("labels", labels)
        for name, field in (("Rate", "#rate"), ("Quota", "#quota"), ("Networks", "#allow-from")):
            row = form.query_one(field, Input).parent
            assert str(row.query_one(Label).render()) == name, ("labels", field)
        assert form.query_one("#rate", Input).value == "600/min", "default rate filled in"
        default = str(form.query_one("#rate-default").render())
        assert "600/min: the workspace's default" in default, ("default rate", default)
        form.query_one("#rate", Input).value = ""
        await pilot.press(*"unlimited", "enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen), "rate cleared: created"
        await pilot.press("c", "d")  # copied, Done: the key's tab
        await settle(pilot)

        await pilot.press("g")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CreateKeyScreen), "second form"
        form.query_one("#rate", Input).value = "600 per minute"
        form.query_one("#allow-from", Input).value = "10.0.0.0/8 2001:db8::/32"
        await pilot.press(*"limited", "enter")
        await settle(pilot)
        error = str(form.query_one("#limits-error", Static).render())
        assert "is not a limit" in error and "\n" not in error, ("bad rate", error)
        line = form.query_one("#limits-error", Static).region  # scrolled into sight
        assert line.y > 0 and line.bottom <= app.size.height - 1, ("above the footer", line)
        form.query_one("#rate", Input).value = "600/min"
        form.query_one("#quota", Input).value = "1000/d"
        form.query_one("#label", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen), "limits fixed: created"
        await pilot.press("c", "d")
        await settle(pilot)

        await pilot.press("g")
        await settle(pilot)
        await pilot.press(*"defaulted", "enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen), "default rate kept: created"
    keys = {k.label: k.limits for k in alice.keys("github")}
    assert (keys["unlimited"].rate, keys["defaulted"].rate) == (None, "600/min")
    limited = keys["limited"]
    assert (limited.rate, limited.quota) == ("600/min", "1000/d")
    assert limited.allow_from == ("10.0.0.0/8", "2001:db8::/32")


async def test_a_keys_page_shows_limits_sources_offers_l_and_l_changes_them(demo_store):
    """One walk over three keys' pages. A fenced key's page shows its limits
    with the quota left and where it was used from, marking a network it was
    not used from before. A key without limits shows `l Limits` in the footer
    and a Limits row (#21 walk: only ? revealed it); the dialog's fields are
    boxed, as the create form's are, and fit at 60x20. On a third key, `l`
    changes its limits and refuses a bad one."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    from keydesk.tui.screens.key_limits import KeyLimitsScreen

    alice = KeyService(demo_store, "alice")
    created = alice.create_key(
        "github", "fenced", quota="100/month", allow_from=["0.0.0.0/0", "::/0"],
        expires_at=utcnow() + timedelta(days=30),
    )  # fmt: skip
    plain = alice.create_key("github", "plain", rate="none")
    editable = alice.create_key("github", "editable", rate="5/s")
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
        detail = await open_key_page(pilot, "github", created.key.public_key)
        page = app.screen
        assert isinstance(page, KeyScreen), "fenced: its page"
        facts = dict(page.query_one("#key-facts").rows)
        assert facts["Limits"] == "rate none · quota 100/month (97 left)", ("fenced", facts)
        assert facts["Networks"] == "0.0.0.0/0 ::/0", ("fenced", facts)
        assert page.query_one("#key-sources").rows == [
            ("203.0.113.5", "2"),  # 203.0.113.0/24 was seen before
            ("198.51.100.7", "1  new network"),
        ], "fenced: sources"

        await _other_key_page(pilot, detail, plain.key.public_key)
        page = app.screen
        assert isinstance(page, KeyScreen), "plain: its page"
        limits = dict(page.query_one("#key-facts").rows)["Limits"]
        assert limits == "none (l to set)", ("plain", limits)
        keys = [k.description for k in page.query_one(Footer).query(FooterKey)]
        assert "Limits" in keys, ("plain: footer", keys)
        await pilot.resize_terminal(60, 20)
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, KeyLimitsScreen), "plain: l"
        for name in ("rate", "quota", "from"):
            field = dialog.query_one(f"#limit-{name}", Input)
            assert field.styles.border_top[0] not in ("", "none", "hidden"), ("boxed", name)
            region = field.region
            assert region.y >= 0 and region.bottom <= app.size.height - 1, ("fits", name)
        # A refusal's last words were below the dialog's edge; the cursor
        # goes to the field at fault.
        await pilot.press(*"600/min", "tab", *"abc", "tab", *"[red]x[/]", "ctrl+s")
        await settle(pilot)
        error = dialog.query_one("#limit-error", Static)
        said = str(error.render())
        assert said.startswith("The quota 'abc' is not a limit"), said
        body = dialog.query_one("#dialog-body")
        assert body.region.contains_region(error.region), ("the refusal in view", error.region)
        assert dialog.focused is dialog.query_one("#limit-quota"), "at fault"
        await pilot.press("escape")
        await settle(pilot)  # answered once on screen
        await pilot.press("y")  # what was typed is discarded
        await settle(pilot)

        await _other_key_page(pilot, detail, editable.key.public_key)
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, KeyLimitsScreen), "editable: l"
        assert dialog.query_one("#limit-rate", Input).value == "5/s", "editable: its rate"
        await pilot.press("enter")  # nothing changed: nothing asked, nothing saved
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen), "editable: unchanged"
        said = [n.message for n in app._notifications]
        assert said[-1] == f"{editable.key.label}: nothing changed, nothing saved.", said
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#limit-from", Input).value = "10.0.0.1/8"
        await pilot.press("enter")
        await settle(pilot)
        error = str(dialog.query_one("#limit-error", Static).render())
        assert "did you mean 10.0.0.0/8" in error, ("editable: bad network", error)
        assert error.startswith("The allowlist entry '10.0.0.1/8'"), error  # not "A network"
        dialog.query_one("#limit-rate", Input).focus()
        await pilot.press("end")  # focus selected the rate: the paste goes after it
        app.post_message(events.Paste(editable.private_key.reveal()))  # in the wrong place
        await settle(pilot)
        rate = dialog.query_one("#limit-rate", Input).value
        assert rate == "5/s", ("editable: the paste cleared at once", rate)
        assert str(dialog.query_one("#limit-error", Static).render()) == KEY_CLEARED, "pasted"
        dialog.query_one("#limit-from", Input).value = "10.0.0.0/8"
        dialog.query_one("#limit-rate", Input).value = ""
        await pilot.press("enter")
        await settle(pilot)
        # A working key: asked first, what changes said (Enter typed ahead saved it).
        assert app.screen.id == "limits-confirm", "editable: asked"
        said = " ".join(str(s.render()) for s in app.screen.query(".dialog-line").results(Static))
        assert "Rate: 5/s -> none" in said and "From networks: anywhere -> 10.0.0.0/8" in said
        assert "Quota" not in said, said  # unchanged
        await pilot.press("S")
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen), "editable: saved"
        await app.workers.wait_for_complete()
        await settle(pilot)
        networks = dict(app.screen.query_one("#key-facts").rows)["Networks"]
        assert networks == "10.0.0.0/8", ("editable: saved networks", networks)
    limits = alice.key(editable.key.public_key).limits
    assert (limits.rate, limits.allow_from) == (None, ("10.0.0.0/8",))


async def _other_key_page(pilot: Pilot, detail: IntegrationDetailScreen, public_key: str) -> None:
    """From a key's page (or a dialog over it): back to the integration's
    keys, then the page of the key `public_key`."""
    for _ in range(3):
        if pilot.app.screen is detail:
            break
        await pilot.press("escape")
        await settle(pilot)
    assert pilot.app.screen is detail, ("back to the keys", pilot.app.screen)
    row = next(n for n, k in enumerate(detail.listed_keys()) if k.public_key == public_key)
    detail.table.move_cursor(row=row)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
