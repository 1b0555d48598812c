"""Copies of a migrated PostgreSQL template, emptied and reused within one
worker (a helper of tests/conftest.py, not a test).

A copy made by CREATE DATABASE ... TEMPLATE costs the server ~0.4 s (most of
a PostgreSQL test's set-up; ~350 tests a run). When a test is done with its
copy, the copy goes back to the worker's pool only if it is again what a
fresh copy would be: no other session on it, and every table emptied with
its ids restarted (the template holds rows only in alembic_version). The
catalogue is compared with the template's first: a test that changed a
table, constraint, index, trigger, policy, function, grant, owner, setting
or statistic leaves a copy that is dropped, as every copy was before."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

# Everything about a database a test could change besides its rows, as one digest.
_CATALOGUE = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(format('%s:%s:%s:%s:%s:%s', c.relname, c.relkind, c.relowner::regrole,
          c.relacl, c.relrowsecurity, c.relforcerowsecurity), ',' ORDER BY c.relname)
     FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT string_agg(format('%s.%s:%s:%s:%s:%s', a.attrelid::regclass, a.attname,
          format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
          a.attacl), ',' ORDER BY a.attrelid::regclass::text, a.attnum)
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)),
          ',' ORDER BY conrelid::regclass::text, conname)
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  (SELECT string_agg(pg_get_indexdef(i.indexrelid), ',' ORDER BY i.indexrelid::regclass::text)
     FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT string_agg(format('%s %s', pg_get_triggerdef(t.oid), t.tgenabled), ','
          ORDER BY t.tgrelid::regclass::text, t.tgname)
     FROM pg_trigger t WHERE NOT t.tgisinternal),
  (SELECT string_agg(format('%s:%s:%s:%s:%s:%s:%s', tablename, policyname, permissive, roles,
          cmd, qual, with_check), ',' ORDER BY tablename, policyname) FROM pg_policies),
  (SELECT string_agg(format('%s %s %s %s %s %s', p.oid::regprocedure, md5(p.prosrc), p.proacl,
          p.proowner::regrole, p.prosecdef, p.proconfig), ','
          ORDER BY p.oid::regprocedure::text)
     FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace),
  (SELECT string_agg(format('%s %s %s', nspname, nspowner::regrole, nspacl), ','
          ORDER BY nspname) FROM pg_namespace),
  (SELECT format('%s %s', datacl, datdba::regrole) FROM pg_database
    WHERE datname = current_database()),
  (SELECT string_agg(format('%s %s', s.setrole, s.setconfig), ',' ORDER BY s.setrole)
     FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
    WHERE d.datname = current_database()),
  (SELECT string_agg(format('%s %s %s', defaclrole::regrole, defaclobjtype, defaclacl), ','
          ORDER BY defaclrole, defaclobjtype) FROM pg_default_acl),
  (SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension),
  (SELECT string_agg(version_num, ',' ORDER BY version_num) FROM alembic_version),
  (SELECT count(*) FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid
    WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()),
  (SELECT count(*) FROM pg_largeobject_metadata)
))"""

_TABLES = """SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables
WHERE schemaname = 'public' AND tablename <> 'alembic_version'"""

_OTHER_SESSIONS = """SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()"""


# After the TRUNCATE: a sequence no table owns would keep its count.
_SEQUENCES_USED = """SELECT count(*) FROM pg_sequences
WHERE schemaname = 'public' AND last_value IS NOT NULL"""


def digest(url: str, also: str = "") -> str:
    """The catalogue's digest of the database at `url`, and `also`'s
    (a query of one value, about what lies outside the database)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return _digest(connection, also)
    finally:
        engine.dispose()


def _digest(connection: sa.Connection, also: str) -> str:
    made = str(connection.execute(sa.text(_CATALOGUE)).scalar())
    return f"{made} {connection.execute(sa.text(also)).scalar()}" if also else made


def emptied(url: str, fresh: str, also: str = "") -> bool:
    """Whether the database at `url` is a fresh copy again (its digest,
    with `also`'s, is `fresh`), emptied here; False when it is not, or
    cannot be read."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(_OTHER_SESSIONS))
            if _digest(connection, also) != fresh:
                return False
            tables = connection.execute(sa.text(_TABLES)).scalar()
            connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return connection.execute(sa.text(_SEQUENCES_USED)).scalar() == 0
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


class ReusedCopies:
    """One worker's pool of emptied copies of the template `template`."""

    def __init__(self, server: str, template: str) -> None:
        self.server = server
        self.template = template
        self.free: list[str] = []
        self.fresh: str | None = None  # a fresh copy's catalogue digest

    @contextmanager
    def copy(self) -> Iterator[str]:
        """The URL of an empty copy, reused or new; given back afterwards."""
        url = self.free.pop() if self.free else self._create()
        try:
            yield url
        finally:
            if self.fresh is not None and emptied(url, self.fresh):
                self.free.append(url)
            else:
                self._drop(url)

    def close(self) -> None:
        while self.free:
            self._drop(self.free.pop())

    def _create(self) -> str:
        name = f"keydesk_test_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        url = sa.make_url(self.server).set(database=name).render_as_string(hide_password=False)
        if self.fresh is None:
            self.fresh = digest(url)
        return url

    def _drop(self, url: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(statement))
        finally:
            admin.dispose()
