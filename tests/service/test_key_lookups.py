"""A key asked for by its public key, by someone who may not see it, is
answered exactly as a key that does not exist: "mallory is not a member of
workspace 'acme'" told a stranger whose key it was. In an SSH session, a
key of a workspace the session's key may not act in is as unknown, and
`verify` there says only valid or refused and the public key (issue #19).
"""

from __future__ import annotations

import json

import pytest

from tests.cli import test_ssh as test_ssh_cli
from tests.cli.test_ssh import Host, fingerprint_of, ssh_key

template_store = test_ssh_cli.template_store
host = test_ssh_cli.host

UNKNOWN = "kdpk_AAAAAAAAAAAAAAAA"
BY_PUBLIC_KEY = {
    "usage": ("key", "usage", "{pk}"),
    "revoke": ("key", "revoke", "{pk}", "--yes"),
    "rotate": ("key", "rotate", "{pk}", "--overlap", "0", "--yes"),
    "audit": ("audit", "--key", "{pk}"),
    "audit json": ("audit", "--key", "{pk}", "--json"),
}


def acme_key(host: Host) -> dict[str, str]:
    out = host.ok("key", "create", "--integration", "github", "--label", "prod", "--json")
    made = json.loads(out)
    return {"public": made["public_key"], "private": made["api_key"]}


def answers(run, pk: str) -> dict[str, tuple[int, str, str]]:
    return {
        name: run(*(part.format(pk=pk) for part in argv)) for name, argv in BY_PUBLIC_KEY.items()
    }


def as_unknown(host: Host, run) -> None:
    """Each lookup of acme's key answers as for UNKNOWN, the key's name aside."""
    key = acme_key(host)["public"]
    theirs = answers(run, key)
    unknown = answers(run, UNKNOWN)
    for name, (code, out, err) in theirs.items():
        assert code != 0, name
        assert "acme" not in out + err, name
        assert (code, out, err.replace(key, UNKNOWN)) == unknown[name], name
    assert [
        k["revoked_at"]
        for k in json.loads(host.ok("key", "list", "--integration", "github", "--json"))
    ] == [None]


def test_a_stranger_learns_nothing_of_whose_key_it_is(host):
    host.ok("init", "--workspace", "mteam", actor="mallory")
    as_unknown(host, lambda *argv: host.run(*argv, actor="mallory"))


def test_a_session_whose_key_is_not_approved_there_learns_nothing_either(host):
    """alice is an admin of acme; the key bea let in for her acts only in beta."""
    laptop = ssh_key("alice's other laptop")
    code, _, err = host.authorize("alice", laptop, actor="bea")
    assert code == 0, err
    fingerprint = fingerprint_of(laptop)
    as_unknown(host, lambda *argv: host.session("alice", " ".join(argv), key=fingerprint))


def test_verify_in_a_session_shows_nothing_of_a_workspace_its_key_may_not_act_in(host):
    key = acme_key(host)
    laptop = ssh_key("alice's other laptop")
    assert host.authorize("alice", laptop, actor="bea")[0] == 0
    elsewhere = fingerprint_of(laptop)
    code, out, err = host.session("alice", "verify", stdin=key["private"], key=elsewhere)
    assert (code, out, err) == (0, f"valid: {key['public']}\n", "")
    code, out, _ = host.session("alice", "verify --json", stdin=key["private"], key=elsewhere)
    assert (code, json.loads(out)) == (0, {"valid": True, "public_key": key["public"]})
    # Through a key approved in acme, and outside a session, all is shown as before.
    code, out, _ = host.session("alice", "verify", stdin=key["private"])
    assert (code, out) == (0, f"valid: {key['public']} 'prod' integration github in acme\n")
    code, out, _ = host.run("verify", "--json", actor="bea", stdin=key["private"])
    assert json.loads(out)["workspace"] == "acme"


@pytest.mark.parametrize("who", ["stranger", "session"])
def test_the_tui_asks_the_same_service(host, who):
    """The TUI's key page and its revoke and rotate call these same service
    methods: the answer is the one above."""
    from keydesk.errors import NotFound
    from keydesk.service import KeyService
    from keydesk.store.engine import open_store

    key = acme_key(host)["public"]
    if who == "session":
        laptop = ssh_key("alice's other laptop")
        assert host.authorize("alice", laptop, actor="bea")[0] == 0
    store = open_store(f"sqlite:///{host.store_path}")
    try:
        service = (
            KeyService(store, "bea")
            if who == "stranger"
            else KeyService(store, "alice", ssh_key=fingerprint_of(ssh_key("alice's other laptop")))
        )
        for ask in (service.key, service.revoke_key, lambda pk: service.audit(key=pk)):
            with pytest.raises(NotFound) as unknown:
                ask(key)
            assert unknown.value.message == f"no key {key}"
    finally:
        store.dispose()
