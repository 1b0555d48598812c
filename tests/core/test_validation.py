"""What users type: private keys redacted and refused, URIs checked, names
normalised, look-alikes caught (UTS #39 data), on both backends."""

from __future__ import annotations

import unicodedata

import pytest

from keydesk.errors import AlreadyExists, InvalidInput, InvalidLabel
from keydesk.redaction import looks_like_private_key, redact_private_keys
from keydesk.validation import confusable_with, redirect_uri, skeletons
from tests.support.fakes import seeded_key_pairs

KEY = seeded_key_pairs(8)().private_key.reveal()  # the same in every xdist worker
NFD_CAFE = unicodedata.normalize("NFD", "café")
CYRILLIC_O = "\u043e"
FULL_WIDTH_P = "\uff50"


def test_private_keys_are_recognised_whole_truncated_or_embedded():
    for text in (KEY, KEY[:30], f"Bearer {KEY}", f"https://x.example/cb?k={KEY}", KEY[:-1] + "x"):
        assert looks_like_private_key(text)
        shown = redact_private_keys(text)
        assert KEY[:9] + "…" in shown and KEY[9:20] not in shown
        assert shown.endswith("(this looks like a private key; it was not stored or logged)")
    for text in ("kdsk_prod", "kdpk_" + KEY[5:21], "my kdsk_ notes", ""):
        assert not looks_like_private_key(text) and redact_private_keys(text) == text


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("https://[::1/cb", "not a valid URL"),
        ("https://[zz]/cb", "not a valid URL"),
        ("https://e.example:port/cb", "not a valid URL"),
        ("https://e.example/cb#x", "fragment"),
        ("https://e.example/cb#", "fragment"),
        ("http://e.example/cb", "https://"),
        (f"https://e.example/cb?key={KEY}", "looks like a private key"),
    ],
)
def test_redirect_uris_refused(uri, needle):
    with pytest.raises(InvalidInput) as error:
        redirect_uri(uri)
    assert needle in error.value.message and KEY not in error.value.message


def test_redirect_uris_accepted():
    for uri in ("https://e.example/cb", "http://localhost:8080/cb", "https://[::1]:8443/cb?x=1"):
        assert redirect_uri(uri) == uri


@pytest.mark.parametrize(
    ("new", "existing"),
    [
        (NFD_CAFE, "café"),
        (f"pr{CYRILLIC_O}d", "prod"),
        (f"{FULL_WIDTH_P}rod", "prod"),
        ("Prod", "prod"),
        ("PayPaI", "PayPal"),  # capital I for l
        ("key 1O", "key 10"),
        ("ACME", "acme"),
    ],
)
def test_look_alikes_are_confusable(new, existing):
    assert confusable_with(new, ["other", existing]) == existing


@pytest.mark.parametrize(
    ("new", "existing"),
    [("prod", "staging"), ("github", "gitlab"), ("api (2026-11-27)", "api"), ("key 2", "key 3")],
)
def test_different_names_are_not(new, existing):
    assert confusable_with(new, [existing]) is None


def test_skeletons_come_from_the_unicode_data_not_a_hand_table():
    # Pairs from Unicode's confusables.txt that no short hand-written table has.
    assert skeletons("\u13aa") & skeletons("A")  # CHEROKEE LETTER GO
    assert skeletons("\U0001d5c9") & skeletons("p")  # MATHEMATICAL SANS-SERIF SMALL P


# --- the service, on SQLite and PostgreSQL -------------------------------------


def test_names_are_stored_in_nfc_and_found_either_way(world):
    ws = world.owner.create_workspace(NFD_CAFE)
    assert ws.name == "café"
    integration = world.owner.add_integration("café", NFD_CAFE + "-app", "P")
    assert integration.name == "café-app" and integration.workspace == "café"
    assert world.owner.integration(NFD_CAFE + "-app").id == integration.id
    assert world.owner.integration("café-app", workspace=NFD_CAFE).id == integration.id
    assert [w.name for w in world.owner.workspaces()] == ["acme", "café"]


def test_look_alike_workspace_integration_and_account_names_are_refused(world):
    with pytest.raises(AlreadyExists, match="looks like the existing workspace 'acme'"):
        world.owner.create_workspace(f"acm{chr(0x0435)}")  # Cyrillic e
    with pytest.raises(AlreadyExists, match="looks like the existing integration in acme 'github'"):
        world.owner.add_integration("acme", "GitHub", "GitHub")
    with pytest.raises(AlreadyExists, match="looks like the existing account 'alice'"):
        world.owner.add_member("acme", f"{chr(0x0430)}lice", "viewer")  # Cyrillic a
    # in another workspace the same integration name is fine
    world.owner.create_workspace("globex")
    assert world.owner.add_integration("globex", "github", "GitHub").name == "github"


def test_look_alike_labels_are_refused_among_active_keys_only(world):
    created = world.owner.create_key("github", "prod")
    for look_alike in (f"pr{CYRILLIC_O}d", f"{FULL_WIDTH_P}rod", "Prod", "PROD"):
        with pytest.raises(InvalidLabel, match="looks like the active key 'prod'"):
            world.owner.create_key("github", look_alike)
    world.owner.revoke_key(created.key.public_key)
    assert world.owner.create_key("github", "Prod").key.label == "Prod"


def test_a_private_key_is_never_stored_as_a_name_or_label(world):
    for call in (
        lambda: world.owner.create_key("github", KEY),
        lambda: world.owner.add_integration("acme", f"x {KEY}", "P"),
        lambda: world.owner.create_workspace(KEY),
        lambda: world.owner.add_member("acme", KEY, "viewer"),
        lambda: world.owner.update_integration("github", client_id=KEY),
    ):
        with pytest.raises(InvalidInput) as error:
            call()
        assert KEY not in error.value.message and KEY[:9] + "…" in error.value.message
