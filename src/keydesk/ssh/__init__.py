"""SSH access, the gitolite way: one service account, one forced command per
key, and a per-workspace approval every step of a session checks.

public_keys (parsing, fingerprints), line_syntax and grant_line (the line
keydesk writes), authorized_keys with file_edits (editing the file),
session_command (what a session may run), gate (where a key may act: the
SQL every read of a session adds, and its wording). Who may approve a key
is a service rule (keydesk.service.ssh_approvals). The CLI
(keydesk.cli.ssh) wires them together."""
