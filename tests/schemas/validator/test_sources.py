from __future__ import annotations

from pathlib import Path

import pytest

from care_exchange_standard.sources import InputError, expand, read_records


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_one_record(tmp_path: Path) -> None:
    [located] = read_records(write(tmp_path, "a.json", '{"x": 1}'))
    assert (located.location, located.record) == ("", {"x": 1})


def test_array_of_records_is_located_by_index(tmp_path: Path) -> None:
    found = read_records(write(tmp_path, "a.json", '[{"x": 1}, {"x": 2}]'))
    assert [(item.location, item.record) for item in found] == [
        ("[0]", {"x": 1}),
        ("[1]", {"x": 2}),
    ]
    assert found[1].where.endswith("a.json[1]")


@pytest.mark.parametrize("name", ["a.ndjson", "a.jsonl", "a.json"])
def test_ndjson_is_located_by_line_and_skips_blank_lines(tmp_path: Path, name: str) -> None:
    found = read_records(write(tmp_path, name, '{"x": 1}\n\n{"x": 2}\n'))
    assert [(item.location, item.record) for item in found] == [(":1", {"x": 1}), (":3", {"x": 2})]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.json", '{"x": ', r"a\.json:1:7: not JSON \(Expecting value\)"),
        ("a.ndjson", '{"x": 1}\nnope\n', r"a\.ndjson:2: not JSON"),
        ("a.json", "", r"a\.json:1:1: not JSON"),
    ],
)
def test_non_json_is_an_input_error(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_records(write(tmp_path, name, text))


def test_non_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'{"x": "\xff"}')
    with pytest.raises(InputError, match="not UTF-8"):
        read_records(path)


def test_expand_searches_folders_and_keeps_files(tmp_path: Path) -> None:
    nested = tmp_path / "d" / "e"
    nested.mkdir(parents=True)
    one = write(nested, "one.json", "{}")
    two = write(tmp_path / "d", "two.ndjson", "{}")
    write(tmp_path / "d", "ignored.txt", "{}")
    direct = write(tmp_path, "direct.txt", "{}")
    assert expand([tmp_path / "d", direct]) == [one, two, direct]


def test_expand_refuses_missing_paths_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        expand([tmp_path / "missing.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.json, \.ndjson or \.jsonl files"):
        expand([tmp_path / "empty"])
