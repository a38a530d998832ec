"""Which webhook URLs the server will call, and where it then connects (SSRF defences)."""

from __future__ import annotations

import pytest

from care_exchange_server.services.webhook_urls import (
    REFUSED_ADDRESS,
    RefusedURLError,
    check,
    target,
)

LOOPBACK = ["127.0.0.1/32"]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://172.16.5.4/hook",
        "https://100.64.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://[::1]/hook",
        "https://[fc00::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[64:ff9b::7f00:1]/hook",
        "https://[2002:7f00:1::]/hook",
    ],
)
def test_private_and_translated_addresses_are_refused_without_saying_where(url: str) -> None:
    with pytest.raises(RefusedURLError) as refused:
        check(url, [])
    assert str(refused.value) == REFUSED_ADDRESS


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.216.34/hook", "must use https."),
        ("ftp://93.184.216.34/hook", "must be an https URL with a host."),
        ("https:///hook", "must be an https URL with a host."),
        ("https://user:pw@93.184.216.34/hook", "must not carry credentials."),
        ("https://93.184.216.34/ho\tok", "must not contain spaces or control characters."),
        ("https://93.184.216.34:99999/hook", "is not a valid URL."),
        (
            "https://does-not-exist.invalid/hook",
            "the host 'does-not-exist.invalid' does not resolve.",
        ),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(RefusedURLError) as refused:
        check(url, [])
    assert str(refused.value) == reason


def test_an_allowlisted_network_admits_loopback_and_plain_http() -> None:
    found = target("http://127.0.0.1:8080/hook?x=1", LOOPBACK)
    assert (found.url, found.host, found.sni_hostname) == (
        "http://127.0.0.1:8080/hook?x=1",
        "127.0.0.1:8080",
        None,
    )
    with pytest.raises(RefusedURLError):
        check("http://127.0.0.2/hook", LOOPBACK)


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """A name is resolved once and the URL rewritten to that address, so a second lookup at
    connection time cannot send the request somewhere else (DNS rebinding)."""
    found = target("https://localhost:8443/hook", ["localhost"])
    assert found.url in ("https://127.0.0.1:8443/hook", "https://[::1]:8443/hook")
    assert (found.host, found.sni_hostname) == ("localhost:8443", "localhost")


def test_a_public_address_needs_no_allowlist() -> None:
    found = target("https://93.184.216.34/hook", [])
    assert (found.url, found.host, found.sni_hostname) == (
        "https://93.184.216.34/hook",
        "93.184.216.34",
        None,
    )
