"""Which webhook URLs the server may call: server-side request forgery is refused.

A subscriber chooses the URL the server will POST to, so without a check it could make the server
call its own admin ports, the cloud metadata address or anything else on the private network.
A URL must use https and resolve only to public addresses; an operator can admit hosts or
networks (a test receiver on loopback, a partner on a private link) with
`CARE_EXCHANGE_WEBHOOK_ALLOWED_HOSTS`, where http is then allowed too. The worker checks again
before each delivery, since what a name resolves to can change after it was accepted.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Public by Python's reckoning, yet able to reach private hosts through a gateway (NAT64, 6to4).
TRANSLATED = tuple(
    ipaddress.ip_network(network) for network in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16")
)
REFUSED_ADDRESS = "resolves to a private, loopback, link-local or otherwise reserved address."


class RefusedURLError(ValueError):
    """The URL may not be called; the message says why, for the subscriber."""


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL with its host replaced by the address that was checked.

    Connecting to that address, rather than resolving the name again, is what stops a name that
    answers a public address to the check and a private one to the connection (DNS rebinding).
    """

    url: str
    host: str
    sni_hostname: str | None


def _allowed(host: str, addresses: Sequence[IPAddress], allowlist: Sequence[str]) -> bool:
    for entry in allowlist:
        if entry.lower() == host.lower():
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if addresses and all(address in network for address in addresses):
            return True
    return False


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise RefusedURLError(f"the host '{host}' does not resolve.") from error
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    return [
        address.ipv4_mapped
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped
        else address
        for address in addresses
    ]


def _public(address: IPAddress) -> bool:
    return (
        address.is_global
        and not address.is_multicast
        and not any(address in network for network in TRANSLATED)
    )


def target(url: str, allowlist: Sequence[str]) -> Target:
    """Where the server may POST for this URL now; `RefusedURLError` if nowhere."""
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise RefusedURLError("must not contain spaces or control characters.")
    try:
        httpx.URL(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except (ValueError, httpx.InvalidURL) as error:
        raise RefusedURLError("is not a valid URL.") from error
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise RefusedURLError("must be an https URL with a host.")
    if parts.username is not None or parts.password is not None:
        raise RefusedURLError("must not carry credentials.")
    addresses = _resolve(host, port)
    if not _allowed(host, addresses, allowlist):
        if parts.scheme != "https":
            raise RefusedURLError("must use https.")
        if not addresses or not all(_public(address) for address in addresses):
            raise RefusedURLError(REFUSED_ADDRESS)
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    named = parts.scheme == "https" and not _is_literal(host)
    return Target(
        url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        host=parts.netloc,
        sni_hostname=host if named else None,
    )


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check(url: str, allowlist: Sequence[str]) -> None:
    """Raise `RefusedURLError` unless the server may POST to this URL now."""
    target(url, allowlist)
