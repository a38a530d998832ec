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
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedURLError(ValueError):
    """The URL may not be called; the message says why, for the subscriber."""


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


def check(url: str, allowlist: Sequence[str]) -> None:
    """Raise `RefusedURLError` unless the server may POST to this URL now."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise RefusedURLError("is not a valid URL.") from error
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise RefusedURLError("must be an https URL with a host.")
    if parts.username is not None or parts.password is not None:
        raise RefusedURLError("must not carry credentials.")
    addresses = _resolve(host, port)
    if _allowed(host, addresses, allowlist):
        return
    if parts.scheme != "https":
        raise RefusedURLError("must use https.")
    private = [address for address in addresses if not address.is_global]
    if private:
        raise RefusedURLError(
            f"resolves to {private[0]}, a private, loopback, link-local or reserved address."
        )
