"""`care-exchange login`: check a client's credentials against a server, then keep them.

The secret is asked for without echo (or read from `CARE_EXCHANGE_CLIENT_SECRET`), never taken
as an option, which would leave it in the shell's history and the process list, and never
printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from care_exchange_client.profiles import DEFAULT_PROFILE, Profile, ProfileError, save

EXIT_REFUSED, EXIT_USAGE = 1, 2


def login(
    base_url: Annotated[str, typer.Option(help="The Care Exchange server, https://...")],
    client_id: Annotated[str, typer.Option(help="Your OAuth client's id.")],
    private_key: Annotated[
        Path | None,
        typer.Option(help="A private key file (PEM or JWK) for a private_key_jwt client."),
    ] = None,
    profile: Annotated[str, typer.Option(help="The name to keep these under.")] = DEFAULT_PROFILE,
) -> None:
    """Check your client's credentials with the server and keep them for publish (owner-only)."""
    from care_exchange_client.client import Client
    from care_exchange_client.errors import CareExchangeError

    if not base_url.startswith(("https://", "http://")):
        _fail(f"--base-url must be an https:// URL, not {base_url!r}", EXIT_USAGE)
    secret = None
    if private_key is None:
        secret = os.environ.get("CARE_EXCHANGE_CLIENT_SECRET") or typer.prompt(
            "Client secret", hide_input=True
        )
    candidate = Profile(
        base_url.rstrip("/"),
        client_id,
        secret,
        str(private_key.resolve()) if private_key is not None else None,
    )
    try:
        with Client(candidate.base_url, candidate.credentials()) as client:
            client.fetch_token()
    except ProfileError as error:
        _fail(str(error), EXIT_USAGE)
    except CareExchangeError as error:
        _fail(f"the server did not accept these credentials ({error})", EXIT_REFUSED)
    written = save(candidate, profile)
    typer.echo(
        f"Logged in to {candidate.base_url} as {client_id}; kept as profile {profile!r} in "
        f"{written} (owner-only)."
    )


def _fail(message: str, status: int) -> NoReturn:
    typer.echo(f"care-exchange login: {message}", err=True)
    raise typer.Exit(status)
