"""Anonymous writes, bounded: what a consumer's scan or tap may cost the ledger.

A code check (``/api/v1/items/verify``) and an NFC tap (``/api/v1/items/tap``) need no
account, yet each one the node relays is a signed transaction in the log forever. So:

- each client address gets a token bucket (default 60 ledger writes a minute, bursts
  of 20), and all addresses together share one more (default 600 a minute, bursts of
  120), so a botnet of many addresses is bounded too. Beyond either, the answer is
  429 with ``Retry-After`` and nothing is relayed;
- the buckets are kept for at most ``max_addresses`` addresses (least recently seen
  forgotten first: a forgotten address only gets a fresh bucket, still under the
  shared one), and IPv6 clients are counted by their /64, which one host usually has
  whole;
- identical writes are not written again: the same scanner checking the same item
  with the same result within ``repeat_window_s`` gets the earlier answer, counted
  here, off the ledger (:class:`RecentAnswers`, bounded in size too). Only a write
  that would be relayed is charged to the buckets.

The client address is the TCP peer's. ``X-Forwarded-For`` is read only when the peer
is one of the operator's ``trusted_proxies``, and then the nearest address that is not
a trusted proxy is the client's: the header's left end is whatever the client wrote.

:func:`take` is the pure token bucket; the classes hold state and read a clock.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from veriledger.core.errors import BadInputError
from veriledger.interfaces.http import problems

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Bucket(NamedTuple):
    """A token bucket's state: ``tokens`` left at time ``stamp`` (seconds)."""

    tokens: float
    stamp: float


def take(bucket: Bucket | None, now: float, per_minute: int, burst: int) -> tuple[Bucket, float]:
    """Take one token from ``bucket`` at time ``now``.

    A missing bucket is full. Tokens come back at ``per_minute / 60`` a second, up to
    ``burst``. Returns the bucket after the attempt and how long to wait: 0 when the
    token was taken, else the seconds until one will be there (the bucket is then only
    refilled, not drawn on).
    """
    rate = per_minute / 60
    if bucket is None:
        tokens = float(burst)
    else:
        tokens = min(float(burst), bucket.tokens + max(now - bucket.stamp, 0.0) * rate)
    if tokens >= 1:
        return Bucket(tokens - 1, now), 0.0
    return Bucket(tokens, now), (1 - tokens) / rate


@dataclass(frozen=True)
class WriteLimits:
    """The operator's settings (``veriledger serve --anonymous-...``)."""

    per_minute: int = 60
    """Ledger writes a minute for one client address."""
    burst: int = 20
    """How many of them may come at once."""
    total_per_minute: int = 600
    """Ledger writes a minute for all anonymous clients together."""
    total_burst: int = 120
    max_addresses: int = 10_000
    """Addresses whose buckets are remembered."""
    repeat_window_s: float = 600.0
    """Identical writes within this many seconds are answered from the first."""
    max_answers: int = 10_000
    """Earlier answers remembered for that."""
    trusted_proxies: tuple[str, ...] = ()
    """Networks (``10.0.0.0/8``, ``::1``) whose ``X-Forwarded-For`` is believed."""

    def __post_init__(self) -> None:
        for name in ("per_minute", "burst", "total_per_minute", "total_burst"):
            if getattr(self, name) < 1:
                raise BadInputError(f"{name}: must be at least 1, not {getattr(self, name)}")
        for name in ("max_addresses", "max_answers"):
            if getattr(self, name) < 1:
                raise BadInputError(f"{name}: must be at least 1, not {getattr(self, name)}")
        if self.repeat_window_s < 0:
            raise BadInputError(f"repeat_window_s: must not be negative ({self.repeat_window_s})")
        self.proxy_networks()

    def proxy_networks(self) -> tuple[IPNetwork, ...]:
        """The trusted proxies as networks.

        Raises:
            BadInputError: one is not an IP address or network.
        """
        networks = []
        for proxy in self.trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
            except ValueError:
                raise BadInputError(
                    f"trusted_proxies: {proxy!r} is not an IP address or network"
                ) from None
        return tuple(networks)


class AddressLimiter:
    """Token buckets per client address, and one for all of them together.

    A write is allowed only when both buckets have a token, and only then are both
    drawn on: a refused write costs nothing, so a client over its own limit cannot
    drain the shared bucket.
    """

    def __init__(self, limits: WriteLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._total: Bucket | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, address: str) -> float:
        """Charge one ledger write to ``address``: 0 when allowed, else the seconds to
        wait (for the address's own bucket or the shared one, whichever is longer)."""
        limits = self.limits
        with self._lock:
            now = self.clock()
            own, own_wait = take(self._buckets.get(address), now, limits.per_minute, limits.burst)
            total, total_wait = take(self._total, now, limits.total_per_minute, limits.total_burst)
            if own_wait or total_wait:
                # Neither bucket is drawn on; both keep the refill they just computed.
                own = own if own_wait else Bucket(own.tokens + 1, now)
                total = total if total_wait else Bucket(total.tokens + 1, now)
            self._total = total
            self._buckets[address] = own
            self._buckets.move_to_end(address)
            while len(self._buckets) > limits.max_addresses:
                self._buckets.popitem(last=False)
            return max(own_wait, total_wait)


class RecentAnswers:
    """Answers to writes that were relayed, by what made them identical, for a window.

    Bounded: past ``size`` entries the oldest is forgotten (its next repeat is then
    relayed again, and charged).
    """

    def __init__(
        self, window_s: float, size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self.size = size
        self.clock = clock
        self._answers: OrderedDict[Hashable, tuple[float, dict[str, Any], int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def repeat(self, key: Hashable) -> tuple[dict[str, Any], int] | None:
        """The earlier answer for ``key`` and how many times it has now been repeated
        (1 for the first repeat), or None when there is none within the window."""
        with self._lock:
            found = self._answers.get(key)
            if found is None:
                return None
            stamp, answer, repeats = found
            if self.clock() - stamp > self.window_s:
                del self._answers[key]
                return None
            self._answers[key] = (stamp, answer, repeats + 1)
            return answer, repeats + 1

    def remember(self, key: Hashable, answer: dict[str, Any]) -> None:
        with self._lock:
            self._answers[key] = (self.clock(), answer, 0)
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


class WriteGuard:
    """An app's anonymous-write limits: the limiter, the earlier answers, and the
    writes in flight (so a repeat arriving while the first is still being committed
    waits for its answer instead of being relayed too)."""

    def __init__(self, limits: WriteLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.proxies = limits.proxy_networks()
        self.limiter = AddressLimiter(limits, clock)
        self.answers = RecentAnswers(limits.repeat_window_s, limits.max_answers, clock)
        self.in_flight: dict[Hashable, asyncio.Future[None]] = {}
        """Per key, the future of a write being relayed (event loop only)."""
        self.taps_in_flight: dict[Hashable, int] = {}
        """Per tagged item, the highest read counter being relayed (event loop only)."""

    def client(self, request: Request) -> str:
        """The client's address, as the limiter counts it (see the module docstring)."""
        peer = request.client.host if request.client else ""
        address = _parse_ip(peer)
        if address is not None and self.proxies and _within(address, self.proxies):
            hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
            for hop in reversed(hops):
                hop_address = _parse_ip(hop)
                if hop_address is None:
                    break  # an unreadable hop: stop at the last proxy we trust
                address = hop_address
                if not _within(hop_address, self.proxies):
                    break
        if address is None:
            return peer
        if address.version == 6:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        return str(address)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[IPNetwork, ...]
) -> bool:
    return any(address in network for network in networks)


def install(app: FastAPI, limits: WriteLimits, clock: Callable[[], float] = time.monotonic) -> None:
    """Give ``app`` these limits (the default ones apply until this is called)."""
    app.state.anonymous_writes = WriteGuard(limits, clock)


def guard_of(request: Request) -> WriteGuard:
    """The app's guard, made with the default limits on first use."""
    state = request.app.state
    guard = getattr(state, "anonymous_writes", None)
    if not isinstance(guard, WriteGuard):
        guard = WriteGuard(WriteLimits())
        state.anonymous_writes = guard
    return guard


def too_many(wait: float, address: str) -> JSONResponse:
    """429 problem+json, with ``Retry-After`` in whole seconds (at least 1)."""
    seconds = max(1, math.ceil(wait))
    response = problems.problem(
        429,
        "too-many-requests",
        "Too many requests",
        f"{address}: too many ledger writes; try again in {seconds} s",
        retry_after=seconds,
    )
    response.headers["Retry-After"] = str(seconds)
    return response
