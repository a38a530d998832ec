"""Who may publish for a service and who may read which records: the entitlement rules.

A subscriber reads a record only with the read scope and an active agreement covering the
provider, the service and the record type; a provider reads and publishes its own; a vendor
publishes (and reads back) for the services a provider has delegated to it.

Each entitlement is a `Grant`: part of one provider's records. The same grants become a SQL
condition for listings and a plain test for a single record already loaded, so both ask the
same question of the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from care_exchange_server.auth.principal import Principal
from care_exchange_server.storage.enums import AgreementStatus
from care_exchange_server.storage.models import Agreement, Delegation, Record


@dataclass(frozen=True)
class Grant:
    """All of a provider's services (`service_ids` None) or some of them."""

    provider_id: str
    service_ids: frozenset[str] | None = None
    agreement_id: str | None = None

    def covers(self, provider_id: str, service_id: str) -> bool:
        return provider_id == self.provider_id and (
            self.service_ids is None or service_id in self.service_ids
        )

    def condition(
        self, provider: Any = Record.provider_id, service: Any = Record.service_id
    ) -> ColumnElement[bool]:
        """The same test as `covers`, on `Record` rows (or on the columns given)."""
        condition: ColumnElement[bool] = provider == self.provider_id
        if self.service_ids is not None:
            condition = and_(condition, service.in_(sorted(self.service_ids)))
        return condition


def services_of(service_ids: Sequence[str] | None) -> frozenset[str] | None:
    return None if service_ids is None else frozenset(service_ids)


def delegated_grants(
    session: Session, vendor_id: str, provider_id: str | None = None
) -> list[Grant]:
    """What active delegations let a vendor publish, optionally for one provider only."""
    query = select(Delegation.provider_id, Delegation.service_ids).where(
        Delegation.vendor_id == vendor_id, Delegation.revoked_at.is_(None)
    )
    if provider_id is not None:
        query = query.where(Delegation.provider_id == provider_id)
    return [Grant(row.provider_id, services_of(row.service_ids)) for row in session.execute(query)]


def is_active(agreement: Agreement, today: date) -> bool:
    return agreement.status == AgreementStatus.ACTIVE and (
        agreement.end_date is None or today <= agreement.end_date
    )


def in_force(subscriber_id: Any, today: Any) -> ColumnElement[bool]:
    """Agreements of the subscriber that are in force today (values or bound parameters)."""
    return and_(
        Agreement.subscriber_id == subscriber_id,
        Agreement.status == AgreementStatus.ACTIVE,
        or_(Agreement.end_date.is_(None), Agreement.end_date >= today),
    )


def agreement_grant(
    agreement_id: str | None,
    provider_id: str,
    service_ids: Sequence[str] | None,
    record_types: Sequence[str] | None,
    record_type: str,
) -> Grant | None:
    """The grant an agreement in force gives for one record type, if it covers that type."""
    if agreement_id is None or record_types is None or record_type not in record_types:
        return None
    return Grant(provider_id, services_of(service_ids), agreement_id)


def agreed_grants(
    session: Session,
    subscriber_id: str,
    record_type: str,
    today: date,
    provider_id: str | None = None,
) -> list[Grant]:
    """What agreements in force today let a subscriber read of one record type."""
    query = select(
        Agreement.id, Agreement.provider_id, Agreement.service_ids, Agreement.record_types
    ).where(in_force(subscriber_id, today))
    if provider_id is not None:
        query = query.where(Agreement.provider_id == provider_id)
    grants = (
        agreement_grant(row.id, row.provider_id, row.service_ids, row.record_types, record_type)
        for row in session.execute(query)
    )
    return [grant for grant in grants if grant is not None]


def organisation_grants(
    session: Session, organisation_id: str, record_type: str, today: date
) -> list[Grant]:
    """Everything of one type an organisation may see, scopes aside: what its feed takes.

    Its own records first, then delegations, then agreements, so the first grant covering a
    record names an agreement only when nothing else lets the organisation see it.
    """
    grants = [Grant(organisation_id)]
    grants += delegated_grants(session, organisation_id)
    return grants + agreed_grants(session, organisation_id, record_type, today)


def can_publish_with(
    grants: Sequence[Grant], principal: Principal, provider_id: str, service_id: str
) -> bool:
    """The service's provider, or a vendor holding a delegation for this service."""
    return provider_id == principal.organisation_id or any(
        grant.covers(provider_id, service_id) for grant in grants
    )


def can_publish(session: Session, principal: Principal, provider_id: str, service_id: str) -> bool:
    if provider_id == principal.organisation_id:
        return True
    grants = delegated_grants(session, principal.organisation_id, provider_id)
    return can_publish_with(grants, principal, provider_id, service_id)


def _reading_grants(
    session: Session,
    principal: Principal,
    record_type: str,
    today: date,
    provider_id: str | None,
    agreed: Sequence[Grant] | None = None,
) -> list[Grant]:
    """Grants beyond the caller's own records: delegations (publishers) and agreements (readers).

    `agreed`: the caller's agreement grants when already loaded with the record.
    """
    grants: list[Grant] = []
    if principal.has(f"{record_type}:publish"):
        grants += delegated_grants(session, principal.organisation_id, provider_id)
    if principal.has(f"{record_type}:read"):
        if agreed is None:
            agreed = agreed_grants(
                session, principal.organisation_id, record_type, today, provider_id
            )
        grants += agreed
    return grants


def _reads_type(principal: Principal, record_type: str) -> bool:
    return principal.has(f"{record_type}:read") or principal.has(f"{record_type}:publish")


def visible_records(
    session: Session, principal: Principal, record_type: str, today: date
) -> ColumnElement[bool]:
    """A SQL condition on `Record` selecting what the caller may read of one type."""
    if not _reads_type(principal, record_type):
        return false()
    grants = [Grant(principal.organisation_id)]
    grants += _reading_grants(session, principal, record_type, today, None)
    return and_(Record.record_type == record_type, or_(*(grant.condition() for grant in grants)))


def may_read(
    session: Session,
    principal: Principal,
    record_type: str,
    provider_id: str,
    service_id: str,
    today: date,
    agreed: Sequence[Grant] | None = None,
) -> bool:
    """Whether the caller may read one record already loaded: no query for its own records.

    `agreed`: the caller's agreement grants for the record's provider, when loaded with it.
    """
    if not _reads_type(principal, record_type):
        return False
    if provider_id == principal.organisation_id:
        return True
    grants = _reading_grants(session, principal, record_type, today, provider_id, agreed)
    return any(grant.covers(provider_id, service_id) for grant in grants)
