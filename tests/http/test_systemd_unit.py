"""deploy/keydesk-serve.service as shipped: `systemd-analyze verify` finds
nothing to say, and `systemd-analyze security` rates it as the unit and the
README say, and it holds the sandboxing and the health check the README
describes. (That `keydesk serve` stops cleanly on SIGTERM and tells systemd
when it is ready: test_serve_process.py.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.installed import program
from tests.support.proxies import DEPLOY

UNIT = DEPLOY / "keydesk-serve.service"
README = Path(__file__).resolve().parents[2] / "README.md"


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    analyze = program("systemd-analyze", "apt-get install systemd")
    return subprocess.run([analyze, *args], capture_output=True, text=True, timeout=60)


def test_verify_has_nothing_to_say(tmp_path):
    # An image of the host's units, the unit as shipped, and its ExecStart at
    # the path it names (running the keydesk under test): verify checks each.
    units = next(p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir())  # fmt: skip
    shutil.copytree(units, tmp_path / "usr/lib/systemd/system", symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, tmp_path / "etc/systemd/system")
    keydesk = tmp_path / "opt/keydesk/bin/keydesk"
    keydesk.parent.mkdir(parents=True)
    keydesk.write_text(f'#!/bin/sh\nexec {sys.executable} -m keydesk "$@"\n')
    keydesk.chmod(0o755)
    result = _analyze("verify", f"--root={tmp_path}", UNIT.name)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_security_exposure_is_as_documented():
    result = _analyze("security", "--offline=true", "--threshold=20", str(UNIT))
    assert result.returncode == 0, result.stdout + result.stderr  # 2.0 at most
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d) (\w+)", result.stdout)
    assert found, result.stdout
    stated = f"{found[1]} {found[2]}"  # e.g. 0.9 SAFE
    assert f"rates this unit {stated}" in UNIT.read_text()
    assert f"exposure {stated}" in README.read_text()


def test_the_unit_is_as_the_readme_describes_it():
    # A dedicated user, the store the only place it may write, no
    # capabilities, a system-call filter, loopback only; ready when it
    # listens, and the health check on the port it listens on.
    unit = UNIT.read_text()
    for line in ("User=keydesk", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "StateDirectory=keydesk", "ReadWritePaths=/var/lib/keydesk",
                 "CapabilityBoundingSet=", "AmbientCapabilities=",
                 "SystemCallFilter=@system-service", "IPAddressDeny=any",
                 "IPAddressAllow=localhost", "Type=notify"):  # fmt: skip
        assert f"\n{line}\n" in unit
    command = re.search(r"^ExecStart=(.*)$", unit, re.MULTILINE)
    assert command is not None and "--host 127.0.0.1 --port 8080" in command[1]
    health = "curl -fsS http://127.0.0.1:8080/healthz"
    assert health in unit and health in README.read_text()
