"""API throughput: the real server over HTTP against baselines measured in the same run.

1. Bulk publish: POST /v1/bulk of capacity-snapshot records in batches of up to 500, through a
   real uvicorn server on loopback with a real access token, against a raw SQLAlchemy Core insert
   of the same payloads, in the same batches, into the same tables of the same database: the
   records, their first versions and the feed entries of the organisations that see them.
2. Authorised read: GET of one record (real token, keep-alive client, sequential requests)
   against a bare FastAPI route answering the same JSON bytes, served by uvicorn the same way;
   once as the provider reading its own record, once as a commissioner reading it under an
   agreement (which the server must look up, and which leaves an access receipt).

The contenders alternate (rounds of bulk publishing, passes of GETs) and each keeps its best, so
that noise on a shared machine hits them alike. Each backend gets a fresh database: a temporary
SQLite file, or a PostgreSQL database created and dropped by the benchmark. Server and client
share the process (the servers in threads), for the real server and its baseline alike, so the
read ratio is fair; the raw insert has no HTTP at all.
Run: `.venv/bin/python -m bench.api [--backend sqlite|postgresql|both] [--records N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy import Engine, insert, update

from care_exchange_server.app import create_app, dispose
from care_exchange_server.auth import clients
from care_exchange_server.services import directory, entitlements
from care_exchange_server.services.entitlements import AgreementTerms
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, transaction
from care_exchange_server.storage.enums import AuthMethod, FeedState, OrganisationKind, RecordState
from care_exchange_server.storage.migrate import upgrade
from care_exchange_server.storage.models import (
    ChangeCounter,
    FeedEntry,
    Record,
    RecordVersion,
    Service,
)
from care_exchange_server.storage.types import utcnow
from care_exchange_standard import SCHEMA_DIR
from care_exchange_testing import postgres
from care_exchange_testing.live_server import live_server

TARGET_RATIO = 0.5
BATCH = 500
RECORD_TYPE = "capacity-snapshot"
ISSUER = "https://care-exchange.bench"
ORGANISATION = "org-bench"
READER = "org-bench-reader"
SERVICE = "svc-bench"
POSTGRES_ADMIN_URL = os.environ.get(
    "CARE_EXCHANGE_BENCH_POSTGRES",
    os.environ.get("CARE_EXCHANGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"),
)


@dataclass(frozen=True)
class Result:
    """One contender's rate."""

    name: str
    per_second: float
    unit: str


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A new, migrated, empty database of the backend, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="care-exchange-bench-") as folder:
            url = f"sqlite:///{folder}/bench.sqlite3"
            upgrade(url)
            yield url
        return
    for url in postgres.fresh_database(POSTGRES_ADMIN_URL, "care_exchange_bench"):
        upgrade(url)
        yield url


def postgres_unreachable() -> str | None:
    return postgres.unreachable(POSTGRES_ADMIN_URL)


def service_of(provider_id: str) -> Service:
    """The one service every benchmark publishes for."""
    document = {
        "directoryType": "service",
        "schemaVersion": "1.0",
        "id": SERVICE,
        "providerId": provider_id,
        "name": "Bench service",
        "serviceType": "care-home-with-nursing",
        "status": "active",
    }
    return Service(id=SERVICE, provider_id=provider_id, document=document)


def seed(app: FastAPI) -> tuple[tuple[str, str], tuple[str, str]]:
    """A provider with one service and a commissioner with an agreement: credentials for each."""
    with transaction(app.state.sessions) as session:
        directory.create_organisation(
            session, "Bench provider", OrganisationKind.PROVIDER, ORGANISATION
        )
        directory.create_organisation(
            session, "Bench commissioner", OrganisationKind.COMMISSIONER, READER
        )
        made, secret = clients.create_client(
            session,
            ORGANISATION,
            "bench",
            [f"{RECORD_TYPE}:publish", f"{RECORD_TYPE}:read"],
            AuthMethod.CLIENT_SECRET_BASIC,
        )
        reader, reader_secret = clients.create_client(
            session, READER, "bench-reader", [f"{RECORD_TYPE}:read"], AuthMethod.CLIENT_SECRET_BASIC
        )
        session.add(service_of(ORGANISATION))
        session.flush()
        entitlements.grant(session, ORGANISATION, READER, bench_terms(), agreement_id="agr-bench")
    assert secret is not None and reader_secret is not None
    return (made.client_id, secret), (reader.client_id, reader_secret)


def bench_terms() -> AgreementTerms:
    """A commissioner's agreement for the bench record type in every service of the provider."""
    return AgreementTerms([RECORD_TYPE], None, "Benchmark.", "Public task.", None)


def payloads(count: int, prefix: str) -> list[dict[str, Any]]:
    """`count` valid capacity snapshots for the bench service, each with its own id."""
    path = sorted((SCHEMA_DIR / "examples" / "valid" / RECORD_TYPE).glob("*.json"))[0]
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [{**template, "serviceId": SERVICE, "id": f"{prefix}-{i:07d}"} for i in range(count)]


def batches(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def token_for(client: httpx.Client, client_id: str, secret: str) -> str:
    response = client.post(
        "/oauth/token", auth=(client_id, secret), data={"grant_type": "client_credentials"}
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def publish_over_http(client: httpx.Client, token: str, items: list[dict[str, Any]]) -> float:
    """Seconds to publish every item through POST /v1/bulk; every item must be a 201.

    The request bodies are encoded before the clock starts, as a load generator would have them:
    the client shares this process, and the raw insert has no encoding step to match it.
    """
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [json.dumps({"records": batch}).encode() for batch in batches(items)]
    start = time.perf_counter()
    for body in bodies:
        response = client.post("/v1/bulk", content=body, headers=headers)
        response.raise_for_status()
        failed = [r for r in response.json()["results"] if r["status"] != 201]
        if failed:
            raise SystemExit(f"bulk publish failed: {failed[0]}")
    return time.perf_counter() - start


def record_rows(
    items: list[dict[str, Any]], provider_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The `records` rows of first versions of `items`, published by their provider."""
    return [
        {
            "record_type": RECORD_TYPE,
            "record_id": item["id"],
            "service_id": SERVICE,
            "provider_id": provider_id,
            "version": 1,
            "state": RecordState.ACTIVE,
            "submitted_by": provider_id,
            "published_at": now,
            "data": item,
        }
        for item in items
    ]


def insert_raw(engine: Engine, items: list[dict[str, Any]]) -> float:
    """Seconds to insert the same rows with SQLAlchemy Core, one transaction per batch.

    The same rows as the server writes: each record, its first version, and a feed entry for
    each organisation that may see it (the provider and the commissioner), numbered from the
    change counter.
    """
    tables = Record.metadata.tables
    records, versions = tables[Record.__tablename__], tables[RecordVersion.__tablename__]
    counter, entries = tables[ChangeCounter.__tablename__], tables[FeedEntry.__tablename__]
    start = time.perf_counter()
    for batch in batches(items):
        now = utcnow()
        with engine.begin() as connection:
            inserted = connection.execute(
                insert(records).returning(records.c.pk, sort_by_parameter_order=True),
                record_rows(batch, ORGANISATION, now),
            )
            pks = list(inserted.scalars())
            connection.execute(
                insert(versions),
                [
                    {
                        "record_pk": pk,
                        "version": 1,
                        "state": RecordState.ACTIVE,
                        "submitted_by": ORGANISATION,
                        "published_at": now,
                        "data": item,
                    }
                    for pk, item in zip(pks, batch, strict=True)
                ],
            )
            readers = (ORGANISATION, READER)
            last = connection.execute(
                update(counter)
                .values(value=counter.c.value + len(pks) * len(readers))
                .returning(counter.c.value)
            ).scalar_one()
            first = last - len(pks) * len(readers) + 1
            connection.execute(
                insert(entries),
                [
                    {
                        "organisation_id": reader,
                        "record_pk": pk,
                        "record_type": RECORD_TYPE,
                        "change_number": first + offset,
                        "state": FeedState.UPDATED,
                    }
                    for offset, (pk, reader) in enumerate(
                        (pk, reader) for pk in pks for reader in readers
                    )
                ],
            )
    return time.perf_counter() - start


def settle(engine: Engine) -> None:
    """Vacuum and analyse PostgreSQL after the bulk phase.

    Otherwise autovacuum may wake up (and take a CPU) in the middle of the read timings, and it
    would hit whichever contender it coincided with.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")


def bulk_rates(
    client: httpx.Client, token: str, engine: Engine, count: int, rounds: int
) -> tuple[float, float]:
    """Records per second over HTTP and raw, each the best of `rounds` alternating rounds.

    Each round publishes its share of `count` records both ways, so noise on this shared machine
    hits both contenders alike.
    """
    share = max(1, count // rounds)
    best_http = best_raw = float("inf")
    for number in range(rounds):
        best_http = min(
            best_http, publish_over_http(client, token, payloads(share, f"http-{number}"))
        )
        best_raw = min(best_raw, insert_raw(engine, payloads(share, f"raw-{number}")))
    return share / best_http, share / best_raw


def bare_app(body: bytes, etag: str) -> FastAPI:
    """The baseline: a FastAPI route with the same path answering the same bytes, nothing else."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/v1/records/{record_type}/{record_id}")
    def read(record_type: str, record_id: str) -> Response:
        return Response(body, media_type="application/json", headers={"ETag": etag})

    return app


def best_get_rates(
    contenders: list[tuple[str, dict[str, str]]], path: str, requests: int, repeats: int
) -> list[tuple[float, bytes]]:
    """Requests per second of sequential GETs on one keep-alive connection per contender.

    The contenders' passes alternate, and each keeps its best: a burst of noise on this shared
    machine then hits every contender alike instead of the one that happened to be running.
    """
    clients = [httpx.Client(base_url=url, headers=headers) for url, headers in contenders]
    try:
        bodies = []
        for client in clients:
            first = client.get(path)
            first.raise_for_status()
            bodies.append(first.content)
        best = [float("inf")] * len(clients)
        for _ in range(repeats):
            for number, client in enumerate(clients):
                start = time.perf_counter()
                for _ in range(requests):
                    if client.get(path).status_code != 200:
                        raise SystemExit(f"GET {path} stopped answering 200")
                best[number] = min(best[number], time.perf_counter() - start)
    finally:
        for client in clients:
            client.close()
    return [(requests / seconds, body) for seconds, body in zip(best, bodies, strict=True)]


def run_backend(
    backend: str, count: int, requests: int, repeats: int
) -> list[tuple[str, tuple[Result, Result]]]:
    with fresh_database(backend) as url:
        app = create_app(Settings(database_url=url, issuer=ISSUER))
        engine = make_engine(url)
        try:
            publisher, reader = seed(app)
            with (
                live_server(app) as base_url,
                httpx.Client(base_url=base_url, timeout=120) as client,
            ):
                token = token_for(client, *publisher)
                reader_token = token_for(client, *reader)
                publish_over_http(client, token, payloads(20, "warm-http"))
                insert_raw(engine, payloads(20, "warm-raw"))
                http_rate, raw_rate = bulk_rates(client, token, engine, count, repeats)
                settle(engine)
                path = f"/v1/records/{RECORD_TYPE}/http-0-0000000"
                body = httpx.get(
                    f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"}
                ).content
                with live_server(bare_app(body, '"1"')) as bare_url:
                    measured = best_get_rates(
                        [
                            (base_url, {"Authorization": f"Bearer {token}"}),
                            (base_url, {"Authorization": f"Bearer {reader_token}"}),
                            (bare_url, {}),
                        ],
                        path,
                        requests,
                        repeats,
                    )
            (served, body), (served_to_reader, reader_body), (bare, bare_body) = measured
            if not bare_body == body == reader_body:
                raise SystemExit("the bare route answers different bytes: the comparison is moot")
        finally:
            engine.dispose()
            dispose(app)
    bulk = (
        Result("bulk publish over HTTP", http_rate, "records/s"),
        Result("raw SQLAlchemy Core insert", raw_rate, "records/s"),
    )
    baseline = Result("bare FastAPI GET", bare, "requests/s")
    return [
        ("bulk", bulk),
        ("GET by provider", (Result("provider's GET over HTTP", served, "requests/s"), baseline)),
        (
            "GET by commissioner",
            (Result("commissioner's GET over HTTP", served_to_reader, "requests/s"), baseline),
        ),
    ]


def report(backend: str, label: str, pair: tuple[Result, Result]) -> None:
    ours, baseline = pair
    for result in pair:
        sys.stdout.write(
            f"{backend:<10} {result.name:<30} {result.per_second:>12,.0f} {result.unit}\n"
        )
    ratio = ours.per_second / baseline.per_second
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    sys.stdout.write(
        f"{backend:<10} {label} ratio {ratio:.2f}x ({verdict} the target of {TARGET_RATIO}x)\n"
    )


def reachable_backends(choice: str) -> list[str] | None:
    """The backends `--backend` names that can run; None if PostgreSQL alone was asked for and
    cannot be reached (a skipped backend is reported, not silently left out)."""
    backends = []
    for backend in ["sqlite", "postgresql"] if choice == "both" else [choice]:
        reason = postgres_unreachable() if backend == "postgresql" else None
        if reason:
            sys.stdout.write(f"{backend:<10} skipped: {reason}\n")
            if choice == "postgresql":
                return None
            continue
        backends.append(backend)
    return backends


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--records", type=int, default=3000, help="records bulk-published")
    parser.add_argument("--requests", type=int, default=500, help="GETs per timed pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed GET passes; best counts")
    args = parser.parse_args(argv)
    backends = reachable_backends(args.backend)
    if backends is None:
        return 1
    for backend in backends:
        for label, pair in run_backend(backend, args.records, args.requests, args.repeats):
            report(backend, label, pair)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
