from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter  # type: ignore[import-untyped]

from care_exchange_standard.tables import CellProblem, TableError, read_table
from care_exchange_standard.tables.layout import layout_for
from tests.schemas.tables.conftest import examples, read, spreadsheet

CAPACITY = "capacity-snapshot"
HEADINGS = [column.heading for column in layout_for(CAPACITY).template_columns]


def csv_bytes(*rows: list[str], encoding: str = "utf-8") -> bytes:
    text = "\r\n".join(
        ",".join(f'"{cell}"' if "," in cell else cell for cell in row) for row in rows
    )
    return (text + "\r\n").encode(encoding)


def capacity_line(**cells: str) -> list[str]:
    by_heading = {
        "Record identifier": "cs-1",
        "Service identifier": "svc-1",
        "As at": "2026-11-02 09:00",
        "Registered places": "40",
        "Beds by type: Care level": "Nursing",
        "Beds by type: Places": "40",
        "Beds by type: Occupied": "38",
        "Beds by type: Vacant, accepting admissions": "2",
        "Beds by type: Vacant, reserved": "0",
        "Beds by type: Vacant, not available": "0",
        "Admissions: Status": "open",
    }
    by_heading.update(cells)
    return [by_heading.get(heading, "") for heading in HEADINGS]


def test_a_csv_made_by_hand_with_human_headings() -> None:
    [row] = read(csv_bytes(HEADINGS, capacity_line()), "csv")
    assert row.problems == ()
    assert row.location == "row 2"
    assert row.record == {
        "recordType": CAPACITY,
        "schemaVersion": "1.0",
        "id": "cs-1",
        "serviceId": "svc-1",
        "asAt": "2026-11-02T09:00:00+00:00",
        "registeredPlaces": 40,
        "beds": [
            {
                "careLevel": "nursing",
                "places": 40,
                "occupied": 38,
                "vacantAcceptingAdmissions": 2,
                "vacantReserved": 0,
                "vacantNotAvailable": 0,
            }
        ],
        "admissions": {"status": "open"},
    }


def test_a_csv_headed_by_field_paths_and_a_bom() -> None:
    paths = [column.name for column in layout_for(CAPACITY).template_columns]
    [row] = read(b"\xef\xbb\xbf" + csv_bytes(paths, capacity_line()), "csv")
    assert row.record["beds"][0]["careLevel"] == "nursing"


def line(**cells: str) -> list[str]:
    return [cells.get(heading, "") for heading in HEADINGS]


REASON = "Beds by type: Reasons places are not available: Reason"
PLACES = "Beds by type: Reasons places are not available: Places"


def test_continuation_lines_add_list_rows() -> None:
    data = csv_bytes(
        HEADINGS,
        capacity_line(
            **{"Beds by type: Vacant, not available": "3", REASON: "refurbishment", PLACES: "2"}
        ),
        line(**{"Record identifier": "cs-1"}),
        line(**{REASON: "Staffing", PLACES: "1"}),
        line(
            **{
                "Record identifier": "cs-1",
                "Beds by type: Care level": "residential",
                "Beds by type: Places": "5",
                REASON: "staffing",
                PLACES: "1",
            }
        ),
        capacity_line(**{"Record identifier": "cs-2"}),
    )
    rows = read(data, "csv")
    assert [row.location for row in rows] == ["row 2", "row 6"]
    beds = rows[0].record["beds"]
    assert [bed["careLevel"] for bed in beds] == ["nursing", "residential"]
    assert beds[0]["notAvailableReasons"] == [
        {"reason": "refurbishment", "places": 2},
        {"reason": "staffing", "places": 1},
    ]
    assert beds[1]["notAvailableReasons"] == [{"reason": "staffing", "places": 1}]
    assert rows[0].cell_for("/beds/1/places") == "G5"
    assert rows[1].record["id"] == "cs-2"


def test_cells_that_cannot_be_read_are_problems_at_their_cells() -> None:
    line = capacity_line(**{"Registered places": "forty", "Beds by type: Care level": "nursin"})
    [row] = read(csv_bytes(HEADINGS, line), "csv")
    assert row.problems == (
        CellProblem("D2", "/registeredPlaces", "not a whole number: 'forty'"),
        CellProblem(
            "E2", "/beds/0/careLevel", "not one of the list: 'nursin' (did you mean 'nursing'?)"
        ),
    )
    assert "registeredPlaces" not in row.record
    assert row.cell_for("/registeredPlaces") == "D2"
    assert row.cell_for("/admissions/reasons") == "P2"  # a blank cell, found by its column
    assert row.cell_for("/beds/0/designation") == "F2"
    assert row.cell_for("/nothing/here") == "A2"


@pytest.mark.parametrize("digits", [31, 5000])
def test_a_whole_number_of_too_many_digits_is_a_problem_at_its_cell(digits: int) -> None:
    # 5000 digits is past Python's int() limit: it once escaped as a ValueError.
    many = "1" * digits
    line = capacity_line(**{"Registered places": many, "Beds by type: Places": many})
    [row] = read(csv_bytes(HEADINGS, line), "csv")
    assert [(p.cell, p.pointer) for p in row.problems] == [
        ("D2", "/registeredPlaces"),
        ("G2", "/beds/0/places"),
    ]
    assert all(p.message.startswith("too many digits") for p in row.problems)


def test_a_ragged_row_is_a_problem_of_that_row() -> None:
    [row] = read(csv_bytes(HEADINGS, [*capacity_line(), "", "surplus"]), "csv")
    assert row.problems == (
        CellProblem(f"{chr(65 + len(HEADINGS) + 1)}2", "", "a value under no heading: 'surplus'"),
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\r\n,,,\r\n\r\n", "the file is empty"),
        ("Record identifier,Places\n".encode("utf-16"), "UTF-16"),
        (
            "Record identifier,Notes\ncs-1,caf\u00e9\n".encode("cp1252"),
            r"not UTF-8 text \(byte 0xE9 on line 2\)",
        ),
        (b"Record identifier,Notes\n", "cannot tell which record type.*pass --type"),
        (b"PK\x03\x04rest", "a workbook, not CSV"),
    ],
)
def test_csv_files_that_cannot_be_read(data: bytes, message: str) -> None:
    with pytest.raises(TableError, match=message):
        read(data, "csv")


def test_an_unknown_column_names_the_closest_heading() -> None:
    headings = [*HEADINGS[:3], "Registerd places"]
    with pytest.raises(
        TableError,
        match=r"column D is headed 'Registerd places', which is not a field of capacity-snapshot "
        r"records; the closest known heading is 'Registered places'",
    ):
        read(csv_bytes(headings), "csv", record_type=CAPACITY)


def test_a_mistyped_heading_is_named_when_the_type_is_not_given() -> None:
    """Most headings name capacity snapshots' columns: the type is theirs, and the one that
    names none is reported with the closest known heading."""
    headings = [*HEADINGS[:3], "Registerd places", *HEADINGS[4:8]]
    with pytest.raises(
        TableError,
        match=r"column D is headed 'Registerd places', which is not a field of capacity-snapshot "
        r"records; the closest known heading is 'Registered places'",
    ):
        read(csv_bytes(headings, capacity_line()[:8]), "csv")
    with pytest.raises(TableError, match=r"cannot tell which record type.*pass --type"):
        read(csv_bytes(["Record identifier", "Registerd places", "Other", "More"]), "csv")


def test_a_repeated_column_is_refused() -> None:
    with pytest.raises(TableError, match="columns A and C both fill 'Record identifier'"):
        read(csv_bytes(["Record identifier", "Notes", "id"]), "csv", record_type=CAPACITY)


def test_an_unknown_type_or_file_kind_is_refused() -> None:
    with pytest.raises(TableError, match="did you mean 'capacity-snapshot'"):
        list(read_table(io.BytesIO(b"x"), name="a.csv", record_type="capacity-snapshots"))
    with pytest.raises(TableError, match=r"should end in \.csv or \.xlsx"):
        list(read_table(io.BytesIO(b"x"), name="a.txt"))
    with pytest.raises(TableError, match=r"old Excel \.xls"):
        list(read_table(io.BytesIO(b"x"), name="a.xls"))


def xlsx_of(sheets: dict[str, list[list[Any]]]) -> bytes:

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False})
    for name, rows in sheets.items():
        worksheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None and value != "":
                    worksheet.write(r, c, value)
    workbook.close()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"not a zip at all", "not an XLSX workbook \\(it is not a zip archive\\)"),
        (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old .xls workbook or a password-protected one"),
    ],
)
def test_xlsx_files_that_cannot_be_read(data: bytes, message: str) -> None:
    with pytest.raises(TableError, match=message):
        read(data, "xlsx")


def test_a_truncated_or_damaged_workbook() -> None:
    good = spreadsheet(CAPACITY, "xlsx", examples(CAPACITY))
    with pytest.raises(TableError, match="not an XLSX workbook"):
        read(good[: len(good) // 2], "xlsx")
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = body[: len(body) // 2] + b"<row><c><v>1</v></row>" + body[len(body) // 2 :]
            target.writestr(item, body)
    with pytest.raises(TableError, match="damaged"):
        read(buffer.getvalue(), "xlsx")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        target.writestr("hello.txt", "hi")
    with pytest.raises(TableError, match="no workbook part"):
        read(buffer.getvalue(), "xlsx")


def test_a_wrong_sheet_names_the_sheets_there_are() -> None:
    data = spreadsheet(CAPACITY, "xlsx")
    with pytest.raises(
        TableError,
        match=r"no sheet 'Capacity'; its sheets are 'Capacity snapshot', 'Beds by type', "
        r"'How to fill this in', 'Lists'$",
    ):
        read(data, "xlsx", sheet="Capacity")
    other = xlsx_of({"Sheet1": [["a"]], "Sheet2": [["b"]]})
    with pytest.raises(
        TableError,
        match=r"no sheet of records \(its sheets are 'Sheet1', 'Sheet2'\): "
        "pass --sheet NAME and --type TYPE",
    ):
        read(other, "xlsx")
    with pytest.raises(TableError, match="is empty"):
        read(xlsx_of({"Sheet1": []}), "xlsx")


def test_a_workbook_made_by_hand_is_read_by_its_headings() -> None:
    cells: list[Any] = capacity_line()
    cells[HEADINGS.index("Registered places")] = 40  # a number cell, as Excel stores it
    data = xlsx_of({"Sheet1": [list(HEADINGS), cells]})
    [row] = read(data, "xlsx")
    assert row.location == "Sheet1!row 2"
    assert row.record["registeredPlaces"] == 40
    assert row.cell_for("/beds/0/occupied") == "Sheet1!H2"


def test_list_sheets_are_joined_by_record_identifier_and_cells_are_located() -> None:
    records = examples(CAPACITY)
    rows = read(spreadsheet(CAPACITY, "xlsx", records), "xlsx")
    assert rows[0].location == "Capacity snapshot!row 3"
    assert rows[0].cell_for("/registeredPlaces") == "Capacity snapshot!D3"
    assert rows[0].cell_for("/beds/0/places") == "Beds by type!D3"
    assert str(rows[1].cell_for("/beds/0")).startswith("Beds by type!B")


def test_list_rows_naming_no_record_are_refused() -> None:
    layout = layout_for(CAPACITY)
    beds = [column.heading for column in layout.sheets[1].columns]
    data = xlsx_of(
        {
            "Capacity snapshot": [HEADINGS[:4], ["cs-1", "svc-1", "2026-11-02 09:00", 4]],
            "Beds by type": [beds, ["cs-9", "nursing", None, 4, 4, 0, 0, 0]],
        }
    )
    rows = read_table(io.BytesIO(data), name="a.xlsx")
    first = next(rows)
    assert "beds" not in first.record
    with pytest.raises(
        TableError,
        match="Beds by type!row 2 names record 'cs-9', which the sheet 'Capacity snapshot' lacks",
    ):
        next(rows)


def test_a_path_is_read_and_closed(write_file: Callable[[str, bytes], Path]) -> None:
    path = write_file("c.csv", csv_bytes(HEADINGS, capacity_line()))
    [row] = list(read_table(path, name=path.name))
    assert row.record["id"] == "cs-1"
    path = write_file("c.xlsx", spreadsheet(CAPACITY, "xlsx", examples(CAPACITY)))
    assert len(list(read_table(path, name=path.name))) == len(examples(CAPACITY))
    with pytest.raises(TableError, match="cannot be read"):
        list(read_table(path.with_name("missing.csv"), name="missing.csv"))


def test_a_semicolon_separated_csv_from_a_european_excel() -> None:
    data = (";".join(HEADINGS[:4]) + "\r\n" + ";".join(capacity_line()[:4]) + "\r\n").encode()
    [row] = read(data, "csv", record_type=CAPACITY)
    assert row.record["registeredPlaces"] == 40


def test_a_list_sheet_made_by_hand_with_short_headings_and_excel_values() -> None:
    data = xlsx_of(
        {
            "Capacity snapshot": [HEADINGS[:4], ["cs-1", "svc-1", "2026-11-02 09:00", 4]],
            "Beds": [
                ["Record identifier", "Care level", "Places", "Occupied", "Vacant, reserved"],
                ["cs-1", "NURSING", 4.0, 3, 1],
            ],
            "Notes to self": [["anything"]],
        }
    )
    [row] = read(data, "xlsx")
    assert row.record["beds"] == [
        {"careLevel": "nursing", "places": 4, "occupied": 3, "vacantReserved": 1}
    ]
    assert row.cell_for("/beds/0/vacantAcceptingAdmissions") == "Beds!B2"
    assert row.cell_for("/beds/0/vacantReserved") == "Beds!E2"


def test_booleans_and_dates_as_excel_stores_them() -> None:

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    sheet = workbook.add_worksheet("Notifiable event")
    dated = workbook.add_format({"num_format": "dd/mm/yyyy"})
    timed = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    headings = ["Record identifier", "Occurred at", "Occurred-at time estimated",
                "Outbreak details: Declared on"]  # fmt: skip
    for index, heading in enumerate(headings):
        sheet.write_string(0, index, heading)
    sheet.write_string(1, 0, "ev-1")
    sheet.write_datetime(1, 1, datetime(2026, 7, 1, 14, 30), timed)
    sheet.write_boolean(1, 2, True)
    sheet.write_datetime(1, 3, date(2026, 6, 30), dated)
    workbook.close()
    [row] = read(buffer.getvalue(), "xlsx")
    assert row.record["occurredAt"] == "2026-07-01T14:30:00+01:00"
    assert row.record["occurredAtEstimated"] is True
    assert row.record["outbreak"] == {"declaredOn": "2026-06-30"}


class Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_standard_input_is_read(fmt: str) -> None:
    data = spreadsheet(CAPACITY, fmt, examples(CAPACITY))
    rows = list(read_table(Unseekable(data), name=f"-.{fmt}"))  # type: ignore[arg-type]
    assert [row.record for row in rows] == examples(CAPACITY)


def test_errors_come_while_iterating_never_at_the_call() -> None:
    rows = read_table(io.BytesIO(b""), name="a.txt", record_type="nonsense")
    with pytest.raises(TableError):
        next(rows)
