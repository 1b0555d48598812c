"""The store: opening it (engine), its tables (models) and schema version
(schema), migrations, the SQLite file's checks (path, sqlite_file), the
list queries in plain SQL that run without SQLAlchemy (dbapi, queries,
stored_values), its URL as shown (urls) and PostgreSQL's roles
(postgres_roles). Imports nothing itself, so `keydesk.store.sqlite_file`
loads bare."""
