"""keydesk.redaction: what stands in for a private key typed where it does
not belong, in agreement with keydesk.keys (which it may not import)."""

from __future__ import annotations

from keydesk import keys
from keydesk.redaction import (
    PRIVATE_KEY_LENGTH,
    PRIVATE_KEY_PREFIX,
    PUBLIC_KEY_PREFIX,
    is_key_character,
    private_key_spans,
    public_key_of,
    shown_instead,
)


def test_the_shape_agrees_with_keydesk_keys():
    assert PRIVATE_KEY_LENGTH == keys.PRIVATE_KEY_LENGTH
    assert (PRIVATE_KEY_PREFIX, PUBLIC_KEY_PREFIX) == (keys.PRIVATE_PREFIX, keys.PUBLIC_PREFIX)
    pair = keys.generate_key_pair()
    private = pair.private_key.reveal()
    assert public_key_of(private) == pair.public_key
    assert public_key_of(private[: len(PRIVATE_KEY_PREFIX) + keys.ID_LENGTH]) == pair.public_key
    assert all(is_key_character(c) for c in private) and not is_key_character(" ")


def test_a_key_is_shown_as_its_public_key_or_redacted():
    private = keys.generate_key_pair().private_key.reveal()
    text = f"see {private}, and kdsk_7Qm2_notanid_atall_but_long"
    spans = private_key_spans(text)
    assert [text[a:b] for a, b in spans] == [private, "kdsk_7Qm2_notanid_atall_but_long"]
    assert shown_instead(private) == "kdpk_" + private[5:21]
    assert shown_instead("kdsk_7Qm2_notanid_atall_but_long") == "kdsk_7Qm2…"
    assert private_key_spans("no key here, kdsk_ alone") == []
