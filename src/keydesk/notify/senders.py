"""Sending one notice through one channel: a signed webhook POST or an email
through SMTP. A failure is a `DeliveryFailed` with one line saying why (never
a secret: not the signing secret, not the SMTP password)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import smtplib
import socket
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from keydesk.errors import InvalidInput, KeydeskError
from keydesk.notify.channels import SMTP_SCHEMES, SMTP_URL_ENV, password_source, smtp_url
from keydesk.notify.notices import Notice

SIGNATURE_HEADER = "X-Keydesk-Signature-256"  # as GitHub's X-Hub-Signature-256
SEND_TIMEOUT_SECONDS = 10.0


class DeliveryFailed(KeydeskError):
    """A channel did not take a notice; the next run tries again."""


class ReceiverDown(DeliveryFailed):
    """The receiver could not be reached or did not answer in time: the
    channel, not the notice, failed (a run tries it no more)."""


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the body under the channel's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Deadline:
    """The whole send within `seconds`: a socket timeout bounds each read
    only, and a receiver trickling its answer a byte at a time would hold a
    run past its lease. At the deadline each socket opened is shut down."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.passed = seconds, False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.passed:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.passed = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def handlers(self) -> list[urllib.request.BaseHandler]:
        deadline = self

        class Http(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                deadline.watch(self.sock)

        class Https(http.client.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                deadline.watch(self.sock)

        class HttpHandler(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(Http, req)

        class HttpsHandler(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(Https, req, context=self._context)  # type: ignore[attr-defined]

        return [HttpHandler(), HttpsHandler()]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: a signed POST is not replayed to another URL."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


def send_webhook(url: str, secret: str, notice: Notice, notice_id: int | None) -> None:
    body = json.dumps(notice.payload(notice_id), ensure_ascii=False).encode()
    # The URL was checked when the channel was added: https://, or http:// to this host.
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json",
        "User-Agent": "keydesk-notify",
        "X-Keydesk-Event": notice.kind,
        "X-Keydesk-Delivery": str(notice_id),
        SIGNATURE_HEADER: signature(secret, body),
    })  # fmt: skip
    with _Deadline(SEND_TIMEOUT_SECONDS) as deadline:
        opener = urllib.request.build_opener(_NoRedirects, *deadline.handlers())
        try:
            with opener.open(request, timeout=SEND_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            raise DeliveryFailed(f"the receiver answered {error.code}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            if deadline.passed:
                raise ReceiverDown(
                    f"the receiver did not answer within {SEND_TIMEOUT_SECONDS:g} seconds"
                ) from None
            reason = getattr(error, "reason", error)
            raise ReceiverDown(f"cannot reach the receiver: {reason}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"the receiver answered {status}")


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    user: str | None
    password: str | None


def smtp_server(url: str | None, password_file: str | None, password_env: str | None) -> SmtpServer:
    """The server a channel names, or this host's $KEYDESK_SMTP_URL (which,
    being in the environment, may carry the password); the password from
    the channel's file or variable, read on this host now."""
    if url is None:
        url = os.environ.get(SMTP_URL_ENV)
        if not url:
            raise DeliveryFailed(
                f"no SMTP server: the channel names none and ${SMTP_URL_ENV} is unset"
            )
        try:
            url = smtp_url(url, f"${SMTP_URL_ENV}", password_allowed=True)
        except InvalidInput:  # its value may carry the password: never repeated
            raise DeliveryFailed(
                f"${SMTP_URL_ENV} is not smtp[s]://[user[:password]@]host[:port] (its value not "
                "shown; percent-encode a password's #, /, ? or @)"
            ) from None
    parts = urlsplit(url)
    password = None if parts.password is None else unquote(parts.password)
    refused = password_source(password_file, password_env)  # the store's word is not enough
    if refused is not None:
        raise DeliveryFailed(refused)
    if password_file is not None:
        try:
            password = Path(password_file).read_text().strip()
        except OSError as error:
            raise DeliveryFailed(f"cannot read the SMTP password file: {error.strerror}") from None
    elif password_env is not None:
        password = os.environ.get(password_env)
        if password is None:
            raise DeliveryFailed(f"the SMTP password variable ${password_env} is unset")
    return SmtpServer(
        parts.hostname or "", parts.port or SMTP_SCHEMES[parts.scheme], parts.scheme == "smtps",
        None if parts.username is None else unquote(parts.username), password,
    )  # fmt: skip


def send_email(server: SmtpServer, sender: str | None, to: str, notice: Notice) -> None:
    """STARTTLS whenever the server offers it (smtps: TLS from the start); a
    password is never sent over a connection that is not encrypted."""
    message = EmailMessage()
    message["Subject"] = f"[keydesk] {notice.headline()}"[:200]
    message["From"] = sender or f"keydesk@{socket.getfqdn()}"
    message["To"] = to
    message.set_content(notice.text())
    with _Deadline(SEND_TIMEOUT_SECONDS) as deadline:
        try:
            _converse(server, message, deadline)
        except smtplib.SMTPResponseException as error:
            raise DeliveryFailed(f"the SMTP server answered {error.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as error:
            where = f"{server.host}:{server.port}"
            if deadline.passed:
                raise ReceiverDown(
                    f"the SMTP server {where} did not answer within {SEND_TIMEOUT_SECONDS:g} seconds"
                ) from None
            if isinstance(error, OSError):  # refused, timed out, or TLS (a certificate)
                raise ReceiverDown(f"SMTP to {where} failed: {error}") from None
            raise DeliveryFailed(f"SMTP to {where} failed: {error}") from None


class _Watched(smtplib.SMTP):
    """Its socket watched by the send's deadline from before the greeting
    (implicit TLS's socket too: SMTP_SSL wraps it inside super())."""

    deadline: _Deadline

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self.deadline.watch(sock)
        return sock


class _Smtps(_Watched, smtplib.SMTP_SSL):
    pass


def _converse(server: SmtpServer, message: EmailMessage, deadline: _Deadline) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP = (
        _Smtps(timeout=SEND_TIMEOUT_SECONDS, context=context)
        if server.implicit_tls
        else _Watched(timeout=SEND_TIMEOUT_SECONDS)
    )
    client.deadline = deadline  # type: ignore[attr-defined]  # one of the two above
    client._host = server.host  # type: ignore[attr-defined]  # the name TLS checks (__init__ sets it)
    with client:  # closed however it ends
        client.connect(server.host, server.port)
        client.ehlo()
        encrypted = server.implicit_tls
        if not encrypted and client.has_extn("starttls"):
            client.starttls(context=context)
            assert client.sock is not None, "connected"
            deadline.watch(client.sock)  # the TLS socket that replaced it
            client.ehlo()
            encrypted = True
        if server.user is not None and server.password is not None:
            if not encrypted:
                raise DeliveryFailed(
                    "the SMTP server offers no STARTTLS: the password is not sent in clear"
                )
            try:
                client.login(server.user, server.password)
            except UnicodeEncodeError:  # its text quotes a character of the password
                raise DeliveryFailed(
                    "the SMTP user name or password is not ASCII (SMTP AUTH sends ASCII only)"
                ) from None
        client.send_message(message)
