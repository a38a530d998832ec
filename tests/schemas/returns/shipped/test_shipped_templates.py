"""Every shipped template is a sound template of its format, checked, and mostly mapped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from care_exchange_standard import Severity, Standard
from care_exchange_standard.files import SCHEMA_DIR
from care_exchange_standard.returns import (
    check_template,
    load_template,
    shipped_templates,
    template_coverage,
)
from tests.schemas.returns.shipped import records

FORMAT = "https://care-exchange.org/schemas/v1/formats/return-template.json"
SHIPPED = SCHEMA_DIR / "return-templates"
IDS = [
    "nhse-capacity-tracker-care-home",
    "nhse-capacity-tracker-home-care",
    "phs-care-home-census-part-1",
    "care-inspectorate-annual-return-staffing",
    "asc-wds-workplace-bulk-upload",
    "cqc-death-notification",
]
# (fields, exact, derived, unmapped), counted by hand from the template files.
COUNTS = {
    "nhse-capacity-tracker-care-home": (30, 2, 28, 0),
    "nhse-capacity-tracker-home-care": (17, 3, 14, 0),
    "phs-care-home-census-part-1": (18, 2, 16, 0),
    "care-inspectorate-annual-return-staffing": (29, 0, 29, 0),
    "asc-wds-workplace-bulk-upload": (44, 12, 30, 2),
    "cqc-death-notification": (24, 13, 10, 1),
}
# Templates below 95% exact or derived, each with why: none now (ASC-WDS maps 42 of 44; its
# two unmapped columns are account permissions).
SHORT_OF_TARGET: dict[str, str] = {}


def _document(template_id: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SHIPPED / f"{template_id}.json").read_text("utf-8"))
    return document


def test_the_shipped_templates_are_these() -> None:
    assert sorted(shipped_templates()) == sorted(IDS)
    assert sorted(path.stem for path in SHIPPED.glob("*.json")) == sorted(IDS)


@pytest.mark.parametrize("template_id", IDS)
def test_validates_against_the_template_format(standard: Standard, template_id: str) -> None:
    validator = Draft202012Validator(standard.documents[FORMAT], registry=standard.registry)
    document = _document(template_id)
    assert [error.message for error in validator.iter_errors(document)] == []
    assert document["id"] == template_id


@pytest.mark.parametrize("template_id", IDS)
def test_field_codes_are_unique(template_id: str) -> None:
    codes = [field["code"] for field in _document(template_id)["fields"]]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("template_id", IDS)
def test_check_template_accepts_it(template_id: str) -> None:
    assert [str(problem) for problem in check_template(_document(template_id))] == []


@pytest.mark.parametrize("template_id", IDS)
def test_coverage_is_as_counted(template_id: str) -> None:
    coverage = template_coverage(load_template(_document(template_id)))
    found = (coverage["fields"], coverage["exact"], coverage["derived"], coverage["unmapped"])
    assert found == COUNTS[template_id]
    assert all(gap["reason"] for gap in coverage["unmappedFields"])


@pytest.mark.parametrize(
    "template_id",
    [
        pytest.param(
            template_id,
            marks=pytest.mark.xfail(strict=True, reason=SHORT_OF_TARGET[template_id]),
        )
        if template_id in SHORT_OF_TARGET
        else template_id
        for template_id in IDS
    ],
)
def test_at_least_95_percent_is_mapped(template_id: str) -> None:
    assert template_coverage(load_template(_document(template_id)))["mappedShare"] >= 0.95


@pytest.mark.parametrize("template_id", IDS)
def test_code_fields_offer_only_codes_of_the_body(template_id: str) -> None:
    for field in _document(template_id)["fields"]:
        if field["valueType"] == "code":
            assert field["codes"] and all(isinstance(code, str) for code in field["codes"])


def test_the_example_records_are_valid(standard: Standard) -> None:
    every = [
        records.ash_service(),
        records.ash_provider(),
        records.birch_service(),
        *records.ash_capacity(),
        records.ash_workforce(),
        *records.ash_deaths(),
        *records.swift_home_care(),
        *records.birch_movements(),
        *records.birch_fees(),
        *records.birch_workforce(),
    ]
    for record in every:
        _, issues = standard.validate(record)
        assert [str(i) for i in issues if i.severity is Severity.ERROR] == [], record["id"]
