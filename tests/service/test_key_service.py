"""The key service, on every backend: permissions, integration states,
labels, revocation and the audit trail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keydesk.errors import (
    AlreadyExists,
    AlreadyRevoked,
    IntegrationNotConfigured,
    InvalidInput,
    InvalidLabel,
    NotFound,
    PermissionDenied,
    Unauthorized,
    UnauthorizedReason,
)
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.verify import Verifier
from keydesk.views import IntegrationStatus


def test_round_trip_create_verify_revoke_from_a_second_engine(world, store_url):
    created = world.owner.create_key("github", "api-gateway-prod")
    verifier = Verifier(world.store.engine)
    identity = verifier.verify(created.private_key.reveal())
    assert (identity.public_key, identity.label, identity.integration, identity.workspace) == (
        created.key.public_key,
        "api-gateway-prod",
        "github",
        "acme",
    )

    other = open_store(store_url)  # a second engine: its own pool and connections
    try:
        KeyService(other, "alice").revoke_key(created.key.public_key)
    finally:
        other.dispose()

    with pytest.raises(Unauthorized) as error:
        verifier.verify(created.private_key.reveal())
    assert error.value.reason is UnauthorizedReason.REVOKED
    verifier.close()


def test_create_returns_the_private_key_once_and_lists_never_do(world):
    created = world.owner.create_key("github", "CI Runner")
    secret = created.private_key.reveal()
    assert secret not in repr(created)
    listed = world.owner.keys("github")
    assert [k.public_key for k in listed] == [created.key.public_key]
    assert secret not in repr(listed)
    assert listed[0].status == "active" and listed[0].created_by == "alice"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_may_look_but_not_manage(world, role):
    kept = world.owner.create_key("github", "prod")
    service = world.as_account("bob", role)
    assert [i.name for i in service.integrations()] == ["github", "gitlab"]
    assert [k.label for k in service.keys("github")] == ["prod"]
    with pytest.raises(PermissionDenied, match=f"bob is a {role}"):
        service.create_key("github", "mine")
    with pytest.raises(PermissionDenied):
        service.revoke_key(kept.key.public_key)
    with pytest.raises(PermissionDenied):
        service.configure_integration("gitlab")


def test_non_members_see_nothing_and_do_nothing(world):
    kept = world.owner.create_key("github", "prod")
    stranger = KeyService(world.store, "mallory")
    assert stranger.integrations() == []
    with pytest.raises(NotFound):
        stranger.create_key("github", "mine")
    # Asked by public key, another workspace's key is as unknown as one that is not there.
    with pytest.raises(NotFound, match=f"^no key {kept.key.public_key}$"):
        stranger.revoke_key(kept.key.public_key)
    with pytest.raises(NotFound, match=f"^no key {kept.key.public_key}$"):
        stranger.key(kept.key.public_key)


def test_admins_manage_but_only_owners_make_owners(world):
    admin = world.as_account("carol", "admin")
    assert admin.create_key("github", "carol's key").key.created_by == "carol"
    with pytest.raises(PermissionDenied, match="only an owner"):
        admin.add_member("acme", "dave", "owner")


def test_keys_only_for_configured_integrations(world):
    with pytest.raises(IntegrationNotConfigured, match="draft"):
        world.owner.create_key("gitlab", "prod")
    world.owner.disable_integration("github")
    with pytest.raises(IntegrationNotConfigured, match="disabled"):
        world.owner.create_key("github", "prod")


def test_configuring_needs_client_id_and_https_redirect(world):
    with pytest.raises(IntegrationNotConfigured, match="client id and redirect URI"):
        world.owner.configure_integration("gitlab")
    for bad in ("http://example.com/cb", "ftp://x/y", "/relative", "example.com"):
        with pytest.raises(InvalidInput, match="https://"):
            world.owner.update_integration("gitlab", redirect_uri=bad)
    world.owner.update_integration(
        "gitlab", client_id="gl-client", redirect_uri="http://localhost:8080/cb"
    )
    assert world.owner.configure_integration("gitlab").status is IntegrationStatus.CONFIGURED


def test_an_edit_with_configure_is_all_or_nothing(world):
    """#8.15: a configure that fails leaves the edited settings unwritten."""
    with pytest.raises(IntegrationNotConfigured, match="redirect URI"):
        world.owner.update_integration(
            "gitlab", client_id="gl-new", scopes="api read_user", configure=True
        )
    with pytest.raises(InvalidInput, match="https://"):
        world.owner.update_integration(
            "gitlab", client_id="gl-new", redirect_uri="http://x.example/cb", configure=True
        )
    unchanged = world.owner.integration("gitlab")
    assert (unchanged.client_id, unchanged.scopes, unchanged.status) == (None, "", "draft")
    configured = world.owner.update_integration(
        "gitlab", client_id="gl-new", redirect_uri="https://x.example/cb", configure=True
    )
    assert configured.status is IntegrationStatus.CONFIGURED and configured.client_id == "gl-new"
    actions = [e.action for e in world.owner.audit("acme")[:2]]
    assert actions == ["integration.configure", "integration.update"]
    # The integration's own trail has them too (its Audit tab left out edits).
    own = [e.action for e in world.owner.audit("acme", integration="gitlab")[:2]]
    assert own == ["integration.configure", "integration.update"]


def test_clearing_a_setting_is_a_change_refused_while_configured(world):
    with pytest.raises(InvalidInput, match="keys depend on its client id"):
        world.owner.update_integration("github", client_id="", scopes="changed")
    kept = world.owner.integration("github")
    assert (kept.client_id, kept.scopes) == ("Iv1.abc123", "repo read:org")
    world.owner.update_integration("gitlab", client_id="gl", redirect_uri="https://x.example/cb")
    cleared = world.owner.update_integration("gitlab", client_id="  ", redirect_uri="")
    assert (cleared.client_id, cleared.redirect_uri) == (None, None)
    world.owner.disable_integration("github")
    assert world.owner.update_integration("github", client_id="").client_id is None


def test_keys_stream_in_order_with_times_in_utc(world):
    for label in ("one", "two", "three"):
        world.owner.create_key("github", label)
    world.owner.revoke_key(world.owner.keys("github")[1].public_key)  # "two"
    with world.owner.reading() as reads:
        stream = reads.keys("github", stream=True)
        first = next(stream)
        assert first.label == "three" and first.created_at.tzinfo is not None
        rest = list(stream)
    assert [k.label for k in rest] == ["one", "two"]
    assert rest[1].revoked_at is not None and rest[1].revoked_at.utcoffset().total_seconds() == 0
    assert rest[1].revoked_by == "alice" and rest[1].integration == "github"
    assert [k.label for k in world.owner.keys("github", include_revoked=False)] == ["three", "one"]


def test_disabling_an_integration_stops_its_keys_until_reconfigured(world):
    created = world.owner.create_key("github", "prod")
    verifier = Verifier(world.store.engine)
    world.owner.disable_integration("github")
    with pytest.raises(Unauthorized) as error:
        verifier.verify(created.private_key)
    assert error.value.reason is UnauthorizedReason.INTEGRATION_DISABLED
    world.owner.configure_integration("github")
    assert verifier.verify(created.private_key).label == "prod"


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "required"),
        ("   ", "required"),
        ("x" * 65, "65 characters long; at most 64"),
        ("prod\x1b[2J", "escape sequence"),
        ("line\nbreak", "control or invisible character"),
        ("tab\there", "control or invisible character"),
        ("bell\x07", "control or invisible character"),
        ("rtl\u202eoverride", "control or invisible character"),
        ("zero\u200bwidth", "control or invisible character"),
        ("c1\x9bcontrol", "control or invisible character"),
    ],
)
def test_every_invalid_label_is_refused_with_its_reason(module_world, label, message):
    with pytest.raises(InvalidLabel, match=message):
        module_world.owner.create_key("github", label)
    assert module_world.owner.keys("github") == []  # (a store shared by the refusals)


def test_labels_are_trimmed_and_may_hold_markup_literally(world):
    assert world.owner.create_key("github", "  CI Runner  ").key.label == "CI Runner"
    assert world.owner.create_key("github", "[bold red]x[/]").key.label == "[bold red]x[/]"
    assert world.owner.create_key("github", "x" * 64).key.label == "x" * 64


def test_active_labels_are_unique_per_integration_but_free_after_revoke(world):
    first = world.owner.create_key("github", "prod")
    with pytest.raises(InvalidLabel, match="already exists"):
        world.owner.create_key("github", "prod")
    world.owner.revoke_key(first.key.public_key)
    second = world.owner.create_key("github", "prod")
    assert second.key.public_key != first.key.public_key


def test_revoking_twice_is_a_clear_error(world):
    created = world.owner.create_key("github", "prod")
    revoked = world.owner.revoke_key(created.key.public_key)
    assert revoked.status == "revoked" and revoked.revoked_by == "alice"
    with pytest.raises(AlreadyRevoked, match="already revoked"):
        world.owner.revoke_key(created.key.public_key)


def test_unknown_or_malformed_public_keys(world):
    with pytest.raises(NotFound):
        world.owner.revoke_key("kdpk_AAAAAAAAAAAAAAAA")
    with pytest.raises(InvalidInput, match="not a public key"):
        world.owner.revoke_key("nope")
    created = world.owner.create_key("github", "prod")
    with pytest.raises(InvalidInput, match="looks like a private key"):
        world.owner.revoke_key(created.private_key.reveal())


def test_verify_reasons(world):
    created = world.owner.create_key("github", "prod")
    text = created.private_key.reveal()
    verifier = Verifier(world.store.engine)
    other = world.owner.create_key("github", "other").private_key.reveal()
    wrong_secret = text[:22] + other[22:]  # right id, someone else's secret+checksum
    forged_id = "kdsk_" + "A" * 16 + other[21:]
    from keydesk.keys import checksum

    wrong_secret = wrong_secret[:-6] + checksum(wrong_secret[:-6])
    forged_id = forged_id[:-6] + checksum(forged_id[:-6])
    cases = {
        "": UnauthorizedReason.MISSING,
        "hello": UnauthorizedReason.MALFORMED,
        text[:-1] + ("A" if text[-1] != "A" else "B"): UnauthorizedReason.BAD_CHECKSUM,
        forged_id: UnauthorizedReason.UNKNOWN,
        wrong_secret: UnauthorizedReason.WRONG_SECRET,
        # A key's length with another character: once warm, it raised UnicodeEncodeError.
        text[:-1] + "é": UnauthorizedReason.MALFORMED,
        "é" * len(text): UnauthorizedReason.MALFORMED,
        text[:-1] + "\ud800": UnauthorizedReason.MALFORMED,
    }
    verifier.verify(text)  # warm: its text is known
    for presented, reason in cases.items():
        for _ in range(2):  # the second time comes from the failure cache
            with pytest.raises(Unauthorized) as error:
                verifier.verify(presented)
            assert error.value.reason is reason, presented
            assert len(presented) < 20 or presented[5:] not in error.value.message
    verifier.close()


def test_last_used_is_recorded(world):
    created = world.owner.create_key("github", "prod")
    verifier = Verifier(world.store.engine)
    verifier.verify(created.private_key)
    verifier.flush()
    assert world.owner.key(created.key.public_key).last_used_at is not None
    verifier.close()


def test_names_are_unique_where_they_should_be(world):
    with pytest.raises(AlreadyExists):
        world.owner.create_workspace("acme")
    with pytest.raises(AlreadyExists):
        world.owner.add_integration("acme", "github", "GitHub")


def test_every_change_is_audited_without_secrets(world):
    created = world.owner.create_key("github", "prod")
    world.owner.revoke_key(created.key.public_key)
    events = world.owner.audit("acme")
    actions = [e.action for e in events]
    assert actions[:2] == ["key.revoke", "key.create"]
    assert {"workspace.create", "integration.add", "integration.configure"} <= set(actions)
    # On PostgreSQL the database writes the events as the session's role
    # (here the superuser the test connects as), whatever name the service holds.
    assert {e.actor for e in events} == {world.store.database_role() or "alice"}
    secret = created.private_key.reveal()
    assert not any(secret[22:] in repr(e) for e in events)


def test_ambiguous_integration_names_ask_for_a_workspace(world):
    world.owner.create_workspace("beta")
    world.owner.add_integration("beta", "github", "GitHub")
    with pytest.raises(InvalidInput, match="several workspaces"):
        world.owner.keys("github")
    assert world.owner.integration("github", workspace="beta").workspace == "beta"
    assert world.owner.integration(world.github.id).workspace == "acme"


def test_replacement_labels_carry_one_date_and_fit():
    from datetime import date

    from keydesk.views import replacement_label

    today = date(2026, 11, 27)
    assert replacement_label("api-gateway-prod", today) == "api-gateway-prod (2026-11-27)"
    assert (
        replacement_label("api-gateway-prod (2025-01-31)", today) == "api-gateway-prod (2026-11-27)"
    )
    long = replacement_label("x" * 64, today)
    assert len(long) == 64 and long.endswith("(2026-11-27)")
    # Cut in the middle: the end often tells keys apart ("…v2", "…v3").
    v2, v3 = (f"Production backend for the payments reconciliation service {v}" for v in "23")
    assert replacement_label(v2, today).endswith("reconciliation service 2 (2026-11-27)")
    assert replacement_label(v2, today) != replacement_label(v3, today)
    taken = {"api (2026-11-27)", "api (2026-11-27 #2)"}
    assert replacement_label("api (2026-11-27)", today, taken) == "api (2026-11-27 #3)"
    assert replacement_label("api (2026-11-27 #3)", today) == "api (2026-11-27)"
    assert len(replacement_label("x" * 64, today, {long})) == 64


@given(
    st.text(
        alphabet=st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=64
    ).filter(lambda text: text.strip()),
    st.dates(),
)
def test_replacement_labels_are_valid_labels_with_one_date(label, today):
    from keydesk import validation
    from keydesk.views import replacement_label

    label = validation.label(label)
    replaced = replacement_label(label, today)
    assert validation.label(replaced) == replaced
    assert replaced.endswith(f"({today.isoformat()})")
    assert replacement_label(replaced, today) == replaced


# -- every public method, called directly ----------------------------------------


def test_workspaces_are_the_actors_and_one_is_found_by_its_stored_name(world):
    assert [(w.name, w.role) for w in world.owner.workspaces()] == [("acme", "owner")]
    assert world.owner.workspace().name == "acme"  # the only one: no name needed
    assert world.owner.workspace("  acme ").name == "acme"  # typed names as stored
    with pytest.raises(NotFound, match="no workspace named 'globex' among yours"):
        world.owner.workspace("globex")
    world.owner.create_workspace("globex")
    with pytest.raises(InvalidInput, match=r"several workspaces \(acme, globex\)"):
        world.owner.workspace()
    with pytest.raises(PermissionDenied, match="mallory is not a member of any workspace"):
        KeyService(world.store, "mallory").workspace()
    assert KeyService(world.store, "mallory").workspaces() == []


def test_only_owners_set_the_key_policy_and_new_keys_follow_it(world):
    from datetime import timedelta

    from keydesk.views import utcnow

    admin = world.as_account("carol", "admin")
    with pytest.raises(PermissionDenied, match="only owners may set its key policy"):
        admin.set_key_policy("acme", 30)
    for days in (0, 36_501):
        with pytest.raises(InvalidInput, match="between 1 and 36500 days"):
            world.owner.set_key_policy("acme", days)
    kept = world.owner.create_key("github", "no expiry")  # made before the cap: kept as is
    assert world.owner.set_key_policy(None, 30).max_key_lifetime_days == 30
    assert world.owner.workspace("acme").max_key_lifetime_days == 30
    with pytest.raises(InvalidInput, match="must expire within 30 days"):
        admin.create_key("github", "forever")
    with pytest.raises(InvalidInput, match="further than 30 days away"):
        admin.create_key("github", "long", expires_at=utcnow() + timedelta(days=31))
    assert admin.create_key("github", "short", expires_at=utcnow() + timedelta(days=29))
    assert world.owner.key(kept.key.public_key).expires_at is None
    assert world.owner.audit("acme")[1].action == "workspace.policy"
    assert world.owner.set_key_policy("acme", None).max_key_lifetime_days is None
    assert world.owner.create_key("github", "forever").key.expires_at is None


def test_rotating_with_an_overlap_keeps_the_old_key_working_until_it_stops(world):
    from datetime import timedelta

    from keydesk.views import utcnow

    old = world.owner.create_key("github", "prod", scopes=["repo"]).key
    before = utcnow()
    rotated = world.owner.rotate_key(old.public_key, timedelta(hours=1))
    new = rotated.created.key
    assert rotated.created.private_key.reveal().startswith("kdsk_")
    assert new.label == f"prod ({before.date().isoformat()})" and new.scopes == ("repo",)
    assert new.replaces == old.public_key and rotated.old.replaced_by == new.public_key
    assert not rotated.old_revoked and rotated.old.is_active
    assert rotated.old.expires_at == rotated.old_stops_at
    assert before + timedelta(hours=1) <= rotated.old_stops_at <= utcnow() + timedelta(hours=1)
    event = world.owner.audit(key=old.public_key)[0]
    assert (event.action, event.target, event.related) == (
        "key.rotate",
        old.public_key,
        new.public_key,
    )
    with pytest.raises(InvalidInput, match=f"already being replaced by {new.public_key}"):
        world.owner.rotate_key(old.public_key, timedelta(hours=1))


def test_a_replacement_rotated_the_day_it_was_made_gets_a_label_of_its_own(world):
    """The replacement's dated label was its own replacement's too, which an
    active key (itself, in its overlap) held: the rotation was refused with
    advice to choose a label that the rotate dialog has no field for."""
    from datetime import timedelta

    from keydesk.views import utcnow

    first = world.owner.create_key("github", "CI Runner").key
    today = utcnow().date().isoformat()
    second = world.owner.rotate_key(first.public_key, timedelta(hours=1)).created.key
    third = world.owner.rotate_key(second.public_key, timedelta(hours=1)).created.key
    fourth = world.owner.rotate_key(third.public_key, timedelta(hours=1)).created.key
    assert [second.label, third.label, fourth.label] == [
        f"CI Runner ({today})",
        f"CI Runner ({today} #2)",
        f"CI Runner ({today} #3)",
    ]


def test_rotating_with_no_overlap_revokes_the_old_key_at_once(world):
    from datetime import timedelta

    old = world.owner.create_key("github", "prod").key
    rotated = world.owner.rotate_key(old.public_key, timedelta(0), label="prod v2")
    assert rotated.old_revoked and rotated.old.revoked_by == "alice"
    assert rotated.created.key.label == "prod v2" and rotated.created.key.is_active
    assert world.owner.audit(key=old.public_key)[0].label == "old key revoked at once"
    with pytest.raises(AlreadyRevoked, match="create a new key instead"):
        world.owner.rotate_key(old.public_key, timedelta(0))


def test_rotation_is_refused_with_a_reason(world):
    from datetime import timedelta

    key = world.owner.create_key("github", "prod").key.public_key
    with pytest.raises(InvalidInput, match="overlap cannot be negative"):
        world.owner.rotate_key(key, timedelta(seconds=-1))
    with pytest.raises(PermissionDenied, match="only owners and admins may rotate keys"):
        world.as_account("bob", "member").rotate_key(key, timedelta(0))
    with pytest.raises(NotFound, match=f"^no key {key}$"):
        KeyService(world.store, "mallory").rotate_key(key, timedelta(0))
    world.owner.disable_integration("github")
    with pytest.raises(IntegrationNotConfigured, match="disabled"):
        world.owner.rotate_key(key, timedelta(0))


def test_a_replacement_lives_as_long_as_the_old_key_within_todays_cap(world):
    from datetime import timedelta

    from keydesk.views import utcnow

    old = world.owner.create_key("github", "prod", expires_at=utcnow() + timedelta(days=90)).key
    assert old.lifetime_days == 90
    world.owner.set_key_policy("acme", 30)
    new = world.owner.rotate_key(old.public_key, timedelta(0)).created.key
    assert new.lifetime_days == 30 and new.expires_at is not None
    assert timedelta(days=29) < new.expires_at - utcnow() <= timedelta(days=30)


def test_key_is_one_key_for_the_members_of_its_workspace(world):
    created = world.owner.create_key("github", "prod")
    viewer = world.as_account("vic", "viewer")
    assert viewer.key(f"  {created.key.public_key} ") == world.owner.key(created.key.public_key)
    with pytest.raises(InvalidInput, match="not a public key"):
        viewer.key("prod")


def test_key_usage_has_every_hour_of_the_range_for_members_only(world):
    from datetime import timedelta

    from keydesk.views import USAGE_RANGE_MAX, utcnow

    created = world.owner.create_key("github", "prod")
    verifier = Verifier(world.store.engine)
    try:
        verifier.verify(created.private_key.reveal())
    finally:
        verifier.close()  # counts are written when it closes
    usage = world.as_account("vic", "viewer").key_usage(
        created.key.public_key, utcnow() - timedelta(hours=2)
    )
    assert usage.public_key == created.key.public_key
    assert len(usage.hours) == 3 and usage.accepted == 1 and usage.refused == {}
    assert [h.start for h in usage.hours] == sorted(h.start for h in usage.hours)
    longest = world.owner.key_usage(created.key.public_key, utcnow() - 2 * USAGE_RANGE_MAX)
    assert len(longest.hours) == USAGE_RANGE_MAX // timedelta(hours=1) + 1
    with pytest.raises(NotFound):
        KeyService(world.store, "mallory").key_usage(created.key.public_key, utcnow())


def test_a_found_private_key_is_its_own_proof_and_is_revoked_once(world):
    from keydesk.keys import generate_key_pair

    created = world.owner.create_key("github", "prod")
    stranger = KeyService(world.store, "mallory")  # no role needed: the secret is the proof
    found = stranger.found_key(created.private_key)
    assert found.secret_checked and found.may_work and found.key is not None
    assert found.key.public_key == created.key.public_key
    unknown = stranger.found_key(generate_key_pair().private_key)
    assert (unknown.key, unknown.status, unknown.may_work) == (None, "unknown", False)
    revoked = stranger.revoke_found_key(created.private_key, "a CI log")
    assert revoked.revoked_at is not None and revoked.revoked_by is None
    event = world.owner.audit(key=created.key.public_key)[0]
    assert (event.action, event.label) == ("key.revoke.leaked", "found at a CI log")
    with pytest.raises(AlreadyRevoked, match="is already revoked"):
        stranger.revoke_found_key(created.private_key, "a CI log")
    with pytest.raises(NotFound, match="in this store"):
        stranger.revoke_found_key(generate_key_pair().private_key, "x")


def test_revoke_leaked_key_names_the_key_it_revoked(world):
    created = world.owner.create_key("github", "prod")
    public_key = world.owner.revoke_leaked_key(created.private_key, "  a paste\x1b[2J ")
    assert public_key == created.key.public_key
    assert not world.owner.key(public_key).is_active
    label = world.owner.audit(key=public_key)[0].label
    assert label == "found at a paste\\x1b[2J"  # printable, trimmed: a label's rules
    with pytest.raises(AlreadyRevoked):
        world.owner.revoke_leaked_key(created.private_key, "again")


def test_keys_of_a_disabled_integration_say_they_are_refused_until_it_is_configured_again(world):
    """A disabled integration's active key read 'active' under a 'Disabled:
    its keys are refused' banner; its status stays active (it works again
    once the integration is configured), its words say it is refused."""
    from keydesk.views import REFUSED_WHILE_DISABLED

    active = world.owner.create_key("github", "refused-while-off").key
    revoked = world.owner.create_key("github", "gone")
    world.owner.revoke_key(revoked.key.public_key)
    world.owner.disable_integration("github")
    keys = {key.label: key for key in world.owner.keys("github")}
    assert keys["refused-while-off"].integration_disabled
    assert keys["refused-while-off"].status_words() == REFUSED_WHILE_DISABLED
    assert keys["refused-while-off"].is_active
    assert keys["gone"].status_words() == "revoked"
    assert world.owner.key(active.public_key).integration_disabled  # one key, as read alone
    world.owner.configure_integration("github")
    assert world.owner.key(active.public_key).status_words() == "active"


def test_an_edit_that_changes_nothing_writes_no_event(world):
    """Saving the edit form untouched said "saved" and added an
    integration.update to the trail, which then listed edits that were none."""
    before = world.owner.integration("github")
    events = len(world.owner.audit("acme"))
    same = world.owner.update_integration(
        "github", client_id=before.client_id, redirect_uri=before.redirect_uri,
        scopes=before.scopes,
    )  # fmt: skip
    assert same.updated_at == before.updated_at
    assert len(world.owner.audit("acme")) == events
    world.owner.update_integration("github", scopes=before.scopes + " extra")
    assert world.owner.audit("acme")[0].action == "integration.update"
