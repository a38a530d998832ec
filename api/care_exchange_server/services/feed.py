"""Each organisation's change feed: every record it may see, once, at its latest state.

Entries are written when something changes (fan-out on write), so reading a page is one keyset
query on (organisation, type, change number) however long the history. Three kinds of change
write entries: a record's new version (for every organisation entitled to it), an organisation
gaining or losing entitlements (an agreement or delegation starting, ending or being revoked),
and an agreement reaching its end date (found when its subscriber next reads the feed, or by
the worker's sweep). The last two come only from `services.entitlements`, the one writer of
agreements and delegations.

Change numbers come from one counter row, locked before a writing transaction decides who sees
its change and held until it commits. A transaction that takes numbers after another therefore
also commits after it: numbers follow commit order, which closes the commit-order trap. The price
is that feed-writing transactions queue for that row from fan-out to commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from care_exchange_server.services import events
from care_exchange_server.services.access import (
    Grant,
    agreement_grant,
    delegated_grants,
    in_force,
    services_of,
)
from care_exchange_server.services.changes import Change
from care_exchange_server.services.stored import STORED_COLUMNS, StoredRecord
from care_exchange_server.storage.enums import FeedState, RecordState
from care_exchange_server.storage.models import (
    Agreement,
    ChangeCounter,
    Delegation,
    FeedEntry,
    Record,
)

_ENTRIES = FeedEntry.metadata.tables[FeedEntry.__tablename__]


def lock(session: Session) -> None:
    """Take the counter's lock before deciding who sees what; it is held until commit.

    Without it, a publish and a new agreement committing at the same time could each miss the
    other (each decides from what was committed when it looked). With it, the second waits for
    the first to commit and then sees its work. SQLite has one writer at a time anyway.
    """
    session.execute(select(ChangeCounter.value).where(ChangeCounter.id == 1).with_for_update())


def _shown(state: RecordState) -> FeedState:
    """A retracted record is shown as deleted: what it said is gone, though the record is not."""
    return FeedState.DELETED if state == RecordState.RETRACTED else FeedState.UPDATED


def take_numbers(session: Session, count: int) -> int:
    """The first of `count` new change numbers; the counter stays locked until commit."""
    last = session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.id == 1)
        .values(value=ChangeCounter.value + count)
        .returning(ChangeCounter.value)
    ).scalar_one()
    return int(last) - count + 1


def write(session: Session, changes: Sequence[Change]) -> None:
    """Upsert the entries, numbering them in order, and write the subscriptions' events.

    Call it last in the transaction, holding the lock.
    """
    if not changes:
        return
    first = take_numbers(session, len(changes))
    rows = [
        {
            "organisation_id": change.organisation_id,
            "record_pk": change.record_pk,
            "record_type": change.record_type,
            "state": change.state,
            "change_number": first + offset,
        }
        for offset, change in enumerate(changes)
    ]
    if session.get_bind().dialect.name == "postgresql":
        _upsert_columns(session, rows)
        events.record_changes(session, changes)
        return
    # The table, not the entity: an entity's insert of many rows does the ORM's work per row.
    statement = sqlite.insert(_ENTRIES)
    statement = statement.on_conflict_do_update(
        index_elements=[_ENTRIES.c.organisation_id, _ENTRIES.c.record_pk],
        set_={
            "change_number": statement.excluded.change_number,
            "state": statement.excluded.state,
        },
    )
    session.execute(statement, rows)
    events.record_changes(session, changes)


# PostgreSQL: the entries as arrays in one short statement, rather than a statement per entry.
_PG_UPSERT = text(
    """
    INSERT INTO feed_entries (organisation_id, record_pk, record_type, state, change_number)
    SELECT * FROM unnest(
        CAST(:organisation_id AS text[]), CAST(:record_pk AS integer[]),
        CAST(:record_type AS text[]), CAST(:state AS text[]), CAST(:change_number AS bigint[])
    )
    ON CONFLICT (organisation_id, record_pk) DO UPDATE
    SET change_number = excluded.change_number, state = excluded.state
    """
)


def _upsert_columns(session: Session, rows: list[dict[str, Any]]) -> None:
    """The entries in one statement; of two for one row the later wins, as one by one.

    A statement may change a row once only.
    """
    latest = {(row["organisation_id"], row["record_pk"]): row for row in rows}
    columns: dict[str, list[Any]] = {
        name: [row[name] for row in latest.values()]
        for name in ("organisation_id", "record_pk", "record_type", "change_number")
    }
    columns["state"] = [FeedState(row["state"]).value for row in latest.values()]
    session.execute(_PG_UPSERT, columns)


def _entitled(
    session: Session, provider_id: str, service_id: str, record_type: str, today: date
) -> list[str]:
    """Every organisation that may see this record: its provider, delegates and subscribers."""
    vendors = session.execute(
        select(Delegation.vendor_id, Delegation.service_ids).where(
            Delegation.provider_id == provider_id, Delegation.revoked_at.is_(None)
        )
    )
    subscribers = session.execute(
        select(
            Agreement.id, Agreement.subscriber_id, Agreement.service_ids, Agreement.record_types
        ).where(Agreement.provider_id == provider_id, in_force(Agreement.subscriber_id, today))
    )
    organisations = [provider_id]
    organisations += [
        row.vendor_id
        for row in vendors
        if Grant(provider_id, services_of(row.service_ids)).covers(provider_id, service_id)
    ]
    for row in subscribers:
        grant = agreement_grant(row.id, provider_id, row.service_ids, row.record_types, record_type)
        if grant is not None and grant.covers(provider_id, service_id):
            organisations.append(row.subscriber_id)
    return list(dict.fromkeys(organisations))


def records_changed(session: Session, records: Iterable[StoredRecord], today: date) -> None:
    """Every entitled organisation's feed shows each record's new state."""
    lock(session)
    entitled: dict[tuple[str, str, str], list[str]] = {}
    changes: list[Change] = []
    for record in records:
        key = (record.provider_id, record.service_id, record.record_type)
        if key not in entitled:
            entitled[key] = _entitled(session, *key, today)
        state = _shown(record.state)
        changes += [
            Change(
                organisation,
                record.pk,
                record.record_type,
                record.service_id,
                record.version,
                state,
            )
            for organisation in entitled[key]
        ]
    write(session, changes)


def _entitlement(session: Session, organisation_id: str, today: date) -> ColumnElement[bool]:
    """A condition on `Record` for everything the organisation may see, of any type."""
    conditions: list[ColumnElement[bool]] = [Record.provider_id == organisation_id]
    conditions += [grant.condition() for grant in delegated_grants(session, organisation_id)]
    agreements = session.execute(
        select(Agreement.provider_id, Agreement.service_ids, Agreement.record_types).where(
            in_force(organisation_id, today)
        )
    )
    conditions += [
        and_(
            Grant(row.provider_id, services_of(row.service_ids)).condition(),
            Record.record_type.in_(row.record_types),
        )
        for row in agreements
    ]
    return or_(false(), *conditions)


def entitlements_changed(session: Session, organisation_ids: Iterable[str], today: date) -> None:
    """Bring each organisation's feed in line with what it may see now, in one write.

    Records it has gained appear as updated (retracted ones are left out: there is nothing to
    remove); records it has lost appear as deleted. `services.entitlements` calls this after
    every change it makes, and nothing else should: a change of entitlement goes through there.
    """
    lock(session)
    write(
        session,
        [
            change
            for organisation_id in sorted(set(organisation_ids))
            for change in _entitlement_changes(session, organisation_id, today)
        ],
    )


def _entitlement_changes(session: Session, organisation_id: str, today: date) -> list[Change]:
    now_seen = {
        row.pk: row
        for row in session.execute(
            select(
                Record.pk, Record.record_type, Record.service_id, Record.version, Record.state
            ).where(_entitlement(session, organisation_id, today))
        )
    }
    shown = {
        row.record_pk: row.state
        for row in session.execute(
            select(FeedEntry.record_pk, FeedEntry.state).where(
                FeedEntry.organisation_id == organisation_id
            )
        )
    }
    changes: list[Change] = []
    for pk, row in sorted(now_seen.items()):
        state = _shown(row.state)
        if (pk in shown and shown[pk] != state) or (pk not in shown and state == FeedState.UPDATED):
            changes.append(
                Change(organisation_id, pk, row.record_type, row.service_id, row.version, state)
            )
    lost = sorted(
        pk for pk, state in shown.items() if pk not in now_seen and state != FeedState.DELETED
    )
    changes += [
        Change(
            organisation_id, row.pk, row.record_type, row.service_id, row.version, FeedState.DELETED
        )
        for row in session.execute(
            select(Record.pk, Record.record_type, Record.service_id, Record.version)
            .where(Record.pk.in_(lost))
            .order_by(Record.pk)
        )
    ]
    return changes


def page(
    session: Session, organisation_id: str, record_type: str, after: int, size: int
) -> list[tuple[int, FeedState, StoredRecord]]:
    """Entries after `after`, in change order, each with its record's latest version."""
    rows = session.execute(
        select(FeedEntry.change_number, FeedEntry.state, *STORED_COLUMNS)
        .join(Record, Record.pk == FeedEntry.record_pk)
        .where(
            FeedEntry.organisation_id == organisation_id,
            FeedEntry.record_type == record_type,
            FeedEntry.change_number > after,
        )
        .order_by(FeedEntry.change_number)
        .limit(size)
    )
    return [(row[0], row[1], StoredRecord(*row[2:])) for row in rows]
