"""Programs the tests run that pip does not install (nginx, Caddy,
systemd-analyze, …): where one is missing the test is skipped, saying what
to install; but where .ci/run installed them all it sets
KEYDESK_CI_REQUIRE_TOOLS=1, and a missing one fails the test instead: CI
must never pass by skipping what it was meant to run."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

REQUIRE_TOOLS_ENV = "KEYDESK_CI_REQUIRE_TOOLS"


def not_installed(reason: str) -> NoReturn:
    """Skip for `reason` (what is missing and how to install it); fail
    instead when KEYDESK_CI_REQUIRE_TOOLS=1."""
    if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_TOOLS_ENV}=1: .ci/run installs it", pytrace=False)
    pytest.skip(reason)


def program(name: str, install: str, path: str | None = None) -> str:
    """The path of program `name` (looked up in `path`, else PATH), or
    not_installed, with `install` (the Debian command) as its remedy."""
    found = shutil.which(name, path=path)
    if found is None:
        not_installed(f"{name} is not installed ({install})")
    return found
