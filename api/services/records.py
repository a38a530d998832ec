"""Publishing and reading records: versioned, never overwritten, retracted by tombstone."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth.dependencies import require_scope
from api.auth.principal import Principal
from api.problems import FieldError, ProblemError
from api.scopes import publish_scope, read_scope
from api.services.access import can_publish, visible_records
from api.services.conformance import conforming
from api.services.times import timestamp
from api.storage.models import Record, RecordVersion, Service
from api.storage.types import utcnow
from schemas import load_standard

ACTIVE, RETRACTED = "active", "retracted"


@dataclass(frozen=True)
class Page:
    """One page of a listing and the opaque token for the next (None on the last page)."""

    items: list[Record] | list[RecordVersion]
    next_token: str | None


def known_type(record_type: str) -> str:
    if record_type not in load_standard().record_types:
        raise ProblemError(404, "unknown_record_type", f"'{record_type}' is not a record type.")
    return record_type


def _require_reader(principal: Principal, record_type: str) -> None:
    """Subscribers read with the read scope; publishers may read back with the publish scope."""
    if not principal.has(publish_scope(record_type)):
        require_scope(principal, read_scope(record_type))


def etag(version: int) -> str:
    return f'"{version}"'


def _matches(if_match: str | None, version: int) -> bool:
    if if_match is None:
        raise ProblemError(
            428, "precondition_required", "Send If-Match with the ETag of the version you read."
        )
    candidates = [part.strip().removeprefix("W/") for part in if_match.split(",")]
    return "*" in candidates or etag(version) in candidates


def _publishable_service(session: Session, principal: Principal, service_id: str) -> Service:
    service = session.get(Service, service_id)
    if service is None:
        raise ProblemError(
            422,
            "validation_failed",
            f"There is no service '{service_id}' in the directory.",
            [FieldError("/serviceId", "no service with this id is registered.", "exists")],
        )
    if not can_publish(session, principal, service):
        raise ProblemError(403, "forbidden", f"You may not publish for service '{service_id}'.")
    return service


def _add_version(session: Session, record: Record) -> None:
    session.add(
        RecordVersion(
            record_pk=record.pk,
            version=record.version,
            state=record.state,
            submitted_by=record.submitted_by,
            published_at=record.published_at,
            data=record.data,
        )
    )


def publish(session: Session, principal: Principal, record_type: str, body: Any) -> Record:
    require_scope(principal, publish_scope(record_type))
    data = conforming(record_type, body)
    service = _publishable_service(session, principal, data["serviceId"])
    record = Record(
        record_type=record_type,
        record_id=data["id"],
        service_id=service.id,
        provider_id=service.provider_id,
        version=1,
        state=ACTIVE,
        submitted_by=principal.organisation_id,
        published_at=utcnow(),
        data=data,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        raise ProblemError(
            409,
            "conflict",
            f"A {record_type} with id '{data['id']}' already exists; PUT a new version instead.",
            [FieldError("/id", "this id is already used for this record type.", "unique")],
        ) from None
    _add_version(session, record)
    session.flush()
    return record


def _visible(session: Session, principal: Principal, record_type: str, record_id: str) -> Record:
    condition = visible_records(session, principal, record_type, date.today())
    record = session.scalar(select(Record).where(Record.record_id == record_id, condition))
    if record is None:
        raise ProblemError(404, "not_found", f"No {record_type} '{record_id}' that you may see.")
    return record


def read(session: Session, principal: Principal, record_type: str, record_id: str) -> Record:
    _require_reader(principal, record_type)
    record = _visible(session, principal, record_type, record_id)
    if record.state == RETRACTED:
        raise ProblemError(410, "gone", f"{record_type} '{record_id}' has been retracted.")
    return record


def _for_change(
    session: Session, principal: Principal, record_type: str, record_id: str, if_match: str | None
) -> Record:
    require_scope(principal, publish_scope(record_type))
    record = _visible(session, principal, record_type, record_id)
    service = session.get(Service, record.service_id)
    if service is None or not can_publish(session, principal, service):
        raise ProblemError(403, "forbidden", f"You may not change {record_type} '{record_id}'.")
    if record.state == RETRACTED:
        raise ProblemError(410, "gone", f"{record_type} '{record_id}' has been retracted.")
    if not _matches(if_match, record.version):
        raise ProblemError(
            412,
            "precondition_failed",
            f"The current version is {record.version}; read it again before changing it.",
            headers={"ETag": etag(record.version)},
        )
    return record


def _next_version(
    session: Session, record: Record, principal: Principal, state: str, data: dict[str, Any] | None
) -> Record:
    """Move to the next version only if nobody else did first (the compare-and-set)."""
    now = utcnow()
    changed = session.execute(
        update(Record)
        .where(Record.pk == record.pk, Record.version == record.version)
        .values(
            version=record.version + 1,
            state=state,
            data=data,
            submitted_by=principal.organisation_id,
            published_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        raise ProblemError(
            412, "precondition_failed", "The record changed while this request was in flight."
        )
    session.expire(record)
    fresh = session.get_one(Record, record.pk)
    _add_version(session, fresh)
    session.flush()
    return fresh


def replace(
    session: Session,
    principal: Principal,
    record_type: str,
    record_id: str,
    body: Any,
    if_match: str | None,
) -> Record:
    record = _for_change(session, principal, record_type, record_id, if_match)
    data = conforming(record_type, body)
    mismatched = [
        FieldError(f"/{name}", f"must stay '{current}' for this record.", "const")
        for name, current in (("id", record.record_id), ("serviceId", record.service_id))
        if data[name] != current
    ]
    if mismatched:
        raise ProblemError(
            422, "validation_failed", "A new version cannot move the record.", mismatched
        )
    return _next_version(session, record, principal, ACTIVE, data)


def retract(
    session: Session, principal: Principal, record_type: str, record_id: str, if_match: str | None
) -> Record:
    record = _for_change(session, principal, record_type, record_id, if_match)
    return _next_version(session, record, principal, RETRACTED, None)


def versions(
    session: Session, principal: Principal, record_type: str, record_id: str
) -> list[RecordVersion]:
    _require_reader(principal, record_type)
    record = _visible(session, principal, record_type, record_id)
    rows = session.scalars(
        select(RecordVersion)
        .where(RecordVersion.record_pk == record.pk)
        .order_by(RecordVersion.version)
    )
    return list(rows)


def encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, expected: dict[str, Any]) -> int:
    """The position a page token continues from; tokens only work with the query they came from."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = payload.pop("after")
        if payload != expected or not isinstance(position, int) or isinstance(position, bool):
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, AttributeError):
        raise ProblemError(
            400,
            "invalid_query",
            "page_token is not a token this listing issued.",
            [FieldError.of_parameter("page_token", "not a valid page token.")],
        ) from None
    return position


def list_records(
    session: Session,
    principal: Principal,
    record_type: str,
    service_id: str | None,
    page_size: int,
    page_token: str | None,
) -> Page:
    """Latest active versions the caller may see, in publication order, by keyset."""
    _require_reader(principal, record_type)
    query_key = {"type": record_type, "serviceId": service_id}
    after = decode_token(page_token, query_key) if page_token else 0
    query = select(Record).where(
        visible_records(session, principal, record_type, date.today()),
        Record.state == ACTIVE,
        Record.pk > after,
    )
    if service_id is not None:
        query = query.where(Record.service_id == service_id)
    rows = list(session.scalars(query.order_by(Record.pk).limit(page_size + 1)))
    more = len(rows) > page_size
    items = rows[:page_size]
    token = encode_token({"after": items[-1].pk, **query_key}) if more else None
    return Page(items=items, next_token=token)


def envelope(
    record_type: str, item: Record | RecordVersion, record: Record | None = None
) -> dict[str, Any]:
    """The response shape of one record version: its data plus who published it, when."""
    source = record if record is not None else item
    assert isinstance(source, Record)
    body: dict[str, Any] = {
        "recordType": record_type,
        "id": source.record_id,
        "version": item.version,
        "state": item.state,
        "serviceId": source.service_id,
        "providerId": source.provider_id,
        "submittedBy": item.submitted_by,
        "publishedAt": timestamp(item.published_at),
    }
    if item.state == ACTIVE:
        body["data"] = item.data
    return body
