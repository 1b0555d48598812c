"""Receivers for `keydesk notify`'s channels (helpers, not tests): a webhook
receiver that checks each request's signature as a real one would, and a
real SMTP server (aiosmtpd) offering STARTTLS with a certificate this host
trusts for the test (SSL_CERT_FILE), and AUTH only over TLS."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A port nothing listens on (a receiver that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class WebhookReceiver:
    """Records each POST with whether its X-Keydesk-Signature-256 matched
    `secret` (set once the channel is added, as a receiver is configured)."""

    port: int
    secret: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = (
                    "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                )
                given = self.headers.get("X-Keydesk-Signature-256", "")
                if not hmac.compare_digest(expected, given):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                else:
                    receiver.received.append(json.loads(body) | {
                        "_event": self.headers["X-Keydesk-Event"]})  # fmt: skip
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        # Polled every 20 ms, not 0.5 s: stop() (shutdown) waits for the next poll.
        serving = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        serving.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def webhook_receiver(*, up: bool = True) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(free_port())
    if up:
        receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@dataclass
class SmtpReceiver:
    port: int
    ca_file: Path
    messages: list[Message] = field(default_factory=list)
    tls_sessions: list[bool] = field(default_factory=list)  # per message: was it encrypted
    logins: list[str] = field(default_factory=list)


@contextmanager
def smtp_receiver(
    tmp: Path, *, password: str = "s3cret-smtp", tls: str = "starttls"
) -> Iterator[SmtpReceiver]:
    """aiosmtpd on 127.0.0.1, offering STARTTLS (certificate for localhost,
    its CA in tmp/ca.pem) and AUTH only once TLS is on; `tls="implicit"`:
    TLS from the first byte (smtps); `tls="none"`: no TLS, AUTH in clear."""
    import trustme
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca_file = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    receiver = SmtpReceiver(free_port(), ca_file)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            receiver.messages.append(message_from_bytes(envelope.content))
            receiver.tls_sessions.append(server.transport.get_extra_info("ssl_object") is not None)
            return "250 OK"

    def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str,
                     data: Any) -> AuthResult:  # fmt: skip
        ok = data.password.decode() == password
        if ok:
            receiver.logins.append(data.login.decode())
        return AuthResult(success=ok)

    options: dict[str, Any] = {
        "starttls": {"tls_context": server_context},
        "implicit": {"ssl_context": server_context, "auth_require_tls": False},  # TLS already
        "none": {"auth_require_tls": False},
    }[tls]
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=receiver.port, server_hostname="localhost",
        authenticator=authenticate, **options,
    )  # fmt: skip
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
