"""keydesk deployed behind a real sshd as the README says (a helper, not a
test): a service account owns the store and runs keydesk; `keydesk init`
made it acme's owner, alice is an admin there and integration github is set
up. tests/e2e/conftest.py makes one a worker, and each module starts from it
as it was made (`Deployment.reset`)."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.sshd import SshServer, install_keydesk, run_as, running_sshd


@dataclass
class Deployment:
    server: SshServer
    keydesk: str  # the path the forced commands name
    prepared: Path  # the service account's home as the deployment made it

    @property
    def user(self) -> str:
        return self.server.user

    def as_service(
        self, *args: str, input: str | None = None, sudo_by: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`keydesk ARGS` run by the service account on its host: itself, or
        through `sudo -u` by the OS user `sudo_by`. That is runuser with the
        variables sudo sets, all keydesk reads of sudo: no sudo needed here."""
        environ = {}
        if sudo_by is not None:
            uid = str(pwd.getpwnam(sudo_by).pw_uid)
            environ = {"SUDO_USER": sudo_by, "SUDO_UID": uid, "SUDO_COMMAND": self.keydesk}
        return run_as(self.user, [self.keydesk, *args], input=input, environ=environ)

    def ok(self, *args: str, input: str | None = None, sudo_by: str | None = None) -> str:
        done = self.as_service(*args, input=input, sudo_by=sudo_by)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def authorize(self, account: str, key: Path) -> dict[str, object]:
        said = self.ok(
            "ssh", "authorize", "--account", account, "--key", "-", "--json",
            input=key.with_suffix(".pub").read_text(),
        )  # fmt: skip
        return json.loads(said)

    def audit(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.ok("audit", "--json").splitlines()]

    def reset(self) -> None:
        """The service account's home (its store, its authorized_keys, any
        file a test left) back to what the deployment made: a copy, with
        owners and modes (StrictModes checks them), in milliseconds where a
        new deployment took seconds."""
        home = self.server.home
        for entry in home.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        subprocess.run(
            ["cp", "-a", f"{self.prepared}/.", str(home)],
            check=True,
            capture_output=True,
            timeout=60,
        )


@contextlib.contextmanager
def deployed(workdir: Path) -> Iterator[Deployment | str]:
    """sshd for a fresh service account, which has run `keydesk init` (so it
    owns workspace acme), added alice as an admin and set up integration
    github; or why keydesk cannot be installed for it."""
    (workdir / "sshd").mkdir()
    with running_sshd(workdir / "sshd") as server:
        folder = Path(tempfile.mkdtemp(prefix="keydesk-e2e-"))
        try:
            os.chmod(folder, 0o755)  # mkdtemp's 0700 would shut the service account out
            installed = install_keydesk(folder / "install", server.user)
            if isinstance(installed, str):
                yield installed
                return
            spaced = folder / "key desk"  # the line must quote it for sh
            spaced.mkdir(mode=0o755)
            (spaced / "keydesk").symlink_to(installed)
            deployment = Deployment(server, str(spaced / "keydesk"), workdir / "prepared-home")
            deployment.ok("init", "--workspace", "acme")
            deployment.ok(
                "member", "add", "--workspace", "acme", "--member", "alice", "--role", "admin"
            )
            deployment.ok(
                "integration", "add", "--workspace", "acme", "--name", "github",
                "--provider", "GitHub", "--client-id", "Iv1.e2e",
                "--redirect-uri", "https://app.example.com/cb", "--configure",
            )  # fmt: skip
            subprocess.run(
                ["cp", "-a", str(server.home), str(deployment.prepared)],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            yield deployment
        finally:
            shutil.rmtree(folder, ignore_errors=True)
