"""Data-sharing agreements: granted by providers, requested by subscribers, statutory by admins.

Revocation and expiry take effect at once because every read checks the agreement as it is now.
This module decides who may do what and whether the terms are valid; `services.entitlements`
makes the change, and the feed's with it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.orm import Session

from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import AgreementBody
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.scopes import require_scope
from care_exchange_server.services import entitlements
from care_exchange_server.services.access import is_active
from care_exchange_server.services.entitlements import AgreementTerms
from care_exchange_server.services.paging import Page, keyset
from care_exchange_server.services.times import timestamp
from care_exchange_server.storage.enums import AgreementStatus, OrganisationKind
from care_exchange_server.storage.models import Agreement, Organisation, Service
from care_exchange_standard import load_standard

SUBSCRIBER_KINDS = frozenset(
    {
        OrganisationKind.COMMISSIONER,
        OrganisationKind.REGULATOR,
        OrganisationKind.PUBLIC_HEALTH,
        OrganisationKind.WORKFORCE_BODY,
    }
)


def _check_terms(session: Session, provider_id: str, terms: AgreementTerms) -> None:
    known = set(load_standard().record_types)
    errors = [
        FieldError(f"/recordTypes/{i}", f"'{name}' is not a record type.", "enum")
        for i, name in enumerate(terms.record_types)
        if name not in known
    ]
    if terms.service_ids is not None:
        owned = set(
            session.scalars(
                select(Service.id).where(
                    Service.provider_id == provider_id, Service.id.in_(terms.service_ids)
                )
            )
        )
        errors += [
            FieldError(f"/serviceIds/{i}", "not a service of this provider.", "exists")
            for i, service_id in enumerate(terms.service_ids)
            if service_id not in owned
        ]
    if terms.end_date is not None and terms.end_date < date.today():
        errors.append(FieldError("/endDate", "must not be in the past.", "minimum"))
    if errors:
        raise ProblemError("validation_failed", "The agreement's terms are not valid.", errors)


def _organisation(
    session: Session, organisation_id: str, kinds: frozenset[OrganisationKind], pointer: str
) -> None:
    found = session.get(Organisation, organisation_id)
    if found is None or found.kind not in kinds:
        raise ProblemError(
            "validation_failed",
            f"'{organisation_id}' is not an organisation of a kind that can be party to this.",
            [FieldError(pointer, f"must be the id of a {' or '.join(sorted(kinds))}.", "exists")],
        )


def _missing(pointer: str, detail: str) -> ProblemError:
    return ProblemError(
        "validation_failed", detail, [FieldError(pointer, "required here.", "required")]
    )


def _caller_is(principal: Principal, named: str | None, pointer: str) -> None:
    """Tenancy comes from the token: a party named in the body must be the caller."""
    if named is not None and named != principal.organisation_id:
        raise ProblemError(
            "forbidden",
            "You may make agreements only on your own organisation's behalf.",
            [FieldError(pointer, "must be your organisation's id or left out.", "const")],
        )


def create(
    session: Session,
    principal: Principal,
    terms: AgreementTerms,
    provider_id: str | None,
    subscriber_id: str | None,
    statutory: bool,
) -> Agreement:
    """A grant by a provider, a request by a subscriber, or a statutory agreement by an admin."""
    require_scope(principal, "agreements")
    if statutory:
        require_scope(principal, "admin")
        if not principal.is_admin:
            raise ProblemError("forbidden", "Only administrators record statutory agreements.")
        if provider_id is None or subscriber_id is None:
            raise ProblemError(
                "validation_failed",
                "A statutory agreement names both parties.",
                [
                    FieldError(f"/{name}", "required for a statutory agreement.", "required")
                    for name, value in (
                        ("providerId", provider_id),
                        ("subscriberId", subscriber_id),
                    )
                    if value is None
                ],
            )
        requested = False
    else:
        if principal.organisation_kind == OrganisationKind.PROVIDER:
            _caller_is(principal, provider_id, "/providerId")
            if subscriber_id is None:
                raise _missing("/subscriberId", "Name the subscriber you grant access to.")
            provider_id, requested = principal.organisation_id, False
        elif principal.organisation_kind in SUBSCRIBER_KINDS:
            _caller_is(principal, subscriber_id, "/subscriberId")
            if provider_id is None:
                raise _missing("/providerId", "Name the provider you request access from.")
            subscriber_id, requested = principal.organisation_id, True
        else:
            raise ProblemError("forbidden", "Only providers and subscribers make agreements.")
    assert provider_id is not None and subscriber_id is not None
    _organisation(session, provider_id, frozenset({OrganisationKind.PROVIDER}), "/providerId")
    _organisation(session, subscriber_id, SUBSCRIBER_KINDS, "/subscriberId")
    _check_terms(session, provider_id, terms)
    if requested:
        return entitlements.request(session, provider_id, subscriber_id, terms)
    return entitlements.grant(session, provider_id, subscriber_id, terms, statutory=statutory)


def visible(session: Session, principal: Principal, agreement_id: str) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    parties = {agreement.provider_id, agreement.subscriber_id} if agreement else set()
    if agreement is None or not (principal.organisation_id in parties or principal.is_admin):
        raise ProblemError("not_found", f"No agreement '{agreement_id}' of yours.")
    return agreement


def get(session: Session, principal: Principal, agreement_id: str) -> Agreement:
    require_scope(principal, "agreements")
    return visible(session, principal, agreement_id)


def decide(session: Session, principal: Principal, agreement_id: str, accept: bool) -> Agreement:
    """The provider accepts or declines a subscriber's request."""
    require_scope(principal, "agreements")
    agreement = visible(session, principal, agreement_id)
    if agreement.provider_id != principal.organisation_id:
        raise ProblemError("forbidden", "Only the provider decides on a request.")
    entitlements.decide(session, agreement, accept)
    return agreement


def revoke(session: Session, principal: Principal, agreement_id: str) -> Agreement:
    """The provider (or an administrator) ends an agreement now."""
    require_scope(principal, "agreements")
    agreement = visible(session, principal, agreement_id)
    if not principal.is_admin:
        if agreement.provider_id != principal.organisation_id:
            raise ProblemError("forbidden", "Only the provider revokes an agreement.")
        if agreement.statutory:
            raise ProblemError("forbidden", "A statutory agreement is revoked by an administrator.")
    entitlements.revoke(session, agreement)
    return agreement


def list_for(
    session: Session, principal: Principal, status: str | None, size: int, token: str | None
) -> Page[Agreement]:
    """The caller's agreements (every one, for an administrator), by id."""
    require_scope(principal, "agreements")
    query = select(Agreement)
    if not principal.is_admin:
        query = query.where(
            or_(
                Agreement.provider_id == principal.organisation_id,
                Agreement.subscriber_id == principal.organisation_id,
            )
        )
    if status is not None:
        query = query.where(_shown_as(status, date.today()))
    return keyset(
        session, query, Agreement.id, size, token, {"list": "agreements", "status": status}
    )


def _shown_as(status: str, today: date) -> ColumnElement[bool]:
    """`shown_status` as a condition: `active` and `expired` are told apart by the end date."""
    lapsed = and_(Agreement.end_date.is_not(None), Agreement.end_date < today)
    if status == AgreementStatus.EXPIRED:
        return and_(Agreement.status == AgreementStatus.ACTIVE, lapsed)
    if status == AgreementStatus.ACTIVE:
        return and_(Agreement.status == AgreementStatus.ACTIVE, not_(lapsed))
    return Agreement.status == status


def shown_status(agreement: Agreement) -> AgreementStatus:
    """`expired` is derived from the end date, so it never needs a job to set it."""
    if agreement.status == AgreementStatus.ACTIVE and not is_active(agreement, date.today()):
        return AgreementStatus.EXPIRED
    return agreement.status


def agreement_dict(agreement: Agreement) -> AgreementBody:
    return AgreementBody(
        id=agreement.id,
        providerId=agreement.provider_id,
        subscriberId=agreement.subscriber_id,
        recordTypes=agreement.record_types,
        serviceIds=agreement.service_ids,
        purpose=agreement.purpose,
        legalBasis=agreement.legal_basis,
        endDate=agreement.end_date.isoformat() if agreement.end_date else None,
        statutory=agreement.statutory,
        status=shown_status(agreement),
        createdAt=timestamp(agreement.created_at),
        decidedAt=timestamp(agreement.decided_at),
        revokedAt=timestamp(agreement.revoked_at),
    )
