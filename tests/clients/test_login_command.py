"""`care-exchange login` keeps only credentials the server accepts, and never shows the secret."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from care_exchange_client.profiles import resolve
from care_exchange_standard.command import build
from tests.clients.conftest import Reference


def test_accepted_credentials_are_kept_owner_only(reference: Reference, tmp_path: Path) -> None:
    party = reference.party("publisher")
    env = {"CARE_EXCHANGE_PROFILES": str(tmp_path / "profiles.toml")}
    done = CliRunner().invoke(
        build(),
        ["login", "--base-url", reference.base_url, "--client-id", party.client_id],
        input=f"{party.client_secret}\n",
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert party.client_secret not in done.output
    assert stat.S_IMODE((tmp_path / "profiles.toml").stat().st_mode) == 0o600
    kept = resolve({}, None, env)
    assert (kept.base_url, kept.client_id, kept.client_secret) == (
        reference.base_url,
        party.client_id,
        party.client_secret,
    )


def test_refused_credentials_are_not_kept(reference: Reference, tmp_path: Path) -> None:
    env = {
        "CARE_EXCHANGE_PROFILES": str(tmp_path / "profiles.toml"),
        "CARE_EXCHANGE_CLIENT_SECRET": "not-the-secret",
    }
    party = reference.party("publisher")
    done = CliRunner().invoke(
        build(),
        ["login", "--base-url", reference.base_url, "--client-id", party.client_id],
        env=env,
    )
    assert done.exit_code == 1
    assert "did not accept these credentials" in done.stderr
    assert "not-the-secret" not in done.output
    assert not (tmp_path / "profiles.toml").exists()
