"""Who may publish for a service and who may read which records: the entitlement rules.

A subscriber reads a record only with the read scope and an active agreement covering the
provider, the service and the record type; a provider reads and publishes its own; a vendor
publishes (and reads back) for the services a provider has delegated to it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from api.auth.principal import Principal
from api.storage.models import Agreement, Delegation, Record, Service


def active_delegations(session: Session, vendor_id: str) -> list[Delegation]:
    rows = session.scalars(
        select(Delegation).where(Delegation.vendor_id == vendor_id, Delegation.revoked_at.is_(None))
    )
    return list(rows)


def covers(delegation: Delegation, service: Service) -> bool:
    return delegation.provider_id == service.provider_id and (
        delegation.service_ids is None or service.id in delegation.service_ids
    )


def can_publish(session: Session, principal: Principal, service: Service) -> bool:
    """The service's provider, or a vendor it has delegated this service to."""
    if service.provider_id == principal.organisation_id:
        return True
    return any(covers(d, service) for d in active_delegations(session, principal.organisation_id))


def is_active(agreement: Agreement, today: date) -> bool:
    return agreement.status == "active" and (
        agreement.end_date is None or today <= agreement.end_date
    )


def active_agreements(session: Session, subscriber_id: str, today: date) -> list[Agreement]:
    rows = session.scalars(
        select(Agreement).where(
            Agreement.subscriber_id == subscriber_id, Agreement.status == "active"
        )
    )
    return [agreement for agreement in rows if is_active(agreement, today)]


def _within(provider_id: str, service_ids: list[str] | None) -> ColumnElement[bool]:
    condition = Record.provider_id == provider_id
    if service_ids is not None:
        condition = and_(condition, Record.service_id.in_(service_ids))
    return condition


def visible_records(
    session: Session, principal: Principal, record_type: str, today: date
) -> ColumnElement[bool]:
    """A SQL condition on `Record` selecting what the caller may read of one type."""
    read, publish = principal.has(f"{record_type}:read"), principal.has(f"{record_type}:publish")
    conditions: list[ColumnElement[bool]] = []
    if read or publish:
        conditions.append(Record.provider_id == principal.organisation_id)
    if publish:
        conditions += [
            _within(d.provider_id, d.service_ids)
            for d in active_delegations(session, principal.organisation_id)
        ]
    if read:
        conditions += [
            _within(a.provider_id, a.service_ids)
            for a in active_agreements(session, principal.organisation_id, today)
            if record_type in a.record_types
        ]
    return and_(Record.record_type == record_type, or_(false(), *conditions))
