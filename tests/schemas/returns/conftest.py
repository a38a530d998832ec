"""A small template and records whose filled values are worked out by hand in the tests."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import EXAMPLES

SERVICE = "svc-thistle-court"


def capacity(record_id: str, as_at: str, occupied: tuple[int, int, int]) -> dict[str, Any]:
    """The example nursing home's snapshot with other occupancy (places 40, 16 and 2).

    The places accepting admissions make up the difference, so each row still adds up.
    """
    example = EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json"
    record: dict[str, Any] = copy.deepcopy(json.loads(example.read_text()))
    record |= {"id": record_id, "asAt": as_at}
    for row, taken in zip(record["beds"], occupied, strict=True):
        row["occupied"] = taken
        row["vacantAcceptingAdmissions"] = (
            row["places"] - taken - row["vacantReserved"] - row["vacantNotAvailable"]
        )
    return record


@pytest.fixture
def records() -> list[dict[str, Any]]:
    """Two October snapshots (the later fills as-at returns), one in November, one elsewhere."""
    other = capacity("cap-other", "2026-10-10T09:00:00Z", (1, 1, 1)) | {"serviceId": "svc-x"}
    test = capacity("cap-test", "2026-10-20T09:00:00Z", (0, 0, 0)) | {"testData": True}
    return [
        capacity("cap-oct-28", "2026-10-28T09:00:00+00:00", (30, 10, 1)),
        capacity("cap-oct-03", "2026-10-03T09:00:00+01:00", (36, 15, 1)),
        capacity("cap-nov-02", "2026-11-02T09:00:00Z", (38, 16, 1)),
        other,
        test,
    ]


def template(**changes: Any) -> dict[str, Any]:
    """A monthly occupancy return over capacity snapshots, with one field of each match."""
    document: dict[str, Any] = {
        "templateType": "return-template",
        "id": "occupancy-monthly",
        "version": "1.0.0",
        "title": "Monthly occupancy",
        "owner": {"name": "Example HSCP"},
        "recordTypes": ["capacity-snapshot"],
        "period": {"kind": "month"},
        "fields": [
            {
                "code": "REG",
                "label": "Registered places at the month's last snapshot",
                "unit": "places",
                "valueType": "integer",
                "expression": "capacitySnapshot[-1].registeredPlaces",
                "dependsOn": ["capacity-snapshot/registeredPlaces"],
                "match": "exact",
            },
            {
                "code": "OCC_NURSING",
                "label": "Nursing places occupied at the month's last snapshot",
                "unit": "places",
                "valueType": "integer",
                "expression": ('$sum(capacitySnapshot[-1].beds[careLevel="nursing"].occupied)'),
                "dependsOn": [
                    "capacity-snapshot/beds/careLevel",
                    "capacity-snapshot/beds/occupied",
                ],
                "match": "derived",
            },
            {
                "code": "AVG_OCC",
                "label": "Mean occupied places over the month's snapshots",
                "unit": "places",
                "valueType": "number",
                "expression": "$average(capacitySnapshot.$sum(beds.occupied))",
                "dependsOn": ["capacity-snapshot/beds/occupied"],
                "match": "derived",
            },
            {
                "code": "SNAPSHOTS",
                "label": "Snapshots published in the month",
                "valueType": "integer",
                "expression": "$count(capacitySnapshot)",
                "dependsOn": ["capacity-snapshot/id"],
                "match": "derived",
            },
            {
                "code": "ISOLATION",
                "label": "Places closed for infection control",
                "valueType": "integer",
                "match": "unmapped",
                "reason": "The standard does not yet separate closures for infection control.",
            },
        ],
    }
    return document | changes
