"""The framework integrations are extras: every keydesk module but theirs
imports where FastAPI, Flask (Werkzeug) and Django are not installed, and
theirs then fail naming the missing framework. import-linter checks the
imports as written (pyproject's contracts); this runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

FRAMEWORKS = ("fastapi", "flask", "werkzeug", "django")
INTEGRATIONS = {
    "keydesk.fastapi": "fastapi",
    "keydesk.http.fastapi": "fastapi",
    "keydesk.django": "django",
    "keydesk.http.django": "django",
}

_SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, json, pkgutil, sys

    frameworks, integrations = json.loads(sys.argv[1])

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in frameworks:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    import keydesk

    imported, missing = [], {}
    modules = sys.argv[2:] or [m.name for m in pkgutil.walk_packages(keydesk.__path__, "keydesk.")]
    for name in modules:
        if name == "keydesk.__main__" or ".migrations." in name:
            continue  # the command line; alembic's scripts, which only alembic runs
        try:
            importlib.import_module(name)
            imported.append(name)
        except ModuleNotFoundError as error:
            missing[name] = error.name
    loaded = sorted(name for name in sys.modules if name.partition(".")[0] in frameworks)
    print(json.dumps({"imported": imported, "missing": missing, "loaded": loaded}))
    """
)


def _imports(blocked: tuple[str, ...], *modules: str) -> dict:
    """What a fresh interpreter, where `blocked` cannot be imported, makes of
    `modules` (default: every keydesk module)."""
    argument = json.dumps([blocked, INTEGRATIONS])
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, argument, *modules],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_keydesk_imports_without_the_frameworks():
    found = _imports(FRAMEWORKS)
    assert found["missing"] == INTEGRATIONS  # each names its framework, nothing else fails
    assert found["loaded"] == []
    for core in ("keydesk.cli", "keydesk.tui.app", "keydesk.asgi", "keydesk.wsgi",
                 "keydesk.http.server", "keydesk.verify", "keydesk.service"):  # fmt: skip
        assert core in found["imported"]


def test_the_wsgi_middleware_needs_no_web_framework_at_all():
    """`pip install keydesk` is enough for KeydeskWSGI: no Starlette either."""
    found = _imports((*FRAMEWORKS, "starlette", "uvicorn"), "keydesk.wsgi", "keydesk.http.wsgi")
    assert found == {"imported": ["keydesk.wsgi", "keydesk.http.wsgi"], "missing": {}, "loaded": []}
