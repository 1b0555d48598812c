"""Running keydesk as another OS user, for the tests of proven identity
(sudo, PostgreSQL peer authentication). A helper, not a test.

The test's own interpreter may live where other users cannot run it (a
pyenv under /root): then the system's Python of the same version runs
keydesk from this checkout, with the test's site-packages."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).parents[2]
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")


@functools.cache
def python_for(user: str) -> tuple[list[str], dict[str, str]] | str:
    """(argv prefix that runs `python`, environment to add) with which
    `user` can import keydesk from this checkout; or why there is none.
    Asked once per user and process: each probe is a Python importing
    keydesk, psycopg and SQLAlchemy (~0.5 s of CPU; tests/store/test_path.py
    asks for `nobody` four times)."""
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
