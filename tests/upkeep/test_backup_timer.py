"""deploy/keydesk-backup.service, as shipped: its commands, with %% put in
and a test folder standing for the state folder /var/lib/keydesk, make a
private backup of the store and keep the folder to 14 days."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _command(unit: str, key: str, home: Path) -> str:
    line = re.search(rf"^{key}=(.*)$", unit, re.MULTILINE)
    assert line is not None, key
    # %h, %u, %U, %s are the service manager's user's (root's), never User='s.
    assert not re.search(r"%[huUs]", line.group(1)), line.group(0)
    command = line.group(1).replace("/var/lib/keydesk", str(home)).replace("%%", "%")
    keydesk = f"{shlex.quote(sys.executable)} -m keydesk"
    return command.replace("/opt/keydesk/bin/keydesk", keydesk)


def test_the_timer_backs_the_store_up_privately(configured, tmp_path):
    unit = (DEPLOY / "keydesk-backup.service").read_text()
    timer = (DEPLOY / "keydesk-backup.timer").read_text()
    assert "OnCalendar=hourly" in timer and "User=keydesk" in unit
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    # The store it backs up is the unit's own word, the one serve's unit
    # serves (the default store of the keydesk user is not it); here
    # tmp_path/cli.db stands for it.
    serve = (DEPLOY / "keydesk-serve.service").read_text()
    store = _environment(unit)["KEYDESK_DATABASE_URL"]
    assert store == _environment(serve)["KEYDESK_DATABASE_URL"]
    assert store == "sqlite:////var/lib/keydesk/keydesk.db"
    env = {**os.environ, "KEYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    start = shlex.split(_command(unit, "ExecStart", home))
    done = subprocess.run(start, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (made,) = (home / "backups").iterdir()
    assert re.fullmatch(r"keydesk-\d{8}T\d{6}Z\.db", made.name)
    assert made.stat().st_mode & 0o777 == 0o600
    assert (home / "backups").stat().st_mode & 0o777 == 0o700
    if shutil.which("find") is None:
        pytest.skip("no find")
    old = home / "backups" / "keydesk-20000101T000000Z.db"
    old.write_bytes(b"")
    os.utime(old, (0, 0))
    prune = shlex.split(_command(unit, "ExecStartPost", home).replace("/usr/bin/find", "find"))
    subprocess.run(prune, check=True, timeout=30)
    assert sorted(p.name for p in (home / "backups").iterdir()) == [made.name]


def _environment(unit: str) -> dict[str, str]:
    pairs = re.findall(r"^Environment=(\S+?)=(\S*)$", unit, re.MULTILINE)
    return dict(pairs)
