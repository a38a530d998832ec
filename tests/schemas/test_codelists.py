from __future__ import annotations

from pathlib import Path

import pytest

from care_exchange_standard.codelists import load_codelists, read_codelist


def write(tmp_path: Path, text: str, name: str = "things.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_codes_in_order_with_crosswalk_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'Code,Title,Description,CQC\nb,B,"Second, with a comma",X1\na,A,First,\n',
    )
    codelist = read_codelist(path)
    assert codelist.codes == ["b", "a"]
    assert codelist.columns == ("Code", "Title", "Description", "CQC")
    assert codelist.rows["b"]["Description"] == "Second, with a comma"
    assert codelist.rows["a"]["CQC"] == ""


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("Name,Title,Description\na,A,x\n", "header"),
        ("Code,Title,Description\na,A,x,extra\n", "wrong number of cells"),
        ("Code,Title,Description\na,A\n", "wrong number of cells"),
        ("Code,Title,Description\na,A,x\na,B,y\n", "repeated"),
        ("Code,Title,Description\n,A,x\n", "empty"),
    ],
)
def test_refuses_malformed_files(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        read_codelist(write(tmp_path, text))


def test_deprecated_column_marks_codes(tmp_path: Path) -> None:
    path = write(tmp_path, "Code,Title,Description,Deprecated\nold,Old,x,1.1\nnew,New,y,\n")
    codelist = read_codelist(path)
    assert codelist.deprecated_in("old") == "1.1"
    assert codelist.deprecated_in("new") is None
    assert codelist.deprecated_in("missing") is None


def test_loads_a_folder_by_file_name(tmp_path: Path) -> None:
    write(tmp_path, "Code,Title,Description\na,A,x\n", "one.csv")
    write(tmp_path, "Code,Title,Description\nb,B,y\n", "two.csv")
    assert sorted(load_codelists(tmp_path)) == ["one.csv", "two.csv"]
