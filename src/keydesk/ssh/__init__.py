"""SSH access: the authorized_keys lines keydesk writes, the forced
command's session, and the per-workspace approval every step checks."""
