"""Every operation of spec/openapi.yaml as a function that builds its `Call`, and nothing else.

Written once here, each becomes a method of both `Client` and `AsyncClient` (see `methods.py`).
`OPERATIONS` maps each `operationId` to its method name, HTTP method and path template, which
`tests/clients/test_sdk_operations.py` compares with the spec, so an operation added to the
spec and not here fails the tests. Parameters are snake_case; bodies are passed as the spec's
JSON (TypedDicts in `types.py`).

Every `/v1` POST gets an `Idempotency-Key`: the caller's, or a random one made here, so that
the retries of that one call are safe (see `retry.py`). A caller who may repeat a call across
processes (after a crash, say) should pass a key of their own that they can recompute.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from care_exchange_client.calls import Call, json_call, json_result, no_content, text_result
from care_exchange_client.types import (
    AccessReceipt,
    AccessReceiptSummary,
    Agreement,
    AgreementRequest,
    AgreementStatus,
    AuthorizationServerMetadata,
    BulkResult,
    CapabilityDocument,
    ClientCreated,
    ClientRequest,
    Delegation,
    EventPage,
    Feedback,
    FeedbackKind,
    FeedbackRequest,
    FeedPage,
    FilledReturn,
    Health,
    IntrospectionResponse,
    Jwks,
    OAuthClient,
    Organisation,
    OrganisationKind,
    Page,
    Provider,
    Readiness,
    Record,
    RecordEnvelope,
    ReturnTemplateCoverage,
    RootDocument,
    Service,
    StoredReturnTemplate,
    Subscription,
    SubscriptionCreated,
    SubscriptionRequest,
    SubscriptionSecret,
    SubscriptionStatus,
    SubscriptionUpdate,
    TokenResponse,
)

F = TypeVar("F", bound=Callable[..., Call[Any]])


@dataclass(frozen=True)
class Operation:
    """Where an operation of the spec lives in the SDK."""

    operation_id: str
    method: str
    path: str
    name: str


OPERATIONS: dict[str, Operation] = {}


def operation(operation_id: str, method: str, path: str) -> Callable[[F], F]:
    def register(build: F) -> F:
        OPERATIONS[operation_id] = Operation(operation_id, method, path, build.__name__)
        return build

    return register


def _segment(value: str) -> str:
    """A path parameter, escaped so that an id can never reach another path."""
    return quote(value, safe="")


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def _key(idempotency_key: str | None) -> dict[str, str | None]:
    return {"Idempotency-Key": idempotency_key or new_idempotency_key()}


def etag(version: RecordEnvelope | str | int) -> str:
    """The `If-Match` value for a record: its envelope, a version number, or an ETag as is."""
    if isinstance(version, str):
        return version
    number = version if isinstance(version, int) else version["version"]
    return f'"{number}"'


def _instant(value: datetime | str | None) -> str | None:
    """RFC 3339 with an offset, as the spec requires.

    A naive datetime is refused here rather than guessed at: the server would refuse it too.
    """
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("since/until need a timezone-aware datetime")
    return value.isoformat()


def _paging(page_size: int | None, page_token: str | None) -> dict[str, str | int | None]:
    return {"page_size": page_size, "page_token": page_token}


# ------------------------------------------------------------------------------ discovery


@operation("getRoot", "GET", "/")
def get_root() -> Call[RootDocument]:
    return json_call("getRoot", "GET", "/", auth="none")


@operation("getCapabilities", "GET", "/.well-known/care-exchange")
def get_capabilities() -> Call[CapabilityDocument]:
    """The server's limits (page sizes, bulk items, body size): read them, never hard-code."""
    return json_call("getCapabilities", "GET", "/.well-known/care-exchange", auth="none")


@operation("getHealth", "GET", "/healthz")
def get_health() -> Call[Health]:
    return json_call("getHealth", "GET", "/healthz", auth="none")


@operation("getReadiness", "GET", "/readyz")
def get_readiness() -> Call[Readiness]:
    """Ready or not, an answer: a `503` is read as `status: not-ready`, never retried."""
    call = json_call("getReadiness", "GET", "/readyz", auth="none")
    return replace(call, answers=frozenset({503}))


@operation("getAuthorizationServerMetadata", "GET", "/.well-known/oauth-authorization-server")
def get_authorization_server_metadata() -> Call[AuthorizationServerMetadata]:
    path = "/.well-known/oauth-authorization-server"
    return json_call("getAuthorizationServerMetadata", "GET", path, auth="none")


@operation("getJwks", "GET", "/jwks.json")
def get_jwks() -> Call[Jwks]:
    return json_call("getJwks", "GET", "/jwks.json", auth="none")


@operation("getOpenApiDocument", "GET", "/openapi.yaml")
def get_open_api_document() -> Call[str]:
    """The server's self-contained copy of the spec, as YAML text."""
    return Call("getOpenApiDocument", "GET", "/openapi.yaml", text_result, auth="none")


@operation("getOpenApiJson", "GET", "/openapi.json")
def get_open_api_json() -> Call[dict[str, Any]]:
    return json_call("getOpenApiJson", "GET", "/openapi.json", auth="none")


@operation("getApiReference", "GET", "/docs")
def get_api_reference() -> Call[str]:
    """The HTML page for people; a program reads `get_open_api_json` instead."""
    return Call("getApiReference", "GET", "/docs", text_result, auth="none")


@operation("getStandardFile", "GET", "/schemas/v1/{folder}/{file}")
def get_standard_file(folder: str, file: str) -> Call[str]:
    """A schema (`records`, `common`, `directory`) or codelist (`codelists`) as the server has it.

    The SDK carries the standard itself (`care_exchange_standard`); this is for comparing it
    with what a server implements.
    """
    path = f"/schemas/v1/{_segment(folder)}/{_segment(file)}"
    return Call("getStandardFile", "GET", path, text_result, auth="none")


@operation("getProblemType", "GET", "/problems/{code}")
def get_problem_type(code: str) -> Call[str]:
    """The HTML page that a problem's `type` names."""
    path = f"/problems/{_segment(code)}"
    return Call("getProblemType", "GET", path, text_result, auth="none")


# ------------------------------------------------------------------------------ OAuth


@operation("requestToken", "POST", "/oauth/token")
def request_token(scope: str | None = None) -> Call[TokenResponse]:
    """A token of its own, apart from the one the client keeps for its requests.

    For handing to another process, say; the client's own token is not replaced.
    """
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    return Call("requestToken", "POST", "/oauth/token", json_result, form=form, auth="client")


@operation("revokeToken", "POST", "/oauth/revoke")
def revoke_token(token: str) -> Call[None]:
    form = {"token": token, "token_type_hint": "access_token"}
    return Call("revokeToken", "POST", "/oauth/revoke", no_content, form=form, auth="client")


@operation("introspectToken", "POST", "/oauth/introspect")
def introspect_token(token: str) -> Call[IntrospectionResponse]:
    form = {"token": token}
    path = "/oauth/introspect"
    return Call("introspectToken", "POST", path, json_result, form=form, auth="client")


# ------------------------------------------------------------------------------ records


def _record_path(record_type: str, record_id: str | None = None) -> str:
    path = f"/v1/records/{_segment(record_type)}"
    return path if record_id is None else f"{path}/{_segment(record_id)}"


@operation("publishRecord", "POST", "/v1/records/{type}")
def publish_record(
    record_type: str, record: Mapping[str, Any], *, idempotency_key: str | None = None
) -> Call[RecordEnvelope]:
    """Publish version 1. A record id that is taken raises `Conflict`: use `replace_record`."""
    path = _record_path(record_type)
    return json_call("publishRecord", "POST", path, body=record, headers=_key(idempotency_key))


@operation("listRecords", "GET", "/v1/records/{type}")
def list_records(
    record_type: str,
    *,
    service_id: str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Call[Page[RecordEnvelope]]:
    params = {"serviceId": service_id, **_paging(page_size, page_token)}
    return json_call("listRecords", "GET", _record_path(record_type), params=params)


@operation("getRecord", "GET", "/v1/records/{type}/{id}")
def get_record(record_type: str, record_id: str) -> Call[RecordEnvelope]:
    """The latest version; its `version` is the ETag (`etag(envelope)`) to change it with."""
    return json_call("getRecord", "GET", _record_path(record_type, record_id))


@operation("replaceRecord", "PUT", "/v1/records/{type}/{id}")
def replace_record(
    record_type: str,
    record_id: str,
    record: Mapping[str, Any],
    *,
    if_match: RecordEnvelope | str | int,
) -> Call[RecordEnvelope]:
    """Publish a new version based on `if_match` (the envelope read, its version or ETag)."""
    path = _record_path(record_type, record_id)
    headers = {"If-Match": etag(if_match)}
    return json_call("replaceRecord", "PUT", path, body=record, headers=headers)


@operation("retractRecord", "DELETE", "/v1/records/{type}/{id}")
def retract_record(
    record_type: str, record_id: str, *, if_match: RecordEnvelope | str | int
) -> Call[None]:
    path = _record_path(record_type, record_id)
    headers = {"If-Match": etag(if_match)}
    return Call("retractRecord", "DELETE", path, no_content, headers=headers)


@operation("listRecordVersions", "GET", "/v1/records/{type}/{id}/versions")
def list_record_versions(
    record_type: str,
    record_id: str,
    *,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Call[Page[RecordEnvelope]]:
    path = _record_path(record_type, record_id) + "/versions"
    return json_call("listRecordVersions", "GET", path, params=_paging(page_size, page_token))


@operation("publishBulk", "POST", "/v1/bulk")
def publish_bulk(
    records: list[Record] | list[Mapping[str, Any]],
    *,
    dry_run: bool = False,
    idempotency_key: str | None = None,
) -> Call[BulkResult]:
    """One bulk request as is (at most `limits.bulkMaxItems`); `publish_many` chunks for you.

    `dry_run=True` has every item checked as a publication would and stores nothing.
    """
    body = {"records": records}
    headers = _key(idempotency_key)
    params = _dry_run(dry_run)
    return json_call("publishBulk", "POST", "/v1/bulk", body=body, params=params, headers=headers)


def _dry_run(dry_run: bool) -> dict[str, str | int | None]:
    return {"dry_run": "true" if dry_run else None}


def publish_bulk_encoded(
    content: bytes, idempotency_key: str, *, dry_run: bool = False
) -> Call[BulkResult]:
    """A bulk request whose body is already encoded, so its bytes match its key exactly."""
    headers = {"Idempotency-Key": idempotency_key}
    params = {"dry_run": "true"} if dry_run else {}
    return Call(
        "publishBulk",
        "POST",
        "/v1/bulk",
        json_result,
        params=params,
        content=content,
        headers=headers,
    )


# ------------------------------------------------------------------------------ feed


@operation("getFeed", "GET", "/v1/feed/{type}")
def get_feed(
    record_type: str, *, after: int | None = None, page_size: int | None = None
) -> Call[FeedPage]:
    """One page of the change feed; `feed()` follows the pages and keeps a resumable position."""
    path = f"/v1/feed/{_segment(record_type)}"
    return json_call("getFeed", "GET", path, params={"after": after, "page_size": page_size})


def follow_feed(path: str, params: Mapping[str, str]) -> Call[FeedPage]:
    return json_call("getFeed", "GET", path, params=dict(params))


# ------------------------------------------------------------------------------ feedback


@operation("createFeedback", "POST", "/v1/feedback")
def create_feedback(
    feedback: FeedbackRequest, *, idempotency_key: str | None = None
) -> Call[Feedback]:
    headers = _key(idempotency_key)
    return json_call("createFeedback", "POST", "/v1/feedback", body=feedback, headers=headers)


@operation("listFeedback", "GET", "/v1/feedback")
def list_feedback(
    *,
    service_id: str | None = None,
    kind: FeedbackKind | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Call[Page[Feedback]]:
    params = {"serviceId": service_id, "kind": kind, **_paging(page_size, page_token)}
    return json_call("listFeedback", "GET", "/v1/feedback", params=params)


@operation("getFeedback", "GET", "/v1/feedback/{feedbackId}")
def get_feedback(feedback_id: str) -> Call[Feedback]:
    return json_call("getFeedback", "GET", f"/v1/feedback/{_segment(feedback_id)}")


@operation("replyToFeedback", "POST", "/v1/feedback/{feedbackId}/replies")
def reply_to_feedback(
    feedback_id: str, text: str, *, idempotency_key: str | None = None
) -> Call[Feedback]:
    path = f"/v1/feedback/{_segment(feedback_id)}/replies"
    body = {"text": text}
    return json_call("replyToFeedback", "POST", path, body=body, headers=_key(idempotency_key))


# ------------------------------------------------------------------------------ return templates

RETURN_TEMPLATES = "/v1/return-templates"


def _template_path(template_id: str, tail: str = "") -> str:
    return f"{RETURN_TEMPLATES}/{_segment(template_id)}{tail}"


@operation("createReturnTemplate", "POST", "/v1/return-templates")
def create_return_template(
    template: dict[str, Any], *, idempotency_key: str | None = None
) -> Call[StoredReturnTemplate]:
    """Declare a return template (a subscriber); the body is a `return-template` document."""
    return json_call(
        "createReturnTemplate",
        "POST",
        RETURN_TEMPLATES,
        body=template,
        headers=_key(idempotency_key),
    )


@operation("listReturnTemplates", "GET", "/v1/return-templates")
def list_return_templates(
    *, owner: str | None = None, page_size: int | None = None, page_token: str | None = None
) -> Call[Page[StoredReturnTemplate]]:
    params = {"owner": owner, **_paging(page_size, page_token)}
    return json_call("listReturnTemplates", "GET", RETURN_TEMPLATES, params=params)


@operation("getReturnTemplate", "GET", "/v1/return-templates/{templateId}")
def get_return_template(
    template_id: str, *, version: str | None = None
) -> Call[StoredReturnTemplate]:
    path = _template_path(template_id)
    return json_call("getReturnTemplate", "GET", path, params={"version": version})


@operation("retireReturnTemplate", "DELETE", "/v1/return-templates/{templateId}")
def retire_return_template(template_id: str) -> Call[None]:
    """Its owner retires the template (since 1.1); its id stays taken (`Conflict` if reused)."""
    return Call("retireReturnTemplate", "DELETE", _template_path(template_id), no_content)


@operation("listReturnTemplateVersions", "GET", "/v1/return-templates/{templateId}/versions")
def list_return_template_versions(
    template_id: str, *, page_size: int | None = None, page_token: str | None = None
) -> Call[Page[StoredReturnTemplate]]:
    path = _template_path(template_id, "/versions")
    params = _paging(page_size, page_token)
    return json_call("listReturnTemplateVersions", "GET", path, params=params)


@operation("createReturnTemplateVersion", "POST", "/v1/return-templates/{templateId}/versions")
def create_return_template_version(
    template_id: str, template: dict[str, Any], *, idempotency_key: str | None = None
) -> Call[StoredReturnTemplate]:
    path = _template_path(template_id, "/versions")
    headers = _key(idempotency_key)
    return json_call("createReturnTemplateVersion", "POST", path, body=template, headers=headers)


@operation("getReturnTemplateCoverage", "GET", "/v1/return-templates/{templateId}/coverage")
def get_return_template_coverage(
    template_id: str, *, version: str | None = None
) -> Call[ReturnTemplateCoverage]:
    path = _template_path(template_id, "/coverage")
    return json_call("getReturnTemplateCoverage", "GET", path, params={"version": version})


@operation("fillReturn", "GET", "/v1/return-templates/{templateId}/returns")
def fill_return(
    template_id: str, *, service_id: str, period: str, version: str | None = None
) -> Call[FilledReturn]:
    """The filled return as JSON (the API also gives CSV and XLSX by `Accept`)."""
    path = _template_path(template_id, "/returns")
    params = {"serviceId": service_id, "period": period, "version": version}
    return json_call("fillReturn", "GET", path, params=params)


# ------------------------------------------------------------------------------ receipts


def _receipt_filters(
    service_id: str | None,
    subscriber_id: str | None,
    since: datetime | str | None,
    until: datetime | str | None,
) -> dict[str, str | int | None]:
    return {
        "serviceId": service_id,
        "subscriberId": subscriber_id,
        "since": _instant(since),
        "until": _instant(until),
    }


@operation("listAccessReceipts", "GET", "/v1/access-receipts")
def list_access_receipts(
    *,
    service_id: str | None = None,
    subscriber_id: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Call[Page[AccessReceipt]]:
    params = {
        **_receipt_filters(service_id, subscriber_id, since, until),
        **_paging(page_size, page_token),
    }
    return json_call("listAccessReceipts", "GET", "/v1/access-receipts", params=params)


@operation("summariseAccessReceipts", "GET", "/v1/access-receipts/summary")
def summarise_access_receipts(
    *,
    service_id: str | None = None,
    subscriber_id: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> Call[AccessReceiptSummary]:
    params = _receipt_filters(service_id, subscriber_id, since, until)
    path = "/v1/access-receipts/summary"
    return json_call("summariseAccessReceipts", "GET", path, params=params)


# ------------------------------------------------------------------------------ subscriptions


def _subscription_path(subscription_id: str, tail: str = "") -> str:
    return f"/v1/subscriptions/{_segment(subscription_id)}{tail}"


@operation("createSubscription", "POST", "/v1/subscriptions")
def create_subscription(
    subscription: SubscriptionRequest, *, idempotency_key: str | None = None
) -> Call[SubscriptionCreated]:
    """The answer is the only time a webhook's signing `secret` is shown: keep it."""
    headers = _key(idempotency_key)
    path = "/v1/subscriptions"
    return json_call("createSubscription", "POST", path, body=subscription, headers=headers)


@operation("listSubscriptions", "GET", "/v1/subscriptions")
def list_subscriptions(
    *, page_size: int | None = None, page_token: str | None = None
) -> Call[Page[Subscription]]:
    params = _paging(page_size, page_token)
    return json_call("listSubscriptions", "GET", "/v1/subscriptions", params=params)


@operation("getSubscription", "GET", "/v1/subscriptions/{subscriptionId}")
def get_subscription(subscription_id: str) -> Call[Subscription]:
    return json_call("getSubscription", "GET", _subscription_path(subscription_id))


@operation("updateSubscription", "PATCH", "/v1/subscriptions/{subscriptionId}")
def update_subscription(subscription_id: str, update: SubscriptionUpdate) -> Call[Subscription]:
    """Members given replace the stored ones; `{"status": "paused"}` pauses deliveries."""
    path = _subscription_path(subscription_id)
    return json_call("updateSubscription", "PATCH", path, body=update)


@operation("deleteSubscription", "DELETE", "/v1/subscriptions/{subscriptionId}")
def delete_subscription(subscription_id: str) -> Call[None]:
    path = _subscription_path(subscription_id)
    return Call("deleteSubscription", "DELETE", path, no_content)


@operation("rotateSubscriptionSecret", "POST", "/v1/subscriptions/{subscriptionId}/rotate-secret")
def rotate_subscription_secret(
    subscription_id: str, *, idempotency_key: str | None = None
) -> Call[SubscriptionSecret]:
    """Both secrets sign until `previousSecretExpiresAt`; `verify_webhook` takes both meanwhile."""
    path = _subscription_path(subscription_id, "/rotate-secret")
    headers = _key(idempotency_key)
    return json_call("rotateSubscriptionSecret", "POST", path, headers=headers)


@operation("getSubscriptionStatus", "GET", "/v1/subscriptions/{subscriptionId}/status")
def get_subscription_status(subscription_id: str) -> Call[SubscriptionStatus]:
    path = _subscription_path(subscription_id, "/status")
    return json_call("getSubscriptionStatus", "GET", path)


@operation("listSubscriptionEvents", "GET", "/v1/subscriptions/{subscriptionId}/events")
def list_subscription_events(
    subscription_id: str,
    *,
    after: int | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Call[EventPage]:
    """One page; `events()` walks them all and keeps a resumable position."""
    path = _subscription_path(subscription_id, "/events")
    params = {"after": after, **_paging(page_size, page_token)}
    return json_call("listSubscriptionEvents", "GET", path, params=params)


# ------------------------------------------------------------------------------ directory


@operation("getMyOrganisation", "GET", "/v1/organisations/me")
def get_my_organisation() -> Call[Organisation]:
    return json_call("getMyOrganisation", "GET", "/v1/organisations/me")


@operation("getMyDirectoryEntry", "GET", "/v1/organisations/me/directory-entry")
def get_my_directory_entry() -> Call[Provider]:
    """The caller's provider directory entry; `NotFound` until it is stored (since 1.1)."""
    return json_call("getMyDirectoryEntry", "GET", "/v1/organisations/me/directory-entry")


@operation("replaceMyDirectoryEntry", "PUT", "/v1/organisations/me/directory-entry")
def replace_my_directory_entry(provider: Mapping[str, Any]) -> Call[Provider]:
    """Store the whole provider directory entry; its `id` is the caller's organisation's."""
    path = "/v1/organisations/me/directory-entry"
    return json_call("replaceMyDirectoryEntry", "PUT", path, body=provider)


@operation("listServices", "GET", "/v1/services")
def list_services(
    *, page_size: int | None = None, page_token: str | None = None
) -> Call[Page[Service]]:
    return json_call("listServices", "GET", "/v1/services", params=_paging(page_size, page_token))


@operation("createService", "POST", "/v1/services")
def create_service(
    service: Mapping[str, Any], *, idempotency_key: str | None = None
) -> Call[Service]:
    headers = _key(idempotency_key)
    return json_call("createService", "POST", "/v1/services", body=service, headers=headers)


@operation("getService", "GET", "/v1/services/{serviceId}")
def get_service(service_id: str) -> Call[Service]:
    return json_call("getService", "GET", f"/v1/services/{_segment(service_id)}")


@operation("replaceService", "PUT", "/v1/services/{serviceId}")
def replace_service(service_id: str, service: Mapping[str, Any]) -> Call[Service]:
    path = f"/v1/services/{_segment(service_id)}"
    return json_call("replaceService", "PUT", path, body=service)


@operation("listDelegations", "GET", "/v1/delegations")
def list_delegations(
    *, page_size: int | None = None, page_token: str | None = None
) -> Call[Page[Delegation]]:
    params = _paging(page_size, page_token)
    return json_call("listDelegations", "GET", "/v1/delegations", params=params)


@operation("createDelegation", "POST", "/v1/delegations")
def create_delegation(
    vendor_id: str, service_ids: list[str] | None, *, idempotency_key: str | None = None
) -> Call[Delegation]:
    """`service_ids=None` delegates every service, present and future: it must be said."""
    body = {"vendorId": vendor_id, "serviceIds": service_ids}
    headers = _key(idempotency_key)
    return json_call("createDelegation", "POST", "/v1/delegations", body=body, headers=headers)


@operation("revokeDelegation", "DELETE", "/v1/delegations/{delegationId}")
def revoke_delegation(delegation_id: str) -> Call[None]:
    path = f"/v1/delegations/{_segment(delegation_id)}"
    return Call("revokeDelegation", "DELETE", path, no_content)


# ------------------------------------------------------------------------------ agreements


def _agreement_path(agreement_id: str, tail: str = "") -> str:
    return f"/v1/agreements/{_segment(agreement_id)}{tail}"


@operation("listAgreements", "GET", "/v1/agreements")
def list_agreements(
    *,
    status: AgreementStatus | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Call[Page[Agreement]]:
    params = {"status": status, **_paging(page_size, page_token)}
    return json_call("listAgreements", "GET", "/v1/agreements", params=params)


@operation("createAgreement", "POST", "/v1/agreements")
def create_agreement(
    agreement: AgreementRequest, *, idempotency_key: str | None = None
) -> Call[Agreement]:
    """A provider grants (names `subscriberId`), a subscriber requests (names `providerId`)."""
    headers = _key(idempotency_key)
    return json_call("createAgreement", "POST", "/v1/agreements", body=agreement, headers=headers)


@operation("getAgreement", "GET", "/v1/agreements/{agreementId}")
def get_agreement(agreement_id: str) -> Call[Agreement]:
    return json_call("getAgreement", "GET", _agreement_path(agreement_id))


def _decide(operation_id: str, agreement_id: str, verb: str, key: str | None) -> Call[Agreement]:
    """Accept, decline and revoke take no body: one sent would be refused (415)."""
    path = _agreement_path(agreement_id, f"/{verb}")
    return json_call(operation_id, "POST", path, headers=_key(key))


@operation("acceptAgreement", "POST", "/v1/agreements/{agreementId}/accept")
def accept_agreement(agreement_id: str, *, idempotency_key: str | None = None) -> Call[Agreement]:
    return _decide("acceptAgreement", agreement_id, "accept", idempotency_key)


@operation("declineAgreement", "POST", "/v1/agreements/{agreementId}/decline")
def decline_agreement(agreement_id: str, *, idempotency_key: str | None = None) -> Call[Agreement]:
    return _decide("declineAgreement", agreement_id, "decline", idempotency_key)


@operation("revokeAgreement", "POST", "/v1/agreements/{agreementId}/revoke")
def revoke_agreement(agreement_id: str, *, idempotency_key: str | None = None) -> Call[Agreement]:
    return _decide("revokeAgreement", agreement_id, "revoke", idempotency_key)


# ------------------------------------------------------------------------------ admin


@operation("listOrganisations", "GET", "/v1/admin/organisations")
def list_organisations(
    *, page_size: int | None = None, page_token: str | None = None
) -> Call[Page[Organisation]]:
    params = _paging(page_size, page_token)
    return json_call("listOrganisations", "GET", "/v1/admin/organisations", params=params)


@operation("createOrganisation", "POST", "/v1/admin/organisations")
def create_organisation(
    name: str, kind: OrganisationKind, *, idempotency_key: str | None = None
) -> Call[Organisation]:
    body = {"name": name, "kind": kind}
    path = "/v1/admin/organisations"
    return json_call("createOrganisation", "POST", path, body=body, headers=_key(idempotency_key))


@operation("listClients", "GET", "/v1/admin/clients")
def list_clients(
    *, page_size: int | None = None, page_token: str | None = None
) -> Call[Page[OAuthClient]]:
    params = _paging(page_size, page_token)
    return json_call("listClients", "GET", "/v1/admin/clients", params=params)


@operation("createClient", "POST", "/v1/admin/clients")
def create_client(
    client: ClientRequest, *, idempotency_key: str | None = None
) -> Call[ClientCreated]:
    """With `client_secret_basic` the answer holds the only copy of the secret."""
    headers = _key(idempotency_key)
    return json_call("createClient", "POST", "/v1/admin/clients", body=client, headers=headers)


@operation("deleteClient", "DELETE", "/v1/admin/clients/{clientId}")
def delete_client(client_id: str) -> Call[None]:
    path = f"/v1/admin/clients/{_segment(client_id)}"
    return Call("deleteClient", "DELETE", path, no_content)


# The webhook the server POSTs to subscribers is received, not called: `webhooks.verify_webhook`.
WEBHOOKS = {"receiveSubscriptionEvent": "care_exchange_client.webhooks.verify_webhook"}
