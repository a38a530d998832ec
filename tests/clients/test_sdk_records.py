"""Records through the SDK: publish, read with its ETag, replace with If-Match, versions,
retract, lists page by page, and the problems the server answers as typed exceptions."""

from __future__ import annotations

import asyncio
from typing import Final

import pytest

from care_exchange_client import (
    AsyncClient,
    Client,
    ClientSecret,
    Conflict,
    Gone,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    etag,
)
from tests.clients.conftest import Reference, new_record

TYPE: Final = "capacity-snapshot"


def test_publish_read_replace_versions_retract(
    reference: Reference, publisher: Client, subscriber: Client
) -> None:
    record = new_record(reference.service_id)
    published = publisher.publish_record(TYPE, record)
    assert (published["id"], published["version"], published["state"]) == (
        record["id"],
        1,
        "active",
    )

    read = subscriber.get_record(TYPE, record["id"])
    assert read["data"] == record
    assert etag(read) == '"1"'

    changed = {**record, "registeredPlaces": 61}
    replaced = publisher.replace_record(TYPE, record["id"], changed, if_match=read)
    assert replaced["version"] == 2

    with pytest.raises(PreconditionFailed) as stale:
        publisher.replace_record(TYPE, record["id"], changed, if_match=read)
    assert stale.value.code == "precondition_failed"
    assert not stale.value.retried

    versions = publisher.list_record_versions(TYPE, record["id"])
    assert [v["version"] for v in versions["items"]] == [1, 2]

    publisher.retract_record(TYPE, record["id"], if_match=replaced)
    with pytest.raises(Gone):
        subscriber.get_record(TYPE, record["id"])
    history = list(publisher.list_record_versions.all(TYPE, record["id"], page_size=1))
    assert [(v["version"], v["state"]) for v in history] == [
        (1, "active"),
        (2, "active"),
        (3, "retracted"),
    ]


def test_problems_are_typed_and_carry_pointers(
    reference: Reference, publisher: Client, outsider: Client
) -> None:
    record = new_record(reference.service_id)
    del record["registeredPlaces"]
    record["beds"][0]["careLevel"] = "nursing-care"
    with pytest.raises(ValidationFailed) as refused:
        publisher.publish_record(TYPE, record)
    assert refused.value.status == 422
    assert refused.value.code == "validation_failed"
    assert "/registeredPlaces" in refused.value.pointers
    assert any(p.startswith("/beds/0") for p in refused.value.pointers)
    assert refused.value.request_id

    fine = new_record(reference.service_id)
    publisher.publish_record(TYPE, fine)
    with pytest.raises(Conflict):
        publisher.publish_record(TYPE, fine)
    with pytest.raises(NotFound) as hidden:
        outsider.get_record(TYPE, fine["id"])
    assert hidden.value.code == "not_found"


def test_list_pages_through_every_record_of_a_service(
    reference: Reference, publisher: Client, subscriber: Client
) -> None:
    mine = [new_record(reference.service_id) for _ in range(5)]
    for record in mine:
        publisher.publish_record(TYPE, record)
    page = subscriber.list_records(TYPE, service_id=reference.service_id, page_size=2)
    assert len(page["items"]) == 2 and page["nextPageToken"]
    walk = subscriber.list_records.all(TYPE, service_id=reference.service_id, page_size=2)
    seen = [envelope["id"] for envelope in walk]
    assert len(seen) == len(set(seen))
    assert {record["id"] for record in mine} <= set(seen)
    assert walk.position is not None  # the token of the last page read


def test_the_async_client_does_the_same(reference: Reference) -> None:
    party = reference.party("publisher")

    async def flow() -> list[int]:
        credentials = ClientSecret(party.client_id, party.client_secret)
        async with AsyncClient(reference.base_url, credentials) as client:
            record = new_record(reference.service_id)
            first = await client.publish_record(TYPE, record)
            read = await client.get_record(TYPE, record["id"])
            second = await client.replace_record(
                TYPE, record["id"], {**record, "registeredPlaces": 59}, if_match=read
            )
            with pytest.raises(PreconditionFailed):
                await client.retract_record(TYPE, record["id"], if_match=first)
            await client.retract_record(TYPE, record["id"], if_match=second)
            return [v["version"] async for v in client.list_record_versions.all(TYPE, record["id"])]

    assert asyncio.run(flow()) == [1, 2, 3]
