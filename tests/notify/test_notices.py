"""Which notices are due, and that each is claimed once: per expiry
threshold, for a rotation's old key still used, a leaked key, a spike of
wrong secrets. On SQLite and PostgreSQL (the `world` fixture)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from keydesk.errors import PermissionDenied, Unauthorized
from keydesk.notify import Notice, Notifier
from keydesk.notify.notices import SPIKE_WRONG_SECRETS
from keydesk.service.context import ServiceContext
from keydesk.verify import Verifier
from keydesk.views import utcnow


def _notifier(world, actor: str = "alice") -> Notifier:
    return Notifier(ServiceContext(world.store, actor, None), send=_no_channel)


def _no_channel(*_args) -> None:
    raise AssertionError("no channel is configured in these tests")


def _claimed(notifier: Notifier, now: datetime) -> list[tuple[str, str]]:
    """What one run at `now` claims: (kind, label)."""
    mine = notifier.claim(notifier.due(None, now), now)
    return sorted((notice.kind, notice.label) for _id, notice in mine)


def test_each_expiry_threshold_is_noticed_once_per_key(world):
    world.owner.create_key("github", "prod", expires_at=utcnow() + timedelta(days=20))
    notifier, now = _notifier(world), utcnow()
    assert _claimed(notifier, now) == []  # 20 days left: nothing yet
    steps = [
        (now + timedelta(days=7), [("expiry.14d", "prod")]),  # 13 days left
        (now + timedelta(days=8), []),  # 12 days left: told already
        (now + timedelta(days=17, hours=12), [("expiry.3d", "prod")]),
        (now + timedelta(days=18), []),
        (now + timedelta(days=19, hours=6), [("expiry.1d", "prod")]),
        (now + timedelta(days=19, hours=23), []),
        (now + timedelta(days=21), []),  # expired: nothing more
    ]
    for moment, expected in steps:
        assert _claimed(notifier, moment) == expected, moment


def test_a_key_first_seen_past_several_thresholds_gets_one_notice_for_the_nearest(world):
    world.owner.create_key("github", "ci", expires_at=utcnow() + timedelta(days=2))
    notifier, now = _notifier(world), utcnow()
    assert _claimed(notifier, now) == [("expiry.3d", "ci")]
    assert _claimed(notifier, now + timedelta(hours=1)) == []
    assert _claimed(notifier, now + timedelta(days=1, hours=2)) == [("expiry.1d", "ci")]


def test_a_new_expiry_is_a_new_occasion(world):
    """`key keep` (or any new expiry) starts the thresholds again."""
    key = world.owner.create_key("github", "ci", expires_at=utcnow() + timedelta(days=2)).key
    notifier, now = _notifier(world), utcnow()
    assert _claimed(notifier, now) == [("expiry.3d", "ci")]
    with world.store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE api_key SET expires_at = :at WHERE id = :id"),
                           {"at": now + timedelta(days=2, hours=5), "id": key.id})  # fmt: skip
    assert _claimed(notifier, now) == [("expiry.3d", "ci")]


def _use(world, public_key: str, at: datetime) -> None:
    with world.store.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE api_key SET last_used_at = :at WHERE public_key = :key"),
            {"at": at, "key": public_key},
        )


def test_a_rotated_key_still_used_in_its_last_day_is_noticed_once(world):
    old = world.owner.create_key("github", "api", expires_at=utcnow() + timedelta(days=60)).key
    rotated = world.owner.rotate_key(old.public_key, timedelta(hours=24))
    notifier, now = _notifier(world), utcnow()
    _use(world, old.public_key, now - timedelta(minutes=5))  # before the rotation: fine
    assert _claimed(notifier, now) == []  # and no expiry notice: its stop is planned
    _use(world, old.public_key, now + timedelta(minutes=1))
    claimed = notifier.claim(notifier.due(None, now + timedelta(minutes=2)), now)
    assert [(n.kind, n.public_key) for _id, n in claimed] == [
        ("rotation.still_used", old.public_key)
    ]
    assert rotated.created.key.public_key in claimed[0][1].todo
    assert _claimed(notifier, now + timedelta(hours=3)) == []


def test_a_rotation_whose_replacement_was_revoked_gets_expiry_notices(world):
    old = world.owner.create_key("github", "api", expires_at=utcnow() + timedelta(days=60)).key
    rotated = world.owner.rotate_key(old.public_key, timedelta(hours=24))
    world.owner.revoke_key(rotated.created.key.public_key)
    assert _claimed(_notifier(world), utcnow()) == [("expiry.1d", "api")]


def test_a_key_revoked_because_it_leaked_is_noticed_once(world):
    leaked = world.owner.create_key("github", "deploy").key
    world.owner.create_key("github", "other")
    world.owner.revoke_key(leaked.public_key, leaked_at="ci-logs/build.txt:3")
    notifier = _notifier(world)
    claimed = notifier.claim(notifier.due(None, utcnow()), utcnow())
    assert [(n.kind, n.label) for _id, n in claimed] == [("key.leaked", "deploy")]
    assert "ci-logs/build.txt:3" in claimed[0][1].what
    assert _claimed(notifier, utcnow()) == []


def test_a_plain_revocation_is_no_notice(world):
    key = world.owner.create_key("github", "deploy").key
    world.owner.revoke_key(key.public_key)
    assert _claimed(_notifier(world), utcnow()) == []


def _wrong_secrets(world, keys, count: int) -> None:
    verifier = Verifier(world.store.engine, usage_flush_seconds=3600.0)
    try:
        for _ in range(count):
            with pytest.raises(Unauthorized):
                verifier.verify(keys["wrong_secret"])
        verifier.flush()
    finally:
        verifier.close()


def test_a_spike_of_wrong_secrets_counted_by_the_verifier_is_noticed_once_an_hour(world, keys):
    notifier = _notifier(world)
    _wrong_secrets(world, keys, SPIKE_WRONG_SECRETS - 1)
    assert _claimed(notifier, utcnow()) == []  # below the spike
    _wrong_secrets(world, keys, 1)
    assert _claimed(notifier, utcnow()) == [("wrong_secret.spike", "prod")]
    _wrong_secrets(world, keys, 5)
    assert _claimed(notifier, utcnow()) == []  # that hour was told


def test_a_notice_names_everything_and_no_secret(world):
    created = world.owner.create_key("github", "api-gateway-prod",
                                      expires_at=utcnow() + timedelta(days=5))  # fmt: skip
    (notice,) = _notifier(world).due(None, utcnow())
    payload = notice.payload(1)
    assert (payload["workspace"], payload["integration"], payload["label"],
            payload["public_key"]) == ("acme", "github", "api-gateway-prod",
                                       created.key.public_key)  # fmt: skip
    assert "expires in 5 days" in payload["what"] and "keydesk key rotate" in payload["todo"]
    secret = created.private_key.reveal()
    for shown in (notice.body(), notice.line(), notice.text(), notice.headline()):
        assert secret not in shown and secret[22:38] not in shown


def test_labels_are_shown_literally_never_obeyed():
    notice = Notice("expiry.1d", "x", 1, 1, "acme", "git\x1b[31mhub", "a\x1b[2J\nb\u202e",
                    "kdpk_x", "expires", "rotate it")  # fmt: skip
    for shown in (notice.line(), notice.headline(), notice.text()):
        assert "\x1b" not in shown and "\u202e" not in shown
    assert "\n" not in notice.line() and "\n" not in notice.headline()
    assert "\\x1b[2J" in notice.line()


def test_only_owners_run_notify_for_a_workspace(world):
    world.as_account("bob", "admin")
    with pytest.raises(PermissionDenied, match="only owners"):
        Notifier(ServiceContext(world.store, "bob", None)).run("acme")
    world.owner.create_key("github", "ci", expires_at=utcnow() + timedelta(days=2))
    with pytest.raises(PermissionDenied, match="bob owns no workspace"):
        Notifier(ServiceContext(world.store, "bob", None)).run()  # a timer's wrong account


def test_a_key_revoked_through_v1_revoke_is_noticed_and_old_leaks_are_not(world):
    created = world.owner.create_key("github", "deploy")
    world.owner.revoke_leaked_key(created.private_key, "POST /v1/revoke from 192.0.2.7")
    old = world.owner.create_key("github", "old").key
    world.owner.revoke_key(old.public_key, leaked_at="a file long ago")
    with world.store.engine.begin() as connection:  # that leak was 8 days ago
        connection.execute(
            sa.text("UPDATE audit_event SET at = :at WHERE target = :key"),
            {"at": utcnow() - timedelta(days=8), "key": old.public_key},
        )
    assert _claimed(_notifier(world), utcnow()) == [("key.leaked", "deploy")]
