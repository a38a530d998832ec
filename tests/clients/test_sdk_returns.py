"""Return templates through the SDK, sync and async, against the reference server: a subscriber
declares one, reads it, and retires it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from care_exchange_client import AsyncClient, Client, ClientSecret, Conflict, NotFound
from tests.clients.conftest import Reference


def _template(template_id: str) -> dict[str, Any]:
    """A one-field monthly return over capacity snapshots."""
    return {
        "templateType": "return-template",
        "id": template_id,
        "version": "1.0.0",
        "title": "SDK: registered places",
        "owner": {"name": "SDK tests"},
        "recordTypes": ["capacity-snapshot"],
        "period": {"kind": "month"},
        "fields": [
            {
                "code": "REG",
                "label": "Registered places",
                "valueType": "integer",
                "expression": "capacitySnapshot[-1].registeredPlaces",
                "dependsOn": ["capacity-snapshot/registeredPlaces"],
                "match": "exact",
            }
        ],
    }


def _new_id() -> str:
    return f"sdk-{uuid.uuid4().hex[:12]}"


def test_a_subscriber_declares_reads_and_retires_a_template(
    subscriber: Client, outsider: Client
) -> None:
    template_id = _new_id()
    stored = subscriber.create_return_template(_template(template_id))
    assert (stored["id"], stored["version"]) == (template_id, "1.0.0")
    assert subscriber.get_return_template(template_id) == stored
    with pytest.raises(NotFound):
        outsider.retire_return_template(template_id)

    subscriber.retire_return_template(template_id)
    with pytest.raises(NotFound):
        subscriber.get_return_template(template_id)
    assert template_id not in [t["id"] for t in subscriber.list_return_templates.all()]
    with pytest.raises(NotFound):
        subscriber.retire_return_template(template_id)
    with pytest.raises(Conflict) as taken:
        subscriber.create_return_template(_template(template_id))
    assert taken.value.pointers == ["/id"]


def test_the_async_client_retires_a_template(reference: Reference) -> None:
    party = reference.party("subscriber")
    credentials = ClientSecret(party.client_id, party.client_secret)
    template_id = _new_id()

    async def flow() -> None:
        async with AsyncClient(reference.base_url, credentials) as client:
            await client.create_return_template(_template(template_id))
            await client.retire_return_template(template_id)
            with pytest.raises(NotFound):
                await client.get_return_template(template_id)

    asyncio.run(flow())
