"""`keydesk integration add` says what a draft still needs before keys, as
the TUI does: a complete one only to be configured, else its missing
settings by name."""

from __future__ import annotations


def test_a_complete_draft_is_told_the_command_that_configures_it(cli):
    assert cli("init", "--workspace", "acme")[0] == 0
    code, out, err = cli(
        "integration", "add", "--workspace", "acme", "--name", "stripe", "--provider", "Stripe",
        "--client-id", "ca_123", "--redirect-uri", "https://app.example.com/cb",
    )  # fmt: skip
    assert code == 0, err
    assert out.rstrip().endswith(
        "draft); no keys until it is configured: keydesk integration configure stripe"
    ), out
    assert "client id" not in out and "redirect URI" not in out


def test_a_draft_missing_a_setting_names_only_that_one(cli):
    assert cli("init", "--workspace", "acme")[0] == 0
    code, out, err = cli(
        "integration", "add", "--workspace", "acme", "--name", "okta", "--provider", "Okta",
        "--client-id", "0oa1",
    )  # fmt: skip
    assert code == 0, err
    assert "configuring it needs its redirect URI (keydesk integration edit okta" in out, out
    assert "client id" not in out


def test_a_configured_one_says_only_so(cli):
    assert cli("init", "--workspace", "acme")[0] == 0
    code, out, _ = cli(
        "integration", "add", "--workspace", "acme", "--name", "gh", "--provider", "GitHub",
        "--client-id", "Iv1", "--redirect-uri", "https://app.example.com/cb", "--configure",
    )  # fmt: skip
    assert code == 0 and out.rstrip().endswith("configured)"), out
