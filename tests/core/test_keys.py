"""Key material: format, checksum and masking (hypothesis for the parser)."""

from __future__ import annotations

import math
import pickle
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keydesk.errors import Unauthorized, UnauthorizedReason
from keydesk.keys import (
    BASE62,
    ID_LENGTH,
    PRIVATE_KEY_LENGTH,
    SECRET_LENGTH,
    SecretCheck,
    check_secret,
    generate_key_pair,
    hash_private_key,
    key_pair_from,
    parse_private_key,
)

BASE62_CHARS = st.sampled_from(BASE62)


@st.composite
def private_keys(draw) -> str:
    # Built by the product's own formatter from parts hypothesis draws, so a
    # failing example shrinks to a readable key.
    key_id = draw(st.text(alphabet=BASE62, min_size=ID_LENGTH, max_size=ID_LENGTH))
    secret = draw(st.text(alphabet=BASE62, min_size=SECRET_LENGTH, max_size=SECRET_LENGTH))
    return key_pair_from(key_id, secret).private_key.reveal()


def test_format_is_prefixed_base62_with_enough_entropy():
    pair = generate_key_pair()
    text = pair.private_key.reveal()
    assert pair.public_key.startswith("kdpk_") and len(pair.public_key) == 21
    assert text.startswith("kdsk_" + pair.public_key[5:] + "_")
    assert len(text) == PRIVATE_KEY_LENGTH
    assert set(text) <= set(BASE62 + "_kds")
    assert SECRET_LENGTH * math.log2(62) >= 256


def test_private_key_never_shows_in_repr_str_or_pickle():
    pair = generate_key_pair()
    secret = pair.private_key.reveal()
    for shown in (repr(pair), str(pair.private_key), f"{pair.private_key}", repr([pair])):
        assert secret not in shown
        assert secret[26:] not in shown
    with pytest.raises(TypeError):
        pickle.dumps(pair.private_key)


@given(private_keys())
def test_every_generated_key_parses_to_its_public_key(text):
    assert parse_private_key(text).public_key == "kdpk_" + text[5:21]
    assert parse_private_key(text + "\n").reveal() == text


@given(private_keys(), st.data())
def test_any_one_character_change_is_rejected(text, data):
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(
        st.sampled_from(string.ascii_letters + string.digits + "_-.").filter(
            lambda c: c != text[position]
        )
    )
    changed = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(Unauthorized) as error:
        parse_private_key(changed)
    assert error.value.reason in (UnauthorizedReason.MALFORMED, UnauthorizedReason.BAD_CHECKSUM)


@given(private_keys(), st.integers(1, 70))
def test_truncated_keys_are_rejected(text, cut):
    with pytest.raises(Unauthorized):
        parse_private_key(text[:-cut])


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_arbitrary_strings_never_crash_the_parser(text):
    try:
        parse_private_key(text)
    except Unauthorized as error:
        assert error.reason in (UnauthorizedReason.MALFORMED, UnauthorizedReason.BAD_CHECKSUM)


@given(
    st.text(alphabet=BASE62, min_size=43, max_size=43),
    st.text(alphabet=BASE62, min_size=6, max_size=6),
)
def test_random_bodies_fail_the_checksum(secret, check):
    pair = generate_key_pair()
    forged = pair.private_key.reveal()[:22] + secret + check
    assume(forged != pair.private_key.reveal())
    with pytest.raises(Unauthorized) as error:
        parse_private_key(forged)
    assert error.value.reason is UnauthorizedReason.BAD_CHECKSUM


def test_hash_verifies_only_the_same_key():
    one, two = generate_key_pair(), generate_key_pair()
    stored = hash_private_key(one.private_key)
    assert stored.startswith("$argon2id$")
    assert one.private_key.reveal() not in stored
    assert check_secret(stored, one.private_key) == SecretCheck(True)
    assert not check_secret(stored, two.private_key).matches
    assert not check_secret(None, one.private_key).matches
    assert not check_secret("not-a-hash", one.private_key).matches


def test_keys_are_hashed_with_argon2id_one_pass_over_8_kib_one_lane():
    """README: argon2id at t=1, m=8 KiB, p=1, read back from a hash keydesk made."""
    from argon2 import Type, extract_parameters

    stored = hash_private_key(generate_key_pair().private_key)
    made = extract_parameters(stored)
    assert (made.type, made.time_cost, made.memory_cost, made.parallelism) == (Type.ID, 1, 8, 1)
