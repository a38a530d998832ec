"""Many returns through one worker, each input sent while the one before is judged: the same
answers as one at a time, a hostile return failing only itself, and no stall on long lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from care_exchange_standard.returns import (
    FilledReturn,
    Limits,
    PeriodError,
    ReturnRequest,
    fill,
    fill_many,
    load_template,
)
from care_exchange_standard.returns.sandbox import Sandbox
from tests.conftest import EXAMPLES
from tests.schemas.returns.conftest import SERVICE, template

OTHER = "svc-x"


def _body(filled: FilledReturn) -> dict[str, Any]:
    return filled.as_dict()


def _entry(service_id: str, name: str) -> dict[str, Any]:
    return {"id": service_id, "name": name}


def _requests(records: list[dict[str, Any]], names: list[str]) -> list[ReturnRequest]:
    """Services in turn, each named: the name is how a field below tells them apart."""
    services = [SERVICE, OTHER, "svc-none"]
    return [
        ReturnRequest(services[index % 3], records, _entry(services[index % 3], name))
        for index, name in enumerate(names)
    ]


def test_many_returns_give_what_each_gives_alone(records: list[dict[str, Any]]) -> None:
    chosen = load_template(template())
    requests = _requests(records, [f"home {number}" for number in range(7)])
    with Sandbox() as sandbox:
        together = fill_many(chosen, requests, period="2026-10", sandbox=sandbox)
    assert sandbox.started == 1
    alone = [
        fill(chosen, r.records, service_id=r.service_id, period="2026-10", service=r.service)
        for r in requests
    ]
    assert [_body(one) for one in together] == [_body(one) for one in alone]
    assert [one.service_id for one in together] == [r.service_id for r in requests]
    values = [{f.definition["code"]: f.value for f in one.fields} for one in together]
    assert [value["SNAPSHOTS"] for value in values] == [2, 1, 0] * 2 + [2]


def _with_field(expression: str, value_type: str = "integer") -> dict[str, Any]:
    document = template()
    document["fields"][1] |= {
        "expression": expression,
        "valueType": value_type,
        "dependsOn": ["capacity-snapshot/id", "service/name"],
    }
    return document


HUGE = '$pad("", 400000000, "x")'  # 400 MB, over the 256 MB allowed
# Run natively, as Python (a worker's later returns are): 16 GB asked for, 256 MB allowed.
DOUBLING = (
    '($t0 := "xxxxxxxxxxxxxxxx"; '
    + "".join(f"$t{n + 1} := $t{n} & $t{n}; " for n in range(30))
    + "$count([$t30]))"
)


@pytest.mark.parametrize(
    "hostile",
    [
        f'service.name = "hostile" ? ({HUGE}) : 1',  # the worker dies of it
        f'service.name = "hostile" ? {DOUBLING} : 1',
        'service.name = "hostile" ? ($f := function($n){ $f($n + 1) }; $f(0)) : 1',
    ],
)
def test_a_hostile_return_fails_only_its_own_field(
    records: list[dict[str, Any]], hostile: str
) -> None:
    """The returns before and after it, sent ahead of its answer, are filled as usual."""
    chosen = load_template(_with_field(hostile))
    requests = _requests(records, ["first", "second", "hostile", "fourth", "fifth"])
    # A field's time counts a new worker's start: a second leaves room for a loaded machine's.
    limits = Limits(seconds_per_field=1.0, memory_bytes=256 * 1024 * 1024)
    with Sandbox(limits) as sandbox:
        filled = fill_many(chosen, requests, period="2026-10", sandbox=sandbox)
    statuses = [(one.fields[1].status, one.fields[1].value) for one in filled]
    assert statuses[2][0] == "error"
    said = filled[2].fields[1].message or ""
    assert any(limit in said for limit in ("memory", "longer than", "timeout", "stack")), said
    assert statuses[:2] + statuses[3:] == [("value", 1)] * 4
    assert [one.fields[3].value for one in filled] == [2, 1, 0, 2, 1]  # SNAPSHOTS
    assert sandbox.started >= (2 if "pad" in hostile else 1)  # the worker dies of the first


def test_long_questions_and_long_answers_do_not_stall_the_pipes(
    records: list[dict[str, Any]],
) -> None:
    """Inputs and answers each longer than a pipe holds, several in flight at once."""
    long_notes = [record | {"notes": "n" * 200_000} for record in records]
    chosen = load_template(_with_field('$pad("", 300000, "x")', "string"))
    requests = _requests(long_notes, [f"home {number}" for number in range(6)])
    with Sandbox(Limits(seconds_per_field=5)) as sandbox:
        filled = fill_many(chosen, requests, period="2026-10", sandbox=sandbox)
    assert sandbox.started == 1, "a worker was found late or dead: the pipes stalled"
    assert [one.fields[1].value for one in filled] == ["x" * 300_000] * 6
    assert [one.fields[3].value for one in filled] == [2, 1, 0] * 2


def test_a_return_that_cannot_be_filled_leaves_the_shared_worker_as_good_as_new(
    records: list[dict[str, Any]],
) -> None:
    """An event return for a service without that event stops the run; the questions already
    sent are not answered into the next caller's run."""
    example = EXAMPLES / "valid/notifiable-event/norovirus-outbreak.json"
    event = json.loads(example.read_text()) | {"id": "ev-1", "serviceId": SERVICE}
    document = template(recordTypes=["capacity-snapshot", "notifiable-event"])
    document["period"] = {"kind": "event"}
    with_event = [*records, event]
    requests = [
        ReturnRequest(SERVICE, with_event, _entry(SERVICE, "has it")),
        ReturnRequest(SERVICE, with_event, _entry(SERVICE, "has it too")),
        ReturnRequest(OTHER, with_event, _entry(OTHER, "has none")),
    ]
    with Sandbox() as sandbox:
        with pytest.raises(PeriodError, match="no event record 'ev-1'"):
            fill_many(load_template(document), requests, period="ev-1", sandbox=sandbox)
        after = fill_many(
            load_template(template()),
            _requests(records, ["a", "b"]),
            period="2026-10",
            sandbox=sandbox,
        )
    assert [one.fields[3].value for one in after] == [2, 1]
