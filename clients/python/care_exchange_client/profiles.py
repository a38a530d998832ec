"""Where the provider command line finds its server and credentials.

Options first, then the environment (`CARE_EXCHANGE_BASE_URL`, `CARE_EXCHANGE_CLIENT_ID`,
`CARE_EXCHANGE_CLIENT_SECRET`, `CARE_EXCHANGE_PRIVATE_KEY_FILE`), then a profile that
`care-exchange login` wrote: `profiles.toml` in `$XDG_CONFIG_HOME/care-exchange` (by default
`~/.config/care-exchange`), or the file `CARE_EXCHANGE_PROFILES` names. The file holds secrets,
so it is written owner-only and refused when others may read it.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from care_exchange_client.auth import ClientSecret, Credentials, PrivateKey

ENV = {
    "base_url": "CARE_EXCHANGE_BASE_URL",
    "client_id": "CARE_EXCHANGE_CLIENT_ID",
    "client_secret": "CARE_EXCHANGE_CLIENT_SECRET",
    "private_key_file": "CARE_EXCHANGE_PRIVATE_KEY_FILE",
}
DEFAULT_PROFILE = "default"
CREDENTIALS = frozenset({"client_secret", "private_key_file"})


class ProfileError(Exception):
    """Credentials that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Profile:
    """A server and the client that acts on it: a secret or a private key file, never both."""

    base_url: str
    client_id: str
    client_secret: str | None = None
    private_key_file: str | None = None

    def credentials(self) -> Credentials:
        if self.private_key_file is not None:
            try:
                key = Path(self.private_key_file).read_text(encoding="utf-8")
            except OSError as error:
                raise ProfileError(
                    f"the private key {self.private_key_file} cannot be read ({error.strerror})"
                ) from None
            return PrivateKey(self.client_id, key)
        assert self.client_secret is not None
        return ClientSecret(self.client_id, self.client_secret)


def profiles_file(environ: Mapping[str, str] = os.environ) -> Path:
    named = environ.get("CARE_EXCHANGE_PROFILES")
    if named:
        return Path(named)
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "care-exchange" / "profiles.toml"


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ProfileError(
            f"{path} may be read by others (mode {mode:o}); it holds secrets: "
            f"chmod 600 {path}, or run care-exchange login again"
        )
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"{path} cannot be read as TOML ({error})") from None
    profiles = document.get("profiles", {})
    return profiles if isinstance(profiles, dict) else {}


def resolve(
    options: Mapping[str, str | None],
    profile: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Profile:
    """The profile named (or `default`), overridden by the environment, then by options."""
    name = profile or environ.get("CARE_EXCHANGE_PROFILE") or DEFAULT_PROFILE
    stored = _read(profiles_file(environ)).get(name, {})
    if profile is not None and not stored:
        raise ProfileError(
            f"no profile {name!r}: create it with care-exchange login --profile {name}"
        )
    values: dict[str, str] = {}
    for layer in (
        {key: str(stored[key]) for key in ENV if isinstance(stored.get(key), str)},
        {key: environ[variable] for key, variable in ENV.items() if environ.get(variable)},
        {key: value for key, value in options.items() if value},
    ):
        if layer.keys() & CREDENTIALS:
            # A secret or a key given at one level replaces whichever a lower level gave.
            for key in CREDENTIALS:
                values.pop(key, None)
        values |= layer
    missing = [key for key in ("base_url", "client_id") if not values.get(key)]
    if missing:
        raise ProfileError(
            f"say which server and client: {', '.join('--' + m.replace('_', '-') for m in missing)}"
            ", the environment, or care-exchange login"
        )
    if not values.get("client_secret") and not values.get("private_key_file"):
        raise ProfileError(
            "no credentials: set CARE_EXCHANGE_CLIENT_SECRET, give --private-key, or run "
            "care-exchange login"
        )
    if not values["base_url"].startswith(("https://", "http://")):
        raise ProfileError(f"the server must be an https:// URL, not {values['base_url']!r}")
    return Profile(
        base_url=values["base_url"].rstrip("/"),
        client_id=values["client_id"],
        client_secret=None if values.get("private_key_file") else values.get("client_secret"),
        private_key_file=values.get("private_key_file"),
    )


def save(
    profile: Profile, name: str = DEFAULT_PROFILE, environ: Mapping[str, str] = os.environ
) -> Path:
    """Store `profile` under `name`, keeping the others; the file is created owner-only."""
    path = profiles_file(environ)
    profiles = _read(path)
    profiles[name] = {
        key: value
        for key, value in (
            ("base_url", profile.base_url),
            ("client_id", profile.client_id),
            ("client_secret", profile.client_secret),
            ("private_key_file", profile.private_key_file),
        )
        if value is not None
    }
    lines = ["# Written by care-exchange login. It holds client secrets: keep it owner-only.\n"]
    for each, values in sorted(profiles.items()):
        lines.append(f"\n[profiles.{json.dumps(each)}]\n")
        lines += [f"{key} = {json.dumps(str(value))}\n" for key, value in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return path
