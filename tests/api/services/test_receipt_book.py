"""The receipt book writes receipts in batches from its own thread, keeps them when the database
refuses them, and writes what is left when it closes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from care_exchange_server.services.receipt_book import ReceiptBook
from care_exchange_server.storage.db import make_engine, session_factory
from care_exchange_server.storage.models import AccessReceipt, Record
from care_exchange_server.storage.types import utcnow
from tests.api.world import World, example_record

TYPE = "capacity-snapshot"


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(AccessReceipt)).scalar_one())


def _receipt(world_ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider_id": "org-provider",
        "subscriber_id": "org-subscriber",
        "service_id": "svc-p1",
        "agreement_id": "agr-subscriber",
        "record_pk": world_ids["pk"],
        "record_type": TYPE,
        "record_id": world_ids["id"],
        "version": 1,
        "channel": "read",
        "read_at": utcnow(),
    }


def test_a_subscribers_read_reaches_the_database_without_anyone_asking(
    app: FastAPI, world: World
) -> None:
    record = example_record(TYPE, "svc-p1")
    assert world.call("provider", "POST", f"/v1/records/{TYPE}", json=record).status_code == 201
    assert world.call("subscriber", "GET", f"/v1/records/{TYPE}/{record['id']}").status_code == 200
    engine = app.state.engines[0]
    deadline = time.monotonic() + 5
    while _count(engine) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _count(engine) == 1


def _published(world: World) -> dict[str, Any]:
    record = example_record(TYPE, "svc-p1")
    assert world.call("provider", "POST", f"/v1/records/{TYPE}", json=record).status_code == 201
    return record


def _record_pk(app: FastAPI, record_id: str) -> int:
    with app.state.read_sessions() as session:
        pk = session.scalar(select(Record.pk).where(Record.record_id == record_id))
    assert pk is not None
    return int(pk)


def test_a_receipt_the_database_refuses_is_dropped_and_the_others_written(
    app: FastAPI, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    record = _published(world)
    book = ReceiptBook(app.state.sessions, interval=3600)
    good = _receipt({"pk": _record_pk(app, record["id"]), "id": record["id"]})
    book.add([good, {**good, "agreement_id": "agr-nowhere"}, {**good, "version": 2}])
    book.flush()
    with app.state.read_sessions() as session:
        written = session.execute(
            select(AccessReceipt.agreement_id, AccessReceipt.version).order_by(AccessReceipt.pk)
        ).all()
    assert [tuple(row) for row in written] == [("agr-subscriber", 1), ("agr-subscriber", 2)]
    assert "refused and dropped" in caplog.text and "agr-nowhere" in caplog.text


def test_receipts_wait_while_the_database_cannot_be_reached(
    app: FastAPI, world: World, tmp_path: Path
) -> None:
    """An outage keeps them pending; they are written once a database takes them."""
    record = _published(world)
    good = _receipt({"pk": _record_pk(app, record["id"]), "id": record["id"]})
    missing = make_engine(f"sqlite:///{tmp_path / 'no-tables.sqlite3'}")
    sessions = session_factory(missing)
    try:
        book = ReceiptBook(sessions, interval=3600)
        book.add([good])
        with pytest.raises(OperationalError):
            book.flush()  # no such table: not a refusal of the row, the store is not there
    finally:
        missing.dispose()
    sessions.configure(bind=app.state.engines[0])  # the database is back
    book.close()
    assert _count(app.state.engines[0]) == 1


def test_closing_writes_what_is_pending_and_stops_the_thread(app: FastAPI, world: World) -> None:
    record = _published(world)
    book = ReceiptBook(app.state.sessions, interval=3600)
    book.add([_receipt({"pk": _record_pk(app, record["id"]), "id": record["id"]})])
    assert book.running and _count(app.state.engines[0]) == 0
    book.close()
    assert _count(app.state.engines[0]) == 1
    assert not book.running
