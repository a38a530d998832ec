"""Credentials come from options, then the environment, then a profile file kept owner-only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from care_exchange_client.auth import ClientSecret, PrivateKey
from care_exchange_client.profiles import Profile, ProfileError, profiles_file, resolve, save

STORED = Profile("https://stored.example.org", "stored-id", "stored-secret")


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"CARE_EXCHANGE_PROFILES": str(tmp_path / "profiles.toml")}


def test_a_saved_profile_is_owner_only_and_read_back(environ: dict[str, str]) -> None:
    path = save(STORED, "default", environ)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    save(Profile("https://other.example.org", "other", None, "/keys/k.pem"), "other", environ)
    assert resolve({}, None, environ) == STORED
    assert resolve({}, "other", environ).private_key_file == "/keys/k.pem"
    assert "stored-secret" in path.read_text()


def test_the_environment_overrides_the_profile_and_options_the_environment(
    environ: dict[str, str],
) -> None:
    save(STORED, "default", environ)
    env = {**environ, "CARE_EXCHANGE_CLIENT_ID": "env-id", "CARE_EXCHANGE_CLIENT_SECRET": "s"}
    found = resolve({}, None, env)
    assert (found.base_url, found.client_id, found.client_secret) == (
        "https://stored.example.org",
        "env-id",
        "s",
    )
    chosen = resolve({"base_url": "https://opt.example.org/", "client_id": None}, None, env)
    assert (chosen.base_url, chosen.client_id) == ("https://opt.example.org", "env-id")


def test_a_key_given_above_replaces_a_secret_stored_below(
    environ: dict[str, str], tmp_path: Path
) -> None:
    save(STORED, "default", environ)
    found = resolve({"private_key_file": str(tmp_path / "key.pem")}, None, environ)
    assert found.client_secret is None and found.private_key_file == str(tmp_path / "key.pem")
    with pytest.raises(ProfileError, match="cannot be read"):
        found.credentials()
    assert isinstance(STORED.credentials(), ClientSecret)
    (tmp_path / "key.pem").write_text('{"kty": "EC"}')
    assert isinstance(found.credentials(), PrivateKey)


@pytest.mark.parametrize(
    ("options", "profile", "message"),
    [
        ({}, None, "say which server and client: --base-url, --client-id"),
        ({"base_url": "https://x", "client_id": "c"}, None, "no credentials"),
        ({}, "nobody", "no profile 'nobody'"),
        ({"base_url": "ftp://x", "client_id": "c", "client_secret": "s"}, None, "https://"),
    ],
)
def test_missing_or_unusable_credentials_say_what_to_do(
    environ: dict[str, str], options: dict[str, str], profile: str | None, message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        resolve(options, profile, environ)


def test_a_profile_file_others_may_read_is_refused(environ: dict[str, str]) -> None:
    path = save(STORED, "default", environ)
    path.chmod(0o644)
    with pytest.raises(ProfileError, match="may be read by others"):
        resolve({}, None, environ)


def test_the_file_is_found_under_xdg_config_home(tmp_path: Path) -> None:
    found = profiles_file({"XDG_CONFIG_HOME": str(tmp_path)})
    assert found == tmp_path / "care-exchange" / "profiles.toml"
