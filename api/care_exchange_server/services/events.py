"""Subscription events written in the transaction of the change they report: the outbox.

Each change an organisation's feed takes, and each piece of feedback a provider receives,
becomes one event for every subscription of that organisation that it matches. An event gets
the subscription's next sequence number in the same transaction, so a rolled-back change leaves
neither an event nor a hole in the sequence, and a committed one always has its event.

Callers hold the feed counter's lock (`feed.lock`): sequences are given out only under it, so
two transactions never number the same subscription's events at once, and subscription rows are
updated in id order, the order every other writer of several of them uses too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from care_exchange_server.services.changes import Change
from care_exchange_server.services.ids import new_id
from care_exchange_server.storage.enums import EventType, FeedState
from care_exchange_server.storage.models import Feedback, Service, Subscription, SubscriptionEvent
from care_exchange_server.storage.types import utcnow

RECORD_UPDATED = EventType.RECORD_UPDATED
RECORD_DELETED = EventType.RECORD_DELETED
FEEDBACK_CREATED = EventType.FEEDBACK_CREATED
HEARTBEAT = "org.careexchange.heartbeat"
FEEDBACK_TYPE = "feedback"
_EVENTS = SubscriptionEvent.metadata.tables[SubscriptionEvent.__tablename__]


@dataclass(frozen=True)
class _Listener:
    """What of a subscription decides which changes it hears about."""

    pk: int
    organisation_id: str
    types: frozenset[str]
    service_ids: frozenset[str] | None
    area_codes: frozenset[str] | None
    last_sequence: int

    def hears(self, kind: str, service_id: str, areas: dict[str, set[str]]) -> bool:
        if kind not in self.types:
            return False
        if self.service_ids is not None and service_id not in self.service_ids:
            return False
        return self.area_codes is None or bool(self.area_codes & areas.get(service_id, set()))


def _listeners(session: Session, organisation_ids: Iterable[str]) -> list[_Listener]:
    rows = session.execute(
        select(
            Subscription.pk,
            Subscription.organisation_id,
            Subscription.types,
            Subscription.service_ids,
            Subscription.area_codes,
            Subscription.last_sequence,
        )
        .where(Subscription.organisation_id.in_(sorted(set(organisation_ids))))
        .order_by(Subscription.pk)
    )
    return [
        _Listener(
            row.pk,
            row.organisation_id,
            frozenset(row.types),
            None if row.service_ids is None else frozenset(row.service_ids),
            None if row.area_codes is None else frozenset(row.area_codes),
            row.last_sequence,
        )
        for row in rows
    ]


def service_areas(document: dict[str, Any]) -> set[str]:
    """The council and HSCP area codes a directory entry places its service in."""
    geography = document.get("geography") or {}
    codes = (geography.get("councilArea"), geography.get("healthAndSocialCarePartnership"))
    return {code for code in codes if isinstance(code, str)}


def _areas(
    session: Session, listeners: Sequence[_Listener], service_ids: Iterable[str]
) -> dict[str, set[str]]:
    if all(listener.area_codes is None for listener in listeners):
        return {}
    rows = session.execute(
        select(Service.id, Service.document).where(Service.id.in_(sorted(set(service_ids))))
    )
    return {row.id: service_areas(row.document) for row in rows}


def _append(
    session: Session, numbered: dict[int, list[dict[str, Any]]], last: dict[int, int]
) -> None:
    """Number each subscription's new events after its last and write them with the counters."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for pk in sorted(numbered):
        first = last[pk] + 1
        rows += [
            {
                **event,
                "subscription_pk": pk,
                "sequence": first + offset,
                "event_id": new_id("evt"),
                "created_at": now,
            }
            for offset, event in enumerate(numbered[pk])
        ]
    if not rows:
        return
    session.execute(
        update(Subscription),
        [{"pk": pk, "last_sequence": last[pk] + len(numbered[pk])} for pk in sorted(numbered)],
    )
    session.execute(insert(_EVENTS), rows)  # the table: the entity's insert is ORM work a row


def record_changes(session: Session, changes: Sequence[Change]) -> None:
    """An event for each change, in each matching subscription of the organisation it is for."""
    if not changes:
        return
    listeners = _listeners(session, (change.organisation_id for change in changes))
    if not listeners:
        return
    areas = _areas(session, listeners, (change.service_id for change in changes))
    numbered: dict[int, list[dict[str, Any]]] = {}
    for listener in listeners:
        for change in changes:
            if change.organisation_id == listener.organisation_id and listener.hears(
                change.record_type, change.service_id, areas
            ):
                numbered.setdefault(listener.pk, []).append(
                    {
                        "type": RECORD_DELETED
                        if change.state == FeedState.DELETED
                        else RECORD_UPDATED,
                        "record_pk": change.record_pk,
                        "version": change.version,
                        "feedback_pk": None,
                    }
                )
    _append(session, numbered, {listener.pk: listener.last_sequence for listener in listeners})


def feedback_sent(session: Session, feedback: Feedback) -> None:
    """An event in each of the provider's subscriptions to feedback that covers its service."""
    listeners = _listeners(session, [feedback.provider_id])
    areas = _areas(session, listeners, [feedback.service_id])
    numbered = {
        listener.pk: [
            {
                "type": FEEDBACK_CREATED,
                "record_pk": None,
                "version": None,
                "feedback_pk": feedback.pk,
            }
        ]
        for listener in listeners
        if listener.hears(FEEDBACK_TYPE, feedback.service_id, areas)
    }
    _append(session, numbered, {listener.pk: listener.last_sequence for listener in listeners})


def prune(session: Session, retention: timedelta) -> int:
    """Delete delivered (or read) events older than the retention window; returns how many.

    An event not yet delivered is kept however old it is: nothing is dropped unseen.
    """
    delivered = (
        select(Subscription.delivered_sequence)
        .where(Subscription.pk == SubscriptionEvent.subscription_pk)
        .scalar_subquery()
    )
    gone = session.execute(
        delete(SubscriptionEvent).where(
            SubscriptionEvent.created_at < utcnow() - retention,
            SubscriptionEvent.sequence <= delivered,
        )
    )
    return int(getattr(gone, "rowcount", 0))
