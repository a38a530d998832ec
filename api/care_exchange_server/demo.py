"""The demo: one provider with two care homes, one commissioner with an agreement, one without.

It lets a newcomer see the whole exchange in five curl commands: a token, a publish, a read by
the entitled commissioner, and the other commissioner refused. A second provider, with one home
and no agreement with anybody, is there for the conformance suite (`second_publisher`), which
checks that one provider can neither publish for, change nor read another's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from care_exchange_server.auth import clients
from care_exchange_server.auth.tokens import issue_access_token
from care_exchange_server.services import directory, entitlements
from care_exchange_server.services.entitlements import AgreementTerms
from care_exchange_server.settings import DEFAULT_DATA_DIR, Settings
from care_exchange_server.storage.enums import AuthMethod, OrganisationKind
from care_exchange_server.storage.models import Client, Organisation, Service
from care_exchange_server.storage.types import utcnow
from care_exchange_standard import SCHEMA_DIR, load_standard

PROVIDER, COMMISSIONER, OTHER = "org-thistle-care", "org-lothian-hscp", "org-fife-hscp"
SERVICES = ("svc-thistle-court", "svc-rowan-lodge")
SECOND_PROVIDER, SECOND_SERVICE = "org-heather-homes", "svc-heather-house"
DEMO_ORGANISATIONS = (PROVIDER, COMMISSIONER, OTHER, SECOND_PROVIDER)


@dataclass(frozen=True)
class DemoClient:
    """A client the demo created, with the secret that is shown only now."""

    organisation: str
    client_id: str
    secret: str


def _service(
    service_id: str, name: str, number: str, postcode: str, provider_id: str = PROVIDER
) -> dict[str, Any]:
    return {
        "directoryType": "service",
        "schemaVersion": "1.0",
        "id": service_id,
        "providerId": provider_id,
        "name": name,
        "identifiers": [{"scheme": "care-inspectorate-service", "value": number}],
        "serviceType": "care-home-with-nursing",
        "clientGroups": ["older-people"],
        "geography": {
            "country": "scotland",
            "councilArea": "S12000036",
            "healthAndSocialCarePartnership": "S37000012",
            "healthBoard": "S08000024",
            "postcode": postcode,
        },
        "registeredPlaces": 60,
        "status": "active",
    }


def _provider(
    provider_id: str, name: str, number: str, company: str, postcode: str
) -> dict[str, Any]:
    """A provider's own directory entry, which returns filled on the server read."""
    return {
        "directoryType": "provider",
        "schemaVersion": "1.1",
        "id": provider_id,
        "name": name,
        "legalName": f"{name} Ltd",
        "organisationType": "private-company",
        "identifiers": [
            {"scheme": "care-inspectorate-provider", "value": number},
            {"scheme": "companies-house", "value": company},
        ],
        "registeredAddress": {"locality": "Edinburgh", "postcode": postcode},
    }


SHARED_SCOPES = ["agreements", "feedback", "subscriptions", "returns"]


def seed(session: Session) -> list[DemoClient] | None:
    """Create the demo once; None when it is already there (its secrets cannot be shown again)."""
    if session.get(Organisation, PROVIDER) is not None:
        return None
    commissioner = OrganisationKind.COMMISSIONER
    thistle = directory.create_organisation(
        session, "Thistle Care Ltd", OrganisationKind.PROVIDER, PROVIDER
    )
    directory.create_organisation(session, "Edinburgh HSCP (demo)", commissioner, COMMISSIONER)
    directory.create_organisation(session, "Fife HSCP (demo)", commissioner, OTHER)
    heather = directory.create_organisation(
        session, "Heather Homes Ltd (demo)", OrganisationKind.PROVIDER, SECOND_PROVIDER
    )
    for provider, name, number, company, postcode in (
        (thistle, "Thistle Care", "SP2003000125", "SC204518", "EH10 5AB"),
        (heather, "Heather Homes", "SP2003000127", "SC287361", "EH14 1AA"),
    ):
        entry = _provider(provider.id, name, number, company, postcode)
        issues = load_standard().validator("provider").validate(entry)
        assert not issues, issues
        provider.directory_entry = entry
    for service_id, name, number, postcode, provider_id in (
        (SERVICES[0], "Thistle Court Care Home", "CS2003001025", "EH10 5AB", PROVIDER),
        (SERVICES[1], "Rowan Lodge Care Home", "CS2003001026", "EH12 7CD", PROVIDER),
        (SECOND_SERVICE, "Heather House Care Home", "CS2003001027", "EH14 1AA", SECOND_PROVIDER),
    ):
        document = _service(service_id, name, number, postcode, provider_id)
        issues = load_standard().validator("service").validate(document)
        assert not issues, issues
        session.add(Service(id=service_id, provider_id=provider_id, document=document))
    record_types = load_standard().record_types
    terms = AgreementTerms(
        record_types=record_types,
        service_ids=None,
        purpose="Contract monitoring under the National Care Home Contract.",
        legal_basis="Public task (UK GDPR article 6(1)(e)); contract with the provider.",
        end_date=None,
    )
    entitlements.grant(session, PROVIDER, COMMISSIONER, terms)
    made = []
    for organisation, scopes in (
        (
            PROVIDER,
            [f"{t}:publish" for t in record_types] + [*SHARED_SCOPES, "services"],
        ),
        (COMMISSIONER, [f"{t}:read" for t in record_types] + SHARED_SCOPES),
        (OTHER, [f"{t}:read" for t in record_types] + SHARED_SCOPES),
        (SECOND_PROVIDER, [f"{t}:publish" for t in record_types] + [*SHARED_SCOPES, "services"]),
    ):
        client, secret = clients.create_client(
            session,
            organisation,
            _demo_client_name(organisation),
            scopes,
            AuthMethod.CLIENT_SECRET_BASIC,
        )
        assert secret is not None
        made.append(DemoClient(organisation, client.client_id, secret))
    session.flush()
    return made


def _demo_client_name(organisation: str) -> str:
    return f"{organisation} demo client"


def demo_clients(session: Session) -> list[Client]:
    """The seeded demo's clients, in the walkthrough's order; empty before it is seeded."""
    found = []
    for organisation in DEMO_ORGANISATIONS:
        named = [
            client
            for client in clients.list_clients(session, organisation, include_disabled=False)
            if client.name == _demo_client_name(organisation)
        ]
        if not named:
            return []
        found.append(named[0])
    return found


def reset(session: Session) -> list[DemoClient]:
    """The demo's clients with new secrets, seeding it first if it is not there.

    A secret is stored only as a hash, so a demo started earlier cannot show its credentials
    again; new ones are the way back in. The old secrets stop working at once.
    """
    made = seed(session)
    if made is not None:
        return made
    renewed = []
    for client in demo_clients(session):
        secret = clients.renew_secret(session, client.client_id)
        assert secret is not None, "the demo's clients use client secrets"
        renewed.append(DemoClient(client.organisation_id, client.client_id, secret))
    if len(renewed) != len(DEMO_ORGANISATIONS):
        raise LookupError("the demo's clients were removed or disabled; delete var/ to start again")
    return renewed


def walkthrough(base_url: str, made: list[DemoClient]) -> str:
    """The curl commands the README repeats, filled in with this demo's credentials."""
    provider, commissioner, other, _ = made
    record = SCHEMA_DIR / "examples" / "valid" / "capacity-snapshot" / "nursing-home-open.json"
    pick = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    token = (
        "curl -s -u {id}:{secret} -d grant_type=client_credentials "
        f"{base_url}/oauth/token | {pick}"
    )
    lines = [
        "Demo credentials (shown once; `care-exchange demo reset` issues new ones):",
        *(f"  {c.organisation}: client_id={c.client_id} client_secret={c.secret}" for c in made),
        "",
        "Walkthrough:",
        f"  P=$({token.format(id=provider.client_id, secret=provider.secret)})",
        f"  C=$({token.format(id=commissioner.client_id, secret=commissioner.secret)})",
        f"  O=$({token.format(id=other.client_id, secret=other.secret)})",
        f"""  S=$(curl -s -H "Authorization: Bearer $C" -H 'Content-Type: application/json' """
        """--data '{"types": ["capacity-snapshot"], "channel": {"type": "pull"}}' """
        f"""{base_url}/v1/subscriptions | python3 -c 'import json,sys; """
        """print(json.load(sys.stdin)["id"])')   # the commissioner subscribes""",
        f"  curl -s -H \"Authorization: Bearer $P\" -H 'Content-Type: application/json' "
        f"--data @{record} {base_url}/v1/records/capacity-snapshot",
        f'  curl -s -H "Authorization: Bearer $C" '
        f"{base_url}/v1/records/capacity-snapshot/2f0c6a52-8d0e-4b7e-9a51-0c7f3c1e9b01",
        f'  curl -s -H "Authorization: Bearer $O" '
        f"{base_url}/v1/records/capacity-snapshot/2f0c6a52-8d0e-4b7e-9a51-0c7f3c1e9b01"
        "   # 404: no agreement",
        f'  curl -s -H "Authorization: Bearer $C" {base_url}/v1/feed/capacity-snapshot'
        "   # the feed: every record it may see",
        f'  curl -s -H "Authorization: Bearer $C" {base_url}/v1/subscriptions/$S/events'
        "   # its subscription's numbered events (?after=N replays; pages by nextPageToken)",
        f"""  curl -s -H "Authorization: Bearer $C" -H 'Content-Type: application/json' """
        """--data '{"kind": "impact", "text": "Two people went home from hospital.", """
        """"recordType": "capacity-snapshot", "recordId": """
        f""""2f0c6a52-8d0e-4b7e-9a51-0c7f3c1e9b01"}}' {base_url}/v1/feedback""",
        f'  curl -s -H "Authorization: Bearer $P" {base_url}/v1/feedback'
        "   # the provider sees what its data changed",
    ]
    return "\n".join(lines)


CONFORMANCE_CONFIG = DEFAULT_DATA_DIR / "conformance-demo.toml"


def expired_token(session: Session, settings: Settings, client_id: str) -> str:
    """A token for `client_id`, signed with the current key, that expired a minute ago.

    A client cannot ask for a short-lived token, so the suite is given one to check that an
    expired token is refused (CX-AUTH-017).
    """
    client = session.get(Client, client_id)
    if client is None:
        raise LookupError(f"no client {client_id!r}")
    now = int(utcnow().timestamp())
    return issue_access_token(
        session, settings, client, issued_at=now - settings.access_token_lifetime_seconds - 60
    )


def conformance_config(base_url: str, made: list[DemoClient], expired: str) -> str:
    """The demo's clients in the conformance suite's configuration format.

    Thistle publishes, Lothian reads under its agreement, Fife has none, Heather Homes is the
    second provider (docs/conformance.md); `expired` is an expired token of Thistle's client.
    """
    provider, commissioner, other, second = made

    def party(name: str, client: DemoClient) -> str:
        return f'[{name}]\nclient_id = "{client.client_id}"\nclient_secret = "{client.secret}"\n'

    return (
        "# Written by `care-exchange run` for the demo; it holds the demo's client secrets.\n"
        f'base_url = "{base_url}"\n'
        f'expired_token = "{expired}"\n\n'
        + party("publisher", provider)
        + f'service_id = "{SERVICES[0]}"\n\n'
        + party("subscriber", commissioner)
        + "\n"
        + party("outsider", other)
        + "\n"
        + party("second_publisher", second)
    )


def write_conformance_config(base_url: str, made: list[DemoClient], expired: str) -> Path:
    """Write the suite's configuration for the demo, readable by its owner only."""
    CONFORMANCE_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    CONFORMANCE_CONFIG.touch(mode=0o600, exist_ok=True)
    CONFORMANCE_CONFIG.chmod(0o600)
    CONFORMANCE_CONFIG.write_text(conformance_config(base_url, made, expired), encoding="utf-8")
    return CONFORMANCE_CONFIG
