"""`keydesk key revoke` on a key already revoked says so before it asks
(off a terminal it said "not revoked: pass --yes", as if nothing were done)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("yes", [(), ("--yes",)], ids=["asked", "yes"])
def test_an_already_revoked_key_is_said_so_before_any_question(configured, yes):
    _, out, _ = configured(
        "key", "create", "--integration", "github", "--label", "old", "--json"
    )  # fmt: skip
    public_key = json.loads(out)["public_key"]
    assert configured("key", "revoke", public_key, "--yes")[0] == 0
    code, out, err = configured("key", "revoke", public_key, *yes, stdin="")
    assert (code, out) == (1, "")
    assert err == f"keydesk: key {public_key} (old) is already revoked\n"
