"""A SQLite store deleted or replaced under a running keydesk takes no more
writes: a key created into the unlinked file would be shown once and lost."""

from __future__ import annotations

import os

import pytest

from keydesk.errors import StoreUnavailable
from keydesk.service import KeyService
from keydesk.store.engine import open_store


def _store_with_integration(path):
    url = f"sqlite:///{path}"
    store = open_store(url, create=True)
    service = KeyService(store, "alice")
    service.create_workspace("acme")
    service.add_integration(
        "acme", "gh", "GitHub", client_id="c", redirect_uri="https://x.example/cb", configure=True
    )
    return store, service


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_no_key_is_created_into_a_store_no_longer_at_its_path(tmp_path, how):
    path = tmp_path / "k.db"
    store, service = _store_with_integration(path)
    for name in ("k.db", "k.db-wal", "k.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    if how == "replaced":
        other, _ = _store_with_integration(tmp_path / "other.db")
        other.dispose()
        os.replace(tmp_path / "other.db", path)
    with pytest.raises(StoreUnavailable, match="deleted or replaced under this process"):
        service.create_key("gh", "prod")
    store.dispose()
