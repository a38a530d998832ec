"""Return templates on the server: declared once by a subscriber, filled for what it may read.

The engine (`care_exchange_standard.returns`) checks templates, chooses the records of a period
and evaluates the expressions; this module decides who may see a template, for which services
a return may be filled, and from which records, so that a return never tells a subscriber more
than the records it could have read one by one. Every record a subscriber's return is computed
from leaves an access receipt, as a read of it would.

Who sees a template: everyone with the `returns` scope sees the shipped ones; its owner sees its
own; a provider sees those of every organisation it holds an agreement in force with (the
returns its data will fill). Anyone else is told it does not exist.

A retired template is seen by no one, its owner included: it answers as an unknown one. It is
kept with its versions, for audit, so its id stays taken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import (
    FilledReturnBody,
    ReturnTemplateCoverageBody,
    ReturnTemplateRefBody,
    StoredReturnTemplateBody,
)
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.scopes import read_scope, require_scope
from care_exchange_server.services import directory, paging, receipts
from care_exchange_server.services.access import Grant, agreed_grants, in_force
from care_exchange_server.services.agreements import SUBSCRIBER_KINDS
from care_exchange_server.services.stored import STORED_COLUMNS, StoredRecord
from care_exchange_server.services.times import timestamp
from care_exchange_server.storage.enums import (
    AgreementStatus,
    OrganisationKind,
    ReceiptChannel,
    RecordState,
)
from care_exchange_server.storage.models import (
    Agreement,
    Record,
    ReturnTemplate,
    ReturnTemplateVersion,
    Service,
)
from care_exchange_server.storage.types import utcnow
from care_exchange_standard.returns import (
    FilledReturn,
    PeriodError,
    SandboxPool,
    Template,
    check_template,
    fill,
    parse_period,
    shipped_templates,
    template_coverage,
)

SCOPE = "returns"
# The `owner` filter's name for the templates the standard ships.
STANDARD = "standard"
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Version:
    """One version of a template as the API shows it: shipped, or stored with its owner."""

    template: Template
    owner_id: str | None
    created_at: datetime | None

    @property
    def shipped(self) -> bool:
        return self.owner_id is None


def version_dict(version: Version) -> StoredReturnTemplateBody:
    return StoredReturnTemplateBody(
        id=version.template.id,
        version=version.template.version,
        ownerId=version.owner_id,
        shipped=version.shipped,
        createdAt=timestamp(version.created_at),
        template=dict(version.template.document),
    )


def _stored(row: ReturnTemplateVersion) -> Version:
    """A stored version; it was checked when it was saved, so it is not checked again."""
    return Version(Template(row.document), row.owner_id, row.created_at)


def _not_found(template_id: str) -> ProblemError:
    return ProblemError("not_found", f"No return template '{template_id}' that you may see.")


def _semver(version: str) -> tuple[int, int, int]:
    found = _SEMVER.match(version)
    assert found is not None, version  # the template's schema holds versions to the pattern
    return int(found[1]), int(found[2]), int(found[3])


def partners(session: Session, principal: Principal) -> set[str]:
    """The organisations whose templates the caller sees besides its own and the shipped ones.

    For a provider, the subscribers of its agreements in force: their returns are filled from
    its data. A subscriber sees no one else's.
    """
    if principal.organisation_kind != OrganisationKind.PROVIDER:
        return set()
    today = date.today()
    query = select(Agreement.subscriber_id).where(
        Agreement.provider_id == principal.organisation_id,
        Agreement.status == AgreementStatus.ACTIVE,
        or_(Agreement.end_date.is_(None), Agreement.end_date >= today),
    )
    return set(session.scalars(query))


def _owners(session: Session, principal: Principal) -> set[str]:
    return {principal.organisation_id, *partners(session, principal)}


def _visible_row(
    session: Session, principal: Principal, template_id: str, lock: bool = False
) -> ReturnTemplate:
    """The template's row if the caller may see it (and it is not retired); 404 otherwise."""
    row = session.get(ReturnTemplate, template_id, with_for_update=lock)
    if row is None or row.retired_at is not None or row.owner_id not in _owners(session, principal):
        raise _not_found(template_id)
    return row


def _owned(document: Any, principal: Principal) -> Any:
    """The document with the caller's organisation as its owner's id (the server sets it)."""
    if isinstance(document, dict) and isinstance(document.get("owner"), dict):
        owner = {**document["owner"], "organisationId": principal.organisation_id}
        return {**document, "owner": owner}
    return document


def shipped() -> dict[str, Template]:
    """The standard's shipped templates, checked once per process.

    Like every use of JSONata off the main thread, their checks run on the standard's one
    JSONata thread (`care_exchange_standard.jsonata_thread`).
    """
    return shipped_templates()


def _checked(document: Any) -> Template:
    """The template, or 422 listing every problem `check_template` finds, each at its pointer."""
    problems = check_template(document)
    if problems:
        raise ProblemError(
            "validation_failed",
            f"The template has {len(problems)} problem(s); each entry of errors names one.",
            [FieldError(problem.pointer, problem.message, "template") for problem in problems],
        )
    return Template(document)


def _require_subscriber(principal: Principal) -> None:
    require_scope(principal, SCOPE)
    if principal.organisation_kind not in SUBSCRIBER_KINDS:
        raise ProblemError(
            "forbidden",
            "Return templates are declared by subscribers; a provider previews the returns"
            " its data fills.",
        )


def create(
    session: Session, principal: Principal, document: Any, shipped: Mapping[str, Template]
) -> Version:
    """A subscriber's new template, stored as its first version."""
    _require_subscriber(principal)
    template = _checked(_owned(document, principal))
    taken = ProblemError(
        "conflict",
        f"The return template id '{template.id}' is taken; choose another, or add a version"
        " to your own template.",
        [FieldError("/id", "is already the id of a return template on this server.", "unique")],
    )
    if template.id in shipped:
        raise taken
    now = utcnow()
    try:
        with session.begin_nested():
            session.add(
                ReturnTemplate(id=template.id, owner_id=principal.organisation_id, created_at=now)
            )
            session.flush()
    except IntegrityError:
        raise _retired_by_caller(session, principal, template.id) or taken from None
    return _add(session, principal, template, now)


def _retired_by_caller(
    session: Session, principal: Principal, template_id: str
) -> ProblemError | None:
    """The 409 for the caller's own retired template: its id stays taken, for audit.

    Only its owner is told it was retired; anyone else hears only that the id is taken.
    """
    row = session.get(ReturnTemplate, template_id)
    if row is None or row.retired_at is None or row.owner_id != principal.organisation_id:
        return None
    return ProblemError(
        "conflict",
        f"You retired the return template '{template_id}'; its id stays taken, so that its"
        " versions and the returns filled from them keep naming one template. Declare it"
        " under a new id.",
        [FieldError("/id", "is the id of a retired return template.", "unique")],
    )


def _add(session: Session, principal: Principal, template: Template, now: datetime) -> Version:
    row = ReturnTemplateVersion(
        template_id=template.id,
        version=template.version,
        owner_id=principal.organisation_id,
        document=dict(template.document),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return _stored(row)


def _latest_row(session: Session, template_id: str) -> ReturnTemplateVersion:
    query = (
        select(ReturnTemplateVersion)
        .where(ReturnTemplateVersion.template_id == template_id)
        .order_by(ReturnTemplateVersion.pk.desc())
        .limit(1)
    )
    found = session.scalars(query).first()
    assert found is not None, template_id  # a template is stored with its first version
    return found


def _owners_row(
    session: Session,
    principal: Principal,
    template_id: str,
    shipped: Mapping[str, Template],
    action: str,
) -> ReturnTemplate:
    """The template's row, locked, for a change only its owner may make; 403 or 404 otherwise."""
    require_scope(principal, SCOPE)
    if template_id in shipped:
        raise ProblemError("forbidden", f"'{template_id}' is shipped with the standard: read-only.")
    row = _visible_row(session, principal, template_id, lock=True)
    if row.owner_id != principal.organisation_id:
        raise ProblemError("forbidden", f"Only its owner {action} '{template_id}'.")
    return row


def add_version(
    session: Session,
    principal: Principal,
    template_id: str,
    document: Any,
    shipped: Mapping[str, Template],
) -> Version:
    """A new version by the template's owner, greater than every earlier one.

    The template's row is locked first, so two new versions are stored one after the other
    and the later always compares with the one stored before it.
    """
    _owners_row(session, principal, template_id, shipped, "adds versions to")
    template = _checked(_owned(document, principal))
    if template.id != template_id:
        raise ProblemError(
            "validation_failed",
            "A new version keeps the template's id.",
            [FieldError("/id", f"must be '{template_id}', the template's id.", "const")],
        )
    latest = _latest_row(session, template_id).version
    if _semver(template.version) <= _semver(latest):
        raise ProblemError(
            "conflict",
            f"Version {template.version} is not greater than the latest, {latest}.",
            [FieldError("/version", f"must be greater than {latest}.", "minimum")],
        )
    return _add(session, principal, template, utcnow())


def retire(
    session: Session, principal: Principal, template_id: str, shipped: Mapping[str, Template]
) -> None:
    """Its owner retires the template: hidden from everyone from now on, kept for audit.

    The row is locked as when a version is added, so a version being added meanwhile is
    stored before the template is retired, or refused after. Retiring it again is 404, as
    for any template the caller cannot see.
    """
    row = _owners_row(session, principal, template_id, shipped, "retires")
    row.retired_at = utcnow()
    session.flush()


def get(
    session: Session,
    principal: Principal,
    template_id: str,
    version: str | None,
    shipped: Mapping[str, Template],
) -> Version:
    """The latest version the caller may see, or the one named; 404 for anything else."""
    require_scope(principal, SCOPE)
    if template_id in shipped:
        found = shipped[template_id]
        if version is not None and version != found.version:
            raise _not_found(f"{template_id}@{version}")
        return Version(found, None, None)
    _visible_row(session, principal, template_id)
    if version is None:
        return _stored(_latest_row(session, template_id))
    query = select(ReturnTemplateVersion).where(
        ReturnTemplateVersion.template_id == template_id,
        ReturnTemplateVersion.version == version,
    )
    row = session.scalars(query).first()
    if row is None:
        raise _not_found(f"{template_id}@{version}")
    return _stored(row)


def versions(
    session: Session,
    principal: Principal,
    template_id: str,
    size: int,
    token: str | None,
    shipped: Mapping[str, Template],
) -> paging.Page[Version]:
    """Every version, oldest first (versions only grow, so in the order they were stored)."""
    require_scope(principal, SCOPE)
    query_key = {"versions": template_id}
    if template_id in shipped:
        if token is not None:
            paging.decode_token(token, query_key)
        return paging.Page([Version(shipped[template_id], None, None)], None)
    _visible_row(session, principal, template_id)
    query = select(ReturnTemplateVersion).where(ReturnTemplateVersion.template_id == template_id)
    page = paging.keyset(session, query, ReturnTemplateVersion.pk, size, token, query_key)
    return paging.Page([_stored(row) for row in page.items], page.next_token)


def list_for(
    session: Session,
    principal: Principal,
    owner: str | None,
    size: int,
    token: str | None,
    shipped: Mapping[str, Template],
) -> paging.Page[Version]:
    """The latest version of each template the caller sees, by template id.

    Shipped and stored templates are one listing: their ids never clash (shipped ids are
    reserved), so one position in the order of ids pages through both.
    """
    require_scope(principal, SCOPE)
    query_key = {"list": "return-templates", "owner": owner}
    after = paging.decode_token(token, query_key, str) if token else ""
    owners = _owners(session, principal)
    if owner is not None:
        owners &= {owner}
    ids = [name for name in sorted(shipped) if name > after] if owner in (None, STANDARD) else []
    if owners:
        query = (
            select(ReturnTemplate.id)
            .where(
                ReturnTemplate.owner_id.in_(sorted(owners)),
                ReturnTemplate.retired_at.is_(None),
                ReturnTemplate.id > after,
            )
            .order_by(ReturnTemplate.id)
            .limit(size + 1)
        )
        ids = sorted({*ids[: size + 1], *session.scalars(query)})
    chosen = ids[:size]
    latest = _latest_rows(session, [name for name in chosen if name not in shipped])
    items = [
        Version(shipped[name], None, None) if name in shipped else _stored(latest[name])
        for name in chosen
    ]
    more = len(ids) > size
    return paging.Page(
        items, paging.encode_token({"after": chosen[-1], **query_key}) if more else None
    )


def _latest_rows(session: Session, template_ids: Sequence[str]) -> dict[str, ReturnTemplateVersion]:
    if not template_ids:
        return {}
    query = (
        select(ReturnTemplateVersion)
        .where(ReturnTemplateVersion.template_id.in_(template_ids))
        .order_by(ReturnTemplateVersion.pk)
    )
    return {row.template_id: row for row in session.scalars(query)}


def _ref(template: Template) -> ReturnTemplateRefBody:
    return ReturnTemplateRefBody(id=template.id, version=template.version, title=template.title)


def coverage(version: Version) -> ReturnTemplateCoverageBody:
    found = template_coverage(version.template)
    return ReturnTemplateCoverageBody(
        template=_ref(version.template),
        fields=found["fields"],
        exact=found["exact"],
        derived=found["derived"],
        unmapped=found["unmapped"],
        mappedShare=found["mappedShare"],
        unmappedFields=found["unmappedFields"],
    )


@dataclass(frozen=True)
class ReturnPlan:
    """What a return is filled from: the template, the directory, and the records it may use.

    `service`: the service's directory entry. `provider`: its provider's own entry, None until
    the provider has stored one (then the fields that read it are `no-source`). `grants`: per
    record type, the agreements a subscriber uses them under (none for a provider's own
    records, which leave no receipt).
    """

    template: Template
    service_id: str
    period: str
    service: dict[str, Any]
    provider: dict[str, Any] | None
    records: list[StoredRecord]
    grants: dict[str, list[Grant]] = field(default_factory=dict)


def _service_grants(
    session: Session, principal: Principal, service: Service, record_types: Sequence[str]
) -> dict[str, list[Grant]] | None:
    """Per record type it may read, the caller's agreement grants covering the service.

    None when no agreement in force covers the service at all: then the service is not the
    caller's to know of.
    """
    today = date.today()
    covering = select(Agreement.id).where(
        in_force(principal.organisation_id, today),
        Agreement.provider_id == service.provider_id,
    )
    rows = session.execute(covering.add_columns(Agreement.service_ids)).all()
    if not any(row.service_ids is None or service.id in row.service_ids for row in rows):
        return None
    found: dict[str, list[Grant]] = {}
    for record_type in record_types:
        if not principal.has(read_scope(record_type)):
            continue
        grants = agreed_grants(
            session, principal.organisation_id, record_type, today, service.provider_id
        )
        grants = [grant for grant in grants if grant.covers(service.provider_id, service.id)]
        if grants:
            found[record_type] = grants
    return found


def plan(
    session: Session,
    principal: Principal,
    template_id: str,
    version: str | None,
    service_id: str,
    period: str,
    shipped: Mapping[str, Template],
) -> ReturnPlan:
    """Who may fill this return, and from what; the period's form checked before any work.

    A subscriber fills it only for a service an agreement in force covers, from the record
    types it may read there; the other types are left out, so the fields that read them say
    `no-source`, as for a service that published nothing. A provider previews it for its own
    services from all their records. Anyone else: 404, whichever of the two it may not see.
    Both read the provider's directory entry, when it has stored one: it is public directory
    information, as the service's entry is.
    """
    found = get(session, principal, template_id, version, shipped).template
    service = session.get(Service, service_id)
    if service is None:
        raise ProblemError("not_found", f"No service '{service_id}' that you may see.")
    grants: dict[str, list[Grant]] = {}
    if service.provider_id == principal.organisation_id:
        types = list(found.record_types)
    else:
        entitled = _service_grants(session, principal, service, found.record_types)
        if entitled is None:
            raise ProblemError("not_found", f"No service '{service_id}' that you may see.")
        grants, types = entitled, list(entitled)
    try:
        parse_period(found.period_kind, period, found.year_starts)
    except PeriodError as error:
        raise ProblemError(
            "invalid_query",
            f"The period does not name a {found.period_kind} period: {error}",
            [FieldError.of_parameter("period", str(error), "format")],
        ) from None
    records: list[StoredRecord] = []
    if types:
        query = select(*STORED_COLUMNS).where(
            Record.service_id == service_id,
            Record.state == RecordState.ACTIVE,
            Record.record_type.in_(types),
        )
        records = [StoredRecord(*row) for row in session.execute(query.order_by(Record.pk))]
    provider = directory.provider_entry(session, service.provider_id)
    return ReturnPlan(
        found,
        service_id,
        period,
        dict(service.document),
        None if provider is None else dict(provider),
        records,
        grants,
    )


def fill_plan(plan: ReturnPlan, pool: SandboxPool) -> FilledReturn:
    """Fill the return; it blocks while the expressions run in a worker borrowed from `pool`.

    An event return naming an event the caller may not see, or none at all, is 404 alike.
    """
    documents = [
        {**(record.data or {}), "recordType": record.record_type} for record in plan.records
    ]
    try:
        with pool.borrow() as sandbox:
            return fill(
                plan.template,
                documents,
                service_id=plan.service_id,
                period=plan.period,
                service=plan.service,
                provider=plan.provider,
                sandbox=sandbox,
            )
    except PeriodError as error:  # the form was checked in `plan`: only an unknown event is left
        raise ProblemError("not_found", str(error)[:1].upper() + str(error)[1:] + ".") from None


def receipts_for(
    principal: Principal, plan: ReturnPlan, filled: FilledReturn
) -> list[dict[str, Any]]:
    """One access receipt per record the return was computed from, under its agreement."""
    used = {(kind, record_id) for kind, ids in filled.sources.items() for record_id in ids}
    rows: list[dict[str, Any]] = []
    for record_type, grants in plan.grants.items():
        chosen = [
            record
            for record in plan.records
            if record.record_type == record_type and (record_type, record.record_id) in used
        ]
        rows += receipts.rows_for(principal, chosen, ReceiptChannel.RETURN, grants)
    return rows


def filled_dict(filled: FilledReturn) -> FilledReturnBody:
    found = filled.as_dict()
    return FilledReturnBody(
        template=_ref(filled.template),
        serviceId=found["serviceId"],
        period=found["period"],
        fields=found["fields"],
        coverage=found["coverage"],
        sources=found["sources"],
    )
