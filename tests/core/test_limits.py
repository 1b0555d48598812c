"""keydesk.limits: the `N/PERIOD` and CIDR parsers (any input: a Limit or
one line of InvalidInput, never a traceback), windows, and which address a
request comes from behind proxies."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keydesk.errors import InvalidInput
from keydesk.limits import (
    PERIODS,
    Allowlist,
    Limit,
    client_address,
    parse_limit,
    parse_networks,
    proxies,
    stored_limit,
)


@given(st.text(max_size=30))
def test_any_text_is_a_limit_or_one_line_of_refusal(text):
    try:
        limit = parse_limit(text, "--rate")
    except InvalidInput as refused:
        assert "\n" not in refused.message and refused.message.startswith("--rate ")
    else:
        assert stored_limit(str(limit)) == limit


@given(st.integers(1, 10**9), st.sampled_from(sorted(PERIODS)))
def test_every_limit_reads_back_as_written(count, period):
    assert parse_limit(f" {count} / {period.upper()} ", "--rate") == Limit(count, period)


@given(st.text(max_size=45))
def test_any_text_is_a_network_or_one_line_of_refusal(text):
    try:
        networks = parse_networks([text])
    except InvalidInput as refused:
        assert "\n" not in refused.message
    else:
        assert all(ipaddress.ip_network(n, strict=True) for n in networks)


@given(st.ip_addresses())
def test_an_address_alone_is_its_own_network(address):
    (network,) = parse_networks([str(address)])
    assert Allowlist(network).allows(address)


def test_windows_are_whole_units_and_calendar_months():
    at = datetime(2027, 2, 14, 13, 45, 10, tzinfo=UTC).timestamp()
    assert Limit(1, "min").window(at) == (int(at) - 10, int(at) + 50)
    start, end = Limit(1, "month").window(at)
    assert datetime.fromtimestamp(start, UTC) == datetime(2027, 2, 1, tzinfo=UTC)
    assert datetime.fromtimestamp(end, UTC) == datetime(2027, 3, 1, tzinfo=UTC)


TRUSTED = proxies(["10.0.0.1", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "headers", "source"),
    [
        ("198.51.100.1", [(b"x-forwarded-for", b"10.9.9.9")], "198.51.100.1"),  # untrusted peer
        ("10.0.0.1", [(b"x-forwarded-for", b"1.1.1.1, 2.2.2.2")], "2.2.2.2"),
        (
            "10.0.0.1",
            [(b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-for", b"fd00::2")],
            "1.1.1.1",
        ),
        ("fd00::1", [(b"forwarded", b'for="[2001:db8::1]:80", for=10.0.0.1')], "2001:db8::1"),
        ("10.0.0.1", [(b"forwarded", b"for=192.0.2.4:8080;proto=http")], "192.0.2.4"),
        ("10.0.0.1", [(b"x-forwarded-for", b"unknown")], None),
        ("10.0.0.1", [], "10.0.0.1"),
        ("::ffff:198.51.100.3", [], "198.51.100.3"),
        ("not an address", [], None),
    ],
)
def test_the_source_is_the_right_most_untrusted_hop(peer, headers, source):
    found = client_address(peer, headers, TRUSTED)
    assert (None if found is None else str(found)) == source


@pytest.mark.parametrize("xff_first", [True, False])
def test_x_forwarded_for_decides_over_forwarded(xff_first):
    """README: behind a trusted proxy, X-Forwarded-For's address counts (else Forwarded's)."""
    xff, forwarded = (b"x-forwarded-for", b"2.2.2.2"), (b"forwarded", b"for=192.0.2.4")
    headers = [xff, forwarded] if xff_first else [forwarded, xff]
    assert str(client_address("10.0.0.1", headers, TRUSTED)) == "2.2.2.2"
