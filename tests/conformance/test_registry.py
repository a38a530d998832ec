"""Check ids are stable and well formed, every clause points at a rule, and selection works."""

from __future__ import annotations

import pytest

from care_exchange_conformance import checks
from care_exchange_conformance.registry import REGISTRY, Check, Level, check, select
from care_exchange_standard.files import ROOT
from care_exchange_standard.spec import load_spec


def _resolve(document: object, pointer: str) -> object:
    for part in pointer.strip("/").split("/"):
        assert isinstance(document, dict), pointer
        document = document[part.replace("~1", "/").replace("~0", "~")]
    return document


def test_every_clause_names_a_file_of_the_standard_and_a_node_in_it() -> None:
    assert checks.AREAS
    for found in REGISTRY.values():
        path, _, pointer = found.clause.partition("#")
        if path == "spec/openapi.yaml":
            _resolve(load_spec().document, pointer)
        else:
            assert (ROOT / path).is_file(), found.clause


def test_an_id_must_be_well_formed_and_registered_once() -> None:
    with pytest.raises(ValueError, match="not a check id"):
        check("CX-disc-1", "bad", clause="spec/openapi.yaml")
    with pytest.raises(ValueError, match="registered twice"):
        check("CX-DISC-001", "again", clause="spec/openapi.yaml")


def _made(check_id: str, level: Level) -> Check:
    return Check(check_id, check_id, "spec/openapi.yaml", level, lambda context: None)


def ids(chosen: list[Check]) -> list[str]:
    return [found.id for found in chosen]


def test_selection_by_pattern_and_level_in_id_order() -> None:
    pool = [
        _made("CX-FEED-002", Level.REQUIRED),
        _made("CX-AUTH-001", Level.RECOMMENDED),
        _made("CX-FEED-001", Level.REQUIRED),
        _made("CX-AUTH-002", Level.REQUIRED),
    ]
    assert ids(select(pool)) == ["CX-AUTH-001", "CX-AUTH-002", "CX-FEED-001", "CX-FEED-002"]
    assert ids(select(pool, level=Level.REQUIRED)) == ["CX-AUTH-002", "CX-FEED-001", "CX-FEED-002"]
    assert ids(select(pool, only=["cx-feed-*"])) == ["CX-FEED-001", "CX-FEED-002"]
    assert ids(select(pool, only=["CX-FEED-*"], skip=["*-002"])) == ["CX-FEED-001"]
    assert pool[0].area == "FEED"
