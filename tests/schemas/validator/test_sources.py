"""Reading inputs: folders expanded without dropping a file, and JSON cut into work losslessly."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from care_exchange_standard import sources
from care_exchange_standard.sources import (
    SKIPPED,
    FileItems,
    FileLines,
    Input,
    InputError,
    Items,
    Lines,
    Records,
    Unit,
    array_items_from,
    expand,
    json_units,
)


def units(data: bytes, kind: sources.Kind = "json") -> list[Unit]:
    return list(json_units(io.BytesIO(data), kind))


def records(found: list[Unit]) -> list[Any]:
    """What the units hold, parsed as the workers parse them."""
    out: list[Any] = []
    for unit in found:
        if isinstance(unit, Items | FileItems):
            chunk = (unit.items() if isinstance(unit, FileItems) else unit).chunk
            out.extend(orjson.loads(b"[" + chunk + b"]"))
        elif isinstance(unit, Lines | FileLines):
            data = (unit.lines() if isinstance(unit, FileLines) else unit).data
            out.extend(orjson.loads(line) for line in data.split(b"\n") if line.strip())
        else:
            out.extend(record for _, record in unit.records)
    return out


def test_one_record_is_located_nowhere_in_particular() -> None:
    assert units(b'{\n  "x": 1\n}\n') == [Records([("", {"x": 1})])]
    assert units(b'{"x": 1}\n') == [Records([("", {"x": 1})])]


@pytest.mark.parametrize("kind", ["json", "ndjson", "unknown"])
def test_lines_keep_their_numbers(kind: sources.Kind) -> None:
    [unit] = units(b'{"x": 1}\n\n{"x": 2}\n', kind)
    assert isinstance(unit, Lines) and unit.first == 1
    assert unit.data.split(b"\n")[2] == b'{"x": 2}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n\t", "the file is empty"),
        (sources.BOM, "the file is empty"),
        (b"Home,Places\n", "not JSON: it starts with 'H'"),
        (b'{"x": ', "not JSON at line 1, column 7"),
        (b'{"x": "\xff"}', "not UTF-8"),
    ],
)
def test_unreadable_json_says_why(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        units(data)


def test_a_byte_order_mark_is_dropped() -> None:
    assert records(units(sources.BOM + b'[{"x": 1}]')) == [{"x": 1}]
    assert records(units(sources.BOM + b'{"x": 1}\n{"x": 2}\n', "ndjson")) == [{"x": 1}, {"x": 2}]


def test_empty_array_has_no_work() -> None:
    assert records(units(b"[ ]")) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(alphabet='ab{}[],"\\ \n'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet="k{}", max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)
array_records = st.lists(st.dictionaries(st.sampled_from("abc"), json_values), max_size=30)


@settings(max_examples=60, deadline=None)
@given(items=array_records, block=st.integers(min_value=8, max_value=200), indent=st.booleans())
def test_array_cut_into_blocks_loses_and_invents_nothing(
    items: list[dict[str, Any]], block: int, indent: bool
) -> None:
    """However the blocks fall, the items parse back in order, or a block fails to parse and
    the exact reader takes over from its offset with the same items."""
    data = json.dumps(items, indent=1 if indent else None).encode()
    handle = io.BytesIO(data)
    got: list[Any] = []
    for unit in json_units(handle, "json", block):
        assert isinstance(unit, Items)
        try:
            if unit.exact:
                raise orjson.JSONDecodeError("no cut found", "", 0)
            got.extend(orjson.loads(b"[" + unit.chunk + b"]"))
        except orjson.JSONDecodeError:
            got.extend(array_items_from(handle, unit.offset))
            break
    assert got == items


@settings(max_examples=80, deadline=None)
@given(
    items=array_records,
    piece=st.integers(min_value=4, max_value=120),
    indent=st.sampled_from([None, 1]),
    comma=st.sampled_from([b",", b" , ", b"\n,\n"]),
)
def test_a_blocks_items_parsed_in_pieces_are_its_items(
    items: list[dict[str, Any]], piece: int, indent: int | None, comma: bytes
) -> None:
    """Pieces cut inside text (braces and commas in it) fail to parse and the rest is parsed
    whole, so the batches hold the block's items in order, each once."""
    chunk = comma.join(json.dumps(item, indent=indent).encode() for item in items)
    batches = list(sources.item_batches(Items(1, chunk), piece))
    assert [item for batch in batches for item in batch] == items


def test_pieces_are_cut_when_the_block_is_large_and_plain() -> None:
    items = [{"id": f"r{index}", "n": {"x": index}} for index in range(200)]
    chunk = json.dumps(items).encode()[1:-1]
    batches = list(sources.item_batches(Items(1, chunk), 256))
    assert len(batches) > 10 and [item for batch in batches for item in batch] == items


@pytest.mark.parametrize(
    "chunk", [b'{"x": 1}, {"x": ', b'{"x": 1}, ' * 40 + b'{"x": }', b"{}" + b", {}" * 40 + b", ]"]
)
def test_a_broken_block_is_read_again_even_after_good_pieces(chunk: bytes) -> None:
    with pytest.raises(sources.MustRereadError):
        list(sources.item_batches(Items(1, chunk), 16))
    with pytest.raises(sources.MustRereadError):
        list(sources.item_batches(Items(1, b"", exact=True)))


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(
        st.dictionaries(st.sampled_from("xy"), st.integers(-(2**60), 2**60)),
        min_size=1,
        max_size=40,
    )
)
def test_lines_cut_into_blocks_keep_every_line(lines: list[dict[str, Any]]) -> None:
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    found = list(json_units(io.BytesIO(data), "ndjson", 16))
    assert records(found) == lines
    numbers = [unit.first for unit in found if isinstance(unit, Lines)]
    assert numbers == sorted(numbers) and (not numbers or numbers[0] == 1)


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(
        st.dictionaries(st.sampled_from("xy"), st.integers(-(2**60), 2**60)),
        min_size=1,
        max_size=40,
    ),
    bom=st.booleans(),
    blank=st.sampled_from([b"", b"\n", b" \n"]),
    kind=st.sampled_from(["ndjson", "json"]),
)
def test_lines_a_worker_reads_from_the_file_are_the_lines_it_would_be_sent(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[dict[str, Any]],
    bom: bool,
    blank: bytes,
    kind: sources.Kind,
) -> None:
    """With the file's path, each unit names its bytes instead of carrying them: read back,
    they are the same lines with the same numbers, a byte-order mark and blank lines too."""
    data = (sources.BOM if bom else b"") + blank.join(orjson.dumps(line) + b"\n" for line in lines)
    path = tmp_path_factory.mktemp("lines") / "records.ndjson"
    path.write_bytes(data)
    sent = list(json_units(io.BytesIO(data), kind, 16))
    with path.open("rb") as handle:
        named = list(json_units(handle, kind, 16, path=str(path)))
    assert [unit.lines() if isinstance(unit, FileLines) else unit for unit in named] == sent
    assert kind == "json" or all(isinstance(unit, FileLines) for unit in named)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(
        st.dictionaries(
            st.sampled_from("xy"),
            st.integers(-(2**60), 2**60) | st.sampled_from(["}, {", "[", "a, b"]),
        ),
        min_size=1,
        max_size=40,
    ),
    bom=st.booleans(),
    indent=st.sampled_from([None, 1]),
)
def test_items_a_worker_reads_from_the_file_are_the_items_it_would_be_sent(
    tmp_path_factory: pytest.TempPathFactory,
    items: list[dict[str, Any]],
    bom: bool,
    indent: int | None,
) -> None:
    """An array's blocks, cut between items (text with brackets too, where the quick cut can
    go wrong), read back by their place in the file: the same blocks, byte for byte."""
    data = (sources.BOM if bom else b"") + json.dumps(items, indent=indent).encode()
    path = tmp_path_factory.mktemp("items") / "records.json"
    path.write_bytes(data)
    sent = list(json_units(io.BytesIO(data), "json", 16))
    with path.open("rb") as handle:
        named = list(json_units(handle, "json", 16, path=str(path)))
    assert [unit.items() if isinstance(unit, FileItems) else unit for unit in named] == sent
    assert any(isinstance(unit, FileItems) for unit in named) or len(named) == 1


def test_broken_array_is_reported_after_the_last_good_item() -> None:
    data = b'[{"x": 1}, {"x": 2}, {"x": ]'
    handle = io.BytesIO(data)
    [unit] = json_units(handle, "json")
    assert isinstance(unit, Items)
    items = array_items_from(handle, unit.offset)
    assert next(items) == {"x": 1} and next(items) == {"x": 2}
    with pytest.raises(InputError, match="not JSON"):
        next(items)


def write(folder: Path, name: str, text: str = "{}") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_expand_reports_every_file_of_a_folder(tmp_path: Path) -> None:
    one = write(tmp_path, "d/e/one.json")
    two = write(tmp_path, "d/two.ndjson")
    sheet = write(tmp_path, "d/beds.CSV")
    notes = write(tmp_path, "d/notes.txt")
    direct = write(tmp_path, "direct.txt")
    assert expand([tmp_path / "d", direct]) == [
        Input(str(sheet), sheet),
        Input(str(one), one),
        Input(str(notes), notes, skipped=True),
        Input(str(two), two),
        Input(str(direct), direct),
    ]
    assert SKIPPED == "skipped: not a format the validator reads"


def test_expand_keeps_missing_paths_and_empty_folders_as_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    found = expand([tmp_path / "missing.json", tmp_path / "empty", Path("-")])
    assert [(item.problem, item.path) for item in found] == [
        ("no such file or folder", tmp_path / "missing.json"),
        ("an empty folder", tmp_path / "empty"),
        (None, None),
    ]
    assert found[2].name == "-"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.json", "json"), ("a.JSONL", "ndjson"), ("a.ndjson", "ndjson"), ("a.xlsx", "table")],
)
def test_kind_comes_from_the_suffix(name: str, kind: str) -> None:
    assert Input(name, Path(name)).kind == kind
    assert Input("-").kind == "unknown"


def test_an_array_in_an_ndjson_file_is_read_as_an_array() -> None:
    assert records(units(b'[{"x": 1},\n{"x": 2}]\n', "ndjson")) == [{"x": 1}, {"x": 2}]


def test_a_block_whose_file_has_gone_or_shrunk_cannot_be_read(tmp_path: Path) -> None:
    """A worker reads its block itself: a file deleted or cut short since is the input's error
    (it travels back from a worker process whole), never a traceback."""
    path = tmp_path / "records.ndjson"
    path.write_bytes(b'{"x": 1}\n')
    with pytest.raises(InputError, match="changed while it was being read"):
        FileLines(1, str(path), 0, 100).lines()
    with pytest.raises(InputError, match="changed while it was being read"):
        FileItems(1, str(path), 4, 100).items()
    with pytest.raises(InputError, match=r"cannot be read \(No such file or directory\)"):
        FileLines(1, str(tmp_path / "gone.ndjson"), 0, 9).lines()
    error = pickle.loads(pickle.dumps(InputError("it changed while it was being read")))
    assert isinstance(error, InputError) and str(error) == "it changed while it was being read"
