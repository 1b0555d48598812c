"""SSH keys act only where an owner of that workspace approved them, and a
session scans only what the admin sends: end to end, through the real sshd
and deployment of tests/e2e/test_ssh.py (tests/e2e/conftest.py: the
worker's, as it was made)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_ssh import succeeded
from tests.support.sshd import keygen, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")

# -- an SSH key acts only where an owner of that workspace approved it ------------------


def test_a_key_another_teams_owner_let_in_for_dave_cannot_act_in_acme(deployment, tmp_path):
    """The attack of issue #19: mallory, who may run keydesk as the service
    account (sudo -u), makes mteam, adds dave and lets her own key in as dave.
    acme's owner then adds dave to acme: told a key of dave's waits, and
    through sshd the key is refused in acme until acme's owner approves it."""
    server = deployment.server
    mallory = "daemon"  # any OS user allowed to run keydesk as the service account
    deployment.ok("init", "--workspace", "mteam", sudo_by=mallory)
    deployment.ok("member", "add", "--workspace", "mteam", "--member", "dave", "--role", "admin",
                  sudo_by=mallory)  # fmt: skip
    key = keygen(tmp_path / "mallory")
    said = json.loads(deployment.ok(
        "ssh", "authorize", "--account", "dave", "--key", "-", "--json",
        input=key.with_suffix(".pub").read_text(), sudo_by=mallory,
    ))  # fmt: skip
    fingerprint = said["fingerprint"]
    assert said["approved"] == ["mteam"]

    added = deployment.ok("member", "add", "--workspace", "acme", "--member", "dave", "--role",
                          "admin")  # fmt: skip
    assert f"SSH key ({fingerprint}) that cannot act in 'acme'" in added
    approve = f"keydesk ssh authorize --account dave --key {fingerprint} --workspace acme"
    for command in (
        ["key", "create", "--integration", "github", "--label", "stolen", "--json"],
        ["key", "list", "--workspace", "acme", "--json"],
        ["audit", "--workspace", "acme", "--json"],
        ["member", "add", "--workspace", "acme", "--member", "eve", "--role", "admin"],
    ):
        refused = server.ssh(key, *command)
        assert refused.returncode == 1 and refused.stdout == "", refused.stderr
        assert refused.stderr.count("\n") == 1 and approve in refused.stderr
    listed = json.loads(succeeded(server.ssh(key, "member", "list", "--json"), server))
    assert {m["workspace"] for m in listed} == {"mteam"}  # nothing of acme
    trail = deployment.audit()  # acme's owner's view
    assert not [e for e in trail if e["label"] == "stolen" or e["target"] == "eve"]

    deployment.ok("ssh", "authorize", "--account", "dave", "--key", fingerprint, "--workspace",
                  "acme")  # fmt: skip
    made = server.ssh(key, "key", "create", "--integration", "github", "--label", "approved",
                      "--json")  # fmt: skip
    assert json.loads(succeeded(made, server))["created_by"] == "dave"
    approvals = [e for e in deployment.audit() if e["action"] == "ssh.approve"]
    [here] = [e for e in approvals if e["target"] == fingerprint]
    assert (here["workspace"], here["actor"], here["label"]) == ("acme", server.user, "dave")


def test_a_line_from_before_approvals_is_refused_until_upgraded(deployment, tmp_path):
    server = deployment.server
    key = keygen(tmp_path / "olga")  # a key of alice's, the deployment's admin, of its own
    fingerprint = deployment.authorize("alice", key)["fingerprint"]
    ak = server.authorized_keys
    ak.write_text(ak.read_text().replace(f' {fingerprint}"', '"'))  # as keydesk wrote it before
    refused = server.ssh(key, "member", "list")
    assert refused.returncode == 1 and "an owner upgrades it with" in refused.stderr
    deployment.ok("ssh", "authorize", "--account", "alice", "--key", fingerprint)
    assert json.loads(succeeded(server.ssh(key, "member", "list", "--json"), server))


def test_a_session_scans_only_what_the_admin_sends(deployment, alice):
    server = deployment.server
    refused = server.ssh(alice, "scan", str(server.home))
    assert (refused.returncode, refused.stdout) == (3, "")
    assert "scans only text you send, never files of this server" in refused.stderr
    # A live key of a workspace alice is not in: found, and nothing of it shown.
    deployment.ok("init", "--workspace", "vault", sudo_by="root")
    deployment.ok(
        "integration", "add", "--workspace", "vault", "--name", "vault-svc", "--provider", "X",
        "--client-id", "c", "--redirect-uri", "https://v.example.com/cb", "--configure",
        sudo_by="root",
    )  # fmt: skip
    made = deployment.ok("key", "create", "--integration", "vault-svc", "--label", "vault-label",
                         "--json", sudo_by="root")  # fmt: skip
    private = json.loads(made)["api_key"]
    found = server.ssh(alice, "scan", "-", input=f"TOKEN={private}\n")
    assert found.returncode == 2, found.stderr  # live somewhere
    assert "other-workspace" in found.stdout
    assert "vault" not in found.stdout + found.stderr
