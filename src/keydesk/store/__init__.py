"""The store: opening it (engine), its schema and migrations, the SQLite
file's checks, and the plain-SQL reads that run without SQLAlchemy.
Imports nothing itself, so `keydesk.store.sqlite_file` loads bare."""
