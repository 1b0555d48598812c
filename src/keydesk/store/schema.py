"""The store's schema version, in a module that imports nothing: opening an
up-to-date store costs one small query, and the bare read path
(keydesk.store.sqlite_file) checks it without importing Alembic or SQLAlchemy.
tests/store/test_engine.py checks it matches the newest migration script."""

HEAD = "0010"
