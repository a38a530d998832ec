"""Publishing and reading records: versioned, never overwritten, retracted by tombstone."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import replace as replace_fields
from datetime import UTC, date
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from care_exchange_server.auth.principal import Principal
from care_exchange_server.auth.tokens import CALLER_CHECK, caller_parameters, principal_from_row
from care_exchange_server.bodies import RecordEnvelopeBody
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.scopes import publish_scope, read_scope, require_scope
from care_exchange_server.services import feed, paging
from care_exchange_server.services.access import (
    Grant,
    agreement_grant,
    can_publish,
    can_publish_with,
    delegated_grants,
    in_force,
    may_read,
    visible_records,
)
from care_exchange_server.services.conformance import conforming, judged
from care_exchange_server.services.stored import STORED_COLUMNS as _STORED
from care_exchange_server.services.stored import StoredRecord
from care_exchange_server.services.times import timestamp
from care_exchange_server.storage.enums import RecordState
from care_exchange_server.storage.models import Agreement, Record, RecordVersion, Service
from care_exchange_server.storage.types import utcnow
from care_exchange_standard import load_standard

ACTIVE, RETRACTED = RecordState.ACTIVE, RecordState.RETRACTED


def known_type(record_type: str) -> str:
    if record_type not in load_standard().record_types:
        raise ProblemError("unknown_record_type", f"'{record_type}' is not a record type.")
    return record_type


def require_reader(principal: Principal, record_type: str) -> None:
    """Subscribers read with the read scope; publishers may read back with the publish scope."""
    if not principal.has(publish_scope(record_type)):
        require_scope(principal, read_scope(record_type))


def etag(version: int) -> str:
    return f'"{version}"'


def _matches(if_match: str | None, version: int) -> bool:
    if if_match is None:
        raise ProblemError(
            "precondition_required", "Send If-Match with the ETag of the version you read."
        )
    # RFC 9110 section 13.1.1: If-Match compares strongly, so a weak tag never matches.
    candidates = [part.strip() for part in if_match.split(",")]
    return "*" in candidates or etag(version) in candidates


_RECORDS = Record.metadata.tables[Record.__tablename__]
_VERSIONS = Record.metadata.tables[RecordVersion.__tablename__]
# Built once, on the table rather than the mapped class: the hot read path pays for neither
# statement construction nor the ORM's execution layer. The caller's agreements with the
# record's provider come in the same round trip (a row each, or one row of NULLs).
_AGREEMENTS = Record.metadata.tables[Agreement.__tablename__]
_RECORD_COLUMNS = (
    *(_RECORDS.c[column.key] for column in _STORED),
    _AGREEMENTS.c.id.label("agreement_id"),
    _AGREEMENTS.c.service_ids.label("agreement_service_ids"),
    _AGREEMENTS.c.record_types.label("agreement_record_types"),
)
_WITH_AGREEMENTS = _RECORDS.outerjoin(
    _AGREEMENTS,
    and_(
        _AGREEMENTS.c.provider_id == _RECORDS.c.provider_id,
        in_force(bindparam("subscriber_id"), bindparam("today")),
    ),
)
_THIS_RECORD = and_(
    _RECORDS.c.record_type == bindparam("record_type"),
    _RECORDS.c.record_id == bindparam("record_id"),
)
_BY_ID = select(*_RECORD_COLUMNS).select_from(_WITH_AGREEMENTS).where(_THIS_RECORD)
# The hottest read: the token's database checks and the record in one round trip. The caller's
# row drives the query, so an unknown record still returns it (with the record's columns NULL).
_BY_ID_AS_CALLER = CALLER_CHECK.add_columns(*_RECORD_COLUMNS).outerjoin(
    _WITH_AGREEMENTS, _THIS_RECORD
)


def _document(principal: Principal, record_type: object, body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(record_type, str):
        raise ProblemError(
            "validation_failed",
            "Each item must be a record naming its recordType.",
            [FieldError("/recordType", "required.", "required")],
        )
    known_type(record_type)
    require_scope(principal, publish_scope(record_type))
    return record_type, conforming(record_type, body)


def _services(
    session: Session, documents: Sequence[object]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The provider and directory entry of each service the documents name, in one query."""
    wanted = {doc[1]["serviceId"] for doc in documents if isinstance(doc, tuple)}
    if not wanted:
        return {}
    query = select(Service.id, Service.provider_id, Service.document)
    rows = session.execute(query.where(Service.id.in_(wanted)))
    return {row.id: (row.provider_id, row.document) for row in rows}


def _existing(session: Session, documents: Sequence[object]) -> set[tuple[str, str]]:
    """Which (type, id) pairs are already taken, one query per record type in the batch."""
    wanted: dict[str, set[str]] = {}
    for doc in documents:
        if isinstance(doc, tuple):
            wanted.setdefault(doc[0], set()).add(doc[1]["id"])
    taken: set[tuple[str, str]] = set()
    postgresql = session.get_bind().dialect.name == "postgresql"
    for record_type, ids in wanted.items():
        if postgresql:
            given = {"record_type": record_type, "record_ids": sorted(ids)}
            found = session.execute(_PG_TAKEN, given).scalars()
        else:
            found = session.scalars(
                select(Record.record_id).where(
                    Record.record_type == record_type, Record.record_id.in_(ids)
                )
            )
        taken.update((record_type, record_id) for record_id in found)
    return taken


# PostgreSQL: each id looked up on its own in the unique index, as a lateral join has it.
# Asked as `record_id IN (...)` (or as a join), a table filled faster than autovacuum analyses
# it (a first bulk load) was planned from stale statistics as a read of every record of the
# type: each batch of a long publication cost more than the one before.
_PG_TAKEN = text(
    "SELECT asked.id FROM unnest(CAST(:record_ids AS text[])) AS asked(id) CROSS JOIN LATERAL "
    "(SELECT 1 FROM records WHERE record_type = :record_type AND record_id = asked.id LIMIT 1) "
    "AS found"
)


def _conflict(record_type: str, record_id: str) -> ProblemError:
    return ProblemError(
        "conflict",
        f"A {record_type} with id '{record_id}' already exists; PUT a new version instead.",
        [FieldError("/id", "this id is already used for this record type.", "unique")],
    )


_VERSION_COLUMNS = ("version", "state", "submitted_by", "published_at", "data")


# PostgreSQL: one short statement whatever the batch's size, the columns as arrays. A VALUES
# list with a parameter per cell was too long for psycopg's cache and was parsed again on every
# call, a third of a bulk publish's time. Both tables in one round trip; sorted, the pks are in
# the order given, as the sequence numbers the rows in the order of ORDER BY.
_PG_INSERT = text(
    """
    WITH given AS (
        SELECT * FROM unnest(
            CAST(:record_type AS text[]), CAST(:record_id AS text[]),
            CAST(:service_id AS text[]), CAST(:provider_id AS text[]),
            CAST(:version AS integer[]), CAST(:state AS text[]), CAST(:submitted_by AS text[]),
            CAST(:published_at AS timestamptz[])
        ) WITH ORDINALITY AS given_row(record_type, record_id, service_id, provider_id, version,
            state, submitted_by, published_at, ordinal)
    ), payloads AS (
        SELECT NULLIF(value, 'null'::jsonb) AS data, ordinality AS ordinal
        FROM jsonb_array_elements(CAST(:data AS jsonb)) WITH ORDINALITY
    ), inserted AS (
        INSERT INTO records (record_type, record_id, service_id, provider_id, version, state,
            submitted_by, published_at, data)
        SELECT record_type, record_id, service_id, provider_id, version, state, submitted_by,
            published_at, data
        FROM given JOIN payloads USING (ordinal) ORDER BY ordinal
        RETURNING pk, version, state, submitted_by, published_at, data
    ), copied AS (
        INSERT INTO record_versions (record_pk, version, state, submitted_by, published_at, data)
        SELECT pk, version, state, submitted_by, published_at, data FROM inserted
    )
    SELECT pk FROM inserted ORDER BY pk
    """
)


def _json_text(data: Any) -> str:
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # an integer beyond 64 bits, which JSON allows
        return json.dumps(data)


def _insert_columns(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """The payloads go as one JSON array: as an array of texts, psycopg escaped each in Python."""
    columns: dict[str, Any] = {
        name: [row[name] for row in rows]
        for name in ("record_type", "record_id", "service_id", "provider_id", "version")
    }
    columns["state"] = [RecordState(row["state"]).value for row in rows]
    columns["submitted_by"] = [row["submitted_by"] for row in rows]
    columns["published_at"] = [row["published_at"].astimezone(UTC) for row in rows]
    columns["data"] = _json_text([row["data"] for row in rows])
    return list(session.execute(_PG_INSERT, columns).scalars())


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[StoredRecord]:
    """Insert first versions with a statement per table (one for both on PostgreSQL).

    Not a flush per row. The version rows are copied from the record rows inside the database,
    so each payload is encoded as JSON once rather than twice.
    """
    if session.get_bind().dialect.name == "postgresql":
        pks = _insert_columns(session, rows)
        return [StoredRecord(pk=pk, **row) for pk, row in zip(pks, rows, strict=True)]
    found = session.execute(
        insert(_RECORDS).returning(_RECORDS.c.pk, sort_by_parameter_order=True), rows
    ).scalars()
    stored = [StoredRecord(pk=pk, **row) for pk, row in zip(found, rows, strict=True)]
    copied = select(_RECORDS.c.pk, *(_RECORDS.c[name] for name in _VERSION_COLUMNS)).where(
        _RECORDS.c.pk.in_([record.pk for record in stored])
    )
    session.execute(insert(_VERSIONS).from_select(["record_pk", *_VERSION_COLUMNS], copied))
    return stored


def _version_row(record: StoredRecord) -> dict[str, Any]:
    return {
        "record_pk": record.pk,
        "version": record.version,
        "state": record.state,
        "submitted_by": record.submitted_by,
        "published_at": record.published_at,
        "data": record.data,
    }


def _insert_each(session: Session, rows: list[dict[str, Any]]) -> list[StoredRecord | ProblemError]:
    """The slow path after a concurrent publish took an id: a savepoint per row."""
    outcomes: list[StoredRecord | ProblemError] = []
    for row in rows:
        try:
            with session.begin_nested():
                outcomes += _insert(session, [row])
        except IntegrityError:
            outcomes.append(_conflict(row["record_type"], row["record_id"]))
    return outcomes


def publish_many(
    session: Session, principal: Principal, submissions: Sequence[tuple[object, Any]]
) -> list[StoredRecord | ProblemError]:
    """Publish each (record type, body) on its own merits, answering each in order.

    The checks run per item, but the database work is per batch: one query for the services,
    one for taken ids, one insert per table. A concurrent publish of the same id makes the
    batch insert fail as a whole, and then each row is retried alone so only that one conflicts.
    """
    documents: list[tuple[str, dict[str, Any]] | ProblemError] = []
    for record_type, body in submissions:
        try:
            documents.append(_document(principal, record_type, body))
        except ProblemError as problem:
            documents.append(problem)
    services = _services(session, documents)
    taken = _existing(session, documents)
    warned: dict[int, tuple[FieldError, ...]] = {}
    delegated: list[Grant] | None = None
    now = utcnow()
    outcomes: list[dict[str, Any] | ProblemError] = []
    for doc in documents:
        if isinstance(doc, ProblemError):
            outcomes.append(doc)
            continue
        record_type, data = doc
        if data["serviceId"] not in services:
            outcomes.append(_unknown_service(data["serviceId"]))
            continue
        provider_id, service = services[data["serviceId"]]
        if provider_id != principal.organisation_id and delegated is None:
            delegated = delegated_grants(session, principal.organisation_id)
        if not can_publish_with(delegated or [], principal, provider_id, data["serviceId"]):
            outcomes.append(
                ProblemError("forbidden", f"You may not publish for service '{data['serviceId']}'.")
            )
            continue
        if (record_type, data["id"]) in taken:
            outcomes.append(_conflict(record_type, data["id"]))
            continue
        try:
            warnings = judged(record_type, data, service)
        except ProblemError as broken:
            outcomes.append(broken)
            continue
        taken.add((record_type, data["id"]))
        if warnings:
            warned[len(outcomes)] = tuple(warnings)
        outcomes.append(
            {
                "record_type": record_type,
                "record_id": data["id"],
                "service_id": data["serviceId"],
                "provider_id": provider_id,
                "version": 1,
                "state": ACTIVE,
                "submitted_by": principal.organisation_id,
                "published_at": now,
                "data": data,
            }
        )
    rows = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    if not rows:
        return [outcome for outcome in outcomes if isinstance(outcome, ProblemError)]
    try:
        with session.begin_nested():
            inserted: list[StoredRecord | ProblemError] = list(_insert(session, rows))
    except IntegrityError:
        inserted = _insert_each(session, rows)
    published = [outcome for outcome in inserted if isinstance(outcome, StoredRecord)]
    feed.records_changed(session, published, date.today())
    stored = iter(inserted)
    answers = [next(stored) if isinstance(outcome, dict) else outcome for outcome in outcomes]
    for index, said in warned.items():
        answer = answers[index]
        if isinstance(answer, StoredRecord):
            answers[index] = dataclasses.replace(answer, warnings=said)
    return answers


def _unknown_service(service_id: str) -> ProblemError:
    return ProblemError(
        "validation_failed",
        f"There is no service '{service_id}' in the directory.",
        [FieldError("/serviceId", "no service with this id is registered.", "exists")],
    )


def publish(session: Session, principal: Principal, record_type: str, body: Any) -> StoredRecord:
    (outcome,) = publish_many(session, principal, [(record_type, body)])
    if isinstance(outcome, ProblemError):
        raise outcome
    return outcome


def _parameters(
    record_type: str, record_id: str, organisation_id: str, today: date
) -> dict[str, Any]:
    return {
        "record_type": record_type,
        "record_id": record_id,
        "subscriber_id": organisation_id,
        "today": today,
    }


def _visible(
    session: Session, principal: Principal, record_type: str, record_id: str
) -> StoredRecord:
    today = date.today()
    parameters = _parameters(record_type, record_id, principal.organisation_id, today)
    rows = session.execute(_BY_ID, parameters).all()
    return _entitled(session, principal, record_type, record_id, rows, today)[0]


def _entitled(
    session: Session,
    principal: Principal,
    record_type: str,
    record_id: str,
    rows: Sequence[Any],
    today: date,
) -> tuple[StoredRecord, list[Grant]]:
    """The record in `rows` (one per agreement of the caller with its provider), if visible.

    Also the caller's agreement grants for it, which say under which agreement it is read.
    """
    if not rows:
        raise ProblemError("not_found", f"No {record_type} '{record_id}' that you may see.")
    record = StoredRecord(*(rows[0][-len(_RECORD_COLUMNS) :][: len(_STORED)]))
    agreed = [
        agreement_grant(
            row.agreement_id,
            record.provider_id,
            row.agreement_service_ids,
            row.agreement_record_types,
            record_type,
        )
        for row in rows
    ]
    grants = [grant for grant in agreed if grant is not None]
    if not may_read(
        session, principal, record_type, record.provider_id, record.service_id, today, grants
    ):
        raise ProblemError("not_found", f"No {record_type} '{record_id}' that you may see.")
    return record, grants


def lookup_as(
    session: Session, claims: dict[str, Any], record_type: str, record_id: str
) -> tuple[Principal, list[Any]]:
    """The caller (InvalidTokenError when its token must be refused) and the record's rows.

    One round trip for both: the hot path of `GET /v1/records/{type}/{id}`.
    """
    today = date.today()
    parameters = _parameters(record_type, record_id, claims["org"], today)
    rows = session.execute(_BY_ID_AS_CALLER, {**caller_parameters(claims), **parameters}).all()
    principal = principal_from_row(claims, rows[0] if rows else None)
    return principal, [row for row in rows if row.pk is not None]


def read_found(
    session: Session, principal: Principal, record_type: str, record_id: str, rows: list[Any]
) -> tuple[StoredRecord, list[Grant]]:
    """What `read` answers, from rows `lookup_as` fetched.

    Also the caller's agreement grants, which say under which agreement it reads the record.
    """
    known_type(record_type)
    require_reader(principal, record_type)
    record, grants = _entitled(session, principal, record_type, record_id, rows, date.today())
    if record.state == RETRACTED:
        raise ProblemError("gone", f"{record_type} '{record_id}' has been retracted.")
    return record, grants


def read(session: Session, principal: Principal, record_type: str, record_id: str) -> StoredRecord:
    parameters = _parameters(record_type, record_id, principal.organisation_id, date.today())
    rows = session.execute(_BY_ID, parameters).all()
    return read_found(session, principal, record_type, record_id, list(rows))[0]


def _for_change(
    session: Session, principal: Principal, record_type: str, record_id: str, if_match: str | None
) -> StoredRecord:
    require_scope(principal, publish_scope(record_type))
    record = _visible(session, principal, record_type, record_id)
    if not can_publish(session, principal, record.provider_id, record.service_id):
        raise ProblemError("forbidden", f"You may not change {record_type} '{record_id}'.")
    if record.state == RETRACTED:
        raise ProblemError("gone", f"{record_type} '{record_id}' has been retracted.")
    if not _matches(if_match, record.version):
        raise ProblemError(
            "precondition_failed",
            f"The current version is {record.version}; read it again before changing it.",
            headers={"ETag": etag(record.version)},
        )
    return record


def _next_version(
    session: Session,
    record: StoredRecord,
    principal: Principal,
    state: RecordState,
    data: dict[str, Any] | None,
) -> StoredRecord:
    """Move to the next version only if nobody else did first (the compare-and-set)."""
    fresh = replace_fields(
        record,
        version=record.version + 1,
        state=state,
        data=data,
        submitted_by=principal.organisation_id,
        published_at=utcnow(),
    )
    changed = session.execute(
        update(_RECORDS)
        .where(_RECORDS.c.pk == record.pk, _RECORDS.c.version == record.version)
        .values(
            version=fresh.version,
            state=fresh.state,
            data=fresh.data,
            submitted_by=fresh.submitted_by,
            published_at=fresh.published_at,
        )
    )
    if getattr(changed, "rowcount", 0) != 1:
        raise ProblemError(
            "precondition_failed", "The record changed while this request was in flight."
        )
    session.execute(insert(_VERSIONS).values(_version_row(fresh)))
    feed.records_changed(session, [fresh], date.today())
    return fresh


def replace(
    session: Session,
    principal: Principal,
    record_type: str,
    record_id: str,
    body: Any,
    if_match: str | None,
) -> StoredRecord:
    record = _for_change(session, principal, record_type, record_id, if_match)
    data = conforming(record_type, body)
    mismatched = [
        FieldError(f"/{name}", f"must stay '{current}' for this record.", "const")
        for name, current in (("id", record.record_id), ("serviceId", record.service_id))
        if data[name] != current
    ]
    if mismatched:
        raise ProblemError("validation_failed", "A new version cannot move the record.", mismatched)
    service = session.get(Service, record.service_id)
    warnings = judged(record_type, data, service.document if service is not None else None)
    stored = _next_version(session, record, principal, ACTIVE, data)
    return dataclasses.replace(stored, warnings=tuple(warnings))


def retract(
    session: Session, principal: Principal, record_type: str, record_id: str, if_match: str | None
) -> StoredRecord:
    record = _for_change(session, principal, record_type, record_id, if_match)
    return _next_version(session, record, principal, RETRACTED, None)


def versions(
    session: Session,
    principal: Principal,
    record_type: str,
    record_id: str,
    size: int,
    token: str | None,
) -> tuple[StoredRecord, paging.Page[RecordVersion]]:
    """The record and a page of its versions, oldest first."""
    require_reader(principal, record_type)
    record = _visible(session, principal, record_type, record_id)
    query = select(RecordVersion).where(RecordVersion.record_pk == record.pk)
    query_key = {"versions": record_type, "id": record_id}
    return record, paging.keyset(session, query, RecordVersion.version, size, token, query_key)


def list_records(
    session: Session,
    principal: Principal,
    record_type: str,
    service_id: str | None,
    page_size: int,
    page_token: str | None,
) -> paging.Page[StoredRecord]:
    """Latest active versions the caller may see, in publication order, by keyset."""
    require_reader(principal, record_type)
    query_key = {"type": record_type, "serviceId": service_id}
    after = paging.decode_token(page_token, query_key) if page_token else 0
    query = select(*_STORED).where(
        visible_records(session, principal, record_type, date.today()),
        Record.state == ACTIVE,
        Record.pk > after,
    )
    if service_id is not None:
        query = query.where(Record.service_id == service_id)
    rows = [
        StoredRecord(*row)
        for row in session.execute(query.order_by(Record.pk).limit(page_size + 1))
    ]
    more = len(rows) > page_size
    items = rows[:page_size]
    token = paging.encode_token({"after": items[-1].pk, **query_key}) if more else None
    return paging.Page(items=items, next_token=token)


def envelope(
    record_type: str, item: StoredRecord | RecordVersion, record: StoredRecord | None = None
) -> RecordEnvelopeBody:
    """The response shape of one record version: its data plus who published it, when."""
    source = record if record is not None else item
    assert isinstance(source, StoredRecord)
    body = RecordEnvelopeBody(
        recordType=record_type,
        id=source.record_id,
        version=item.version,
        state=item.state,
        serviceId=source.service_id,
        providerId=source.provider_id,
        submittedBy=item.submitted_by,
        publishedAt=timestamp(item.published_at),
    )
    if item.state == ACTIVE:
        body["data"] = item.data
    if isinstance(item, StoredRecord) and item.warnings:
        body["warnings"] = [warning.as_dict() for warning in item.warnings]
    return body
