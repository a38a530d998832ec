"""Access receipts: each response carrying a record to a subscriber is recorded for the provider.

A receipt names the subscriber, the record and version, when, through which channel, and the
agreement that allowed it. Only reads under an agreement leave receipts: a provider reading its
own records, or a vendor reading back what it publishes, is not a subscriber.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, type_coerce
from sqlalchemy.orm import Session

from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import (
    AccessReceiptBody,
    AccessReceiptSummaryBody,
    SubscriberSummaryBody,
)
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.scopes import require_scope
from care_exchange_server.services.access import Grant, agreed_grants
from care_exchange_server.services.stored import StoredRecord
from care_exchange_server.services.times import timestamp
from care_exchange_server.storage.enums import OrganisationKind, ReceiptChannel
from care_exchange_server.storage.models import AccessReceipt
from care_exchange_server.storage.types import UTCDateTime, utcnow

READ, LISTED, FEED = ReceiptChannel.READ, ReceiptChannel.LISTED, ReceiptChannel.FEED
WEBHOOK, EVENTS, RETURN = ReceiptChannel.WEBHOOK, ReceiptChannel.EVENTS, ReceiptChannel.RETURN
SCOPE = "agreements"
_RECEIPTS = AccessReceipt.metadata.tables[AccessReceipt.__tablename__]


def write(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Receipts (as `row` makes them) inserted into their table, not through the entity.

    The entity's insert of many rows does the ORM's work for each row.
    """
    session.execute(insert(_RECEIPTS), rows)


def covering(principal: Principal, record: StoredRecord, agreed: Sequence[Grant]) -> str | None:
    """The agreement the caller receives this record under, if it is a subscriber's read."""
    if record.provider_id == principal.organisation_id:
        return None
    if not principal.has(f"{record.record_type}:read"):
        return None
    for grant in agreed:
        if grant.agreement_id is not None and grant.covers(record.provider_id, record.service_id):
            return grant.agreement_id
    return None


def agreed_for(
    session: Session, principal: Principal, records: Sequence[StoredRecord]
) -> list[Grant]:
    """The caller's agreement grants for the types of these records (none for its own)."""
    types = {r.record_type for r in records if r.provider_id != principal.organisation_id}
    today = date.today()
    return [
        grant
        for record_type in sorted(types)
        for grant in agreed_grants(session, principal.organisation_id, record_type, today)
    ]


def row(
    subscriber_id: str,
    record: StoredRecord,
    agreement_id: str,
    channel: ReceiptChannel,
    at: datetime,
) -> dict[str, Any]:
    """One receipt, as a row to insert."""
    return {
        "provider_id": record.provider_id,
        "subscriber_id": subscriber_id,
        "service_id": record.service_id,
        "agreement_id": agreement_id,
        "record_pk": record.pk,
        "record_type": record.record_type,
        "record_id": record.record_id,
        "version": record.version,
        "channel": channel,
        "read_at": at,
    }


def rows_for(
    principal: Principal,
    records: Sequence[StoredRecord],
    channel: ReceiptChannel,
    agreed: Sequence[Grant],
) -> list[dict[str, Any]]:
    """The receipts for records a subscriber receives, under the agreements that allow it."""
    now = utcnow()
    return [
        row(principal.organisation_id, record, agreement_id, channel, now)
        for record in records
        if (agreement_id := covering(principal, record, agreed)) is not None
    ]


@dataclass(frozen=True)
class ReceiptFilter:
    """What a provider asks about: one service, one subscriber, a period (any may be None)."""

    service_id: str | None
    subscriber_id: str | None
    since: datetime | None
    until: datetime | None


def _check_period(receipt_filter: ReceiptFilter) -> None:
    since, until = receipt_filter.since, receipt_filter.until
    if since is not None and until is not None and since > until:
        raise ProblemError(
            "invalid_query",
            "`until` is before `since`.",
            [FieldError.of_parameter("until", "must not be before since.", "minimum")],
        )


def _provider(principal: Principal) -> None:
    require_scope(principal, SCOPE)
    if principal.organisation_kind != OrganisationKind.PROVIDER:
        raise ProblemError("forbidden", "Access receipts are shown to the provider.")


def _conditions(principal: Principal, receipt_filter: ReceiptFilter) -> list[Any]:
    conditions: list[Any] = [AccessReceipt.provider_id == principal.organisation_id]
    if receipt_filter.service_id is not None:
        conditions.append(AccessReceipt.service_id == receipt_filter.service_id)
    if receipt_filter.subscriber_id is not None:
        conditions.append(AccessReceipt.subscriber_id == receipt_filter.subscriber_id)
    if receipt_filter.since is not None:
        conditions.append(AccessReceipt.read_at >= receipt_filter.since)
    if receipt_filter.until is not None:
        conditions.append(AccessReceipt.read_at < receipt_filter.until)
    return conditions


def list_for(
    session: Session,
    principal: Principal,
    receipt_filter: ReceiptFilter,
    page_size: int,
    before: int | None,
) -> tuple[list[AccessReceipt], int | None]:
    """The provider's receipts, newest first; the position to continue from, if more."""
    _provider(principal)
    _check_period(receipt_filter)
    query = select(AccessReceipt).where(*_conditions(principal, receipt_filter))
    if before is not None:
        query = query.where(AccessReceipt.pk < before)
    rows = list(session.scalars(query.order_by(AccessReceipt.pk.desc()).limit(page_size + 1)))
    items = rows[:page_size]
    return items, items[-1].pk if len(rows) > page_size else None


def summary(
    session: Session, principal: Principal, receipt_filter: ReceiptFilter
) -> AccessReceiptSummaryBody:
    """Per subscriber: distinct records received, read one by one and put into returns."""
    _provider(principal)
    _check_period(receipt_filter)
    conditions = _conditions(principal, receipt_filter)
    received = func.count(AccessReceipt.record_pk.distinct()).filter(
        AccessReceipt.channel.in_([FEED, LISTED, WEBHOOK, EVENTS])
    )
    read = func.count(AccessReceipt.record_pk.distinct()).filter(AccessReceipt.channel == READ)
    in_returns = func.count(AccessReceipt.record_pk.distinct()).filter(
        AccessReceipt.channel == RETURN
    )
    rows = session.execute(
        select(
            AccessReceipt.subscriber_id,
            received.label("received"),
            read.label("read"),
            in_returns.label("in_returns"),
            type_coerce(func.max(AccessReceipt.read_at), UTCDateTime()).label("last"),
        )
        .where(*conditions)
        .group_by(AccessReceipt.subscriber_id)
        .order_by(AccessReceipt.subscriber_id)
    )
    return AccessReceiptSummaryBody(
        subscribers=[
            SubscriberSummaryBody(
                subscriberId=row.subscriber_id,
                recordsReceived=row.received,
                recordsRead=row.read,
                recordsInReturns=row.in_returns,
                lastReadAt=timestamp(row.last),
            )
            for row in rows
        ]
    )


def receipt_dict(receipt: AccessReceipt) -> AccessReceiptBody:
    return AccessReceiptBody(
        subscriberId=receipt.subscriber_id,
        providerId=receipt.provider_id,
        serviceId=receipt.service_id,
        agreementId=receipt.agreement_id,
        recordType=receipt.record_type,
        recordId=receipt.record_id,
        version=receipt.version,
        channel=receipt.channel,
        readAt=timestamp(receipt.read_at),
    )
