"""What a run needs to know about the implementation under test.

It comes from a file, the environment or options, each overriding the one before:

```toml
base_url = "https://api.example.org"
agreement_id = "agr-123"          # optional: an agreement the publisher cannot grant itself
receiver_listen = "127.0.0.1:0"   # optional: where the suite's webhook receiver listens
receiver_url = "https://hooks.example.org"  # optional: how the implementation reaches it
delivery_seconds = 20             # optional: how long a webhook delivery may take to arrive
expired_token = "eyJ..."          # optional: a token issued to the publisher, now expired
heartbeat_wait_seconds = 60       # optional: the longest the suite waits for a heartbeat
generated_examples = 5            # optional: requests generated per operation and kind (CX-SPEC)

[publisher]                       # publishes for `service_id`
client_id = "..."
client_secret = "..."
service_id = "CS2003001025"

[subscriber]                      # reads under an agreement with the publisher
client_id = "..."
client_secret = "..."

[outsider]                        # a second subscriber with no agreement
client_id = "..."
client_secret = "..."

[second_publisher]                # optional: another provider, no agreement with the first
client_id = "..."
client_secret = "..."
```

Environment variables: `CARE_EXCHANGE_CONFORMANCE_BASE_URL`, `..._PUBLISHER_CLIENT_ID`,
`..._PUBLISHER_CLIENT_SECRET`, `..._SERVICE_ID`, `..._SUBSCRIBER_CLIENT_ID`, and so on.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "CARE_EXCHANGE_CONFORMANCE_"
PARTIES = ("publisher", "subscriber", "outsider", "second_publisher")


class ConfigError(ValueError):
    """A configuration the suite cannot run with; the message says what to change."""


@dataclass(frozen=True)
class Party:
    """An OAuth client of the implementation under test (client credentials, Basic)."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Config:
    """The implementation's address and the clients the checks act as; absent ones are None."""

    base_url: str
    publisher: Party | None = None
    service_id: str | None = None
    subscriber: Party | None = None
    outsider: Party | None = None
    second_publisher: Party | None = None
    agreement_id: str | None = None
    timeout_seconds: float = 30.0
    receiver_listen: str = "127.0.0.1:0"
    receiver_url: str | None = None
    delivery_seconds: float = 20.0
    expired_token: str | None = None
    heartbeat_wait_seconds: float = 60.0
    generated_examples: int = 5

    def party(self, name: str) -> Party | None:
        found: Party | None = getattr(self, name)
        return found


def load(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> Config:
    """The configuration from a TOML file, then the environment, then options."""
    flat: dict[str, str] = {}
    if path is not None:
        flat |= _flatten(_read(path))
    for name, value in (environ or {}).items():
        if name.startswith(ENV_PREFIX) and value:
            flat[name.removeprefix(ENV_PREFIX).lower()] = value
    flat |= {name: value for name, value in (overrides or {}).items() if value}
    base_url = flat.get("base_url", "").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            "Say where the implementation is: --base-url, CARE_EXCHANGE_CONFORMANCE_BASE_URL "
            "or base_url in the configuration file (an http:// or https:// URL)."
        )
    parties = {name: _party(flat, name) for name in PARTIES}
    receiver_url = flat.get("receiver_url", "").rstrip("/") or None
    if receiver_url is not None and not receiver_url.startswith(("http://", "https://")):
        raise ConfigError(f"receiver_url must be an http:// or https:// URL, not {receiver_url!r}.")
    receiver_listen = flat.get("receiver_listen", "127.0.0.1:0")
    if not receiver_listen.rpartition(":")[2].isdigit():
        raise ConfigError(
            f"receiver_listen must be HOST:PORT (0: any free port), not {receiver_listen!r}."
        )
    return Config(
        base_url=base_url,
        service_id=flat.get("publisher_service_id") or flat.get("service_id"),
        agreement_id=flat.get("agreement_id"),
        timeout_seconds=_seconds(flat, "timeout_seconds", "30"),
        receiver_listen=receiver_listen,
        receiver_url=receiver_url,
        delivery_seconds=_seconds(flat, "delivery_seconds", "20"),
        expired_token=flat.get("expired_token"),
        heartbeat_wait_seconds=_seconds(flat, "heartbeat_wait_seconds", "60"),
        generated_examples=_count(flat, "generated_examples", "5"),
        **parties,
    )


def _seconds(flat: Mapping[str, str], name: str, default: str) -> float:
    value = flat.get(name, default)
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {value!r}.") from None


def _count(flat: Mapping[str, str], name: str, default: str) -> int:
    value = flat.get(name, default)
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {value!r}.")
    return int(value)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror}).") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error}).") from None


def _flatten(document: Mapping[str, Any]) -> dict[str, str]:
    """`[publisher] client_id` becomes `publisher_client_id`, as in the environment."""
    flat: dict[str, str] = {}
    for name, value in document.items():
        if isinstance(value, Mapping):
            for inner, item in value.items():
                flat[f"{name}_{inner}"] = str(item)
        else:
            flat[name] = str(value)
    return flat


def _party(flat: Mapping[str, str], name: str) -> Party | None:
    client_id = flat.get(f"{name}_client_id")
    secret = flat.get(f"{name}_client_secret")
    if not client_id and not secret:
        return None
    if not client_id or not secret:
        raise ConfigError(f"The {name} needs both a client_id and a client_secret.")
    return Party(client_id, secret)
