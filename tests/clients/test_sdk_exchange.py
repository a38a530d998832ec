"""The rest of the exchange through the SDK: agreements, feedback and receipts, the service
directory and delegations, a provider's directory entry, and administration."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest

from care_exchange_client import (
    AsyncClient,
    Client,
    ClientSecret,
    Forbidden,
    NotFound,
    TokenError,
    ValidationFailed,
)
from care_exchange_client.types import AgreementRequest, ClientCreated
from care_exchange_server.demo import COMMISSIONER, PROVIDER
from tests.clients.conftest import ADMIN_ORGANISATION, Reference, new_record

TYPE: Final = "capacity-snapshot"


def _new_party(admin: Client, kind: str, scopes: list[str]) -> tuple[str, ClientCreated]:
    organisation = admin.create_organisation(f"SDK {kind} {uuid.uuid4().hex[:6]}", kind)  # type: ignore[arg-type]
    created = admin.create_client(
        {
            "organisationId": organisation["id"],
            "name": "SDK test client",
            "scopes": scopes,
            "authMethod": "client_secret_basic",
        }
    )
    return organisation["id"], created


@pytest.fixture
def newcomer(reference: Reference, admin: Client) -> Iterator[tuple[str, Client]]:
    """A commissioner with no agreement yet."""
    organisation, created = _new_party(admin, "commissioner", [f"{TYPE}:read", "agreements"])
    credentials = ClientSecret(created["clientId"], created["clientSecret"])
    with Client(reference.base_url, credentials) as client:
        yield organisation, client


def test_an_agreement_requested_declined_accepted_and_revoked(
    reference: Reference, publisher: Client, newcomer: tuple[str, Client]
) -> None:
    organisation, commissioner = newcomer
    record = new_record(reference.service_id)
    publisher.publish_record(TYPE, record)
    ask: AgreementRequest = {
        "providerId": PROVIDER,
        "recordTypes": [TYPE],
        "serviceIds": None,
        "purpose": "Hospital discharge planning.",
        "legalBasis": "UK GDPR Article 6(1)(e) public task.",
    }
    first = commissioner.create_agreement(ask)
    assert (first["status"], first["subscriberId"]) == ("requested", organisation)
    waiting = [a["id"] for a in publisher.list_agreements.all(status="requested")]
    assert first["id"] in waiting
    assert publisher.decline_agreement(first["id"])["status"] == "declined"

    second = commissioner.create_agreement(ask)
    with pytest.raises(Forbidden):
        commissioner.accept_agreement(second["id"])
    assert publisher.accept_agreement(second["id"])["status"] == "active"
    assert commissioner.get_agreement(second["id"])["status"] == "active"
    assert commissioner.get_record(TYPE, record["id"])["id"] == record["id"]

    assert publisher.revoke_agreement(second["id"])["status"] == "revoked"
    with pytest.raises(NotFound):
        commissioner.get_record(TYPE, record["id"])


def test_feedback_and_the_receipts_of_reads(
    reference: Reference, publisher: Client, subscriber: Client
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    record = new_record(reference.service_id)
    publisher.publish_record(TYPE, record)
    subscriber.get_record(TYPE, record["id"])

    sent = subscriber.create_feedback(
        {
            "kind": "impact",
            "text": "Two people went home.",
            "recordType": TYPE,
            "recordId": record["id"],
        }
    )
    assert (sent["providerId"], sent["recordVersion"]) == (PROVIDER, 1)
    assert sent["id"] in [f["id"] for f in publisher.list_feedback.all(kind="impact")]
    assert publisher.get_feedback(sent["id"])["text"] == "Two people went home."
    replied = publisher.reply_to_feedback(sent["id"], "Thank you.")
    assert [r["text"] for r in replied["replies"]] == ["Thank you."]
    with pytest.raises(Forbidden):
        subscriber.reply_to_feedback(sent["id"], "Me too.")

    receipts = list(
        publisher.list_access_receipts.all(service_id=reference.service_id, since=since)
    )
    assert any(r["recordId"] == record["id"] and r["channel"] == "read" for r in receipts)
    summary = publisher.summarise_access_receipts(subscriber_id=COMMISSIONER, since=since)
    assert [s["subscriberId"] for s in summary["subscribers"]] == [COMMISSIONER]
    with pytest.raises(ValueError, match="timezone"):
        publisher.list_access_receipts(since=datetime(2026, 1, 1))


def test_services_and_delegations(reference: Reference, publisher: Client, admin: Client) -> None:
    assert publisher.get_my_organisation()["kind"] == "provider"
    listed = [s["id"] for s in publisher.list_services.all(page_size=1)]
    assert reference.service_id in listed
    entry = publisher.get_service(reference.service_id)
    assert publisher.replace_service(reference.service_id, entry) == entry

    added = copy.deepcopy(entry)
    added["id"] = f"svc-sdk-{uuid.uuid4().hex[:8]}"
    added["name"] = "SDK Test House"
    assert publisher.create_service(added)["id"] == added["id"]

    vendor = admin.create_organisation(f"SDK vendor {uuid.uuid4().hex[:6]}", "vendor")
    delegation = publisher.create_delegation(vendor["id"], [added["id"]])
    assert delegation["revokedAt"] is None
    assert delegation["id"] in [d["id"] for d in publisher.list_delegations.all()]
    publisher.revoke_delegation(delegation["id"])
    again = {d["id"]: d for d in publisher.list_delegations.all()}[delegation["id"]]
    assert again["revokedAt"] is not None


def _provider_entry(organisation_id: str, name: str) -> dict[str, Any]:
    return {
        "directoryType": "provider",
        "schemaVersion": "1.1",
        "id": organisation_id,
        "name": name,
        "legalName": f"{name} Limited",
        "organisationType": "private-company",
        "identifiers": [{"scheme": "companies-house", "value": "07654321"}],
    }


def test_a_provider_stores_and_reads_its_directory_entry(
    reference: Reference, admin: Client, subscriber: Client
) -> None:
    organisation, created = _new_party(admin, "provider", ["services"])
    credentials = ClientSecret(created["clientId"], created["clientSecret"])
    with Client(reference.base_url, credentials) as provider:
        with pytest.raises(NotFound):
            provider.get_my_directory_entry()
        entry = _provider_entry(organisation, "SDK Care")
        assert provider.replace_my_directory_entry(entry) == entry
        assert provider.get_my_directory_entry() == entry
        with pytest.raises(ValidationFailed) as refused:
            provider.replace_my_directory_entry(_provider_entry(PROVIDER, "Not mine"))
        assert refused.value.pointers == ["/id"]
    with pytest.raises(Forbidden):
        subscriber.get_my_directory_entry()

    async def flow() -> tuple[Any, Any]:
        async with AsyncClient(reference.base_url, credentials) as client:
            renamed = _provider_entry(organisation, "SDK Care Group")
            return await client.replace_my_directory_entry(renamed), (
                await client.get_my_directory_entry()
            )

    stored, read = asyncio.run(flow())
    assert stored == read == _provider_entry(organisation, "SDK Care Group")


def test_administration(reference: Reference, admin: Client, outsider: Client) -> None:
    organisations = {o["id"] for o in admin.list_organisations.all(page_size=2)}
    assert {PROVIDER, ADMIN_ORGANISATION} <= organisations
    clients = {c["clientId"] for c in admin.list_clients.all()}
    assert reference.party("publisher").client_id in clients

    _, created = _new_party(admin, "provider", ["services"])
    credentials = ClientSecret(created["clientId"], created["clientSecret"])
    with Client(reference.base_url, credentials) as newcomer:
        assert newcomer.get_my_organisation()["kind"] == "provider"
    admin.delete_client(created["clientId"])
    with Client(reference.base_url, credentials) as gone, pytest.raises(TokenError):
        gone.get_my_organisation()

    with pytest.raises(Forbidden) as refused:
        outsider.list_organisations()
    assert refused.value.code == "insufficient_scope"
