"""SSH access, the gitolite way: one service account, one forced command per
key, and a per-workspace approval every step of a session checks.

public_keys (parsing, fingerprints), line_syntax and grant_line (the line
keydesk writes), authorized_keys with file_edits (editing the file),
session_command (what a session may run), gate and approvals (where a key
may act, the only two that read the store). The CLI (keydesk.cli.ssh)
wires them together."""
