"""Email through a real SMTP server started here (aiosmtpd): STARTTLS
whenever offered, the password only over TLS, read from a file or a
variable on the sending host; a notice's text shown literally."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keydesk.notify import Channels, DeliveryFailed, Notice, Notifier
from keydesk.notify.senders import send_email, smtp_server
from keydesk.service.context import ServiceContext
from keydesk.views import utcnow
from tests.support.notify_receivers import smtp_receiver

NOTICE = Notice("expiry.3d", "o", 1, 1, "acme", "github", "prod\x1b[31m", "kdpk_AAAAAAAAAAAAAAAA",
                "expires in 2 days", "rotate it")  # fmt: skip


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    with smtp_receiver(tmp_path_factory.mktemp("smtp")) as receiver:
        yield receiver


@pytest.fixture
def trusted(smtp, monkeypatch):
    """This host trusts the server's certificate (as a real relay's is)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca_file))
    return smtp


def test_an_email_is_sent_over_starttls_with_the_password_from_a_file(trusted, tmp_path):
    password = tmp_path / "smtp-password"
    password.write_text("s3cret-smtp\n")
    server = smtp_server(f"smtp://notifier@localhost:{trusted.port}", str(password), None)
    before = len(trusted.messages)
    send_email(server, "keydesk@example.com", "ops@example.com", NOTICE)
    message = trusted.messages[before]
    assert trusted.tls_sessions[before] is True and trusted.logins[-1] == "notifier"
    assert message["To"] == "ops@example.com" and message["From"] == "keydesk@example.com"
    assert "\x1b" not in message["Subject"] and "kdpk_AAAAAAAAAAAAAAAA" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert "Key: prod\\x1b[31m" in body.splitlines() and "What to do: rotate it" in body


def test_an_untrusted_certificate_is_a_failed_delivery_never_plain_text(smtp, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    before = len(smtp.messages)
    with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
        send_email(smtp_server(f"smtp://localhost:{smtp.port}", None, None), None, "o@x.org",
                   NOTICE)  # fmt: skip
    assert len(smtp.messages) == before


def test_keydesk_smtp_url_is_the_default_server(trusted, monkeypatch):
    monkeypatch.setenv("KEYDESK_SMTP_URL", f"smtp://notifier:s3cret-smtp@localhost:{trusted.port}")
    server = smtp_server(None, None, None)
    assert (server.host, server.user, server.password) == ("localhost", "notifier", "s3cret-smtp")
    monkeypatch.delenv("KEYDESK_SMTP_URL")
    with pytest.raises(DeliveryFailed, match="KEYDESK_SMTP_URL is unset"):
        smtp_server(None, None, None)


def test_notify_emails_each_notice_once_and_retries_a_failed_one(world, trusted, monkeypatch):
    context = ServiceContext(world.store, "alice", None)
    Channels(context).add_email("acme", "ops@example.com", smtp=f"smtp://localhost:{trusted.port}",
                                sender="keydesk@example.com")  # fmt: skip
    world.owner.create_key("github", "prod", expires_at=utcnow() + timedelta(days=10))
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent")  # the relay's certificate not trusted yet
    before = len(trusted.messages)
    failed = Notifier(context).run()
    assert failed.sent == 0 and "CERTIFICATE_VERIFY_FAILED" in failed.failures[0].error
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted.ca_file))
    assert Notifier(context).run().sent == 1
    assert Notifier(context).run().sent == 0
    (message,) = trusted.messages[before:]
    assert message["Subject"].startswith("[keydesk] acme: key 'prod' (kdpk_")
    assert trusted.tls_sessions[-1] is True


def test_smtps_is_tls_from_the_start(tmp_path, monkeypatch):
    with smtp_receiver(tmp_path, tls="implicit") as smtps:
        monkeypatch.setenv("SSL_CERT_FILE", str(smtps.ca_file))
        monkeypatch.setenv("SMTP_PASSWORD", "s3cret-smtp")
        server = smtp_server(f"smtps://notifier@localhost:{smtps.port}", None, "SMTP_PASSWORD")
        send_email(server, None, "ops@example.com", NOTICE)
    assert smtps.tls_sessions == [True] and smtps.logins == ["notifier"]


def test_a_password_is_never_sent_to_a_server_without_starttls(tmp_path, monkeypatch):
    with smtp_receiver(tmp_path, tls="none") as plain:
        monkeypatch.setenv("SMTP_PASSWORD", "s3cret-smtp")
        server = smtp_server(f"smtp://notifier@localhost:{plain.port}", None, "SMTP_PASSWORD")
        with pytest.raises(DeliveryFailed, match="offers no STARTTLS: the password is not sent"):
            send_email(server, None, "ops@example.com", NOTICE)
        send_email(smtp_server(f"smtp://localhost:{plain.port}", None, None), None, "o@x.org",
                   NOTICE)  # fmt: skip  # no password: sent as the server offers
    assert plain.logins == [] and plain.tls_sessions == [False]


@pytest.mark.parametrize("url", ["smtp://notifier:hunter2@localhost:2x5",
                                 "smtp://notifier:hun#ter2@localhost:587"])  # fmt: skip
def test_a_malformed_keydesk_smtp_url_fails_without_showing_its_password(url, monkeypatch):
    """Its value may carry the password: the failure (stored, printed) names
    the variable, never its value (a `#` in a password cuts the URL short)."""
    monkeypatch.setenv("KEYDESK_SMTP_URL", url)
    with pytest.raises(DeliveryFailed, match="KEYDESK_SMTP_URL") as failed:
        smtp_server(None, None, None)
    assert "hunter2" not in failed.value.message and "ter2" not in str(failed.value)


def test_a_webhook_receiver_that_trickles_its_answer_fails_at_the_deadline(monkeypatch):
    """The timeout bounds the whole send, not each read: a receiver sending a
    byte at a time would otherwise hold a run past its lease (sent twice)."""
    import socket
    import threading

    from keydesk.notify import senders

    monkeypatch.setattr(senders, "SEND_TIMEOUT_SECONDS", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 204 No Content\r\nX-Slow: " + b"a" * 60:
                if stop.wait(0.05):
                    return
                connection.sendall(bytes([byte]))
            connection.sendall(b"\r\n\r\n")  # 3 s in all: delivered, were it let through

    threading.Thread(target=trickle, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    try:
        with pytest.raises(DeliveryFailed, match=r"did not answer within 0\.5 seconds"):
            senders.send_webhook(url, "secret", NOTICE, 1)
    finally:
        stop.set()
        listener.close()


def test_an_smtp_server_that_trickles_its_greeting_fails_at_the_deadline(monkeypatch):
    """As for a webhook: the timeout bounds the whole conversation."""
    import socket
    import threading

    from keydesk.notify import senders

    monkeypatch.setattr(senders, "SEND_TIMEOUT_SECONDS", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            for byte in b"220 slow" + b"w" * 60:
                if stop.wait(0.05):
                    return
                connection.sendall(bytes([byte]))

    threading.Thread(target=trickle, daemon=True).start()
    server = smtp_server(f"smtp://127.0.0.1:{listener.getsockname()[1]}", None, None)
    try:
        with pytest.raises(DeliveryFailed, match=r"did not answer within 0\.5 seconds"):
            send_email(server, None, "ops@example.com", NOTICE)
    finally:
        stop.set()
        listener.close()


def test_a_webhook_over_https_checks_the_receivers_certificate(tmp_path, monkeypatch):
    """https:// to a receiver whose certificate this host does not trust is
    a failed delivery; trusted, it is sent."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme

    from keydesk.notify import senders

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    # Polled every 20 ms, not 0.5 s: shutdown() waits for the next poll.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    url = f"https://localhost:{server.server_address[1]}/hook"
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
            senders.send_webhook(url, "secret", NOTICE, 1)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        senders.send_webhook(url, "secret", NOTICE, 1)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("password_file", "password_env"), [
    ("/etc/keydesk/notify.env", None), ("/proc/self/environ", None),
    (None, "KEYDESK_DATABASE_URL"), (None, "KEYDESK_SMTP_URL"), (None, "PGPASSWORD"),
])  # fmt: skip
def test_a_channel_cannot_send_any_file_or_variable_of_the_host_as_its_password(
    world, monkeypatch, password_file, password_env
):
    """A workspace's owner names the server and where its password is read:
    any file or variable would go, as the password, to a server of their
    choosing (the store's URL, the host's SMTP password). Only a file named
    for an SMTP password, or a variable ending in SMTP_PASSWORD, is read:
    refused when added, and by the sending host (a row written by hand)."""
    from keydesk.errors import InvalidInput

    monkeypatch.setenv("KEYDESK_DATABASE_URL", "postgresql://keydesk:db-pass@db/keydesk")
    monkeypatch.setenv("PGPASSWORD", "db-pass")
    with pytest.raises(InvalidInput, match="SMTP password"):
        Channels(ServiceContext(world.store, "alice", None)).add_email(
            "acme", "ops@example.com", smtp="smtp://me@evil.example.com",
            password_file=password_file, password_env=password_env,
        )  # fmt: skip
    with pytest.raises(DeliveryFailed, match="SMTP password") as refused:
        smtp_server("smtp://me@evil.example.com", password_file, password_env)
    assert "db-pass" not in str(refused.value)


def test_a_password_smtp_cannot_send_fails_without_showing_any_of_it(world, trusted, monkeypatch):
    """SMTP AUTH sends ASCII: smtplib's error quoted the password's first other
    character and its place; it reached the stored error and stderr."""
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-smtp\u00e9")
    context = ServiceContext(world.store, "alice", None)
    Channels(context).add_email("acme", "ops@example.com", password_env="SMTP_PASSWORD",
                                smtp=f"smtp://notifier@localhost:{trusted.port}")  # fmt: skip
    world.owner.create_key("github", "prod", expires_at=utcnow() + timedelta(days=10))
    (failure,) = Notifier(context).run().failures
    assert "not ASCII" in failure.error
    assert "e9" not in failure.error and "\u00e9" not in failure.error and "11" not in failure.error
