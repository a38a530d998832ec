"""The SDK's TypedDicts say what the spec's components say: the same members, the same
required ones, nested objects included, and the same enumerations."""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

import pytest

from care_exchange_client import types as sdk
from care_exchange_standard.spec import SPEC_URI, load_spec

COMPONENTS: dict[str, Any] = {
    "RootDocument": sdk.RootDocument,
    "CapabilityDocument": sdk.CapabilityDocument,
    "Health": sdk.Health,
    "Readiness": sdk.Readiness,
    "AuthorizationServerMetadata": sdk.AuthorizationServerMetadata,
    "Jwk": sdk.Jwk,
    "Jwks": sdk.Jwks,
    "TokenResponse": sdk.TokenResponse,
    "IntrospectionResponse": sdk.IntrospectionResponse,
    "OAuthError": sdk.OAuthErrorBody,
    "RecordEnvelope": sdk.RecordEnvelope,
    "FeedItem": sdk.FeedItem,
    "FeedPage": sdk.FeedPage,
    "FeedbackPeriod": sdk.FeedbackPeriod,
    "FeedbackRequest": sdk.FeedbackRequest,
    "FeedbackReplyRequest": sdk.FeedbackReplyRequest,
    "FeedbackReply": sdk.FeedbackReply,
    "Feedback": sdk.Feedback,
    "SubscriptionFilter": sdk.SubscriptionFilter,
    "SubscriptionChannel": sdk.SubscriptionChannel,
    "SubscriptionRequest": sdk.SubscriptionRequest,
    "SubscriptionUpdate": sdk.SubscriptionUpdate,
    "Subscription": sdk.Subscription,
    "SubscriptionCreated": sdk.SubscriptionCreated,
    "SubscriptionSecret": sdk.SubscriptionSecret,
    "SubscriptionStatus": sdk.SubscriptionStatus,
    "Event": sdk.Event,
    "EventPage": sdk.EventPage,
    "AccessReceipt": sdk.AccessReceipt,
    "AccessReceiptSummary": sdk.AccessReceiptSummary,
    "BulkRequest": sdk.BulkRequest,
    "BulkResult": sdk.BulkResult,
    "BulkItemPublished": sdk.BulkItemPublished,
    "BulkItemFailed": sdk.BulkItemFailed,
    "Organisation": sdk.Organisation,
    "OrganisationRequest": sdk.OrganisationRequest,
    "DelegationRequest": sdk.DelegationRequest,
    "Delegation": sdk.Delegation,
    "AgreementRequest": sdk.AgreementRequest,
    "Agreement": sdk.Agreement,
    "ClientRequest": sdk.ClientRequest,
    "Client": sdk.OAuthClient,
    "ClientCreated": sdk.ClientCreated,
    "Problem": sdk.Problem,
    "ProblemError": sdk.ProblemItem,
    "RateLimit": sdk.RateLimit,
}
PAGES = [
    "RecordPage",
    "FeedbackPage",
    "SubscriptionPage",
    "AccessReceiptPage",
    "OrganisationPage",
    "ServicePage",
    "DelegationPage",
    "AgreementPage",
    "ClientPage",
]
# Form-encoded OAuth requests: built inside the SDK (and by Authlib), never by callers.
FORMS = {"TokenRequest", "RevocationRequest", "IntrospectionRequest"}
ENUMS = {
    "RecordType": sdk.RecordType,
    "FeedbackKind": sdk.FeedbackKind,
    "AgreementStatus": sdk.AgreementStatus,
    "OrganisationKind": sdk.OrganisationKind,
    "AuthMethod": sdk.AuthMethod,
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema and schema["$ref"].startswith(SPEC_URI):
        schema = load_spec().resolve(schema["$ref"])
    return schema


def _object(schema: dict[str, Any]) -> tuple[set[str], set[str]] | None:
    """(members, required) of an object schema, through allOf and oneOf; None if not one."""
    schema = _resolve(schema)
    members: set[str] = set(schema.get("properties", {}))
    required: set[str] = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        found = _object(part)
        if found:
            members |= found[0]
            required |= found[1]
    choices = [c for c in (_object(p) for p in schema.get("oneOf", [])) if c and c[0]]
    if choices:
        members |= set().union(*(c[0] for c in choices))
        required |= set.intersection(*(c[1] for c in choices))
    return (members, required) if members else None


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(schema)
    found = dict(schema.get("properties", {}))
    for part in [*schema.get("allOf", []), *schema.get("oneOf", [])]:
        found.update(_properties(part))
    return found


def _typed_dicts(hint: Any) -> list[Any]:
    """The TypedDicts inside a hint (through Optional, unions and lists)."""
    if hasattr(hint, "__required_keys__"):
        return [hint]
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType, list):
        return [td for arg in get_args(hint) for td in _typed_dicts(arg)]
    return []


def _compare(name: str, schema: dict[str, Any], typed: Any) -> list[str]:
    shape = _object(schema)
    assert shape is not None, name
    members, required = shape
    problems = []
    keys = set(typed.__required_keys__) | set(typed.__optional_keys__)
    if keys != members:
        problems.append(f"{name}: members {sorted(keys ^ members)} differ")
    if set(typed.__required_keys__) != required:
        problems.append(
            f"{name}: required {sorted(set(typed.__required_keys__) ^ required)} differ"
        )
    hints = typing.get_type_hints(typed)
    for member, member_schema in _properties(schema).items():
        nested = _typed_dicts(hints.get(member))
        sub = _resolve(member_schema)
        sub = _resolve(sub.get("items", sub)) if sub.get("type") == "array" else sub
        choices = [_resolve(c) for c in sub.get("oneOf", [sub])]
        objects = [c for c in choices if _object(c)]
        if len(nested) == 1 and len(objects) > 1:  # one TypedDict for a choice of objects
            problems += _compare(f"{name}.{member}", sub, nested[0])
            continue
        for choice, typed_choice in zip(objects, nested, strict=False):
            problems += _compare(f"{name}.{member}", choice, typed_choice)
    return problems


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_typed_dict_matches_its_component(component: str) -> None:
    schema = load_spec().document["components"]["schemas"][component]
    assert _compare(component, schema, COMPONENTS[component]) == []


@pytest.mark.parametrize("component", PAGES)
def test_pages_are_items_and_a_next_page_token(component: str) -> None:
    shape = _object(load_spec().document["components"]["schemas"][component])
    assert shape == ({"items", "nextPageToken"}, {"items", "nextPageToken"})
    assert set(sdk.Page.__required_keys__) == {"items", "nextPageToken"}


def test_every_object_component_is_typed() -> None:
    schemas = load_spec().document["components"]["schemas"]
    objects = {name for name, schema in schemas.items() if _object(schema)}
    assert objects - set(COMPONENTS) - set(PAGES) - FORMS == set()


@pytest.mark.parametrize("component", sorted(ENUMS))
def test_literals_match_the_spec_enumerations(component: str) -> None:
    schema = load_spec().document["components"]["schemas"][component]
    assert set(get_args(ENUMS[component])) == set(schema["enum"])


def test_event_types_match_the_spec() -> None:
    schema = load_spec().document["components"]["schemas"]["Event"]
    assert set(get_args(sdk.EventType)) == set(schema["properties"]["type"]["enum"])
