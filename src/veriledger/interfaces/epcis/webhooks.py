"""Where a webhook may POST: public addresses only, unless the operator says otherwise.

A subscription's ``dest`` is a URL a member chose, and the node POSTs to it from inside
its own network: without a check, any member could make the node call its admin ports,
a cloud metadata service (``169.254.169.254``) or a database on the private network,
and read the outcome in the subscription's ``lastError``. So a destination is refused
when its host resolves to any address that is loopback, link-local, private, shared
(carrier-grade NAT), multicast, unspecified, reserved or documentation-only, or one of
this node's own addresses (any address a socket here can bind). The check runs when
the subscription is made (400 naming ``dest``) and again before every delivery, and
the delivery connects to the very address that was checked (the URL's host is kept
for ``Host`` and TLS), so a DNS answer that changes between check and connect
(rebinding) gains nothing. Redirects are never followed.

The operator lists destinations that may be internal anyway in the environment
variable ``VERILEDGER_WEBHOOK_ALLOW``: origins ``scheme://host:port``, separated by
commas or spaces (``http://127.0.0.1:9000,https://hooks.internal:443``). It is read at
each check, so a change applies to the next delivery.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from veriledger.core.errors import BadInputError

ALLOW_ENV = "VERILEDGER_WEBHOOK_ALLOW"
DEFAULT_PORTS = {"http": 80, "https": 443}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[[str, int], list[str]]


class DestinationError(BadInputError):
    """A webhook destination that may not be called; ``field`` is ``dest``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"dest: {reason}")
        self.field = "dest"
        self.reason = reason


@dataclass(frozen=True)
class Destination:
    """A checked destination: connect to ``address``, say ``host`` in Host and TLS."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = f"{literal}:{self.port}"
        path = parts.path or "/"
        return f"{self.scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")

    @property
    def host_header(self) -> str:
        literal = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS[self.scheme] == self.port
        return literal if default else f"{literal}:{self.port}"


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def allowed_origins(environ: dict[str, str] | None = None) -> frozenset[str]:
    """The operator's allow-list, normalised like :func:`origin`."""
    raw = (environ if environ is not None else os.environ).get(ALLOW_ENV, "")
    out = set()
    for item in raw.replace(",", " ").split():
        with contextlib.suppress(DestinationError):
            scheme, host, port = _parts(item)
            out.add(origin(scheme, host, port))
    return frozenset(out)


def origin(scheme: str, host: str, port: int) -> str:
    literal = f"[{host}]" if ":" in host else host
    return f"{scheme}://{literal}:{port}"


def _parts(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise DestinationError("not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise DestinationError("an http(s) URL to POST results to")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise DestinationError("the URL names no host")
    return scheme, host.lower(), port or DEFAULT_PORTS[scheme]


def check(
    url: str, allowed: frozenset[str] | None = None, resolver: Resolver | None = None
) -> Destination:
    """Resolve a webhook URL and check every address it has.

    Parameters:
        url: the subscription's ``dest``.
        allowed: origins exempt from the address check (default: the environment's).
        resolver: host, port -> addresses (default :func:`resolve`).

    Raises:
        DestinationError: not an http(s) URL, a host that does not resolve, or an
            address that is not public (see the module docstring), naming the kind.
    """
    scheme, host, port = _parts(url)
    try:
        addresses = (resolver or resolve)(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise DestinationError(f"the host {host!r} does not resolve")
    exempt = origin(scheme, host, port) in (allowed_origins() if allowed is None else allowed)
    if not exempt:
        for address in addresses:
            kind = forbidden_kind(address)
            if kind is not None:
                raise DestinationError(
                    f"{host} resolves to {kind} address; webhooks go to public addresses "
                    f"only, unless the node's operator allows the destination ({ALLOW_ENV})"
                )
    return Destination(url, scheme, host, port, addresses[0])


def forbidden_kind(text: str) -> str | None:
    """Why a webhook may not go to this address (``"a loopback"`` ...), or None."""
    try:
        address: IPAddress = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return "an unreadable"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None
        )
        if embedded is not None:
            return forbidden_kind(str(embedded))
    checks: tuple[tuple[Callable[[], bool], str], ...] = (
        (lambda: address.is_loopback, "a loopback"),
        (lambda: address.is_unspecified, "an unspecified"),
        (lambda: address.is_link_local, "a link-local"),
        (lambda: address.is_multicast, "a multicast"),
        (lambda: address.is_reserved, "a reserved"),
        (lambda: _is_own(address), "this node's own"),
        (lambda: address.is_private, "a private"),
        (lambda: not address.is_global, "a non-public"),
    )
    for hit, kind in checks:
        if hit():
            return kind
    return None


def _is_own(address: IPAddress) -> bool:
    """Whether a socket on this machine can bind the address: then it is one of ours."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:  # EADDRNOTAVAIL: not an address of this machine
            return False
    return True


__all__ = [
    "ALLOW_ENV",
    "Destination",
    "DestinationError",
    "allowed_origins",
    "check",
    "forbidden_kind",
    "resolve",
]
