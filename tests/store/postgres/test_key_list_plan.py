"""The key list's plan as an admin's role (row-level security on): its cost
must stay under PostgreSQL's JIT threshold. A subselect per key on a table
whose policy reads api_key charged that policy to every row; at 20,000 keys
PostgreSQL spent ~4 s JIT-compiling a 0.5 s query (README, Benchmarks).
Costs, not times: the planner's estimate is what decides on the JIT."""

from __future__ import annotations

import json

import pytest

from keydesk.store.queries import _KEY_ORDER, _KEYS, _REPLACEMENT, _TAG_JOIN, _TAGGED, _TAGS
from tests.support.pg_team import acme_with_github

pytestmark = pytest.mark.postgres

KEYS = 4_000  # the former plan cost 259,000 here (73,000 at 2,000 keys: it grew as their square)


@pytest.fixture(scope="module")
def key_list_sql() -> str:
    keys = _KEYS.format(
        tags=_TAGS["postgresql"],
        replacement=_REPLACEMENT["postgresql"],
        tag_join=_TAG_JOIN["postgresql"],
    )
    return f"{keys} WHERE k.integration_id = %(integration)s"


def _plan_cost(team, sql: str, params: dict[str, object]) -> float:
    ((plan,),) = team.sql("alice", f"EXPLAIN (FORMAT JSON) {sql}", params)
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Total Cost"])


def test_an_admins_key_list_plans_under_the_jit_threshold(team, key_list_sql):
    alice = acme_with_github(team)
    integration = alice.integration("github").id
    _fill(team, integration)
    ((threshold,),) = team.sql("alice", "SHOW jit_above_cost")
    params = {"integration": integration}
    listed = team.sql("alice", f"{key_list_sql} ORDER BY {_KEY_ORDER}", params)
    assert len(listed) == KEYS  # row-level security lets alice see them all
    assert all(row[17] and row[17].startswith("env=v") for row in listed)
    assert _plan_cost(team, f"{key_list_sql} ORDER BY {_KEY_ORDER}", params) < float(threshold)
    tagged = _TAGGED.format(n=0).replace(":tag_name_0", "'env'").replace(":tag_value_0", "'v1'")
    filtered = f"{key_list_sql} AND {tagged} ORDER BY {_KEY_ORDER}"
    assert _plan_cost(team, filtered, params) < float(threshold)


def _fill(team, integration: int) -> None:
    """KEYS keys of alice's, each tagged, written as the server's superuser,
    without firing triggers: the trail's, a row each, took ~16 s of the
    server's time for 8,000 rows the plan never reads (its cost is the same)."""
    import psycopg

    with psycopg.connect(team.url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("SET session_replication_role = replica")
        connection.execute(
            "INSERT INTO api_key (integration_id, public_key, label, secret_hash, created_by,"
            " created_at) SELECT %(integration)s, 'kdpk_p' || lpad(n::text, 15, '0'),"
            " 'svc-' || n, 'x', (SELECT id FROM account LIMIT 1), now()"
            " FROM generate_series(1, %(keys)s) n",
            {"integration": integration, "keys": KEYS},
        )
        connection.execute(
            "INSERT INTO api_key_tag (api_key_id, name, value)"
            " SELECT id, 'env', 'v' || (id % 3) FROM api_key"
        )
        connection.execute("ANALYZE")
