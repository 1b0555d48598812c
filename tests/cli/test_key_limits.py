"""`keydesk key create/edit --rate/--quota/--allow-from`, `workspace
set-policy --default-rate`, and what `key list --json` and `key usage
--json` say of limits and sources."""

from __future__ import annotations

import json

from keydesk.verify import Verifier


def _create(cli, *options):
    code, out, err = cli(
        "key", "create", "--integration", "github", "--label", "api", "--json", *options
    )
    assert code == 0, err
    return json.loads(out)


def test_create_with_limits_then_edit_them(configured):
    made = _create(
        configured, "--rate", "600/min", "--quota", "1000000/month",
        "--allow-from", "10.0.0.0/8", "--allow-from", "2001:db8::/32",
    )  # fmt: skip
    assert (made["rate"], made["quota"]) == ("600/min", "1000000/month")
    assert made["allow_from"] == ["10.0.0.0/8", "2001:db8::/32"]
    public = made["public_key"]
    code, out, _ = configured("key", "edit", public, "--no-rate", "--allow-anywhere", "--json")
    assert code == 0
    edited = json.loads(out)
    assert (edited["rate"], edited["quota"], edited["allow_from"]) == (None, "1000000/month", [])
    code, out, _ = configured("key", "edit", public, "--rate", "5/s")
    assert code == 0 and "rate 5/s, quota 1000000/month; from anywhere" in out
    code, out, _ = configured("key", "list", "--integration", "github", "--json")
    assert json.loads(out)[0]["rate"] == "5/s"
    code, out, _ = configured("audit", "--key", public, "--json")
    events = [json.loads(line) for line in out.splitlines()]  # one event a line
    assert [e["label"] for e in events if e["action"] == "key.limits"] == [
        "rate 600/min, quota 1000000/month, from 10.0.0.0/8 2001:db8::/32",
        "rate none, quota 1000000/month, from anywhere",
        "rate 5/s, quota 1000000/month, from anywhere",
    ]


def test_key_list_json_shows_each_keys_networks_and_limits(configured):
    fenced = _create(
        configured, "--quota", "50/d", "--allow-from", "10.0.0.0/8", "--allow-from", "2001:db8::/32"
    )["public_key"]
    anywhere = _create(configured, "--label", "anywhere")["public_key"]  # the last --label
    code, out, err = configured("key", "list", "--integration", "github", "--json")
    assert code == 0, err
    listed = {k["public_key"]: k for k in json.loads(out)}
    assert listed[fenced]["allow_from"] == ["10.0.0.0/8", "2001:db8::/32"]
    assert (listed[fenced]["rate"], listed[fenced]["quota"]) == (None, "50/d")
    assert listed[anywhere]["allow_from"] == []


def test_a_bad_limit_or_network_is_one_line(configured):
    for options in (["--rate", "600/week"], ["--allow-from", "10.0.0.1/8"], ["--quota", "-1/d"]):
        code, out, err = configured(
            "key", "create", "--integration", "github", "--label", "x", *options
        )
        assert code != 0 and out == ""
        assert len(err.strip().splitlines()) == 1, err


def test_edit_with_nothing_to_change_says_what_it_takes(configured):
    public = _create(configured)["public_key"]
    code, _out, err = configured("key", "edit", public)
    assert code != 0 and "--rate" in err and "--allow-from" in err


def test_the_default_rate_is_set_by_owners_and_taken_by_new_keys(configured):
    code, out, err = configured(
        "workspace", "set-policy", "--workspace", "acme", "--default-rate", "100/h", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["default_rate"] == "100/h"
    assert _create(configured)["rate"] == "100/h"
    code, _out, err = configured("workspace", "set-policy", "--workspace", "acme")
    assert code != 0 and "--default-rate" in err


def test_rotate_carries_limits(configured):
    public = _create(configured, "--rate", "7/s", "--allow-from", "192.0.2.0/24")["public_key"]
    code, out, err = configured("key", "rotate", public, "--overlap", "1h", "--json")
    assert code == 0, err
    rotated = json.loads(out)
    assert (rotated["rate"], rotated["allow_from"]) == ("7/s", ["192.0.2.0/24"])


def test_rotate_carries_the_quota_to_the_replacement(configured):
    """README: `key rotate` gives the replacement the old key's limits: its quota too."""
    public = _create(configured, "--quota", "1000/month")["public_key"]
    code, out, err = configured("key", "rotate", public, "--overlap", "1h", "--json")
    assert code == 0, err
    rotated = json.loads(out)
    assert (rotated["rate"], rotated["quota"]) == (None, "1000/month")
    code, out, _ = configured("key", "list", "--integration", "github", "--json")
    listed = {k["public_key"]: k["quota"] for k in json.loads(out)}
    assert listed == {public: "1000/month", rotated["public_key"]: "1000/month"}


def test_usage_lists_quota_remaining_and_sources(configured, tmp_path):
    made = _create(configured, "--quota", "100/month")
    verifier = Verifier(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        for source in ("203.0.113.1", "203.0.113.1", "2001:db8::1"):
            verifier.verify(made["api_key"], source)
    finally:
        verifier.close()
    code, out, err = configured("key", "usage", made["public_key"], "--json")
    assert code == 0, err
    usage = json.loads(out)
    assert (usage["quota"], usage["quota_used"], usage["quota_remaining"]) == ("100/month", 3, 97)
    assert [(s["source"], s["count"]) for s in usage["sources"]] == [
        ("203.0.113.1", 2), ("2001:db8::1", 1),
    ]  # fmt: skip
    code, out, _ = configured("key", "usage", made["public_key"])
    assert "quota 100/month: 97 remaining" in out and "203.0.113.1" in out


def test_usage_without_json_prints_the_busiest_ten_sources_busiest_first(configured, tmp_path):
    """README: without `--json`, `key usage` prints the busiest ten sources."""
    made = _create(configured)
    verifier = Verifier(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        for n in range(1, 13):  # 203.0.113.n presents the key n times
            for _ in range(n):
                verifier.verify(made["api_key"], f"203.0.113.{n}")
    finally:
        verifier.close()
    code, out, err = configured("key", "usage", made["public_key"])
    assert code == 0, err
    table = out.split("USED FROM")[1].splitlines()[1:]  # the rows under its header
    shown = [line.split() for line in table if line.startswith("203.0.113.")]
    assert shown == [[f"203.0.113.{n}", str(n)] for n in range(12, 2, -1)]
