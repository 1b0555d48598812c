"""`keydesk notify` and its channels on the command line: owners only, the
signing secret shown once, no password on the command line, one line per
notice on stdout, a failed delivery reported in one line naming its channel
and error (exit 1), a dry run that sends nothing and names each delivery it
would retry by its channel."""

from __future__ import annotations

import json

from tests.support.notify_receivers import webhook_receiver


def _key(cli, label: str, expires: str = "2d") -> str:
    code, out, err = cli("key", "create", "--integration", "github", "--label", label,
                         "--expires-in", expires, "--json")  # fmt: skip
    assert code == 0, err
    return json.loads(out)["public_key"]


def test_add_webhook_shows_the_signing_secret_once(configured):
    code, out, err = configured("notify", "add-webhook", "https://hooks.example.com/kd",
                                "--workspace", "acme", "--json")  # fmt: skip
    assert code == 0, err
    secret = json.loads(out)["secret"]
    assert len(secret) >= 40
    for listing in (configured("notify", "list"), configured("notify", "list", "--json")):
        assert listing[0] == 0 and "hooks.example.com/kd" in listing[1]
        assert secret not in listing[1]
    audit = configured("audit", "--json")[1]
    assert secret not in audit and '"notify.add"' in audit and "/kd" not in audit


def test_only_owners_configure_channels(configured):
    assert configured("member", "add", "--workspace", "acme", "--account", "bob",
                      "--role", "admin")[0] == 0  # fmt: skip
    code, _out, err = configured("notify", "add-email", "ops@example.com", "--workspace", "acme",
                                 actor="bob")  # fmt: skip
    assert code == 1 and "only owners may configure notifications" in err
    assert configured("notify", "--workspace", "acme", actor="bob")[0] == 1


def test_no_password_on_the_command_line(configured):
    code, _out, err = configured("notify", "add-email", "ops@example.com", "--workspace", "acme",
                                 "--smtp", "smtp://me:hunter2@mail.example.com:587")  # fmt: skip
    assert code == 1 and "put no password in --smtp" in err and "hunter2" not in err
    code, _out, err = configured(
        "notify", "add-email", "ops@example.com", "--workspace", "acme",
        "--smtp", "smtp://me@mail.example.com", "--smtp-password-env", "SMTP_PASSWORD",
    )  # fmt: skip
    assert code == 0, err
    channels = json.loads(configured("notify", "list", "--json")[1])
    assert [(c["smtp"], c["password_from"]) for c in channels] == [
        ("smtp://me@mail.example.com", "env SMTP_PASSWORD")
    ]


def test_notify_prints_a_line_per_notice_once_and_a_dry_run_sends_nothing(configured):
    prod = _key(configured, "prod")
    with webhook_receiver() as receiver:
        out = configured("notify", "add-webhook", receiver.url, "--workspace", "acme", "--json")[1]
        receiver.secret = json.loads(out)["secret"]
        code, dry, _err = configured("notify", "--dry-run")
        assert code == 0 and dry.startswith("would send: acme github 'prod' " + prod)
        assert receiver.received == []
        code, sent, err = configured("notify")
        assert code == 0, err
        assert sent.splitlines() == [dry.splitlines()[0].removeprefix("would send: ")]
        assert configured("notify") == (0, "", "")
    assert [r["public_key"] for r in receiver.received] == [prod]


def test_a_failed_delivery_is_one_line_and_exit_1_then_retried(configured):
    _key(configured, "prod")
    with webhook_receiver(up=False) as receiver:
        out = configured("notify", "add-webhook", receiver.url, "--workspace", "acme", "--json")[1]
        receiver.secret = json.loads(out)["secret"]
        code, out, err = configured("notify")
        assert code == 1 and len(out.splitlines()) == 1
        assert err.count("\n") == 1
        assert (
            f"webhook 1 (http://127.0.0.1:{receiver.port}): 1 delivery failed, tried again on the next run"
            in err
        )
        assert (
            f"would retry: webhook 1 (http://127.0.0.1:{receiver.port}): acme github 'prod'"
            in configured("notify", "--dry-run")[1]
        )
        receiver.start()
        assert configured("notify") == (0, "", "")
    assert len(receiver.received) == 1


def test_each_failing_channel_is_named_with_its_own_error(configured):
    from tests.support.notify_receivers import free_port

    prod = _key(configured, "prod")
    smtp = f"smtp://127.0.0.1:{free_port()}"
    with webhook_receiver(up=False) as receiver:
        configured("notify", "add-webhook", receiver.url, "--workspace", "acme")
        configured("notify", "add-email", "ops@example.com", "--workspace", "acme", "--smtp", smtp)
        code, _out, err = configured("notify")
    assert code == 1
    webhook, email = err.splitlines()
    assert webhook.startswith(
        f"keydesk: webhook 1 (http://127.0.0.1:{receiver.port}): 1 delivery failed, tried"
    )
    assert email.startswith("keydesk: email 2 (ops@example.com): 1 delivery failed, tried")
    werror, eerror = (line.split("next run: ", 1)[1] for line in (webhook, email))
    assert werror and eerror and werror != eerror
    code, dry, _err = configured("notify", "--dry-run")
    assert code == 0 and dry.splitlines() == [
        f"would retry: webhook 1 (http://127.0.0.1:{receiver.port}): acme github 'prod' {prod}: "
        + dry.splitlines()[0].split(f"{prod}: ", 1)[1],
        f"would retry: email 2 (ops@example.com): acme github 'prod' {prod}: "
        + dry.splitlines()[0].split(f"{prod}: ", 1)[1],
    ]
    listed = configured("notify", "list")[1]
    assert "LAST ERROR" in listed and werror in listed and eerror in listed
    channels = json.loads(configured("notify", "list", "--json")[1])
    assert [(c["failing_deliveries"], c["last_error"]) for c in channels] == [
        (1, werror),
        (1, eerror),
    ]


def test_remove_a_channel(configured):
    configured("notify", "add-email", "ops@example.com", "--workspace", "acme")
    code, out, err = configured("notify", "remove", "ops@example.com")
    assert code == 0 and "acme no longer sends notices to ops@example.com" in out, err
    assert configured("notify", "list", "--json")[1].strip() == "[]"
    assert configured("notify", "remove", "ops@example.com")[0] == 1


def test_remove_a_webhook_by_its_url(configured):
    """README: `notify remove` takes a channel's id, URL or address."""
    url = "https://hooks.example.com/kd"
    assert configured("notify", "add-webhook", url, "--workspace", "acme")[0] == 0
    code, out, err = configured("notify", "remove", url)
    assert (code, out, err) == (0, f"acme no longer sends notices to {url}\n", "")
    assert configured("notify", "list", "--json")[1].strip() == "[]"


def test_a_plain_http_webhook_to_another_host_is_refused_in_one_line(configured):
    """README: webhooks are `https://` only (`http://` to localhost)."""
    url = "http://hooks.example.com/kd"
    code, out, err = configured("notify", "add-webhook", url, "--workspace", "acme")
    assert (code, out) == (1, "")
    assert err == (
        f"keydesk: the webhook URL '{url}' must be an absolute https:// URL "
        "(http:// only to localhost)\n"
    )
    assert configured("notify", "list", "--json")[1].strip() == "[]"


def test_a_channel_written_by_hand_is_shown_literally_when_removed(configured, tmp_path):
    """On SQLite the store is a file anyone with access may edit: a target
    carrying an escape sequence must not restyle the terminal."""
    import sqlite3

    assert configured("notify", "add-email", "ops@example.com", "--workspace", "acme")[0] == 0
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("UPDATE notify_channel SET target = 'ops@example.com\x1b[2J\x1b]0;pwned\x07'")
    code, out, err = configured("notify", "remove", "1")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out
