"""PostgreSQL keeps a key's limits in keydesk's form whoever writes them
(revision 0008's CHECKs): a value keydesk could not read never lands."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_world(store_url, world):
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's rules")
    return world


@pytest.mark.parametrize(
    ("column", "value"),
    [("rate_limit", "600/week"), ("rate_limit", "0/s"), ("quota", "10 per day"),
     ("allow_from", "10.0.0.0/8,192.0.2.0/24"), ("allow_from", "example.com")],
)  # fmt: skip
def test_the_store_refuses_a_limit_keydesk_could_not_read(pg_world, column, value):
    key = pg_world.owner.create_key("github", "checked")
    with pytest.raises(sa.exc.IntegrityError), pg_world.store.engine.begin() as connection:
        connection.execute(
            sa.text(
                f"INSERT INTO key_policy (api_key_id, {column}) "
                "SELECT id, :value FROM api_key WHERE public_key = :key"
            ),
            {"value": value, "key": key.key.public_key},
        )
