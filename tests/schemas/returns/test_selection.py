"""Which records a return's expressions are given: the latest only, where that is all they read."""

from __future__ import annotations

from typing import Any

import pytest

from care_exchange_standard.returns import fill, load_template
from care_exchange_standard.returns.selection import latest_only
from tests.schemas.returns.conftest import SERVICE, template

KEYS = ("capacitySnapshot", "workforceSnapshot")


@pytest.mark.parametrize(
    ("expressions", "latest"),
    [
        (["capacitySnapshot[-1].registeredPlaces"], set(KEYS)),
        (["capacitySnapshot[-1] ? $sum([capacitySnapshot[-1].beds.places])"], set(KEYS)),
        (["capacitySnapshot[-1].id", "$count(capacitySnapshot)"], {"workforceSnapshot"}),
        (["capacitySnapshot[0].id"], {"workforceSnapshot"}),
        (["capacitySnapshot[-1][0].id"], {"workforceSnapshot"}),
        (["($c := capacitySnapshot; $c[-1].id)"], {"workforceSnapshot"}),
        (["$count($.capacitySnapshot)"], set()),  # the input read whole
        (["$keys($$)"], set()),
        (["capacitySnapshot[-1].beds[$ = 1]"], set()),
        (["$count(capacitySnapshot.**)"], set()),  # outside the native part: nothing is trimmed
    ],
)
def test_a_key_is_trimmed_to_its_latest_record_only_when_nothing_reads_more(
    expressions: list[str], latest: set[str]
) -> None:
    assert latest_only(tuple(expressions), KEYS) == latest


def test_a_return_over_latest_records_is_filled_as_over_all_of_them(
    records: list[dict[str, Any]],
) -> None:
    """REG reads the latest snapshot only; with SNAPSHOTS counting them, nothing is trimmed."""
    both = load_template(template())
    document = template()
    document["fields"] = [both.fields[0]]
    alone = load_template(document)
    assert latest_only(("capacitySnapshot[-1].registeredPlaces",), ("capacitySnapshot",))
    filled = [fill(t, records, service_id=SERVICE, period="2026-10") for t in (both, alone)]
    assert filled[0].fields[0] == filled[1].fields[0]
    assert filled[1].fields[0].value == 60
    assert (
        filled[0].sources
        == filled[1].sources
        == {"capacity-snapshot": ["cap-oct-03", "cap-oct-28"]}
    )
