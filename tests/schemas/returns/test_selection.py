"""Which records a return's expressions are given, in what order, and the latest only where
that is all they read."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_exchange_standard.returns import fill, load_template
from care_exchange_standard.returns.selection import _in_time_order, _sort_key, latest_only
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


_MOMENTS = st.builds(
    lambda day, hour, minute, offset: f"2026-10-{day:02d}T{hour:02d}:{minute:02d}:00{offset}",
    st.integers(24, 26),
    st.integers(0, 23),
    st.sampled_from([0, 30]),
    st.sampled_from(["Z", "+00:00", "+01:00", "-05:00"]),
)


@given(
    st.lists(
        st.tuples(_MOMENTS, st.sampled_from(["a", "b", "c"])),
        max_size=6,
    ),
    st.booleans(),
)
def test_records_are_put_in_time_order_as_their_moments_say(
    moments: list[tuple[str, str]], one_offset: bool
) -> None:
    """Written alike, they sort as text; otherwise by the instant; the id breaks ties."""
    if one_offset:
        moments = [(moment[:19] + "+01:00", name) for moment, name in moments]
    records = [{"id": name, "asAt": moment} for moment, name in moments]
    assert _in_time_order(records) == sorted(records, key=_sort_key)
