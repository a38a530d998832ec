"""The commit-order trap, on PostgreSQL with real concurrent transactions.

A change that commits after a reader has passed a change number must never carry a lower one.
Change numbers are taken last in a writing transaction from one counter row that stays locked
until commit, so they follow commit order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from care_exchange_server.app import create_app, dispose
from care_exchange_server.auth.principal import Principal
from care_exchange_server.services import agreements, entitlements, feed, records
from care_exchange_server.services.entitlements import AgreementTerms
from care_exchange_server.settings import Settings
from care_exchange_server.storage.migrate import upgrade
from care_exchange_server.storage.models import AccessReceipt, Agreement
from tests.api.conftest import ISSUER, fresh_postgres_database
from tests.api.world import build_world, example_record

TYPE = "capacity-snapshot"
PROVIDER = Principal(
    client_id="provider",
    organisation_id="org-provider",
    organisation_kind="provider",
    scopes=frozenset({f"{TYPE}:publish", f"{TYPE}:read", "agreements"}),
    jti="jti",
    expires_at=datetime.now(UTC) + timedelta(hours=1),
)

TERMS = AgreementTerms([TYPE], None, "Oversight.", "Public task.", None)


@pytest.fixture
def postgres_app(postgres_server: str) -> Iterator[FastAPI]:
    for url in fresh_postgres_database(postgres_server):
        upgrade(url)
        application = create_app(Settings(database_url=url, issuer=ISSUER))
        with TestClient(application, base_url=ISSUER) as client:
            build_world(application, client)
        yield application
        dispose(application)


def _feed_ids(app: FastAPI, after: int) -> list[tuple[int, str]]:
    with app.state.read_sessions() as session:
        rows = feed.page(session, "org-provider", TYPE, after, 100)
    return [(change, record.record_id) for change, _, record in rows]


def _publish(session: Session, record_id: str) -> None:
    records.publish(session, PROVIDER, TYPE, example_record(TYPE, "svc-p1", record_id))


def test_a_transaction_that_commits_late_is_not_skipped(
    postgres_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """T1 starts first and writes its record; T2 starts later and commits first.

    A reader that read T2's change must still get T1's after T1 commits.
    """
    numbering = threading.Event()
    release = threading.Event()
    fan_out = feed.records_changed

    def held_back(session: Session, records: Any, today: date) -> None:
        if threading.current_thread().name == "first":
            numbering.set()
            assert release.wait(10)
        fan_out(session, records, today)

    monkeypatch.setattr(feed, "records_changed", held_back)
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with postgres_app.state.sessions() as session, session.begin():
                _publish(session, "rec-first")
        except BaseException as error:
            failures.append(error)

    started = threading.Thread(target=first, name="first")
    started.start()
    assert numbering.wait(10)
    with postgres_app.state.sessions() as session, session.begin():
        _publish(session, "rec-second")
    seen = _feed_ids(postgres_app, 0)
    assert [record_id for _, record_id in seen] == ["rec-second"]
    release.set()
    started.join(10)
    assert not failures and not started.is_alive()
    assert [record_id for _, record_id in _feed_ids(postgres_app, seen[-1][0])] == ["rec-first"]


def test_a_later_transaction_waits_for_the_numbers_before_it_to_commit(
    postgres_app: FastAPI,
) -> None:
    done = threading.Event()
    numbers: list[int] = []

    def second() -> None:
        with postgres_app.state.sessions() as session, session.begin():
            numbers.append(feed.take_numbers(session, 1))
        done.set()

    with postgres_app.state.sessions() as session, session.begin():
        numbers.append(feed.take_numbers(session, 1))
        waiting = threading.Thread(target=second)
        waiting.start()
        assert not done.wait(0.5), "the second transaction took a number before the first committed"
    waiting.join(10)
    assert done.is_set() and numbers == sorted(numbers) and len(set(numbers)) == 2


def _feed_of(app: FastAPI, organisation_id: str) -> list[str]:
    with app.state.read_sessions() as session:
        return [
            record.record_id for _, _, record in feed.page(session, organisation_id, TYPE, 0, 100)
        ]


def test_a_publish_and_a_new_agreement_at_the_same_time_both_reach_the_feed(
    postgres_app: FastAPI,
) -> None:
    """Each decides who sees what only once the other has committed, so neither misses the other."""
    done = threading.Event()
    failures: list[BaseException] = []

    def grant() -> None:
        try:
            with postgres_app.state.sessions() as session, session.begin():
                terms = AgreementTerms([TYPE], None, "Oversight.", "Public task.", None)
                agreements.create(session, PROVIDER, terms, None, "org-other_subscriber", False)
        except BaseException as error:
            failures.append(error)
        done.set()

    with postgres_app.state.sessions() as session, session.begin():
        _publish(session, "rec-racing")
        granting = threading.Thread(target=grant)
        granting.start()
        assert not done.wait(0.5), (
            "the agreement decided who sees what before the publish committed"
        )
    granting.join(10)
    assert not failures and done.is_set()
    assert _feed_of(postgres_app, "org-other_subscriber") == ["rec-racing"]


# The mirror images: the lock held by an entitlement change, which publishing and closing a
# lapse must wait for (found missing by mutation testing).
def _feed_states(app: FastAPI, organisation_id: str) -> list[tuple[str, str]]:
    with app.state.read_sessions() as session:
        rows = feed.page(session, organisation_id, TYPE, 0, 100)
    return [(record.record_id, state) for _, state, record in rows]


def _in_thread(work: object) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    done, failures = threading.Event(), []

    def run() -> None:
        try:
            assert callable(work)
            work()
        except BaseException as error:
            failures.append(error)
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done, failures


def test_a_new_agreement_and_then_a_publish_at_the_same_time_both_reach_the_feed(
    postgres_app: FastAPI,
) -> None:
    """The agreement's transaction holds the lock: the publish decides who sees its record only
    once the agreement has committed, so the new subscriber gets it."""

    def publish() -> None:
        with postgres_app.state.sessions() as session, session.begin():
            records.publish(session, PROVIDER, TYPE, example_record(TYPE, "svc-p1", "rec-racing"))

    with postgres_app.state.sessions() as session, session.begin():
        agreements.create(session, PROVIDER, TERMS, None, "org-other_subscriber", False)
        thread, done, failures = _in_thread(publish)
        assert not done.wait(0.5), "the publish took numbers before the agreement committed"
    thread.join(10)
    assert not failures and done.is_set()
    assert _feed_states(postgres_app, "org-other_subscriber") == [("rec-racing", "updated")]


def test_closing_a_lapsed_agreement_waits_for_a_new_agreement_to_commit(
    postgres_app: FastAPI,
) -> None:
    """org-subscriber's agreement has lapsed while a second one with the same provider is being
    made. Closing the first must decide what the subscriber lost only after the second commits:
    the record stays in its feed."""
    with postgres_app.state.sessions() as session, session.begin():
        records.publish(session, PROVIDER, TYPE, example_record(TYPE, "svc-p1", "rec-kept"))
        session.execute(
            update(Agreement)
            .where(Agreement.id == "agr-subscriber")
            .values(end_date=date.today() - timedelta(days=1))
        )

    def close() -> None:
        with postgres_app.state.sessions() as session, session.begin():
            entitlements.close_lapsed(session, date.today(), "org-subscriber")

    with postgres_app.state.sessions() as session, session.begin():
        agreements.create(session, PROVIDER, TERMS, None, "org-subscriber", False)
        thread, done, failures = _in_thread(close)
        assert not done.wait(0.5), "the lapse was closed before the new agreement committed"
    thread.join(10)
    assert not failures and done.is_set()
    assert _feed_states(postgres_app, "org-subscriber") == [("rec-kept", "updated")]


def test_closing_a_lapse_leaves_the_agreement_free_for_receipts_that_name_it(
    postgres_app: FastAPI,
) -> None:
    """`FOR NO KEY UPDATE`, not `FOR UPDATE`: a receipt written under the agreement while its
    lapse is being closed checks its foreign key without waiting for the closing to commit."""
    with postgres_app.state.sessions() as session, session.begin():
        stored = records.publish(
            session, PROVIDER, TYPE, example_record(TYPE, "svc-p1", "rec-receipted")
        )
        session.execute(
            update(Agreement)
            .where(Agreement.id == "agr-subscriber")
            .values(end_date=date.today() - timedelta(days=1))
        )

    def write_receipt() -> None:
        with postgres_app.state.sessions() as session, session.begin():
            session.add(
                AccessReceipt(
                    provider_id="org-provider",
                    subscriber_id="org-subscriber",
                    service_id="svc-p1",
                    agreement_id="agr-subscriber",
                    record_pk=stored.pk,
                    record_type=TYPE,
                    record_id="rec-receipted",
                    version=1,
                    channel="read",
                    read_at=datetime.now(UTC),
                )
            )

    with postgres_app.state.sessions() as session, session.begin():
        entitlements.close_lapsed(session, date.today(), "org-subscriber")
        thread, done, failures = _in_thread(write_receipt)
        assert done.wait(30), "the receipt waited for the lapse to be closed"
    thread.join(10)
    assert not failures
