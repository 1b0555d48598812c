"""`keydesk key keep`: a rotation whose replacement was revoked is shown as
such by `key list`, and its old key's stop can be cancelled."""

from __future__ import annotations

import json


def _rotated_then_replacement_revoked(cli) -> tuple[str, str]:
    code, out, err = cli("key", "create", "--integration", "github", "--label", "prod", "--json")
    assert code == 0, err
    old = json.loads(out)["public_key"]
    code, out, err = cli("key", "rotate", old, "--overlap", "23h", "--json")
    assert code == 0, err
    new = json.loads(out)["public_key"]
    assert cli("key", "revoke", new, "--yes")[0] == 0
    return old, new


def test_key_list_says_the_replacement_is_gone_and_keep_cancels_the_stop(configured):
    cli = configured
    old, _new = _rotated_then_replacement_revoked(cli)
    code, out, _ = cli("key", "list", "--integration", "github")
    assert code == 0 and "replacement revoked, stops in 2" in out  # 22 or 23 hours
    code, out, _ = cli("key", "list", "--integration", "github", "--json")
    by_key = {k["public_key"]: k for k in json.loads(out)}
    assert by_key[old]["replacement_revoked"] is True

    code, out, err = cli("key", "keep", old)
    assert code == 0, err
    assert out.startswith(f"kept {old} (prod): it keeps working until ") and out.count("\n") == 1
    code, out, _ = cli("key", "list", "--integration", "github", "--json")
    kept = {k["public_key"]: k for k in json.loads(out)}[old]
    assert kept["status"] == "active" and kept["expires_at"] > by_key[old]["expires_at"]
    code, out, _ = cli("audit", "--key", old, "--json")
    assert json.loads(out.splitlines()[-1])["action"] == "key.keep"


def test_keep_with_no_scheduled_stop_is_refused_in_one_line(configured):
    cli = configured
    code, out, _ = cli("key", "create", "--integration", "github", "--label", "ci", "--json")
    key = json.loads(out)["public_key"]
    code, out, err = cli("key", "keep", key, "--json")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and f"key {key} (ci) has no scheduled stop to cancel" in err


def test_keep_json_is_the_kept_key(configured):
    cli = configured
    old, _new = _rotated_then_replacement_revoked(cli)
    code, out, err = cli("key", "keep", old, "--json")
    assert code == 0, err
    kept = json.loads(out)
    assert kept["public_key"] == old and kept["status"] == "active"
