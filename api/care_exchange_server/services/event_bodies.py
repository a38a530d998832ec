"""Stored events as CloudEvents 1.0 JSON: what a webhook receives and what a replay returns.

Bodies are built when they are sent, not when the event is written, so that record data goes
out only while the organisation may still read the record: an agreement revoked, or a record
retracted, after an event was written but before it was delivered stops its data at once.
Every body of `full` content that carries a record says under which agreement, for the
provider's access receipt.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from care_exchange_server.bodies import EventBody
from care_exchange_server.services import records
from care_exchange_server.services.access import Grant, organisation_grants
from care_exchange_server.services.events import FEEDBACK_CREATED, HEARTBEAT, RECORD_UPDATED
from care_exchange_server.services.feedback import feedback_dicts
from care_exchange_server.services.ids import new_id
from care_exchange_server.services.stored import STORED_COLUMNS, StoredRecord
from care_exchange_server.services.times import timestamp
from care_exchange_server.storage.models import (
    Feedback,
    Record,
    RecordVersion,
    Subscription,
    SubscriptionEvent,
)
from care_exchange_server.storage.types import utcnow

FULL = "full"
SEQUENCE_DIGITS = 19


@dataclass(frozen=True)
class Rendered:
    """One event ready to send: its body and, if it carries a record, the receipt it owes."""

    sequence: int
    event_id: str
    body: EventBody
    received: StoredRecord | None = None
    agreement_id: str | None = None

    def encoded(self) -> bytes:
        return encode(self.body)


def encode(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def sequence_text(sequence: int) -> str:
    """The CloudEvents `sequence`: zero-padded, so it orders as a string and as a number."""
    return f"{sequence:0{SEQUENCE_DIGITS}d}"


def _envelope(
    issuer: str, subscription: Subscription, event: SubscriptionEvent, subject: str | None
) -> EventBody:
    """The CloudEvents attributes of a stored event; its `data` is filled in by its kind."""
    body = EventBody(
        specversion="1.0",
        id=event.event_id,
        source=f"{issuer}/v1",
        type=event.type,
        time=timestamp(event.created_at),
        datacontenttype="application/json",
        sequence=sequence_text(event.sequence),
        subscription=subscription.id,
        data=None,
    )
    if subject is not None:
        body["subject"] = subject
    return body


def heartbeat(issuer: str, subscription: Subscription) -> tuple[str, bytes]:
    """A heartbeat's id and body: never stored, so it carries no sequence of its own."""
    event_id = new_id("hb")
    body = EventBody(
        specversion="1.0",
        id=event_id,
        source=f"{issuer}/v1",
        type=HEARTBEAT,
        time=timestamp(utcnow()),
        datacontenttype="application/json",
        subscription=subscription.id,
        data={"latestSequence": subscription.last_sequence},
    )
    return event_id, encode(body)


class _Loaded:
    """The records, versions, feedback and grants a batch of events refers to, loaded at once."""

    def __init__(
        self,
        session: Session,
        batch: Mapping[Subscription, Sequence[SubscriptionEvent]],
        today: date,
    ) -> None:
        self.session = session
        self.today = today
        found = [event for events in batch.values() for event in events]
        record_pks = {event.record_pk for event in found if event.record_pk is not None}
        self.records = {
            row[0]: StoredRecord(*row)
            for row in session.execute(select(*STORED_COLUMNS).where(Record.pk.in_(record_pks)))
        }
        wanted = {
            (event.record_pk, event.version)
            for subscription, events in batch.items()
            if subscription.content == FULL
            for event in events
            if event.type == RECORD_UPDATED and event.record_pk is not None
        }
        self.versions: dict[tuple[int, int], RecordVersion] = {}
        if wanted:
            query = select(RecordVersion).where(
                tuple_(RecordVersion.record_pk, RecordVersion.version).in_(sorted(wanted))
            )
            self.versions = {(v.record_pk, v.version): v for v in session.scalars(query)}
        feedback_pks = {event.feedback_pk for event in found if event.feedback_pk is not None}
        items = list(session.scalars(select(Feedback).where(Feedback.pk.in_(feedback_pks))))
        self.feedback = {item.pk: item for item in items}
        shown = {
            event.feedback_pk
            for subscription, events in batch.items()
            if subscription.content == FULL
            for event in events
        }
        full = [item for item in items if item.pk in shown]
        self.feedback_bodies = dict(
            zip(
                (item.pk for item in full),
                feedback_dicts(session, full) if full else [],
                strict=True,
            )
        )
        self._grants: dict[tuple[str, str], list[Grant]] = {}

    def grants(self, organisation_id: str, record_type: str) -> list[Grant]:
        key = (organisation_id, record_type)
        if key not in self._grants:
            self._grants[key] = organisation_grants(
                self.session, organisation_id, record_type, self.today
            )
        return self._grants[key]


def _record_event(
    issuer: str, loaded: _Loaded, subscription: Subscription, event: SubscriptionEvent
) -> Rendered:
    assert event.record_pk is not None and event.version is not None
    record = loaded.records[event.record_pk]
    body = _envelope(issuer, subscription, event, f"{record.record_type}/{record.record_id}")
    data: dict[str, Any] = {
        "recordType": record.record_type,
        "id": record.record_id,
        "version": event.version,
        "serviceId": record.service_id,
        "providerId": record.provider_id,
        "href": f"{issuer}/v1/records/{record.record_type}/{record.record_id}",
    }
    body["data"] = data
    version = loaded.versions.get((event.record_pk, event.version))
    retracted = record.state != records.ACTIVE
    if subscription.content != FULL or event.type != RECORD_UPDATED or version is None or retracted:
        return Rendered(event.sequence, event.event_id, body)
    covering = [
        grant
        for grant in loaded.grants(subscription.organisation_id, record.record_type)
        if grant.covers(record.provider_id, record.service_id)
    ]
    if not covering:
        return Rendered(event.sequence, event.event_id, body)
    data["record"] = records.envelope(record.record_type, version, record)
    received = dataclasses.replace(record, version=event.version)
    return Rendered(event.sequence, event.event_id, body, received, covering[0].agreement_id)


def _feedback_event(
    issuer: str, loaded: _Loaded, subscription: Subscription, event: SubscriptionEvent
) -> Rendered:
    assert event.feedback_pk is not None
    item = loaded.feedback[event.feedback_pk]
    body = _envelope(issuer, subscription, event, f"feedback/{item.id}")
    data: dict[str, Any] = {
        "feedbackId": item.id,
        "kind": item.kind,
        "serviceId": item.service_id,
        "providerId": item.provider_id,
        "subscriberId": item.subscriber_id,
        "href": f"{issuer}/v1/feedback/{item.id}",
    }
    if subscription.content == FULL:
        data["feedback"] = loaded.feedback_bodies[event.feedback_pk]
    body["data"] = data
    return Rendered(event.sequence, event.event_id, body)


def render(
    session: Session,
    issuer: str,
    batch: Mapping[Subscription, Sequence[SubscriptionEvent]],
    today: date,
) -> dict[int, list[Rendered]]:
    """Each subscription's events as bodies, keyed by the subscription's pk."""
    loaded = _Loaded(session, batch, today)
    return {
        subscription.pk: [
            (_feedback_event if event.type == FEEDBACK_CREATED else _record_event)(
                issuer, loaded, subscription, event
            )
            for event in events
        ]
        for subscription, events in batch.items()
    }
