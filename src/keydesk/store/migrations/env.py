from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import keydesk.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

if context.is_offline_mode():
    # SQL for a DBA to read and run (`keydesk postgres setup --print`).
    context.configure(
        dialect_name=context.config.attributes["dialect"],
        target_metadata=SQLModel.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},  # no driver escaping: `%` stays `%`
        transactional_ddl=True,
    )
else:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
    )
with context.begin_transaction():
    context.run_migrations()
