"""The SSH deployment of tests/e2e/test_ssh.py and test_ssh_approvals.py:
made once a worker (sshd, a service account, keydesk installed for it and
initialised: ~4 s, ~13 s under load), and given to each module as it was
made, so that neither module sees what the other did."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ssh_deployment import Deployment, deployed
from tests.support.sshd import keygen, unavailable


@pytest.fixture(scope="session")
def ssh_deployment(tmp_path_factory) -> Iterator[Deployment]:
    if (why := unavailable()) is not None:
        pytest.skip(why)
    with deployed(tmp_path_factory.mktemp("ssh-deployment")) as made:
        if isinstance(made, str):
            pytest.skip(made)
        yield made


@pytest.fixture(scope="module")
def deployment(ssh_deployment) -> Deployment:
    """The worker's deployment, its service account's home (store,
    authorized_keys) as it was made: this module's own from here on."""
    ssh_deployment.reset()
    return ssh_deployment


@pytest.fixture(scope="module")
def alice(deployment, tmp_path_factory) -> Path:
    """Alice's key, authorized once for the module by the service account (acme's owner)."""
    key = keygen(tmp_path_factory.mktemp("alice") / "id_ed25519")
    deployment.authorize("alice", key)
    return key
