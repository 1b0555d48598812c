"""A key's limits and networks as plain rules: `600/min`-style limits and
their windows, allowlists of networks (CIDR), and which address a request
comes from. No I/O; the verifier, the service and the shells share them."""

from __future__ import annotations

import calendar
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from keydesk.errors import InvalidInput

# PERIOD → its length in seconds; a month is the calendar month (UTC), whose
# nominal 30 days the RateLimit-Policy header states.
PERIODS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "month": 30 * 86400}
LIMIT_MAX = 1_000_000_000
ALLOWLIST_MAX = 64  # networks on one key
LIMIT_PATTERN = r"[1-9][0-9]{0,9}/(s|min|h|d|month)"  # as stored (a CHECK on PostgreSQL)
_LIMIT = re.compile(r"\s*([0-9][0-9_,]*)\s*/\s*([a-z]+)\s*")
_ALIASES = {"sec": "s", "second": "s", "m": "min", "minute": "min", "hour": "h", "day": "d"}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` requests per `period` (a unit of PERIODS), counted in
    fixed windows: whole seconds, minutes, hours, days (UTC) or months."""

    count: int
    period: str

    def __str__(self) -> str:
        return f"{self.count}/{self.period}"

    @property
    def seconds(self) -> int:
        return PERIODS[self.period]

    def window(self, now: float) -> tuple[int, int]:
        """The window holding `now` (epoch seconds): its start and end."""
        if self.period != "month":
            start = int(now) // self.seconds * self.seconds
            return start, start + self.seconds
        moment = datetime.fromtimestamp(now, UTC)
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        days = calendar.monthrange(moment.year, moment.month)[1]
        start = int(first.timestamp())
        return start, start + days * 86400


def parse_limit(text: str, what: str) -> Limit:
    """`600/min` as a Limit, or InvalidInput in one line."""
    match = _LIMIT.fullmatch(text.lower())
    period = _ALIASES.get(match.group(2), match.group(2)) if match else ""
    if match is None or period not in PERIODS:
        raise InvalidInput(
            f"{what} {text!r} is not a limit: write N/PERIOD, PERIOD one of "
            "s, min, h, d, month (e.g. 600/min, 1000000/month)"
        )
    count = int(match.group(1).replace("_", "").replace(",", ""))
    if not 1 <= count <= LIMIT_MAX:
        raise InvalidInput(f"{what} {text!r}: N must be between 1 and {LIMIT_MAX:,}")
    return Limit(count, period)


def stored_limit(text: str | None) -> Limit | None:
    """A limit as the store holds it (None: no limit)."""
    if not text:
        return None
    count, _, period = text.partition("/")
    return Limit(int(count), period)


def parse_network(text: str, what: str = "--allow-from") -> Network:
    """One CIDR (`10.0.0.0/8`, `2001:db8::/32`) or address (a /32 or /128)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as error:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise InvalidInput(
                f"{what} {text!r} is not a network: write an IPv4 or IPv6 address or "
                "CIDR (203.0.113.0/24, 2001:db8::/32)"
            ) from None
        raise InvalidInput(f"{what} {text!r} has host bits set; did you mean {loose}?") from error


def parse_networks(values: Iterable[str], what: str = "--allow-from") -> tuple[str, ...]:
    """An allowlist as stored: canonical CIDRs, in the order given, once each."""
    networks: dict[str, None] = {}
    for value in values:
        for part in value.replace(",", " ").split():
            networks[str(parse_network(part, what))] = None
    if len(networks) > ALLOWLIST_MAX:
        raise InvalidInput(f"{what}: at most {ALLOWLIST_MAX} networks on one key")
    return tuple(networks)


def address(text: str | None) -> Address | None:
    """An address as a request names it (None: not an address); an
    IPv4-mapped IPv6 address (a dual-stack socket's) is its IPv4 address."""
    if not text:
        return None
    try:
        found = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


class Allowlist:
    """Networks a key may be used from (none: anywhere). Its answers are
    kept for the addresses it has seen (a few thousand at most)."""

    __slots__ = ("_answers", "_networks", "networks")

    def __init__(self, text: str) -> None:
        self.networks = tuple(text.split())
        self._networks = tuple(ipaddress.ip_network(n) for n in self.networks)
        self._answers: dict[Address | str | None, bool] = {}

    def allows(self, source: Address | str | None) -> bool:
        """An unknown source (or text that is no address) is allowed only by
        an empty list. The request's text is the cheaper key: an address
        hashes through hex() on every lookup."""
        answer = self._answers.get(source)
        if answer is None:
            if len(self._answers) > 4096:
                self._answers.clear()
            found = address(source) if isinstance(source, str) else source
            answer = self._answers[source] = not self._networks or (
                found is not None and any(found in n for n in self._networks)
            )
        return answer


def proxies(values: Iterable[str]) -> tuple[Network, ...]:
    """Trusted proxies, as `--trusted-proxy` and `trusted_proxies=` name them."""
    return tuple(parse_network(v, "trusted proxy") for v in values)


def client_address(
    peer: str | None, headers: Sequence[tuple[bytes, bytes]], trusted: Sequence[Network]
) -> Address | None:
    """Where a request comes from: the peer's address, unless the peer is a
    trusted proxy; then the right-most address of X-Forwarded-For (else
    Forwarded) that is not a trusted proxy. A client cannot choose it: what
    it writes in those headers is left of what its own proxy appended."""
    source = address(peer)
    if source is None or not any(source in n for n in trusted):
        return source
    hops = _forwarded_for(headers)
    for hop in reversed(hops):
        found = address(hop)
        if found is None:
            return None  # garbage from behind the proxy: no address is trusted
        if not any(found in n for n in trusted):
            return found
    return address(hops[0]) if hops else source


def _forwarded_for(headers: Sequence[tuple[bytes, bytes]]) -> list[str]:
    xff = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-for"]
    if xff:
        return [hop.strip() for hop in ",".join(xff).split(",") if hop.strip()]
    hops = []
    for name, value in headers:
        if name != b"forwarded":
            continue
        for element in value.decode("latin-1").split(","):
            for pair in element.split(";"):
                key, _, given = pair.strip().partition("=")
                if key.lower() == "for":
                    hops.append(_node(given.strip().strip('"')))
    return hops


def _node(node: str) -> str:
    """RFC 7239's node: `[2001:db8::1]:443` or `192.0.2.1:80` as an address."""
    if node.startswith("["):
        return node[1 : node.find("]")] if "]" in node else node
    return node.partition(":")[0] if node.count(":") == 1 else node


def source_network(source: Address) -> str:
    """The network a source is counted under once a key has had many: its
    /24 (IPv4) or /48 (IPv6)."""
    prefix = 24 if source.version == 4 else 48
    return str(ipaddress.ip_network(f"{source}/{prefix}", strict=False))
