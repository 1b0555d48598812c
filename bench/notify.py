"""A `keydesk notify` run on a SQLite store where every key is due (each
expires within 14 days), through one local webhook receiver. Prints
figures; not a test.

    python bench/notify.py              # 5,000 keys
    python bench/notify.py --keys 20000 # more
    python bench/notify.py --smoke      # 200 keys (CI)

Measured, in this process with the store open:

* `--dry-run`: what is due, less what was claimed (reads only);
* the first run: every notice claimed (its row and its delivery's, one
  transaction), then each delivered by a signed POST, one at a time;
* the next run, with nothing new: what a timer pays every 15 minutes.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa
from benchlib import ACTOR, seed


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5_000)
    parser.add_argument("--smoke", action="store_true", help="200 keys (for CI)")
    args = parser.parse_args()
    keys = 200 if args.smoke else args.keys

    from keydesk.notify import Channels, Notifier
    from keydesk.service.context import ServiceContext
    from keydesk.store.engine import open_store
    from keydesk.views import utcnow

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'notify.db'}"
        workspace = seed(url, {"github": keys}, actor=ACTOR).workspace
        engine = sa.create_engine(url)
        with engine.begin() as connection:  # every key due (5 days left)
            soon = utcnow() + timedelta(days=5)
            connection.execute(sa.text("UPDATE api_key SET expires_at = :soon"), {"soon": soon})
        engine.dispose()
        store = open_store(url)
        context = ServiceContext(store, ACTOR, None)
        Channels(context).add_webhook(workspace, f"http://127.0.0.1:{server.server_port}/hook")
        print(f"\nkeydesk notify, SQLite, {keys:,} keys all due, one webhook (127.0.0.1)")
        for what, dry in (("--dry-run", True), ("first run", False), ("next run", False)):
            start = time.perf_counter()
            report = Notifier(context).run(dry_run=dry)
            seconds = time.perf_counter() - start
            print(f"  {what:<10} {seconds:8.2f} s  {len(report.notices):>7,} notices  "
                  f"{report.sent:>7,} sent  {len(report.failures)} failed")  # fmt: skip
        store.dispose()
    server.shutdown()


if __name__ == "__main__":
    main()
