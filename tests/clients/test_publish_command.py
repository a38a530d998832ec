"""`care-exchange publish` against the reference server: all or nothing, and nothing twice."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from care_exchange_client import Client, NotFound
from care_exchange_standard.command import build
from tests.clients.conftest import Reference, new_record

Publish = Callable[..., Result]


@pytest.fixture(name="publish")
def publish_fixture(reference: Reference, tmp_path: Path) -> Publish:
    party = reference.party("publisher")
    env = {
        "CARE_EXCHANGE_PROFILES": str(tmp_path / "no-profiles.toml"),
        "CARE_EXCHANGE_BASE_URL": reference.base_url,
        "CARE_EXCHANGE_CLIENT_ID": party.client_id,
        "CARE_EXCHANGE_CLIENT_SECRET": party.client_secret,
    }

    def run(*arguments: str) -> Result:
        switch = sys.getswitchinterval()
        done = CliRunner().invoke(build(), ["publish", *arguments], env=env)
        assert party.client_secret not in done.output
        assert sys.getswitchinterval() == switch  # set for the run's threads, then put back
        return done

    return run


def _write(path: Path, records: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps(records), encoding="utf-8")
    return str(path)


def _versions(client: Client, records: list[dict[str, Any]]) -> list[int]:
    found: list[int] = []
    for record in records:
        listed = client.list_record_versions(record["recordType"], record["id"])
        found.append(len(listed["items"]))
    return found


def _row(output: str, label: str) -> int:
    line = next(line for line in output.splitlines() if label in line)
    return int(line.rstrip("│ ").split()[-1])


def test_every_record_is_published_once_however_often_it_is_run(
    publish: Publish, reference: Reference, publisher: Client, tmp_path: Path
) -> None:
    records = [new_record(reference.service_id) for _ in range(5)]
    first_two = _write(tmp_path / "first.json", records[:2])
    everything = _write(tmp_path / "all.json", records)
    interrupted = publish(first_two, "--chunk-size", "2")
    assert interrupted.exit_code == 0, interrupted.output
    assert _row(interrupted.output, "accepted") == 2
    resumed = publish(everything, "--chunk-size", "2")
    assert resumed.exit_code == 0, resumed.output
    assert _row(resumed.output, "already published") == 2
    assert _row(resumed.output, "accepted") == 3
    regrouped = publish(everything, "--chunk-size", "3")
    assert regrouped.exit_code == 0, regrouped.output
    assert _row(regrouped.output, "already published") == 5
    assert _versions(publisher, records) == [1] * 5


def test_one_invalid_record_stops_the_run_before_anything_is_sent(
    publish: Publish, reference: Reference, publisher: Client, tmp_path: Path
) -> None:
    good = new_record(reference.service_id)
    bad = new_record(reference.service_id, registeredPlaces="many")
    path = _write(tmp_path / "mixed.json", [good, bad])
    done = publish(path)
    assert done.exit_code == 1
    assert "Nothing was published" in done.output and "mixed.json[2]" in done.output
    with pytest.raises(NotFound):
        publisher.get_record("capacity-snapshot", good["id"])
    partial = publish(path, "--partial")
    assert partial.exit_code == 1, partial.output
    assert _row(partial.output, "accepted") == 1
    assert _row(partial.output, "not sent") == 1
    assert publisher.get_record("capacity-snapshot", good["id"])["version"] == 1


def test_the_server_s_refusals_are_shown_with_their_reasons(
    publish: Publish, reference: Reference, tmp_path: Path
) -> None:
    mine = new_record(reference.service_id)
    not_mine = new_record("svc-heather-house")
    done = publish(_write(tmp_path / "two.json", [mine, not_mine]))
    assert done.exit_code == 1
    assert _row(done.output, "accepted") == 1
    assert _row(done.output, "refused by the server") == 1
    assert "refused (403): " in done.output and "two.json[2]" in done.output
    assert "svc-heather-house" in done.output


def test_a_dry_run_checks_with_the_server_and_stores_nothing(
    publish: Publish, reference: Reference, publisher: Client, tmp_path: Path
) -> None:
    record = new_record(reference.service_id)
    done = publish(_write(tmp_path / "dry.json", [record]), "--dry-run")
    assert done.exit_code == 0, done.output
    assert "Dry run: nothing was stored" in done.output
    assert _row(done.output, "would be accepted") == 1
    with pytest.raises(NotFound):
        publisher.get_record("capacity-snapshot", record["id"])


@pytest.mark.parametrize(
    ("arguments", "message", "status"),
    [
        (["-"], "not standard input", 2),
        (["--type", "bed-count", "x.json"], "not a record type", 2),
        (["nowhere.json"], "no such file", 1),
    ],
)
def test_what_cannot_be_published_says_why(
    publish: Publish, arguments: list[str], message: str, status: int
) -> None:
    done = publish(*arguments)
    assert done.exit_code == status
    assert message in done.output


def test_without_credentials_it_says_how_to_give_them(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.json", [new_record("svc-thistle-court")])
    done = CliRunner().invoke(
        build(),
        ["publish", path],
        env={"CARE_EXCHANGE_PROFILES": str(tmp_path / "none.toml"), "CARE_EXCHANGE_BASE_URL": ""},
    )
    assert done.exit_code == 2 and "care-exchange login" in done.stderr


def test_a_filled_spreadsheet_is_published_and_its_mistakes_are_named_by_cell(
    publish: Publish, reference: Reference, publisher: Client, tmp_path: Path
) -> None:
    records = [new_record(reference.service_id) for _ in range(3)]
    sheet = tmp_path / "capacity.csv"
    filled = CliRunner().invoke(
        build(),
        [
            "spreadsheet",
            "capacity-snapshot",
            "--format",
            "csv",
            "--from",
            _write(tmp_path / "records.json", records),
            "--output",
            str(sheet),
        ],
    )
    assert filled.exit_code == 0, filled.output
    lines = sheet.read_text(encoding="utf-8-sig").splitlines()
    broken = tmp_path / "broken.csv"
    row = lines[3].split(",")
    row[3] = "forty"  # Registered places, column D, of the first record (spreadsheet row 4)
    broken.write_text("\n".join([*lines[:3], ",".join(row), *lines[4:]]), encoding="utf-8")
    refused = publish(str(broken))
    assert refused.exit_code == 1
    assert "broken.csv D4" in refused.output and "Nothing was published" in refused.output
    done = publish(str(sheet))
    assert done.exit_code == 0, done.output
    assert _row(done.output, "accepted") == 3
    assert _versions(publisher, records) == [1, 1, 1]


def test_a_blank_spreadsheet_publishes_nothing_and_says_it_holds_no_records(
    publish: Publish, tmp_path: Path
) -> None:
    blank = tmp_path / "blank.csv"
    made = CliRunner().invoke(
        build(), ["spreadsheet", "capacity-snapshot", "--format", "csv", "-o", str(blank)]
    )
    assert made.exit_code == 0, made.output
    done = publish(str(blank))
    assert done.exit_code == 1
    assert "no records: it has headings but no rows of data under them" in done.output
    assert "Nothing was published" in done.output
