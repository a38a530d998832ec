"""Every operation of the spec has a method on both clients, at the spec's method and path.

When the spec gains an operation the SDK lacks, `test_every_spec_operation_has_a_method` fails
naming it: add its builder to `operations.py` and its line to `methods.Operations`.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Iterator
from typing import Any

import pytest

from care_exchange_client import AsyncClient, Client
from care_exchange_client.methods import Operations, operation_method, paged_method
from care_exchange_client.operations import OPERATIONS, WEBHOOKS
from care_exchange_standard.spec import load_spec

SPEC_OPERATIONS = {op.operation_id: op for op in load_spec().operations()}
SPEC_WEBHOOKS = {
    declared["operationId"]
    for item in load_spec().document.get("webhooks", {}).values()
    for declared in item.values()
}


# Lists whose walk is a method of its own, resumable by more than a page token.
WALKS = {"listSubscriptionEvents": "events"}


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[Client, AsyncClient]]:
    """One of each, made once: a client builds an SSL context, which takes a while."""
    sync, asynchronous = Client("http://127.0.0.1:9"), AsyncClient("http://127.0.0.1:9")
    yield sync, asynchronous
    sync.close()
    asyncio.run(asynchronous.aclose())


def snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def test_every_spec_operation_has_a_method() -> None:
    missing = sorted(set(SPEC_OPERATIONS) - set(OPERATIONS))
    assert not missing, f"operations in spec/openapi.yaml without an SDK method: {missing}"


def test_the_sdk_has_no_operation_the_spec_lacks() -> None:
    assert not set(OPERATIONS) - set(SPEC_OPERATIONS)


def test_every_webhook_of_the_spec_has_a_receiver() -> None:
    assert set(WEBHOOKS) == SPEC_WEBHOOKS


@pytest.mark.parametrize("operation_id", sorted(SPEC_OPERATIONS))
def test_the_method_matches_the_spec(
    operation_id: str, clients: tuple[Client, AsyncClient]
) -> None:
    declared = SPEC_OPERATIONS[operation_id]
    mapped = OPERATIONS[operation_id]
    assert (mapped.method, mapped.path) == (declared.method, declared.path)
    assert mapped.name == snake(operation_id)
    descriptor = inspect.getattr_static(Operations, mapped.name)
    assert isinstance(descriptor, operation_method | paged_method)
    assert descriptor.build.__name__ == mapped.name
    for client in clients:
        assert callable(getattr(client, mapped.name))


@pytest.mark.parametrize("operation_id", sorted(SPEC_OPERATIONS))
def test_list_operations_and_only_they_page(operation_id: str) -> None:
    declared = SPEC_OPERATIONS[operation_id]
    names = {
        p.get("$ref", "").rsplit("/", 1)[-1] for p in declared.declaration.get("parameters", [])
    }
    descriptor = inspect.getattr_static(Operations, OPERATIONS[operation_id].name)
    pages = "PageToken" in names
    walked_elsewhere = operation_id in WALKS and hasattr(Operations, WALKS[operation_id])
    assert (isinstance(descriptor, paged_method) or walked_elsewhere) == pages


@pytest.mark.parametrize("operation_id", sorted(SPEC_OPERATIONS))
def test_posts_that_take_an_idempotency_key_get_one(operation_id: str) -> None:
    declared = SPEC_OPERATIONS[operation_id]
    names = {
        p.get("$ref", "").rsplit("/", 1)[-1] for p in declared.declaration.get("parameters", [])
    }
    build = inspect.getattr_static(Operations, OPERATIONS[operation_id].name).build
    takes_key = "idempotency_key" in inspect.signature(build).parameters
    assert takes_key == ("IdempotencyKey" in names)


def _parameters(operation_id: str) -> list[dict[str, Any]]:
    declared = SPEC_OPERATIONS[operation_id]
    found = []
    for parameter in [*declared.shared_parameters, *declared.declaration.get("parameters", [])]:
        if "$ref" in parameter:
            parameter = load_spec().resolve(parameter["$ref"])
        found.append(dict(parameter))
    return found


@pytest.mark.parametrize("operation_id", sorted(SPEC_OPERATIONS))
def test_every_query_parameter_and_if_match_is_a_keyword(operation_id: str) -> None:
    build = inspect.getattr_static(Operations, OPERATIONS[operation_id].name).build
    keywords = set(inspect.signature(build).parameters)
    wanted = {
        p["name"].lower().replace("-", "_") if p["in"] == "header" else snake(p["name"])
        for p in _parameters(operation_id)
        if p["in"] == "query" or p["name"] == "If-Match"
    }
    assert wanted <= keywords, f"{operation_id} lacks {sorted(wanted - keywords)}"
