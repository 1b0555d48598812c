"""Alembic migrations, applied automatically when a store is opened."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from keydesk.errors import StoreUnavailable
from keydesk.store.dbapi import LOCK_NOT_AVAILABLE
from keydesk.store.schema import HEAD as HEAD  # re-exported: where the tests and scripts look

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).parent
# Any fixed number: PostgreSQL advisory lock held while migrating.
_MIGRATION_LOCK = 0x6B657964


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


MIGRATION_WAIT_SECONDS = 120  # another process's migration, on a loaded machine


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; one read when it is there."""
    if current_revision(engine) == HEAD:
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = _config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.begin() as connection:
        # Servers sharing one store may start together after an upgrade:
        # one migrates, the others wait, then find the schema current.
        if connection.dialect.name == "postgresql":
            _wait_for_other_migrations(connection)
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, now, not at first DDL
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _wait_for_other_migrations(connection: sa.Connection) -> None:
    """Take the migration lock, waiting as long as another process's
    migration may take: the store's lock_timeout (5 s) is for a lock left
    held, and a migration on a loaded machine took longer, refusing its
    peers as "busy". Still bounded: a migrating process stopped or hung
    must not leave its peers waiting in silence for ever. That migration's
    own statements keep the timeout, and so do ours once the lock is taken."""
    given = connection.execute(sa.text("SELECT current_setting('lock_timeout')")).scalar_one()
    connection.execute(sa.text(f"SET LOCAL lock_timeout = '{MIGRATION_WAIT_SECONDS}s'"))
    try:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    except sa.exc.OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise StoreUnavailable(
            f"another keydesk process has been migrating this store for over "
            f"{MIGRATION_WAIT_SECONDS} s (stopped or hung?): end it, then try again"
        ) from None
    connection.execute(sa.text("SELECT set_config('lock_timeout', :given, true)"), {"given": given})


def upgrade_within(connection: sa.Connection) -> None:
    """Every revision, run on `connection` inside the transaction it is in
    (the caller commits or rolls back): `keydesk store check` builds what
    `postgres setup` makes in a scratch schema this way, then drops it."""
    from alembic import command

    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def offline_sql(dialect: str = "postgresql") -> str:
    """The SQL of every revision, from an empty database to the newest, as
    text for a DBA to read or run (no connection)."""
    import io

    from alembic import command

    buffer = io.StringIO()
    config = _config()
    config.output_buffer = buffer
    config.attributes["dialect"] = dialect
    command.upgrade(config, "head", sql=True)
    return buffer.getvalue()
