"""A git repository for bench/scan.py's `--git` part, built fast with
`git fast-import`: `commits` commits over a few dozen log-like files, each
commit rewriting a few lines of one file; one commit adds a line holding a
key, a later one deletes it (so only history holds it)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

FILES = 40
LINES_PER_FILE = 120
LINES_PER_COMMIT = 8


def build_repo(root: Path, commits: int, key: str, seed: int, pool: list[str]) -> int:
    """Write the repository at `root`; return the bytes of `git log -p --all`'s
    input it was built from (roughly: the commits' rewritten lines)."""
    rng = random.Random(seed)
    files = [[rng.choice(pool) for _ in range(LINES_PER_FILE)] for _ in range(FILES)]
    plant_at, remove_at = commits // 3, 2 * commits // 3
    planted: tuple[int, int] | None = None
    stream: list[bytes] = []
    for n in range(commits):
        index = rng.randrange(FILES)
        lines = files[index]
        at = rng.randrange(LINES_PER_FILE - LINES_PER_COMMIT)
        lines[at : at + LINES_PER_COMMIT] = [rng.choice(pool) for _ in range(LINES_PER_COMMIT)]
        if n == plant_at:
            lines[at] = f"API_KEY={key}\n"
            planted = (index, at)
        elif n == remove_at and planted is not None:
            files[planted[0]][planted[1]] = rng.choice(pool)
            index, lines = planted[0], files[planted[0]]
        data = "".join(lines).encode()
        message = f"change {n}\n".encode()
        stream += [
            b"commit refs/heads/main\n",
            b"committer Bench <bench@example.com> %d +0000\n" % (1_700_000_000 + n),
            b"data %d\n%s" % (len(message), message),
            b"M 100644 inline logs/app-%02d.log\n" % index,
            b"data %d\n%s\n" % (len(data), data),
        ]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=root, check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)
    return sum(len(part) for part in stream)
