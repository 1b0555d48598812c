"""Running keydesk as another OS user, for the tests of proven identity
(sudo, PostgreSQL peer authentication). A helper, not a test.

The test's own interpreter may live where other users cannot run it (a
pyenv under /root): then the system's Python of the same version runs
keydesk from this checkout, with the test's site-packages."""

from __future__ import annotations

import compileall
import functools
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).parents[2]
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")


@functools.cache
def compile_checkout() -> None:
    """This checkout's keydesk byte-compiled, as pip compiles what it
    installs: another OS user cannot write __pycache__ here, so each of
    their keydesk processes compiled the ~80 modules it imports (~0.2 s of
    CPU each, tens of processes a module). Once a process; only missing or
    stale files are compiled (~0.7 s from none)."""
    compileall.compile_dir(ROOT / "src" / "keydesk", quiet=1)


@functools.cache
def python_for(user: str) -> tuple[list[str], dict[str, str]] | str:
    """(argv prefix that runs `python`, environment to add) with which
    `user` can import keydesk from this checkout; or why there is none.
    Asked once per user and process: each probe is a Python importing
    keydesk, psycopg and SQLAlchemy (~0.5 s of CPU; tests/store/test_path.py
    asks for `nobody` four times)."""
    compile_checkout()
    path = os.pathsep.join([str(ROOT / "src"), sysconfig.get_paths()["purelib"]])
    for python, extra in (
        (sys.executable, {"PYTHONPATH": str(ROOT / "src")}),
        (str(SYSTEM_PYTHON), {"PYTHONPATH": path}),
    ):
        probe = subprocess.run(
            ["runuser", "-u", user, "--", python, "-c", "import keydesk.cli, psycopg, sqlalchemy"],
            env={**os.environ, **extra},
            capture_output=True,
            timeout=60,
            check=False,
        )
        if probe.returncode == 0:
            return [python], extra
    return (
        f"no Python that {user} may run can import keydesk from {ROOT} "
        f"(tried {sys.executable} and {SYSTEM_PYTHON})"
    )
