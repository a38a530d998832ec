"""Whatever bytes arrive, reading ends in records, cell problems or one TableError: never another
exception (hypothesis mutates real files: bytes flipped, cut, and XML parts damaged)."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from care_exchange_standard.tables import TableError, read_table
from tests.schemas.tables.conftest import examples, spreadsheet

CAPACITY = "capacity-snapshot"
XLSX = spreadsheet(CAPACITY, "xlsx", examples(CAPACITY))
CSV = spreadsheet(CAPACITY, "csv", examples(CAPACITY))
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def survive(data: bytes, name: str) -> None:
    try:
        for row in read_table(io.BytesIO(data), name=name):
            assert isinstance(row.record, dict)
    except TableError as error:
        message = str(error)
        assert message and "\n" not in message


@FUZZ
@given(st.binary(max_size=2000))
@pytest.mark.parametrize("name", ["a.csv", "a.xlsx"])
def test_random_bytes(name: str, data: bytes) -> None:
    survive(data, name)


@FUZZ
@given(st.data())
@pytest.mark.parametrize("original", [CSV, XLSX], ids=["csv", "xlsx"])
def test_flipped_and_cut_files(original: bytes, data: st.DataObject) -> None:
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(mutated)))
    survive(bytes(mutated[:cut]), "a.xlsx" if original is XLSX else "a.csv")


def _parts() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(XLSX)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


PARTS = _parts()


@FUZZ
@given(st.data())
def test_damaged_xml_inside_a_sound_zip(data: st.DataObject) -> None:
    parts = dict(PARTS)
    name = data.draw(st.sampled_from(sorted(parts)))
    body = bytearray(parts[name])
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, max(0, len(body) - 1)))
        body[position : position + 1] = data.draw(st.binary(max_size=3))
    parts[name] = bytes(body)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part, content in parts.items():
            archive.writestr(part, content)
    survive(buffer.getvalue(), "a.xlsx")


@pytest.mark.parametrize("part", sorted(name for name in PARTS if name.endswith(".xml")))
def test_xml_declaring_an_unknown_encoding(part: str) -> None:
    """ElementTree raises LookupError for an encoding it does not know (found by the fuzz
    above): the workbook is damaged, said in one line like any other damage."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in PARTS.items():
            damaged = content.replace(b"UTF-8", b"TF-8", 1)
            archive.writestr(name, damaged if name == part else content)
    survive(buffer.getvalue(), "a.xlsx")
