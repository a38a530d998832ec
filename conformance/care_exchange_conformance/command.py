"""`care-exchange conformance`: the suite's subcommands, added to the one console command."""

from __future__ import annotations

import json
import os
import re
import secrets
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from care_exchange_conformance import checks, config, signing
from care_exchange_conformance.registry import Check, Level, Target, select
from care_exchange_conformance.reports import console as console_report
from care_exchange_conformance.reports import html, json_report, junit
from care_exchange_conformance.runner import Report, run, run_receiver

EXIT_CONFORMS, EXIT_FAILS, EXIT_USAGE = 0, 1, 2
WHSEC = re.compile(r"^whsec_[A-Za-z0-9+/]+={0,2}$")

app = typer.Typer(
    help="Check an implementation of the Care Exchange API against the standard.",
    no_args_is_help=True,
)


def _usage(message: str) -> NoReturn:
    typer.echo(f"care-exchange conformance: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


Only = Annotated[
    list[str] | None, typer.Option(help="Run only checks whose id matches (CX-AUTH-*).")
]
Skip = Annotated[list[str] | None, typer.Option(help="Leave out checks whose id matches.")]
LevelOption = Annotated[
    int, typer.Option(min=1, max=2, help="1: required checks only; 2: recommended too.")
]
Seed = Annotated[int | None, typer.Option(help="Repeat an earlier run's choices.")]
JsonFile = Annotated[Path | None, typer.Option("--json", help="Write the JSON report.")]
JunitFile = Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML report.")]
HtmlFile = Annotated[
    Path | None, typer.Option("--html", help="Write a self-contained HTML report.")
]
SignKey = Annotated[
    Path | None,
    typer.Option(
        metavar="KEY",
        help="Sign the JSON report with this Ed25519 private key (a PEM or JWK file); "
        "the signature is written beside it as <json>.jws.",
    ),
]


@app.command("run")
def run_command(
    base_url: Annotated[
        str | None, typer.Option(help="The implementation's base URL (overrides the file).")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="A TOML file: address and clients.")
    ] = None,
    only: Only = None,
    skip: Skip = None,
    level: LevelOption = 2,
    seed: Seed = None,
    json_file: JsonFile = None,
    junit_file: JunitFile = None,
    html_file: HtmlFile = None,
    sign: SignKey = None,
    receiver_url: Annotated[
        str | None,
        typer.Option(help="The URL the implementation reaches the suite's webhook receiver at."),
    ] = None,
    receiver_listen: Annotated[
        str | None,
        typer.Option(help="HOST:PORT the webhook receiver listens on (default 127.0.0.1:0)."),
    ] = None,
    keep_data: Annotated[
        bool, typer.Option(help="Leave the records the run published instead of retracting them.")
    ] = False,
) -> None:
    """Run the checks; exit 0 only when every selected level-1 check passes."""
    out = Console(highlight=False)
    reports = _Reports(json_file, junit_file, html_file, sign)
    try:
        settings = config.load(
            config_file,
            os.environ,
            {
                "base_url": base_url,
                "receiver_url": receiver_url,
                "receiver_listen": receiver_listen,
            },
        )
    except config.ConfigError as error:
        _usage(str(error))
    chosen = _chosen(Target.SERVER, only, skip, level)
    used_seed = seed if seed is not None else secrets.randbelow(2**31)
    out.print(f"Checking {settings.base_url}: {len(chosen)} checks, seed {used_seed}")
    report = run(
        settings,
        chosen,
        used_seed,
        lambda result: console_report.progress(out, result),
        keep_data=keep_data,
    )
    reports.write(report, out)


@app.command("receiver")
def receiver_command(
    url: Annotated[str, typer.Argument(metavar="URL", help="The subscriber's webhook endpoint.")],
    secret: Annotated[
        str,
        typer.Option(
            envvar="CARE_EXCHANGE_CONFORMANCE_WEBHOOK_SECRET",
            help="The whsec_ secret the endpoint verifies signatures with.",
        ),
    ],
    only: Only = None,
    skip: Skip = None,
    level: LevelOption = 2,
    seed: Seed = None,
    json_file: JsonFile = None,
    junit_file: JunitFile = None,
    html_file: HtmlFile = None,
    sign: SignKey = None,
) -> None:
    """Check a subscriber's webhook endpoint: it acknowledges genuine deliveries, refuses forged.

    Exit 0 only when every selected level-1 check passes.
    """
    out = Console(highlight=False)
    reports = _Reports(json_file, junit_file, html_file, sign)
    if not url.startswith(("http://", "https://")):
        _usage(f"URL must be an http:// or https:// URL, not {url!r}.")
    if not WHSEC.match(secret):
        _usage("--secret must be a Standard Webhooks secret: whsec_ followed by base64.")
    chosen = _chosen(Target.WEBHOOK_RECEIVER, only, skip, level)
    used_seed = seed if seed is not None else secrets.randbelow(2**31)
    out.print(f"Checking the webhook endpoint {url}: {len(chosen)} checks, seed {used_seed}")
    report = run_receiver(
        url, secret, chosen, used_seed, lambda result: console_report.progress(out, result)
    )
    reports.write(report, out)


def _chosen(target: Target, only: Only, skip: Skip, level: int) -> list[Check]:
    chosen = select(checks.all_checks(), only or (), skip or (), Level(level), target)
    if not chosen:
        _usage("no check matches the selection.")
    return chosen


class _Reports:
    """The report files a run was asked for, checked before the run so a typo costs nothing."""

    def __init__(
        self,
        json_file: Path | None,
        junit_file: Path | None,
        html_file: Path | None,
        sign: Path | None,
    ) -> None:
        self.json_file, self.junit_file, self.html_file = json_file, junit_file, html_file
        self.signing_key = None
        if sign is not None:
            if json_file is None:
                _usage("--sign signs the JSON report: give --json FILE too.")
            try:
                self.signing_key = signing.load_private_key(sign)
            except signing.KeyFileError as error:
                _usage(str(error))
        for target in (json_file, html_file, junit_file):
            if target is not None:
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    _usage(f"{target}: the report cannot be written there ({error.strerror}).")

    def write(self, report: Report, out: Console) -> NoReturn:
        """Print the summary, write the files, and exit with the verdict."""
        console_report.summary(out, report)
        data = json_report.as_dict(report, version("care-exchange-conformance"))
        if self.json_file is not None:
            json_report.write(data, self.json_file)
            if self.signing_key is not None:
                signed = signing.sign_file(self.json_file, self.signing_key)
                out.print(
                    f"Signed the JSON report: {signed} (key {signing.key_id(self.signing_key)})",
                    markup=False,
                    soft_wrap=True,
                )
        if self.html_file is not None:
            html.write(data, self.html_file)
        if self.junit_file is not None:
            junit.write(report, self.junit_file)
        raise typer.Exit(EXIT_CONFORMS if report.conforms else EXIT_FAILS)


@app.command("keygen")
def keygen_command(
    key_file: Annotated[
        Path, typer.Argument(metavar="KEYFILE", help="Where to write the new private key.")
    ],
) -> None:
    """Make an Ed25519 key pair for --sign: KEYFILE (private, owner-only) and KEYFILE.pub."""
    try:
        public = signing.write_new_key(key_file)
    except signing.KeyFileError as error:
        _usage(str(error))
    key = signing.load_public_key(public)
    jwk = {**key.as_dict(private=False), "kid": signing.key_id(key), "use": "sig"}
    typer.echo(f"Private key: {key_file} (owner-only: keep it secret; give it to run --sign)")
    typer.echo(f"Public key:  {public} (give it to those who verify your reports)")
    typer.echo(f"Public JWK:  {json.dumps(jwk)}")


def _refuse(message: str) -> NoReturn:
    typer.echo(f"not valid: {message}", err=True)
    raise typer.Exit(EXIT_FAILS)


@app.command("verify-report")
def verify_report_command(
    report_file: Annotated[
        Path, typer.Argument(metavar="REPORT", help="A JSON report written by run --json.")
    ],
    public_key: Annotated[
        Path,
        typer.Option(metavar="KEY", help="The signer's Ed25519 public key (a PEM or JWK file)."),
    ],
    signature: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="The report's signature (by default REPORT.jws)."),
    ] = None,
) -> None:
    """Check a signed JSON report: exit 0 when the signature and the report are valid."""
    signature_file = signature or signing.signature_path(report_file)
    try:
        key = signing.load_public_key(public_key)
        payload = report_file.read_bytes()
        signed = signature_file.read_bytes().decode("ascii", errors="replace")
    except signing.KeyFileError as error:
        _usage(str(error))
    except OSError as error:
        _usage(f"cannot read {error.filename}: {error.strerror}")
    try:
        signing.verify(payload, signed, key)
    except signing.SignatureError as error:
        _refuse(f"{report_file}: {error}")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError):
        _refuse(f"{report_file} is signed but is not JSON")
    errors = json_report.schema_errors(data)
    if errors:
        _refuse(
            f"{report_file} is signed but is not a valid conformance report: {'; '.join(errors)}"
        )
    conforms = "yes" if data["conforms"] else "no"
    typer.echo(
        f"valid: signed report of {data['target']} at {data['finishedAt']}, conforms: {conforms}"
    )
