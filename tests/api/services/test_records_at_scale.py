"""PostgreSQL: a bulk publication's taken ids are looked up in the unique index, however many
records of the type the table holds, and before PostgreSQL has analysed it.

A first bulk load fills the table faster than autovacuum analyses it. Planned from stale
statistics, `record_type = ? AND record_id IN (...)` read every record of the type to find
the few ids asked, so each batch of a long publication cost more than the one before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from care_exchange_server.services import records
from care_exchange_server.storage import db
from tests.api import templates
from tests.api.templates import Template

TYPE = "capacity-snapshot"
STORED = 20_000
ASKED = 500


@pytest.fixture
def engine(postgresql_world_template: Template, tmp_path: Path) -> Iterator[Engine]:
    """The world on PostgreSQL with STORED more records, never analysed since they came."""
    for url in templates.copy(postgresql_world_template, tmp_path):
        engine = db.make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE records SET (autovacuum_enabled = false)"))
            service, provider = connection.execute(
                text("SELECT id, provider_id FROM services ORDER BY id LIMIT 1")
            ).one()
            connection.execute(
                text(
                    "INSERT INTO records (record_type, record_id, service_id, provider_id, "
                    "version, state, submitted_by, published_at, data) "
                    "SELECT :type, 'stored-' || n, :service, :provider, 1, 'active', "
                    ":provider, now(), '{}'::jsonb FROM generate_series(1, :count) AS n"
                ),
                {"type": TYPE, "service": service, "provider": provider, "count": STORED},
            )
        try:
            yield engine
        finally:
            engine.dispose()


def _rows_of_each_step(plan: dict[str, Any]) -> Iterator[int]:
    yield int(plan["Actual Rows"]) * int(plan["Actual Loops"])
    for child in plan.get("Plans", []):
        yield from _rows_of_each_step(child)


def test_taken_ids_are_found_without_reading_the_type_s_other_records(engine: Engine) -> None:
    asked = [f"new-{n}" for n in range(ASKED - 2)] + ["stored-7", "stored-19999"]
    documents: list[object] = [(TYPE, {"id": record_id}) for record_id in asked]
    with Session(engine) as session:
        assert records._existing(session, documents) == {
            (TYPE, "stored-7"),
            (TYPE, "stored-19999"),
        }
        explained = session.execute(
            text("EXPLAIN (ANALYZE, FORMAT JSON) " + records._PG_TAKEN.text),
            {"record_type": TYPE, "record_ids": asked},
        ).scalar_one()
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    assert max(_rows_of_each_step(plan)) <= ASKED, json.dumps(plan, indent=1)
