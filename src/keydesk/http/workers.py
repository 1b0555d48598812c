"""`keydesk serve --workers N`: N processes answering on one port.

Each worker is a whole `keydesk serve` (its own event loop, verifier and
store connections) forked before any of them opens the store, so nothing is
shared but the files or the server: a key revoked by any process is refused
by every worker on its next request, as the verifier reads a key's status
for every request.

Each worker listens on a socket of its own bound with SO_REUSEPORT, so the
kernel spreads connections over the workers (one shared socket lets the
first worker to wake accept a burst of them all). Before those are bound, a
plain bind checks that nothing else holds the port: SO_REUSEPORT would
otherwise share it silently with another server of the same user.

The parent only supervises: systemd's READY=1 once every worker listens,
STOPPING=1 on SIGTERM or SIGINT, which it passes on to the workers (each
stops as one `serve` does: requests in flight answered, counts written);
it exits 0 once they all have. A worker that dies on its own stops the
others, and the parent exits non-zero for the supervisor to restart it all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from typing import NoReturn

import uvicorn

from keydesk.http.systemd import notify

log = logging.getLogger("keydesk.serve")

LISTEN_BACKLOG = 2048  # uvicorn's default
STARTUP_FAILURE = 3  # exit status, as `serve` and uvicorn use


class WorkerServer(uvicorn.Server):
    """One worker's uvicorn: says when it listens (a byte on `ready`), and
    stops if its parent is gone (it is in a process group of its own, out of
    the terminal's reach, so nothing else would stop it)."""

    def __init__(self, config: uvicorn.Config, ready: int, parent: int) -> None:
        super().__init__(config)
        self._ready, self._parent = ready, parent

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            os.write(self._ready, b"1")

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0 and os.getppid() != self._parent:
            self.should_exit = True
        return await super().on_tick(counter)


def serve_workers(config: Callable[[], uvicorn.Config], host: str, port: int, count: int) -> int:
    """Run `count` workers, each with the uvicorn `config()` makes in it;
    the exit status for `serve`."""
    try:
        sockets = _listen(host, port, count)
    except OSError as error:
        log.error("cannot listen on %s port %d: %s", host, port, error.strerror or error)
        return STARTUP_FAILURE
    where = f"http://{host}:{sockets[0].getsockname()[1]}"
    ready, told = os.pipe()
    children: dict[int, int] = {}  # pid → exit status, once known
    for sock in sockets:
        pid = os.fork()
        if pid == 0:
            os.close(ready)
            for other in sockets:
                if other is not sock:
                    other.close()
            _worker(config, sock, told)
        children[pid] = -1
    os.close(told)
    for sock in sockets:
        sock.close()
    return _Supervisor(children).run(ready, where)


def _listen(host: str, port: int, count: int) -> list[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # the port is nobody's
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # port 0: the one the system chose, for every worker
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(LISTEN_BACKLOG)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _worker(config: Callable[[], uvicorn.Config], sock: socket.socket, told: int) -> NoReturn:
    status = 1
    try:
        os.setpgid(0, 0)  # Ctrl-C reaches the parent only, which stops each worker once
        # uvicorn raises the stop signal again once it has stopped: ignored here.
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, lambda *_: None)
        server = WorkerServer(config(), told, os.getppid())
        server.run(sockets=[sock])
        status = 0 if server.started else STARTUP_FAILURE
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(status)


class _Supervisor:
    def __init__(self, children: dict[int, int]) -> None:
        self.children = children
        self.stopping = False

    def run(self, ready: int, where: str) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        threading.Thread(target=self._await_ready, args=(ready, where), daemon=True).start()
        while -1 in self.children.values():
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.children[pid] = os.waitstatus_to_exitcode(status)
            if not self.stopping:
                log.error("worker %d exited (status %d): stopping the others", pid, self.children[pid])  # fmt: skip
                self._stop(signal.SIGTERM, None)
                self.stopping = True
        statuses = set(self.children.values())
        if statuses <= {0}:
            return 0
        return STARTUP_FAILURE if STARTUP_FAILURE in statuses else 1

    def _stop(self, number: int, _frame: object) -> None:
        # Once: SIGTERM to each (a graceful stop); a second signal is passed
        # on as SIGINT, which makes uvicorn drop what is still in flight.
        if not self.stopping:
            notify("STOPPING=1")
        sent = signal.SIGINT if self.stopping else signal.SIGTERM
        self.stopping = True
        for pid, status in self.children.items():
            if status == -1:
                with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                    os.kill(pid, sent)

    def _await_ready(self, ready: int, where: str) -> None:
        started = 0
        with os.fdopen(ready, "rb", buffering=0) as pipe:
            while started < len(self.children) and pipe.read(1):
                started += 1
        if started == len(self.children):
            log.info("%d workers answering on %s", started, where)
            notify("READY=1")
