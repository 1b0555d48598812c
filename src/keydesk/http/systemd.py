"""`keydesk serve` under systemd (deploy/keydesk-serve.service, Type=notify):
systemd's readiness protocol, sd_notify(3). READY=1 once the server listens,
so `systemctl start` returns, and units ordered after it start, only when
/healthz answers; STOPPING=1 when SIGTERM starts the shutdown. Without
$NOTIFY_SOCKET (not under systemd) nothing is sent."""

from __future__ import annotations

import logging
import os
import socket

import uvicorn

log = logging.getLogger("keydesk.serve")


def notify(state: str) -> None:
    """Tell systemd `state` (`READY=1`, `STOPPING=1`), if it is listening."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):  # an abstract socket
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(path)
            sock.sendall(state.encode("ascii"))
    except OSError as error:  # systemd would time the start out; say why
        log.warning("could not tell systemd %s: %s", state, error)


class NotifyingServer(uvicorn.Server):
    """uvicorn's server, telling systemd when it is ready and when it stops."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:  # listening (a port in use leaves it unstarted)
            notify("READY=1")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        notify("STOPPING=1")
        await super().shutdown(sockets=sockets)
