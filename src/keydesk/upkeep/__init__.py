"""Looking after a store as a whole (`keydesk store …`): what it is
(info), a consistent copy of a SQLite store while it serves (backup), putting
one back without un-revoking a key (restore), whether it is sound and set up
as keydesk makes it (check, pg_check), and moving a SQLite store to
PostgreSQL (copy, copy_proof). Over the store and the verifier's reads; the
CLI (keydesk.cli.store) is a thin shell over it."""
