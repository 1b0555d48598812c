"""deploy/keydesk-notify.service and .timer, as shipped: systemd finds
nothing to say about them, and the service's command sends what is due, one
line per notice, once."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from keydesk.identity import acting_account
from keydesk.store.engine import open_store
from tests.support.installed import program

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICE, TIMER = DEPLOY / "keydesk-notify.service", DEPLOY / "keydesk-notify.timer"


def test_the_service_sends_what_is_due_once(configured, tmp_path):
    assert configured("key", "create", "--integration", "github", "--label", "prod",
                      "--expires-in", "2d")[0] == 0  # fmt: skip
    line = re.search(r"^ExecStart=(.*)$", SERVICE.read_text(), re.MULTILINE)
    assert line is not None
    command = shlex.split(line.group(1).replace("/opt/keydesk/bin/keydesk",
                                                f"{shlex.quote(sys.executable)} -m keydesk"))  # fmt: skip
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = open_store(url)
    me = acting_account(store)  # the account the service's processes act as (the OS user)
    store.dispose()
    assert configured("member", "add", "--workspace", "acme", "--account", me,
                      "--role", "owner")[0] == 0  # fmt: skip
    env = os.environ | {"KEYDESK_DATABASE_URL": url}
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(r"acme github 'prod' kdpk_\w+: expires in 2 days, at .*\n", run.stdout)
    assert configured("notify") == (0, "", "")  # sent once: the next run has nothing
    assert "OnCalendar=*:0/15" in TIMER.read_text() and "Persistent=true" in TIMER.read_text()


def test_systemd_verify_has_nothing_to_say(tmp_path):
    analyze = program("systemd-analyze", "apt-get install systemd")
    units = next(p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
                 if p.is_dir())  # fmt: skip
    shutil.copytree(units, tmp_path / "usr/lib/systemd/system", symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    for unit in (SERVICE, TIMER):
        shutil.copy(unit, tmp_path / "etc/systemd/system")
    keydesk = tmp_path / "opt/keydesk/bin/keydesk"
    keydesk.parent.mkdir(parents=True)
    keydesk.write_text(f'#!/bin/sh\nexec {sys.executable} -m keydesk "$@"\n')
    keydesk.chmod(0o755)
    result = subprocess.run(
        [analyze, "verify", f"--root={tmp_path}", SERVICE.name, TIMER.name],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
