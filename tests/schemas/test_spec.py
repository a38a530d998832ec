"""The standard's loader of the OpenAPI document, shared by the server, the suite and the SDK."""

from __future__ import annotations

import yaml

from care_exchange_standard.files import SPEC_FILE
from care_exchange_standard.spec import load_spec


def test_every_operation_of_the_document_is_listed_once() -> None:
    document = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    declared = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }
    listed = [(operation.method, operation.path) for operation in load_spec().operations()]
    assert len(listed) == len(set(listed)) == len(declared) > 40
    assert set(listed) == declared


def test_a_component_validator_follows_references_into_the_standard() -> None:
    envelope = load_spec().component("RecordEnvelope")
    good = {
        "recordType": "capacity-snapshot",
        "id": "2f0c6a52-8d0e-4b7e-9a51-0c7f3c1e9b01",
        "version": 1,
        "state": "retracted",
        "serviceId": "CS2003001025",
        "providerId": "prov-thistle",
        "submittedBy": "cli-1",
        "publishedAt": "2026-11-01T10:15:00Z",
    }
    assert envelope.is_valid(good)
    assert not envelope.is_valid({**good, "publishedAt": "yesterday"})
    assert not envelope.is_valid({key: value for key, value in good.items() if key != "id"})
