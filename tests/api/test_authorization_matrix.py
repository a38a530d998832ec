"""The authorisation matrix: every operation of spec/openapi.yaml against every kind of caller.

`MATRIX` is the one table. Each row is keyed by an operationId and says how to build a request
for that operation against objects that exist in the `tests.api.world` world, and which HTTP
status each principal must get, as the design (docs, spec, /tmp/api-design.md) says, never as the
server happens to answer. Where the server disagrees, the cell is a strict xfail naming the rule.

The operations come from the spec file when the tests are collected: an operation without a row,
or a row without an operation, fails `test_the_matrix_covers_exactly_the_spec`.

Every cell runs on SQLite and on PostgreSQL, against a copy of a world built once per backend
(tests/api/templates.py). A cell the server must serve, an OAuth endpoint's cell (its rate
limits count every attempt) and a cell where the server disagrees with the design each get a
fresh copy, so nothing a cell changes is seen by another. The other cells, refusals, share one
copy per backend, and each must leave every row of it as it was: a refusal changes nothing.
(A refusal whose setup cannot be repeated on one world, `UNREPEATABLE_SETUPS`, gets its own.)

The operations that hand out record data also have `entitled` cells: subscribers that each lack
one dimension of entitlement to the row's record (capacity snapshots of svc-p1): the read scope
for its type, an agreement for its type, an agreement for its service, an agreement in force
(see `ENTITLEMENT_PARTIES` in tests/api/world.py). tests/api/test_entitlement_paths.py checks the
same dimensions on every path in depth, with a positive control each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import httpx
import pytest
import yaml
from fastapi import FastAPI

from care_exchange_standard.returns import load_template
from tests.api import templates
from tests.api.conftest import ISSUER
from tests.api.templates import Template
from tests.api.world import (
    World,
    example_record,
    provider_entry,
    published_example,
    service_document,
    table_digest,
)

SPEC_FILE = Path(__file__).resolve().parents[2] / "spec" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
TYPE = "capacity-snapshot"

# A refusal may store one row: the answer to a request with an Idempotency-Key, to replay it.
CHANGED_BY_REFUSALS = {"idempotency_keys"}
# The columns of the matrix. `anonymous` sends no token; the others send their party's token.
PRINCIPALS = (
    "anonymous",
    "no_scope",
    "provider",
    "other_provider",
    "vendor",
    "other_vendor",
    "subscriber",
    "other_subscriber",
    "admin",
)


# The entitlement columns, for the rows that hand out record data (`Row.entitled`).
ENTITLED = ("narrow_subscriber", "typed_subscriber", "service_subscriber", "lapsed_subscriber")


class Cells(TypedDict):
    """The expected status for every principal (mypy insists that none is left out)."""

    anonymous: int
    no_scope: int
    provider: int
    other_provider: int
    vendor: int
    other_vendor: int
    subscriber: int
    other_subscriber: int
    admin: int


@dataclass(frozen=True)
class Call:
    """One request: path parameters, keyword arguments for `TestClient.request`, and `subject`,
    the id of the object the setup made (for the rows that check what a listing shows)."""

    params: dict[str, str] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    subject: str = ""


class EntitledCells(TypedDict):
    """The expected status for each subscriber lacking one dimension of entitlement."""

    narrow_subscriber: int  # no read scope for the type (its agreement covers every type)
    typed_subscriber: int  # its agreement covers another type only
    service_subscriber: int  # its agreement covers another service only
    lapsed_subscriber: int  # its agreement ended yesterday


Build = Callable[[World], Call]
Probe = Callable[[httpx.Response, Call], object]


@dataclass(frozen=True)
class Row:
    """One operation: its request, the expected status per principal, and the known bugs."""

    method: str
    path: str
    build: Build
    expect: Cells
    # A second look at a successful answer (say, whether a listing shows the setup's object):
    # for each principal named in `probed`, probe(response) must equal the value given.
    probe: Probe | None = None
    probed: Mapping[str, object] = field(default_factory=dict)
    # For the OAuth endpoints: the status when the provider's client authenticates (HTTP Basic),
    # the positive control for the 401s that the bearer-token principals get.
    with_client_credentials: int | None = None
    # principal -> why the server's answer disagrees with the design (a strict xfail).
    disagreements: Mapping[str, str] = field(default_factory=dict)
    # The entitlement columns, for the rows that hand out record data; `probed` may name them.
    entitled: EntitledCells | None = None


def public(status: int) -> Cells:
    """Discovery documents: the same answer for everyone, token or not."""
    return Cells(
        anonymous=status,
        no_scope=status,
        provider=status,
        other_provider=status,
        vendor=status,
        other_vendor=status,
        subscriber=status,
        other_subscriber=status,
        admin=status,
    )


def admin_only(status: int) -> Cells:
    """The /v1/admin operations: scope `admin` (only the administrator's token carries it)."""
    return Cells(
        anonymous=401,
        no_scope=403,
        provider=403,
        other_provider=403,
        vendor=403,
        other_vendor=403,
        subscriber=403,
        other_subscriber=403,
        admin=status,
    )


# --------------------------------------------------------------------------------------------
# Setup steps and request builders. Every object named here exists in the world (see world.py):
# services svc-p1, svc-p2 (provider), svc-q1 (other_provider); delegation dlg-vendor (provider ->
# vendor, svc-p1); agreement agr-subscriber (provider -> subscriber, all types, all services).
# --------------------------------------------------------------------------------------------


def nothing(world: World) -> Call:
    return Call()


def record_call(world: World, **kwargs: Any) -> Call:
    record = published_example(world)
    return Call({"type": TYPE, "id": record["id"]}, kwargs, subject=record["id"])


def standard_file(world: World) -> Call:
    return Call({"folder": "codelists", "file": "care-levels.csv"})


def problem_type(world: World) -> Call:
    return Call({"code": "insufficient_scope"})


def new_record(world: World) -> Call:
    return Call({"type": TYPE}, {"json": example_record(TYPE, "svc-p1")})


def listed_record(world: World) -> Call:
    return Call({"type": TYPE}, subject=published_example(world)["id"])


def existing_record(world: World) -> Call:
    return record_call(world)


def replaced_record(world: World) -> Call:
    record = published_example(world)
    changed = {**record, "registeredPlaces": record["registeredPlaces"] + 1}
    return Call(
        {"type": TYPE, "id": record["id"]},
        {"json": changed, "headers": {"If-Match": '"1"'}},
        subject=record["id"],
    )


def retracted_record(world: World) -> Call:
    return record_call(world, headers={"If-Match": '"1"'})


def bulk(world: World) -> Call:
    return Call(kwargs={"json": {"records": [example_record(TYPE, "svc-p1")]}})


def oauth_token(world: World) -> Call:
    return Call(kwargs={"data": {"grant_type": "client_credentials"}})


def oauth_about_token(world: World) -> Call:
    return Call(kwargs={"data": {"token": world["provider"].token}})


def new_service(world: World) -> Call:
    return Call(kwargs={"json": service_document("svc-p3", "org-provider")})


def svc_p1(world: World) -> Call:
    return Call({"serviceId": "svc-p1"})


def replaced_svc_p1(world: World) -> Call:
    document = {**service_document("svc-p1", "org-provider"), "name": "Renamed service"}
    return Call({"serviceId": "svc-p1"}, {"json": document})


DIRECTORY_ENTRY = "/v1/organisations/me/directory-entry"


def stored_provider_entry(world: World) -> Call:
    """Setup: the provider stores its directory entry (other_provider has none)."""
    response = world.call("provider", "PUT", DIRECTORY_ENTRY, json=provider_entry())
    assert response.status_code == 200, response.text
    return Call()


def replaced_provider_entry(world: World) -> Call:
    """The provider's entry: other_provider's PUT of it names another organisation's id."""
    return Call(kwargs={"json": provider_entry(name="Renamed provider")})


def listed_delegation(world: World) -> Call:
    return Call(subject="dlg-vendor")


def new_delegation(world: World) -> Call:
    return Call(kwargs={"json": {"vendorId": "org-other_vendor", "serviceIds": ["svc-p2"]}})


def dlg_vendor(world: World) -> Call:
    return Call({"delegationId": "dlg-vendor"})


def listed_agreement(world: World) -> Call:
    return Call(subject="agr-subscriber")


def new_agreement(world: World) -> Call:
    """Between the world's provider and subscriber, for one of the provider's services."""
    terms = {
        "providerId": "org-provider",
        "subscriberId": "org-subscriber",
        "recordTypes": [TYPE],
        "serviceIds": ["svc-p1"],
        "purpose": "Hospital discharge planning.",
        "legalBasis": "UK GDPR Article 6(1)(e) public task.",
    }
    return Call(kwargs={"json": terms})


def feedback_body(world: World) -> dict[str, Any]:
    record = published_example(world)
    return {
        "kind": "impact",
        "text": "Two discharges.",
        "recordType": TYPE,
        "recordId": record["id"],
    }


def new_feedback(world: World) -> Call:
    return Call(kwargs={"json": feedback_body(world)})


def sent_feedback(world: World, **kwargs: Any) -> Call:
    """Setup: the subscriber's feedback on a record of svc-p1."""
    response = world.call("subscriber", "POST", "/v1/feedback", json=feedback_body(world))
    assert response.status_code == 201, response.text
    made = response.json()["id"]
    return Call({"feedbackId": made}, kwargs, subject=made)


def new_subscription(world: World) -> Call:
    return Call(kwargs={"json": {"types": [TYPE], "channel": {"type": "pull"}}})


def own_subscription(world: World, **kwargs: Any) -> Call:
    """Setup: the subscriber's webhook subscription (a public address, so no allowlist needed)."""
    channel = {"type": "webhook", "url": "https://93.184.216.34/hook"}
    response = world.call(
        "subscriber", "POST", "/v1/subscriptions", json={"types": [TYPE], "channel": channel}
    )
    assert response.status_code == 201, response.text
    made = response.json()["id"]
    return Call({"subscriptionId": made}, kwargs, subject=made)


def paused_subscription(world: World) -> Call:
    return own_subscription(world, json={"status": "paused"})


def feedback_reply(world: World) -> Call:
    return sent_feedback(world, json={"text": "Thank you."})


def read_by_subscriber(world: World) -> Call:
    """Setup: the subscriber reads a record of svc-p1, which leaves a receipt."""
    record = published_example(world)
    response = world.call("subscriber", "GET", f"/v1/records/{TYPE}/{record['id']}")
    assert response.status_code == 200, response.text
    return Call(subject=record["id"])


def shows_receipt(response: httpx.Response, call: Call) -> object:
    return call.subject in {item["recordId"] for item in response.json()["items"]}


def agr_subscriber(world: World) -> Call:
    return Call({"agreementId": "agr-subscriber"})


def requested_agreement(world: World) -> Call:
    """Setup: the subscriber asks the provider for capacity snapshots (status `requested`)."""
    terms = {
        "providerId": "org-provider",
        "recordTypes": [TYPE],
        "serviceIds": None,
        "purpose": "Hospital discharge planning.",
        "legalBasis": "UK GDPR Article 6(1)(e) public task.",
    }
    response = world.call("subscriber", "POST", "/v1/agreements", json=terms)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "requested"
    return Call({"agreementId": response.json()["id"]})


def new_organisation(world: World) -> Call:
    return Call(kwargs={"json": {"name": "Rowan Care Homes Ltd", "kind": "provider"}})


def new_client(world: World) -> Call:
    form = {
        "organisationId": "org-provider",
        "name": "Care-planning system",
        "scopes": [f"{TYPE}:read"],
        "authMethod": "client_secret_basic",
    }
    return Call(kwargs={"json": form})


def existing_client(world: World) -> Call:
    """Setup: the administrator registers a spare client for the provider."""
    made = world.call("admin", "POST", "/v1/admin/clients", json=new_client(world).kwargs["json"])
    assert made.status_code == 201, made.text
    return Call({"clientId": made.json()["clientId"]})


RETURN_TEMPLATE = "matrix-return"


def return_template(template_id: str = RETURN_TEMPLATE, version: str = "1.0.0") -> dict[str, Any]:
    """A one-field monthly return over capacity snapshots."""
    return {
        "templateType": "return-template",
        "id": template_id,
        "version": version,
        "title": "Registered places",
        "owner": {"name": "Example HSCP"},
        "recordTypes": [TYPE],
        "period": {"kind": "month"},
        "fields": [
            {
                "code": "REG",
                "label": "Registered places",
                "valueType": "integer",
                "expression": "capacitySnapshot[-1].registeredPlaces",
                "dependsOn": [f"{TYPE}/registeredPlaces"],
                "match": "exact",
            }
        ],
    }


def new_return_template(world: World) -> Call:
    return Call(kwargs={"json": return_template("matrix-new-return")})


def declared_template(world: World, **kwargs: Any) -> Call:
    """Setup: the subscriber declares a return template; the provider sees it (agr-subscriber)."""
    response = world.call("subscriber", "POST", "/v1/return-templates", json=return_template())
    assert response.status_code == 201, response.text
    return Call({"templateId": RETURN_TEMPLATE}, kwargs, subject=RETURN_TEMPLATE)


def new_template_version(world: World) -> Call:
    return declared_template(world, json=return_template(version="1.1.0"))


def shipped_return(world: World) -> Call:
    """Setup: a template the server ships (seen by everyone, so only the service's entitlement
    decides), and a capacity snapshot of svc-p1 published in November 2026."""
    app = world.client.app
    app.state.shipped_templates = {RETURN_TEMPLATE: load_template(return_template())}  # type: ignore[attr-defined]
    record = example_record(TYPE, "svc-p1") | {"asAt": "2026-11-02T09:00:00Z"}
    published = world.call("provider", "POST", f"/v1/records/{TYPE}", json=record)
    assert published.status_code == 201, published.text
    query = {"serviceId": "svc-p1", "period": "2026-11"}
    return Call({"templateId": RETURN_TEMPLATE}, {"params": query}, subject=record["id"])


def filled_from_the_record(response: httpx.Response, call: Call) -> object:
    """Whether the return was computed from the record (or, not entitled to its type, without)."""
    return call.subject in response.json()["sources"][TYPE]


# Scope `returns`: providers and subscribers hold it. A subscriber's template is seen by its
# owner and by the providers it holds agreements with (the provider, through agr-subscriber).
RETURN_TEMPLATE_READ = Cells(
    anonymous=401,
    no_scope=403,
    provider=200,
    other_provider=404,
    vendor=403,
    other_vendor=403,
    subscriber=200,
    other_subscriber=404,
    admin=403,
)


def lists_subject(response: httpx.Response, call: Call) -> object:
    """Whether a listing shows the object the setup made (or the world holds)."""
    return call.subject in {item["id"] for item in response.json()["items"]}


def first_result_status(response: httpx.Response, call: Call) -> object:
    return response.json()["results"][0]["status"]


SEES = {
    "provider": True,
    "other_provider": False,
    "vendor": True,
    "other_vendor": False,
    "subscriber": True,
    "other_subscriber": False,
}

# Listings of records of svc-p1: every reader gets a page, showing the record or not (SEES).
LISTING = Cells(
    anonymous=401,
    no_scope=403,
    provider=200,
    other_provider=200,
    vendor=200,
    other_vendor=200,
    subscriber=200,
    other_subscriber=200,
    admin=403,
)

# Bearer tokens are no client authentication; the design answers 401 invalid_client.
OAUTH = Cells(
    anonymous=401,
    no_scope=401,
    provider=401,
    other_provider=401,
    vendor=401,
    other_vendor=401,
    subscriber=401,
    other_subscriber=401,
    admin=401,
)

# A record the provider published for svc-p1: the provider and its delegate (vendor) see it, the
# subscriber sees it under agr-subscriber; the other provider, vendor and subscriber get 404 (its
# existence is never revealed); tokens with neither {type}:read nor {type}:publish get 403.
READ_RECORD = Cells(
    anonymous=401,
    no_scope=403,
    provider=200,
    other_provider=404,
    vendor=200,
    other_vendor=404,
    subscriber=200,
    other_subscriber=404,
    admin=403,
)


# Reads of that record by the entitlement columns: 403 without the read scope, otherwise the
# record is not theirs to see, so 404; listings answer 200 without it (ENTITLED_SEE).
ENTITLED_READ = EntitledCells(
    narrow_subscriber=403, typed_subscriber=404, service_subscriber=404, lapsed_subscriber=404
)
ENTITLED_LISTING = EntitledCells(
    narrow_subscriber=403, typed_subscriber=200, service_subscriber=200, lapsed_subscriber=200
)
ENTITLED_SEE = {"typed_subscriber": False, "service_subscriber": False, "lapsed_subscriber": False}


def change_record(status: int) -> Cells:
    """PUT/DELETE of that record: {type}:publish first (403), then visibility (404)."""
    return Cells(
        anonymous=401,
        no_scope=403,
        provider=status,
        other_provider=404,
        vendor=status,
        other_vendor=404,
        subscriber=403,
        other_subscriber=403,
        admin=403,
    )


# Provider-only views under scope `agreements` (held by providers, subscribers and the admin).
PROVIDERS_ONLY = Cells(
    anonymous=401,
    no_scope=403,
    provider=200,
    other_provider=200,
    vendor=403,
    other_vendor=403,
    subscriber=403,
    other_subscriber=403,
    admin=403,
)


# Scope `subscriptions`: providers and subscribers hold it; a subscription is its owner's alone.
def subscription_owner(status: int) -> Cells:
    return Cells(
        anonymous=401,
        no_scope=403,
        provider=404,
        other_provider=404,
        vendor=403,
        other_vendor=403,
        subscriber=status,
        other_subscriber=404,
        admin=403,
    )


SUBSCRIBERS_TOO = Cells(
    anonymous=401,
    no_scope=403,
    provider=200,
    other_provider=200,
    vendor=403,
    other_vendor=403,
    subscriber=200,
    other_subscriber=200,
    admin=403,
)


# Scope `services`: providers and vendors hold it, subscribers and the administrator do not.
SERVICES_LIST = Cells(
    anonymous=401,
    no_scope=403,
    provider=200,
    other_provider=200,
    vendor=200,
    other_vendor=200,
    subscriber=403,
    other_subscriber=403,
    admin=403,
)


def decide_request() -> Cells:
    """Accept/decline a subscriber's request: only the provider named in it (spec)."""
    return Cells(
        anonymous=401,
        no_scope=404,
        provider=200,
        other_provider=404,
        vendor=403,
        other_vendor=403,
        subscriber=403,
        other_subscriber=404,
        admin=403,
    )


CREATE_DELEGATION_422 = (
    "spec createDelegation: 'Only a provider may delegate, and only its own services (otherwise "
    "403 forbidden)'; the server answers 422 validation_failed (/serviceIds/0) because "
    "directory.delegate checks neither the caller's kind nor ownership as an authorisation rule"
)
NAMES_ANOTHER_SUBSCRIBER = (
    "createAgreement names subscriberId org-subscriber; the server silently replaces it with the "
    "caller's organisation and answers 201 (a request in the caller's name). By analogy with "
    "createService ('providerId must be the caller's organisation, otherwise 403') and 'tenancy "
    "comes from the token', acting in another organisation's name should be 403 forbidden; the "
    "spec does not say so explicitly"
)

MATRIX: dict[str, Row] = {
    # Discovery: public documents.
    "getRoot": Row("GET", "/", nothing, public(200)),
    "getCapabilities": Row("GET", "/.well-known/care-exchange", nothing, public(200)),
    "getAuthorizationServerMetadata": Row(
        "GET", "/.well-known/oauth-authorization-server", nothing, public(200)
    ),
    "getJwks": Row("GET", "/jwks.json", nothing, public(200)),
    "getOpenApiDocument": Row("GET", "/openapi.yaml", nothing, public(200)),
    "getOpenApiJson": Row("GET", "/openapi.json", nothing, public(200)),
    "getApiReference": Row("GET", "/docs", nothing, public(200)),
    "getStandardFile": Row("GET", "/schemas/v1/{folder}/{file}", standard_file, public(200)),
    "getProblemType": Row("GET", "/problems/{code}", problem_type, public(200)),
    # Operations: probes, public.
    "getHealth": Row("GET", "/healthz", nothing, public(200)),
    "getReadiness": Row("GET", "/readyz", nothing, public(200)),
    # OAuth: client authentication, never a bearer token.
    "requestToken": Row("POST", "/oauth/token", oauth_token, OAUTH, with_client_credentials=200),
    "revokeToken": Row(
        "POST", "/oauth/revoke", oauth_about_token, OAUTH, with_client_credentials=200
    ),
    "introspectToken": Row(
        "POST", "/oauth/introspect", oauth_about_token, OAUTH, with_client_credentials=200
    ),
    # Records of svc-p1.
    "publishRecord": Row(
        "POST",
        "/v1/records/{type}",
        new_record,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=201,
            other_provider=403,
            vendor=201,
            other_vendor=403,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
    ),
    "listRecords": Row(
        "GET",
        "/v1/records/{type}",
        listed_record,
        LISTING,
        probe=lists_subject,
        probed={**SEES, **ENTITLED_SEE},
        entitled=ENTITLED_LISTING,
    ),
    "getFeed": Row(
        "GET",
        "/v1/feed/{type}",
        listed_record,
        LISTING,
        probe=lists_subject,
        probed={**SEES, **ENTITLED_SEE},
        entitled=ENTITLED_LISTING,
    ),
    "getRecord": Row(
        "GET", "/v1/records/{type}/{id}", existing_record, READ_RECORD, entitled=ENTITLED_READ
    ),
    "replaceRecord": Row("PUT", "/v1/records/{type}/{id}", replaced_record, change_record(200)),
    "retractRecord": Row("DELETE", "/v1/records/{type}/{id}", retracted_record, change_record(204)),
    "listRecordVersions": Row(
        "GET",
        "/v1/records/{type}/{id}/versions",
        existing_record,
        READ_RECORD,
        entitled=ENTITLED_READ,
    ),
    "publishBulk": Row(
        "POST",
        "/v1/bulk",
        bulk,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=200,
            other_provider=200,
            vendor=200,
            other_vendor=200,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
        # The item is answered as POST /v1/records/{type} would answer it.
        probe=first_result_status,
        probed={"provider": 201, "other_provider": 403, "vendor": 201, "other_vendor": 403},
    ),
    # Directory.
    "getMyOrganisation": Row(
        "GET",
        "/v1/organisations/me",
        nothing,
        Cells(
            anonymous=401,
            no_scope=200,
            provider=200,
            other_provider=200,
            vendor=200,
            other_vendor=200,
            subscriber=200,
            other_subscriber=200,
            admin=200,
        ),
    ),
    "getMyDirectoryEntry": Row(
        "GET",
        DIRECTORY_ENTRY,
        stored_provider_entry,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=200,
            other_provider=404,
            vendor=403,
            other_vendor=403,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
    ),
    "replaceMyDirectoryEntry": Row(
        "PUT",
        DIRECTORY_ENTRY,
        replaced_provider_entry,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=200,
            other_provider=422,
            vendor=403,
            other_vendor=403,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
    ),
    "listServices": Row(
        "GET",
        "/v1/services",
        lambda world: Call(subject="svc-p1"),
        SERVICES_LIST,
        probe=lists_subject,
        probed={key: value for key, value in SEES.items() if "subscriber" not in key},
    ),
    "createService": Row(
        "POST",
        "/v1/services",
        new_service,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=201,
            other_provider=403,
            vendor=403,
            other_vendor=403,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
    ),
    "getService": Row(
        "GET",
        "/v1/services/{serviceId}",
        svc_p1,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=200,
            other_provider=404,
            vendor=200,
            other_vendor=404,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
    ),
    "replaceService": Row(
        "PUT",
        "/v1/services/{serviceId}",
        replaced_svc_p1,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=200,
            other_provider=404,
            vendor=403,
            other_vendor=404,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
    ),
    "listDelegations": Row(
        "GET",
        "/v1/delegations",
        listed_delegation,
        SERVICES_LIST,
        probe=lists_subject,
        probed={key: value for key, value in SEES.items() if "subscriber" not in key},
    ),
    "createDelegation": Row(
        "POST",
        "/v1/delegations",
        new_delegation,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=201,
            other_provider=403,
            vendor=403,
            other_vendor=403,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
    ),
    "revokeDelegation": Row(
        "DELETE",
        "/v1/delegations/{delegationId}",
        dlg_vendor,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=204,
            other_provider=404,
            vendor=403,
            other_vendor=404,
            subscriber=403,
            other_subscriber=403,
            admin=403,
        ),
    ),
    # Agreements (scope `agreements`; vendors do not hold it, the administrator does).
    "listAgreements": Row(
        "GET",
        "/v1/agreements",
        listed_agreement,
        Cells(
            anonymous=401,
            no_scope=200,
            provider=200,
            other_provider=200,
            vendor=403,
            other_vendor=403,
            subscriber=200,
            other_subscriber=200,
            admin=200,
        ),
        probe=lists_subject,
        probed={
            "no_scope": False,
            "provider": True,
            "other_provider": False,
            "subscriber": True,
            "other_subscriber": False,
            "admin": True,
        },
    ),
    "createAgreement": Row(
        "POST",
        "/v1/agreements",
        new_agreement,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=201,
            other_provider=403,
            vendor=403,
            other_vendor=403,
            subscriber=201,
            other_subscriber=403,
            admin=403,
        ),
    ),
    "getAgreement": Row(
        "GET",
        "/v1/agreements/{agreementId}",
        agr_subscriber,
        Cells(
            anonymous=401,
            no_scope=404,
            provider=200,
            other_provider=404,
            vendor=403,
            other_vendor=403,
            subscriber=200,
            other_subscriber=404,
            admin=200,
        ),
    ),
    "acceptAgreement": Row(
        "POST", "/v1/agreements/{agreementId}/accept", requested_agreement, decide_request()
    ),
    "declineAgreement": Row(
        "POST", "/v1/agreements/{agreementId}/decline", requested_agreement, decide_request()
    ),
    "revokeAgreement": Row(
        "POST",
        "/v1/agreements/{agreementId}/revoke",
        agr_subscriber,
        Cells(
            anonymous=401,
            no_scope=404,
            provider=200,
            other_provider=404,
            vendor=403,
            other_vendor=403,
            subscriber=403,
            other_subscriber=404,
            admin=200,
        ),
    ),
    # Feedback: subscribers send it, providers reply; scope `feedback`.
    "createFeedback": Row(
        "POST",
        "/v1/feedback",
        new_feedback,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=403,
            other_provider=403,
            vendor=403,
            other_vendor=403,
            subscriber=201,
            other_subscriber=422,
            admin=403,
        ),
        # Feedback names only records the sender may read (otherwise a field error).
        entitled=EntitledCells(
            narrow_subscriber=422,
            typed_subscriber=422,
            service_subscriber=422,
            lapsed_subscriber=422,
        ),
    ),
    "listFeedback": Row(
        "GET",
        "/v1/feedback",
        sent_feedback,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=200,
            other_provider=200,
            vendor=403,
            other_vendor=403,
            subscriber=200,
            other_subscriber=200,
            admin=403,
        ),
        probe=lists_subject,
        probed={
            "provider": True,
            "other_provider": False,
            "subscriber": True,
            "other_subscriber": False,
        },
    ),
    "getFeedback": Row(
        "GET",
        "/v1/feedback/{feedbackId}",
        sent_feedback,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=200,
            other_provider=404,
            vendor=403,
            other_vendor=403,
            subscriber=200,
            other_subscriber=404,
            admin=403,
        ),
    ),
    "replyToFeedback": Row(
        "POST",
        "/v1/feedback/{feedbackId}/replies",
        feedback_reply,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=201,
            other_provider=404,
            vendor=403,
            other_vendor=403,
            subscriber=403,
            other_subscriber=404,
            admin=403,
        ),
    ),
    # Return templates: scope `returns`; subscribers declare, providers preview.
    "listReturnTemplates": Row(
        "GET",
        "/v1/return-templates",
        declared_template,
        SUBSCRIBERS_TOO,
        probe=lists_subject,
        probed={
            "provider": True,
            "other_provider": False,
            "subscriber": True,
            "other_subscriber": False,
        },
    ),
    "createReturnTemplate": Row(
        "POST",
        "/v1/return-templates",
        new_return_template,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=403,
            other_provider=403,
            vendor=403,
            other_vendor=403,
            subscriber=201,
            other_subscriber=201,
            admin=403,
        ),
    ),
    "getReturnTemplate": Row(
        "GET", "/v1/return-templates/{templateId}", declared_template, RETURN_TEMPLATE_READ
    ),
    # Only the owner retires; the provider sees the template but does not own it (as for a
    # new version); anyone who cannot see it is told it does not exist.
    "retireReturnTemplate": Row(
        "DELETE",
        "/v1/return-templates/{templateId}",
        declared_template,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=403,
            other_provider=404,
            vendor=403,
            other_vendor=403,
            subscriber=204,
            other_subscriber=404,
            admin=403,
        ),
    ),
    "listReturnTemplateVersions": Row(
        "GET",
        "/v1/return-templates/{templateId}/versions",
        declared_template,
        RETURN_TEMPLATE_READ,
    ),
    "createReturnTemplateVersion": Row(
        "POST",
        "/v1/return-templates/{templateId}/versions",
        new_template_version,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=403,
            other_provider=404,
            vendor=403,
            other_vendor=403,
            subscriber=201,
            other_subscriber=404,
            admin=403,
        ),
    ),
    "getReturnTemplateCoverage": Row(
        "GET",
        "/v1/return-templates/{templateId}/coverage",
        declared_template,
        RETURN_TEMPLATE_READ,
    ),
    # A filled return hands out what records say: the provider previews its own service, the
    # subscriber fills it under agr-subscriber; a subscriber whose agreement covers the service
    # but not the type (or without the read scope) gets the return without the record.
    "fillReturn": Row(
        "GET",
        "/v1/return-templates/{templateId}/returns",
        shipped_return,
        RETURN_TEMPLATE_READ,
        probe=filled_from_the_record,
        probed={
            "provider": True,
            "subscriber": True,
            "narrow_subscriber": False,
            "typed_subscriber": False,
        },
        entitled=EntitledCells(
            narrow_subscriber=200,
            typed_subscriber=200,
            service_subscriber=404,
            lapsed_subscriber=404,
        ),
    ),
    # Access receipts: providers only (scope `agreements`), their own.
    "listAccessReceipts": Row(
        "GET",
        "/v1/access-receipts",
        read_by_subscriber,
        PROVIDERS_ONLY,
        probe=shows_receipt,
        probed={"provider": True, "other_provider": False},
    ),
    "summariseAccessReceipts": Row(
        "GET", "/v1/access-receipts/summary", read_by_subscriber, PROVIDERS_ONLY
    ),
    # Subscriptions: scope `subscriptions`; each organisation sees only its own.
    "createSubscription": Row(
        "POST",
        "/v1/subscriptions",
        new_subscription,
        Cells(
            anonymous=401,
            no_scope=403,
            provider=201,
            other_provider=201,
            vendor=403,
            other_vendor=403,
            subscriber=201,
            other_subscriber=201,
            admin=403,
        ),
        # The types of a subscription need the read scope; agreements only narrow what it hears.
        entitled=EntitledCells(
            narrow_subscriber=403,
            typed_subscriber=201,
            service_subscriber=201,
            lapsed_subscriber=201,
        ),
    ),
    "listSubscriptions": Row(
        "GET",
        "/v1/subscriptions",
        own_subscription,
        SUBSCRIBERS_TOO,
        probe=lists_subject,
        probed={
            "provider": False,
            "other_provider": False,
            "subscriber": True,
            "other_subscriber": False,
        },
    ),
    "getSubscription": Row(
        "GET", "/v1/subscriptions/{subscriptionId}", own_subscription, subscription_owner(200)
    ),
    "updateSubscription": Row(
        "PATCH",
        "/v1/subscriptions/{subscriptionId}",
        paused_subscription,
        subscription_owner(200),
    ),
    "deleteSubscription": Row(
        "DELETE", "/v1/subscriptions/{subscriptionId}", own_subscription, subscription_owner(204)
    ),
    "rotateSubscriptionSecret": Row(
        "POST",
        "/v1/subscriptions/{subscriptionId}/rotate-secret",
        own_subscription,
        subscription_owner(200),
    ),
    "getSubscriptionStatus": Row(
        "GET",
        "/v1/subscriptions/{subscriptionId}/status",
        own_subscription,
        subscription_owner(200),
    ),
    "listSubscriptionEvents": Row(
        "GET",
        "/v1/subscriptions/{subscriptionId}/events",
        own_subscription,
        subscription_owner(200),
    ),
    # Administration.
    "listOrganisations": Row("GET", "/v1/admin/organisations", nothing, admin_only(200)),
    "createOrganisation": Row("POST", "/v1/admin/organisations", new_organisation, admin_only(201)),
    "listClients": Row("GET", "/v1/admin/clients", nothing, admin_only(200)),
    "createClient": Row("POST", "/v1/admin/clients", new_client, admin_only(201)),
    "deleteClient": Row("DELETE", "/v1/admin/clients/{clientId}", existing_client, admin_only(204)),
}


def spec_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path template), read from the normative spec file."""
    document = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    found: dict[str, tuple[str, str]] = {}
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                found[item[method]["operationId"]] = (method.upper(), path)
    return found


SPEC = spec_operations()


def test_the_matrix_covers_exactly_the_spec() -> None:
    without_row = sorted(set(SPEC) - set(MATRIX))
    not_in_spec = sorted(set(MATRIX) - set(SPEC))
    assert not without_row, f"operations in the spec without a row in MATRIX: {without_row}"
    assert not not_in_spec, f"rows in MATRIX for operations the spec lacks: {not_in_spec}"


@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_each_row_matches_its_operation_and_names_every_principal(operation: str) -> None:
    row = MATRIX[operation]
    assert SPEC.get(operation) == (row.method, row.path)
    assert tuple(row.expect) == PRINCIPALS
    assert set(row.probed) <= {*PRINCIPALS, *ENTITLED}
    assert set(row.disagreements) <= set(PRINCIPALS)
    assert row.entitled is None or tuple(row.entitled) == ENTITLED


def hands_out_record_data(row: Row) -> bool:
    """Reads of records (a record, its versions, listings, the feed), filled returns, and what
    takes a record type or a record on the subscriber's side (subscriptions, feedback)."""
    reads = row.method == "GET" and row.path.startswith(("/v1/records/", "/v1/feed/"))
    returns = row.method == "GET" and row.path.endswith("/returns")
    posts = row.path in ("/v1/subscriptions", "/v1/feedback") and row.method == "POST"
    return reads or returns or posts


def test_every_row_that_hands_out_record_data_has_entitlement_cells() -> None:
    wanted = sorted(operation for operation, row in MATRIX.items() if hands_out_record_data(row))
    assert len(wanted) == 7, wanted
    assert [operation for operation in wanted if MATRIX[operation].entitled is None] == []


# --------------------------------------------------------------------------------------------
# The worlds: a fresh copy for each cell that may change it, one shared by the refusals.
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Template]:
    """The entitlement world of `tests.api.world`, built once per backend for this module."""
    admin_url = "" if request.param == "sqlite" else request.getfixturevalue("postgres_server")
    folder = tmp_path_factory.mktemp("template")
    yield from templates.built(request.param, folder, ISSUER, admin_url, entitlement=True)


@pytest.fixture
def cell_world(template: Template, tmp_path: Path) -> Iterator[World]:
    """That world, fresh for this test, with the parties' real tokens."""
    for world, _ in templates.copied_world(template, tmp_path, ISSUER):
        yield world


@dataclass(frozen=True)
class Shared:
    """The copy of the world the refusals share, and the app that serves it."""

    world: World
    app: FastAPI

    def contents(self) -> str:
        """A digest of every row, once the receipts waiting to be written are written."""
        self.app.state.receipt_book.flush()
        return table_digest(self.app.state.engines[0], CHANGED_BY_REFUSALS)


@pytest.fixture(scope="module")
def shared_world(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """One copy of that world for every refusal on this backend."""
    folder = tmp_path_factory.mktemp("refusals")
    for world, app in templates.copied_world(template, folder, ISSUER):
        yield Shared(world, app)


# --------------------------------------------------------------------------------------------
# The cells.
# --------------------------------------------------------------------------------------------


# Setups that cannot be repeated on one world: a template declared under a fixed id, and one
# the app is made to ship (which a template declared later would meet).
UNREPEATABLE_SETUPS: set[Build] = {declared_template, new_template_version, shipped_return}


def _shares_the_world(row: Row | None, principal: str, expected: int) -> bool:
    return (
        row is not None
        and expected >= 400
        and not row.path.startswith("/oauth/")
        and principal not in row.disagreements
        and row.build not in UNREPEATABLE_SETUPS
    )


def _cells(shared: bool) -> list[Any]:
    cells = []
    for operation in sorted(SPEC):
        row = MATRIX.get(operation)
        for principal in PRINCIPALS:
            expected = row.expect[principal] if row else 0  # type: ignore[literal-required]
            if _shares_the_world(row, principal, expected) is not shared:
                continue
            reason = row.disagreements.get(principal) if row else None
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cells.append(
                pytest.param(operation, principal, marks=marks, id=f"{operation}-{principal}")
            )
    return cells


def _entitlement_cells(shared: bool) -> list[Any]:
    return [
        pytest.param(operation, principal, id=f"{operation}-{principal}")
        for operation, row in sorted(MATRIX.items())
        if row.entitled is not None
        for principal in ENTITLED
        if _shares_the_world(row, principal, row.entitled[principal]) is shared  # type: ignore[literal-required]
    ]


def _check_error_shape(row: Row, response: httpx.Response) -> None:
    """The error body the design gives each kind of refusal."""
    if row.path.startswith("/oauth/"):
        assert response.json()["error"] == "invalid_client", response.text
        return
    assert response.headers["content-type"] == "application/problem+json", response.text
    code = response.json()["code"]
    if response.status_code == 401:
        assert code == "invalid_token"
        assert response.headers["www-authenticate"].startswith("Bearer ")
    elif response.status_code == 403:
        assert code in ("insufficient_scope", "forbidden"), response.text
    elif response.status_code == 404:
        assert code == "not_found", response.text


def _check_cell(world: World, row: Row, principal: str, expected: int) -> None:
    _check_call(world, row, principal, expected, row.build(world))


def _check_call(world: World, row: Row, principal: str, expected: int, call: Call) -> None:
    path = row.path.format(**call.params)
    caller = None if principal == "anonymous" else principal
    response = world.call(caller, row.method, path, **call.kwargs)
    assert response.status_code == expected, (
        f"{row.method} {path} as {principal}: expected {expected}, got "
        f"{response.status_code}: {response.text[:500]}"
    )
    if expected >= 400:
        _check_error_shape(row, response)
    if row.probe is not None and principal in row.probed:
        assert row.probe(response, call) == row.probed[principal], response.text[:500]


def _check_refusal(shared: Shared, row: Row, principal: str, expected: int) -> None:
    call = row.build(shared.world)
    before = shared.contents()
    _check_call(shared.world, row, principal, expected, call)
    assert shared.contents() == before, f"{row.method} {row.path} as {principal} changed rows"


@pytest.mark.parametrize(("operation", "principal"), _cells(shared=False))
def test_cell(cell_world: World, operation: str, principal: str) -> None:
    row = MATRIX.get(operation)
    if row is None:
        pytest.fail(f"{operation} is in the spec but has no row in MATRIX")
    expected: int = row.expect[principal]  # type: ignore[literal-required]
    _check_cell(cell_world, row, principal, expected)


@pytest.mark.parametrize(("operation", "principal"), _cells(shared=True))
def test_refused_cell(shared_world: Shared, operation: str, principal: str) -> None:
    row = MATRIX[operation]
    _check_refusal(shared_world, row, principal, row.expect[principal])  # type: ignore[literal-required]


@pytest.mark.parametrize(("operation", "principal"), _entitlement_cells(shared=False))
def test_entitlement_cell(cell_world: World, operation: str, principal: str) -> None:
    row = MATRIX[operation]
    assert row.entitled is not None
    expected: int = row.entitled[principal]  # type: ignore[literal-required]
    _check_cell(cell_world, row, principal, expected)


@pytest.mark.parametrize(("operation", "principal"), _entitlement_cells(shared=True))
def test_refused_entitlement_cell(shared_world: Shared, operation: str, principal: str) -> None:
    row = MATRIX[operation]
    assert row.entitled is not None
    _check_refusal(shared_world, row, principal, row.entitled[principal])  # type: ignore[literal-required]


@pytest.mark.parametrize(
    "operation",
    sorted(op for op, row in MATRIX.items() if row.with_client_credentials is not None),
)
def test_oauth_endpoints_accept_client_authentication(cell_world: World, operation: str) -> None:
    """The positive control of the OAuth rows: the same request, client-authenticated, works."""
    row = MATRIX[operation]
    call = row.build(cell_world)
    party = cell_world["provider"]
    response = cell_world.client.request(
        row.method, row.path, auth=(party.client_id, party.secret), **call.kwargs
    )
    assert response.status_code == row.with_client_credentials, response.text
