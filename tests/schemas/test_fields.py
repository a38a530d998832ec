from __future__ import annotations

from care_exchange_standard import Standard
from care_exchange_standard.fields import field_path


def test_index_follows_refs_and_array_items(standard: Standard) -> None:
    fields = standard.types["capacity-snapshot"].fields
    occupied = fields[("beds", "*", "occupied")]
    assert occupied.name == "beds.occupied"
    assert occupied.required
    assert occupied.schema["type"] == "integer"  # from common/record.json via $ref
    assert occupied.title == "Occupied"  # the sibling title wins over the shared one


def test_index_reads_codelist_markers(standard: Standard) -> None:
    fields = standard.types["capacity-snapshot"].fields
    assert fields[("beds", "*", "careLevel")].codelist == "care-levels.csv"
    assert not fields[("beds", "*", "careLevel")].open_codelist
    reason = fields[("beds", "*", "notAvailableReasons", "*", "reason")]
    assert reason.open_codelist


def test_optional_fields_are_not_required(standard: Standard) -> None:
    fields = standard.types["capacity-snapshot"].fields
    assert not fields[("notes",)].required
    assert not fields[("admissions", "reasons")].required  # only when closed, by if/then


def test_field_path_replaces_indices() -> None:
    assert field_path(["beds", 3, "occupied"]) == ("beds", "*", "occupied")
    assert field_path([]) == ()


def test_every_type_has_a_field_for_every_declared_property(standard: Standard) -> None:
    for info in standard.types.values():
        for name in info.schema["properties"]:
            assert (name,) in info.fields, f"{info.name}.{name}"
