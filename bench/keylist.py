"""`keydesk key list --json` on 100,000 keys against raw sqlite3 + json
writing the same bytes. Prints figures; not a test.

    python bench/keylist.py            # 100,000 keys, 3 rounds (~1 min)
    python bench/keylist.py --quick    # 20,000 keys, 2 rounds
    python bench/keylist.py --smoke    # 300 keys, 1 round: seconds (CI)

Each round runs the CLI and the floor as fresh processes, stdout to a file;
wall time and peak RSS are taken per run, outputs are checked byte for byte,
and the ratio is paired within each round. Each is started by a bare Python
(`REAPER`) that times it and reads its ru_maxrss: a child spawned straight
from this process would inherit this process's high-water mark at exec (the
seeded store's rows), so its ru_maxrss reported the bench, not keydesk.

The floor (`FLOOR` below) is the plain way to print the same JSON: one
sqlite3 query with the same joins and order, datetimes made aware with
`fromisoformat`, the whole list built, then one `json.dumps`.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import ACTOR, Row, account_args, keydesk_command, print_table, seed, sqlite_path

FLOOR = r'''
import json, sqlite3, sys
from datetime import UTC, datetime
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""
    SELECT k.public_key, k.label, i.name, k.integration_id, k.created_at, c.name,
           cm.id IS NULL, k.revoked_at, r.name, k.expires_at, k.last_used_at, k.scopes,
           k.lifetime_days, p.public_key,
           (SELECT s.public_key FROM api_key s WHERE s.replaces_id = k.id
             ORDER BY s.id DESC LIMIT 1),
           (SELECT s.revoked_at IS NOT NULL FROM api_key s WHERE s.replaces_id = k.id
             ORDER BY s.id DESC LIMIT 1),
           (SELECT group_concat(t.name || '=' || t.value, char(10)) FROM api_key_tag t
             WHERE t.api_key_id = k.id),
           kp.rate_limit, kp.quota, kp.allow_from, i.status = 'disabled'
    FROM api_key k JOIN integration i ON i.id = k.integration_id
    LEFT JOIN key_policy kp ON kp.api_key_id = k.id
    LEFT JOIN api_key p ON p.id = k.replaces_id
    JOIN account c ON c.id = k.created_by LEFT JOIN account r ON r.id = k.revoked_by
    LEFT JOIN membership cm ON cm.workspace_id = i.workspace_id AND cm.account_id = k.created_by
    WHERE i.name = ? ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.id DESC
""", (sys.argv[2],)).fetchall()
now = datetime.now(UTC)
def aware(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None
def iso(value):
    return value.isoformat() if value else None
out = []
for (public, label, integration, integration_id, created, by, removed, revoked, revoker,
     expires, used, scopes, lifetime, replaces, replaced_by, replacement_revoked, tags,
     rate, quota, allow_from, integration_disabled) in rows:
    revoked, expires = aware(revoked), aware(expires)
    status = "revoked" if revoked else "expired" if expires and expires <= now else "active"
    out.append({"public_key": public, "label": label, "integration": integration,
                "integration_id": integration_id, "status": status,
                "integration_disabled": bool(integration_disabled),
                "created_at": iso(aware(created)), "created_by": by,
                "created_by_removed": bool(removed), "revoked_at": iso(revoked),
                "revoked_by": revoker, "expires_at": iso(expires), "last_used_at": iso(aware(used)),
                "scopes": scopes.split(), "lifetime_days": lifetime, "replaces": replaces,
                "replaced_by": replaced_by, "replacement_revoked": bool(replacement_revoked),
                "tags": dict(sorted(t.split("=", 1) for t in tags.split("\n"))) if tags else {},
                "rate": rate, "quota": quota, "allow_from": (allow_from or "").split()})
print(json.dumps(out, indent=2, ensure_ascii=False))
'''


# Spawns argv[2:] from a process far smaller than the one measured, times it,
# and writes "seconds maxrss_kb" to the file argv[1].
REAPER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{elapsed} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(argv: list[str], out: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (of the process argv starts), sha256 of stdout."""
    figures = out.with_suffix(".rusage")
    with out.open("wb") as sink:
        done = subprocess.run(
            [sys.executable, "-S", "-c", REAPER, str(figures), *argv],
            stdout=sink, stderr=subprocess.PIPE, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr.decode()[:300]}")
    elapsed, maxrss_kb = figures.read_text().split()
    return float(elapsed), int(maxrss_kb) / 1024, hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="300 keys, 1 round (for CI)")
    args = parser.parse_args()
    if args.quick:
        args.keys, args.rounds = 20_000, 2
    if args.smoke:
        args.keys, args.rounds = 300, 1
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as folder:
        url = f"sqlite:///{folder}/keys.db"
        seed(url, {"github": args.keys}, actor=ACTOR)
        db = sqlite_path(url)
        floor_script = Path(folder) / "floor.py"
        floor_script.write_text(FLOOR)
        cli = [*keydesk_command(), "key", "list", "--json", "--integration", "github",
               "--db", db, *account_args()]  # fmt: skip
        floor = [sys.executable, str(floor_script), db, "github"]
        times: dict[str, list[float]] = {"cli": [], "floor": []}
        rss: dict[str, list[float]] = {"cli": [], "floor": []}
        ratios = []
        for _ in range(args.rounds):
            t_cli, m_cli, h_cli = run(cli, Path(folder) / "cli.json")
            t_floor, m_floor, h_floor = run(floor, Path(folder) / "floor.json")
            if h_cli != h_floor:
                raise SystemExit("the outputs differ: the floor no longer prints what keydesk does")
            times["cli"].append(t_cli)
            times["floor"].append(t_floor)
            rss["cli"].append(m_cli)
            rss["floor"].append(m_floor)
            ratios.append(t_cli / t_floor)
    med = statistics.median
    print_table(
        f"key list --json, {args.keys:,} keys, {args.rounds} rounds (outputs byte-identical)",
        [
            Row("wall time", med(times["cli"]), med(times["floor"]), "s",
                higher_is_better=False, paired=med(ratios)),
            Row("peak RSS (of each process, not this bench)", med(rss["cli"]), med(rss["floor"]),
                "MB", higher_is_better=False),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
