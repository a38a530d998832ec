"""Configuration from a file, the environment and options, each overriding the one before."""

from __future__ import annotations

from pathlib import Path

import pytest

from care_exchange_conformance.config import ConfigError, Party, load

FILE = """
base_url = "https://file.example.org/"
[publisher]
client_id = "pub"
client_secret = "pub-secret"
service_id = "svc-1"
[subscriber]
client_id = "sub"
client_secret = "sub-secret"
"""


def test_options_override_the_environment_which_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conformance.toml"
    path.write_text(FILE, encoding="utf-8")
    from_file = load(path)
    assert from_file.base_url == "https://file.example.org"
    assert from_file.publisher == Party("pub", "pub-secret")
    assert from_file.service_id == "svc-1"
    assert from_file.outsider is None
    assert (from_file.expired_token, from_file.heartbeat_wait_seconds) == (None, 60)
    environ = {
        "CARE_EXCHANGE_CONFORMANCE_BASE_URL": "https://env.example.org",
        "CARE_EXCHANGE_CONFORMANCE_SUBSCRIBER_CLIENT_SECRET": "env-secret",
        "CARE_EXCHANGE_CONFORMANCE_EXPIRED_TOKEN": "eyJ.old.token",
        "CARE_EXCHANGE_CONFORMANCE_HEARTBEAT_WAIT_SECONDS": "330",
        "UNRELATED": "x",
    }
    from_env = load(path, environ)
    assert from_env.base_url == "https://env.example.org"
    assert from_env.subscriber == Party("sub", "env-secret")
    assert (from_env.expired_token, from_env.heartbeat_wait_seconds) == ("eyJ.old.token", 330)
    assert load(path, environ, {"base_url": "http://127.0.0.1:9"}).base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Say where the implementation is"),
        ('base_url = "ftp://x"', "Say where the implementation is"),
        ('base_url = "https://x"\n[outsider]\nclient_id = "o"', "needs both"),
        ("base_url = ", "not valid TOML"),
        ('base_url = "https://x"\ntimeout_seconds = "soon"', "must be a number"),
        ('base_url = "https://x"\ndelivery_seconds = "soon"', "delivery_seconds must be"),
        ('base_url = "https://x"\nheartbeat_wait_seconds = "1m"', "heartbeat_wait_seconds must"),
        ('base_url = "https://x"\nreceiver_url = "hooks.example"', "receiver_url must be"),
        ('base_url = "https://x"\nreceiver_listen = "0.0.0.0"', "receiver_listen must be"),
    ],
)
def test_a_configuration_that_cannot_work_says_what_to_change(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "conformance.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load(path)


def test_the_receiver_listens_locally_unless_told_and_options_name_its_public_url() -> None:
    plain = load(overrides={"base_url": "https://x"})
    assert (plain.receiver_listen, plain.receiver_url, plain.delivery_seconds) == (
        "127.0.0.1:0",
        None,
        20.0,
    )
    environ = {"CARE_EXCHANGE_CONFORMANCE_RECEIVER_LISTEN": "0.0.0.0:8765"}
    told = load(None, environ, {"base_url": "https://x", "receiver_url": "https://h.example/s/"})
    assert (told.receiver_listen, told.receiver_url) == ("0.0.0.0:8765", "https://h.example/s")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load(tmp_path / "absent.toml")
