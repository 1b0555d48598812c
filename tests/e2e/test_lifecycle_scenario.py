"""The lifecycle scenario walked through the CLI (tests/support/scenarios.py holds the
steps and the store every walk must leave; the TUI's walk, in
tests/tui/test_key_lifecycle.py, ends with the same comparison)."""

from __future__ import annotations

import json

from keydesk.identity import acting_account
from keydesk.store.engine import open_store
from keydesk.views import utcnow
from tests.cli.test_lifecycle import Keydesk
from tests.support import scenarios as s


def walk_through_the_cli(kd: Keydesk) -> None:
    kd.ok("init", "--workspace", s.WORKSPACE)
    kd.ok(
        "integration", "add", "--workspace", s.WORKSPACE, "--name", s.INTEGRATION,
        "--provider", "GitHub", "--client-id", "Iv1.abc",
        "--redirect-uri", "https://app.example.com/cb",
        "--scopes", " ".join(s.INTEGRATION_SCOPES), "--configure",
    )  # fmt: skip
    scopes = [arg for scope in s.PROD_SCOPES for arg in ("--scope", scope)]
    prod = kd.json(
        "key", "create", "--integration", s.INTEGRATION, "--label", s.PROD_LABEL,
        "--expires-in", f"{s.PROD_LIFETIME_DAYS}d", *scopes,
    )  # fmt: skip
    kd.json("key", "rotate", prod["public_key"], "--overlap", f"{s.OVERLAP_HOURS}h")
    kd.ok("workspace", "set-policy", "--workspace", s.WORKSPACE,
          "--max-key-lifetime", f"{s.POLICY_DAYS}d")  # fmt: skip
    refusal = kd.refused(
        "key", "create", "--integration", s.INTEGRATION, "--label", s.CI_LABEL, "--no-expiry"
    )
    assert s.POLICY_REFUSAL in refusal
    scopes = [arg for scope in s.CI_SCOPES for arg in ("--scope", scope)]
    kd.json(
        "key", "create", "--integration", s.INTEGRATION, "--label", s.CI_LABEL,
        "--expires-in", f"{s.POLICY_DAYS}d", *scopes,
    )  # fmt: skip


def test_the_lifecycle_scenario_through_the_cli(store_url, monkeypatch, capsys):
    monkeypatch.delenv("KEYDESK_ACCOUNT", raising=False)
    kd = Keydesk(store_url, monkeypatch, capsys)
    walk_through_the_cli(kd)
    store = open_store(store_url)
    try:
        summary = s.lifecycle_summary(store, acting_account(store))
    finally:
        store.dispose()
    assert summary == s.expected_lifecycle_summary(utcnow().date()), json.dumps(summary, indent=1)
