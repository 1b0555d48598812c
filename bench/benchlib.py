"""Shared by the bench scripts: seeding big stores fast, key text, small stats.

Only keydesk's stable public entry points are used (`open_store`,
`KeyService`, the `keydesk` command); bulk rows go straight into the
`api_key` table with SQLAlchemy Core, the table reflected from the store, so
a 100,000-key store seeds in seconds.

Key text follows keydesk's documented format
(`kdsk_<16 base62 id>_<43 base62 secret><6 base62 CRC32 checksum>`); `seed`
checks that format against a key keydesk itself issued, and hashes with the
argon2 parameters read from that key's stored hash, so a format or parameter
change in src fails loudly here instead of quietly measuring the wrong thing.
"""

from __future__ import annotations

import functools
import getpass
import importlib.util
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_RE = re.compile(r"kdsk_([0-9A-Za-z]{16})_([0-9A-Za-z]{43})([0-9A-Za-z]{6})")
# Shared by every row nobody will verify: valid-looking, never matches.
FILLER_HASH = "$argon2id$v=19$m=4096,t=1,p=1$YmVuY2hiZW5jaGJlbmNo$" + "A" * 43

# -- who acts ------------------------------------------------------------------
#
# Seeding acts as the OS user, the account the CLI and TUI act as since
# keydesk.identity (#10): they refuse `--account` outside `keydesk demo`.
# `account_args` is the one place that says how to pass it (an older keydesk
# took `--account NAME`).


def _os_account() -> str:
    try:
        from keydesk.identity import os_account
    except ImportError:  # a keydesk from before proven identity
        return getpass.getuser()
    return os_account()


ACTOR = os.environ.get("KEYDESK_BENCH_ACCOUNT") or _os_account()


def keydesk_command() -> list[str]:
    """The `keydesk` console script next to this Python, else on PATH.
    First, keydesk's bytecode is cached, as an installed package's is."""
    cache_bytecode()
    beside = Path(sys.executable).with_name("keydesk")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("keydesk")
    return [found] if found else [sys.executable, "-m", "keydesk"]


@functools.cache  # once a process: the sources do not change during a run
def cache_bytecode() -> None:
    """Compile keydesk's modules to __pycache__, as pip does when it installs
    a package (the floors' packages have theirs). An editable install under
    PYTHONDONTWRITEBYTECODE (set on this machine) would otherwise compile
    every changed module on every start and flatter the floors."""
    import compileall

    import keydesk

    compileall.compile_dir(Path(keydesk.__file__).parent, quiet=1)


_ACCOUNT_FLAG: bool | None = None


def account_args(name: str = ACTOR) -> list[str]:
    """Nothing for a keydesk that acts as the OS user (keydesk.identity: the
    seed acts as ACTOR, the same OS user); `--account NAME` for an older one."""
    global _ACCOUNT_FLAG
    if _ACCOUNT_FLAG is None and importlib.util.find_spec("keydesk.identity") is not None:
        _ACCOUNT_FLAG = False
    if _ACCOUNT_FLAG is None:
        help_text = subprocess.run(
            [*keydesk_command(), "--help"], capture_output=True, text=True, check=False
        ).stdout
        _ACCOUNT_FLAG = "--account" in help_text
    return ["--account", name] if _ACCOUNT_FLAG else []


# -- key text ------------------------------------------------------------------


def base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits))


_B62_BYTES = bytes(BASE62[b % 62].encode()[0] for b in range(256))


def random_b62(length: int) -> str:
    """Random base62 text, fast (byte % 62: a slight bias, harmless here)."""
    return os.urandom(length).translate(_B62_BYTES).decode()


def make_key() -> str:
    """A well-formed private key (random id, random secret, valid checksum)."""
    body = f"kdsk_{random_b62(16)}_{random_b62(43)}"
    return body + base62(zlib.crc32(body.encode()), 6)


def hash_all(hasher, keys: list[str]) -> list[str]:
    """argon2 hashes of `keys` on every core (argon2-cffi holds the GIL, so
    processes, not threads)."""
    if len(keys) < 64:
        return [hasher.hash(k) for k in keys]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        return pool.map(hasher.hash, keys, chunksize=64)


def public_of(private: str) -> str:
    return "kdpk_" + private[5:21]


# -- seeding -------------------------------------------------------------------


@dataclass
class Seeded:
    url: str
    workspace: str
    integrations: dict[str, int]  # name → id
    keys: list[str] = field(default_factory=list)  # private keys that verify
    hasher: object = None  # argon2 PasswordHasher with the store's parameters


def reflect(engine: sa.Engine, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=engine)


def _probe_key(service, engine: sa.Engine, integration_id: int):
    """One key issued by keydesk itself: its shape and its hash's parameters
    are the ones to copy. Then deleted, so the counts stay round.
    (an argon2 hasher with the store's parameters, the key's created_by)."""
    from argon2 import PasswordHasher, extract_parameters

    text = service.create_key(integration_id, "bench-format-probe").private_key.reveal()
    if not KEY_RE.fullmatch(text):
        raise SystemExit(f"keydesk's key format changed ({text[:8]}…): update bench/benchlib.py")
    api_key = reflect(engine, "api_key")
    with engine.connect() as connection:
        real_hash, created_by = connection.execute(
            sa.select(api_key.c.secret_hash, api_key.c.created_by).where(
                api_key.c.public_key == public_of(text)
            )
        ).one()
    with engine.begin() as connection:
        connection.execute(sa.delete(api_key).where(api_key.c.public_key == public_of(text)))
    return PasswordHasher.from_parameters(extract_parameters(real_hash)), created_by


def _key_rows(
    integration_id: int, count: int, real: list, now: datetime, label: str, created_by
) -> list[dict]:
    """`count` api_key rows, the `real` (key, hash) pairs first, then
    fillers; dated one second apart up to `now`."""
    start = now - timedelta(seconds=count)
    rows = []
    for n in range(count):
        if n < len(real):
            public, secret_hash = public_of(real[n][0]), real[n][1]
        else:
            public, secret_hash = f"kdpk_{random_b62(16)}", FILLER_HASH
        rows.append(
            {
                "integration_id": integration_id,
                "public_key": public,
                "label": label.format(n=n),
                "secret_hash": secret_hash,
                "created_at": start + timedelta(seconds=n),
                "created_by": created_by,
            }
        )
    return rows


def seed(
    url: str,
    integrations: dict[str, int],
    *,
    verified: int = 0,
    verified_in: str | None = None,
    workspace: str | None = None,
    actor: str = ACTOR,
    label: str = "svc-{n}",
) -> Seeded:
    """A workspace with `integrations` {name: key count}, made through the
    service, then rows inserted in bulk. `verified` of the keys of
    `verified_in` (default: the first integration) get real argon2 hashes
    and are returned as private keys; every other row shares FILLER_HASH.
    Keys are dated one second apart, newest last."""
    from keydesk.service import KeyService
    from keydesk.store.engine import open_store

    store = open_store(url, create=True)  # a new store: keydesk never makes one unasked
    service = KeyService(store, actor)
    workspace = workspace or f"bench-{os.getpid()}-{int(time.time())}"
    service.create_workspace(workspace)
    ids: dict[str, int] = {}
    for name in integrations:
        ids[name] = service.add_integration(
            workspace, name, "Bench", client_id="bench-client",
            redirect_uri="https://bench.example/callback", configure=True,
        ).id  # fmt: skip

    first = next(iter(integrations))
    hasher, created_by = _probe_key(service, store.engine, ids[first])
    verified_in = verified_in or first
    private = [make_key() for _ in range(verified)]
    hashes = hash_all(hasher, private)
    now = datetime.now(UTC).replace(microsecond=0)
    engine = store.engine
    api_key = reflect(engine, "api_key")
    for name, count in integrations.items():
        real = list(zip(private, hashes, strict=True)) if name == verified_in else []
        rows = _key_rows(ids[name], count, real, now, label, created_by)
        with engine.begin() as connection:
            for chunk in range(0, len(rows), 20_000):
                connection.execute(sa.insert(api_key), rows[chunk : chunk + 20_000])
    if engine.dialect.name == "postgresql":  # as autovacuum would soon (SQLite: keydesk never does)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE api_key"))
    store.dispose()
    return Seeded(url, workspace, ids, private, hasher)


def sqlite_path(url: str) -> str:
    return sa.engine.make_url(url).database


# -- a throwaway PostgreSQL database -----------------------------------------


class FreshPostgres:
    """`with FreshPostgres(url) as fresh_url:` a new database on the same
    server, dropped afterwards; falls back to `url` itself (with a warning)
    when the account may not create databases."""

    def __init__(self, url: str) -> None:
        self.url = sa.engine.make_url(url)
        self.name = f"keydesk_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.created = False

    def _admin(self) -> sa.Engine:
        return sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def __enter__(self) -> str:
        try:
            with self._admin().connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
            self.created = True
            return self.url.set(database=self.name).render_as_string(hide_password=False)
        except sa.exc.DBAPIError as exc:
            print(f"  (cannot create a fresh database, using the given one: {exc.orig})")
            return self.url.render_as_string(hide_password=False)

    def __exit__(self, *_exc) -> None:
        if self.created:
            with self._admin().connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


# -- figures -------------------------------------------------------------------


def percentile(samples: Sequence[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def rate(action: Callable[[], object], seconds: float, batch: int = 100) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(batch):
            action()
        count += batch
    return count / (time.perf_counter() - start)


def cycling(action: Callable[[str], object], keys: Sequence[str]) -> Callable[[], None]:
    """A step for `rate`: `action` on the next of `keys`, round and round."""
    position = 0

    def step() -> None:
        nonlocal position
        action(keys[position])
        position = (position + 1) % len(keys)

    return step


@dataclass
class Row:
    measure: str
    keydesk: float | None
    floor: float | None
    unit: str
    higher_is_better: bool = True
    note: str = ""
    paired: float | None = None  # median of per-round ratios, when there are rounds

    @property
    def ratio(self) -> float | None:
        if self.paired is not None:
            return self.paired
        if not self.keydesk or not self.floor:
            return None
        return self.keydesk / self.floor


def fmt(value: float | None, unit: str) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    if unit in ("/s", "req/s", "/CPU s"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return (
            f"{value:,.2f} ms"
            if value < 10
            else f"{value:,.1f} ms"
            if value < 100
            else f"{value:,.0f} ms"
        )
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.2f} {unit}"


def print_table(title: str, rows: Sequence[Row]) -> None:
    """measure | keydesk | floor | ratio (keydesk/floor); a note after."""
    cells = [
        (r.measure, fmt(r.keydesk, r.unit), fmt(r.floor, r.unit),
         "—" if r.ratio is None else f"{r.ratio:.2f}×", r.note)
        for r in rows
    ]  # fmt: skip
    head = ("measure", "keydesk", "floor", "ratio", "")
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(4)]
    print(f"\n{title}")
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(head, widths, strict=False))
    )
    print("  " + line)
    print("  " + "-" * len(line))
    for c in cells:
        text = "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(c, widths, strict=False))
        )
        print("  " + text + (f"  {c[4]}" if c[4] else ""))
    print("  ratio = keydesk / floor (for rates, below 1 is slower; for times, above 1 is slower)")


def peak_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None
