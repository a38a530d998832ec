"""Organisations, their services, and the delegations that let vendors publish for providers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import DelegationBody, OrganisationBody
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.scopes import require_scope
from care_exchange_server.services import entitlements
from care_exchange_server.services.access import delegated_grants
from care_exchange_server.services.conformance import conforming
from care_exchange_server.services.ids import new_id
from care_exchange_server.services.paging import Page, keyset
from care_exchange_server.services.times import timestamp
from care_exchange_server.storage.enums import OrganisationKind
from care_exchange_server.storage.models import Delegation, Organisation, Service
from care_exchange_server.storage.types import utcnow

ORGANISATION_KINDS = tuple(kind.value for kind in OrganisationKind)


def create_organisation(
    session: Session, name: str, kind: str, organisation_id: str | None = None
) -> Organisation:
    if kind not in ORGANISATION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(ORGANISATION_KINDS)}")
    if organisation_id is not None and session.get(Organisation, organisation_id) is not None:
        raise ProblemError(
            "conflict",
            f"Organisation '{organisation_id}' exists.",
            [FieldError("/id", "taken.", "unique")],
        )
    organisation = Organisation(
        id=organisation_id or new_id("org"), name=name, kind=OrganisationKind(kind)
    )
    session.add(organisation)
    session.flush()
    return organisation


def organisation_of(session: Session, principal: Principal) -> Organisation:
    return session.get_one(Organisation, principal.organisation_id)


def list_organisations(session: Session, size: int, token: str | None) -> Page[Organisation]:
    query = select(Organisation)
    return keyset(session, query, Organisation.id, size, token, {"list": "organisations"})


def organisation_dict(organisation: Organisation) -> OrganisationBody:
    return OrganisationBody(id=organisation.id, name=organisation.name, kind=organisation.kind)


def _require_provider(principal: Principal) -> None:
    """Only a provider organisation has a provider directory entry."""
    require_scope(principal, "services")
    if principal.organisation_kind != OrganisationKind.PROVIDER:
        raise ProblemError(
            "forbidden", "Only a provider organisation has a provider directory entry."
        )


def directory_entry(session: Session, principal: Principal) -> dict[str, Any]:
    """The caller's provider directory entry; 404 until it has stored one."""
    _require_provider(principal)
    entry = organisation_of(session, principal).directory_entry
    if entry is None:
        raise ProblemError(
            "not_found",
            "Your organisation has stored no provider directory entry; PUT one to add it.",
        )
    return entry


def replace_directory_entry(
    session: Session, principal: Principal, document: Any
) -> dict[str, Any]:
    """Store the caller's whole provider directory entry, replacing any stored before.

    The last of two concurrent replacements wins, as with a service's entry. No row lock is
    taken beyond the update's own: a `FOR UPDATE` would also hold up every insert whose foreign
    key names the organisation.
    """
    _require_provider(principal)
    data = conforming("provider", document)
    if data["id"] != principal.organisation_id:
        raise ProblemError(
            "validation_failed",
            "The entry's id must be your organisation's id.",
            [FieldError("/id", f"must be '{principal.organisation_id}'.", "const")],
        )
    organisation_of(session, principal).directory_entry = data
    session.flush()
    return data


def provider_entry(session: Session, provider_id: str) -> dict[str, Any] | None:
    """A provider's stored directory entry, if it has stored one (for filling returns)."""
    organisation = session.get(Organisation, provider_id)
    return None if organisation is None else organisation.directory_entry


def _own_provider(principal: Principal, document: dict[str, Any]) -> None:
    if document["providerId"] != principal.organisation_id:
        raise ProblemError(
            "forbidden",
            "A provider registers only its own services: providerId must be your organisation.",
            [FieldError("/providerId", "must be your organisation's id.", "const")],
        )


def register_service(session: Session, principal: Principal, document: Any) -> Service:
    require_scope(principal, "services")
    data = conforming("service", document)
    _own_provider(principal, data)
    if session.get(Service, data["id"]) is not None:
        raise ProblemError(
            "conflict",
            f"Service '{data['id']}' already exists; PUT to change it.",
            [FieldError("/id", "this id is already registered.", "unique")],
        )
    service = Service(id=data["id"], provider_id=principal.organisation_id, document=data)
    session.add(service)
    session.flush()
    return service


def _managed(session: Session, principal: Principal) -> ColumnElement[bool]:
    """The caller's own services and those delegated to it."""
    require_scope(principal, "services")
    grants = delegated_grants(session, principal.organisation_id)
    return or_(
        Service.provider_id == principal.organisation_id,
        *(grant.condition(Service.provider_id, Service.id) for grant in grants),
    )


def managed_services(
    session: Session, principal: Principal, size: int, token: str | None
) -> Page[Service]:
    query = select(Service).where(_managed(session, principal))
    return keyset(session, query, Service.id, size, token, {"list": "services"})


def get_managed_service(session: Session, principal: Principal, service_id: str) -> Service:
    for service in session.scalars(
        select(Service).where(_managed(session, principal), Service.id == service_id)
    ):
        if service.id == service_id:
            return service
    raise ProblemError("not_found", f"No service '{service_id}' that you manage.")


def replace_service(
    session: Session, principal: Principal, service_id: str, document: Any
) -> Service:
    service = get_managed_service(session, principal, service_id)
    if service.provider_id != principal.organisation_id:
        raise ProblemError("forbidden", "Only the provider changes its directory entry.")
    data = conforming("service", document)
    _own_provider(principal, data)
    if data["id"] != service_id:
        raise ProblemError(
            "validation_failed",
            "The id in the document must match the URL.",
            [FieldError("/id", f"must be '{service_id}'.", "const")],
        )
    service.document = data
    service.updated_at = utcnow()
    session.flush()
    return service


def delegate(
    session: Session, principal: Principal, vendor_id: str, service_ids: list[str] | None
) -> Delegation:
    """Let a vendor publish for some or (None) all of the caller's services, now and future."""
    require_scope(principal, "services")
    if principal.organisation_kind != OrganisationKind.PROVIDER:
        raise ProblemError("forbidden", "Only a provider delegates publishing.")
    vendor = session.get(Organisation, vendor_id)
    if vendor is None or vendor.kind != OrganisationKind.VENDOR:
        raise ProblemError(
            "validation_failed",
            f"'{vendor_id}' is not a vendor organisation.",
            [FieldError("/vendorId", "must be the id of a vendor organisation.", "exists")],
        )
    if service_ids is not None:
        owned = set(
            session.scalars(
                select(Service.id).where(
                    Service.provider_id == principal.organisation_id, Service.id.in_(service_ids)
                )
            )
        )
        errors = [
            FieldError(f"/serviceIds/{index}", "not one of your services.", "exists")
            for index, service_id in enumerate(service_ids)
            if service_id not in owned
        ]
        if errors:
            raise ProblemError("forbidden", "A provider delegates only its own services.", errors)
    return entitlements.delegate(session, principal.organisation_id, vendor_id, service_ids)


def list_delegations(
    session: Session, principal: Principal, size: int, token: str | None
) -> Page[Delegation]:
    """Delegations the caller gave or received, by id (random, so in no meaningful order)."""
    require_scope(principal, "services")
    query = select(Delegation).where(
        or_(
            Delegation.provider_id == principal.organisation_id,
            Delegation.vendor_id == principal.organisation_id,
        )
    )
    return keyset(session, query, Delegation.id, size, token, {"list": "delegations"})


def revoke_delegation(session: Session, principal: Principal, delegation_id: str) -> None:
    """Takes effect at once: the next request from the vendor is refused."""
    require_scope(principal, "services")
    delegation = session.get(Delegation, delegation_id)
    parties = {delegation.provider_id, delegation.vendor_id} if delegation else set()
    if delegation is None or principal.organisation_id not in parties:
        raise ProblemError("not_found", f"No delegation '{delegation_id}' of yours.")
    if delegation.provider_id != principal.organisation_id:
        raise ProblemError("forbidden", "Only the provider revokes a delegation.")
    entitlements.revoke_delegation(session, delegation)


def delegation_dict(delegation: Delegation) -> DelegationBody:
    return DelegationBody(
        id=delegation.id,
        providerId=delegation.provider_id,
        vendorId=delegation.vendor_id,
        serviceIds=delegation.service_ids,
        createdAt=timestamp(delegation.created_at),
        revokedAt=timestamp(delegation.revoked_at),
    )
