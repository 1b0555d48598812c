"""keydesk.tui.screens.help.in_brackets: a refusal's reason in ?'s brackets
starts lower-case ("(no key here: …)"), names and keys as written."""

from __future__ import annotations

from keydesk.tui.screens.help import in_brackets


def test_a_reason_in_brackets_starts_lower_case():
    assert in_brackets("No key here: nothing to rotate") == "no key here: nothing to rotate"
    assert in_brackets("This integration is a draft; configure it first.") == (
        "this integration is a draft; configure it first"
    )


def test_a_name_or_a_key_starting_a_reason_is_kept_as_written():
    assert in_brackets("Okta is a draft: configure it first (c)") == (
        "Okta is a draft: configure it first (c)"
    )
    assert in_brackets("K keeps a key whose replacement was revoked") == (
        "K keeps a key whose replacement was revoked"
    )
