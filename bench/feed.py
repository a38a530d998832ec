"""Feed page time as history grows: after 10,000 changes and after 1,000,000, in one run.

The feed is read over HTTP from a real uvicorn server with a real token, as one of the
organisations the history was fanned out to. History is written straight into the tables, in
the shape the server writes it: records, and a feed entry per record for each of
`--organisations` organisations (the reader among them), numbered from the change counter.
The reader's pages are timed at the start, the middle and the end of its feed; the target is
that a page after 1,000,000 changes takes at most 1.5 times as long as after 10,000 (keyset
access, no scan that grows with history).
Run: `.venv/bin/python -m bench.feed [--small N] [--large N] [--organisations N]`.
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine, insert, select, update

from bench.api import (
    ISSUER,
    RECORD_TYPE,
    fresh_database,
    payloads,
    postgres_unreachable,
    record_rows,
    service_of,
)
from care_exchange_server.app import create_app, dispose
from care_exchange_server.auth import clients
from care_exchange_server.services import directory
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, transaction
from care_exchange_server.storage.enums import AuthMethod, FeedState, OrganisationKind
from care_exchange_server.storage.models import ChangeCounter, FeedEntry, Record
from care_exchange_server.storage.types import utcnow
from care_exchange_testing.live_server import live_server

TARGET_RATIO = 1.5
PROVIDER = "org-feed-provider"
READER = "org-feed-reader-00"
PAGE_SIZE = 100
CHUNK = 5_000


def seed(app: FastAPI, organisations: int) -> tuple[str, str]:
    """The provider, its service, the subscriber organisations; the reader's credentials."""
    with transaction(app.state.sessions) as session:
        directory.create_organisation(session, "Feed provider", OrganisationKind.PROVIDER, PROVIDER)
        for number in range(organisations):
            organisation = f"org-feed-reader-{number:02d}"
            directory.create_organisation(
                session, organisation, OrganisationKind.COMMISSIONER, organisation
            )
        made, secret = clients.create_client(
            session, READER, "feed-reader", [f"{RECORD_TYPE}:read"], AuthMethod.CLIENT_SECRET_BASIC
        )
        session.add(service_of(PROVIDER))
    assert secret is not None
    return made.client_id, secret


def grow(engine: Engine, changes: int, organisations: int, written: int) -> int:
    """Write history until `changes` feed entries exist (from `written`); the new total."""
    tables = Record.metadata.tables
    records = tables[Record.__tablename__]
    entries, counter = tables[FeedEntry.__tablename__], tables[ChangeCounter.__tablename__]
    while written < changes:
        count = min(CHUNK, (changes - written) // organisations)
        if count == 0:
            break
        now = utcnow()
        with engine.begin() as connection:
            inserted = connection.execute(
                insert(records).returning(records.c.pk, sort_by_parameter_order=True),
                record_rows(payloads(count, f"feed-{written:08d}"), PROVIDER, now),
            )
            pks = list(inserted.scalars())
            last = connection.execute(
                update(counter)
                .values(value=counter.c.value + count * organisations)
                .returning(counter.c.value)
            ).scalar_one()
            first = last - count * organisations + 1
            connection.execute(
                insert(entries),
                [
                    {
                        "organisation_id": f"org-feed-reader-{number % organisations:02d}",
                        "record_pk": pks[number // organisations],
                        "record_type": RECORD_TYPE,
                        "change_number": first + number,
                        "state": FeedState.UPDATED,
                    }
                    for number in range(count * organisations)
                ],
            )
        written += count * organisations
    return written


def reader_positions(engine: Engine) -> list[int]:
    """`after` values for a page at the start, the middle and the end of the reader's feed."""
    with engine.connect() as connection:
        numbers = list(
            connection.execute(
                select(FeedEntry.change_number)
                .where(FeedEntry.organisation_id == READER)
                .order_by(FeedEntry.change_number)
            ).scalars()
        )
    middle = numbers[len(numbers) // 2]
    end = numbers[max(0, len(numbers) - PAGE_SIZE - 1)]
    return [0, middle, end]


def seconds_per_page(base_url: str, token: str, positions: list[int], repeats: int) -> float:
    """Best mean time of one full page, over `repeats` passes of the positions."""
    path = f"/v1/feed/{RECORD_TYPE}"
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for after in positions:
                response = client.get(path, params={"after": after, "page_size": PAGE_SIZE})
                response.raise_for_status()
                if len(response.json()["items"]) != PAGE_SIZE:
                    raise SystemExit(f"a page after {after} is not full: the comparison is moot")
            best = min(best, (time.perf_counter() - start) / len(positions))
    return best


def run(small: int, large: int, organisations: int, repeats: int) -> dict[int, float]:
    timings: dict[int, float] = {}
    with fresh_database("postgresql") as url:
        app = create_app(Settings(database_url=url, issuer=ISSUER))
        engine = make_engine(url)
        try:
            reader = seed(app, organisations)
            written = 0
            with live_server(app) as base_url, httpx.Client(base_url=base_url) as client:
                response = client.post(
                    "/oauth/token", auth=reader, data={"grant_type": "client_credentials"}
                )
                response.raise_for_status()
                token: str = response.json()["access_token"]
                for changes in (small, large):
                    written = grow(engine, changes, organisations, written)
                    with engine.connect() as connection:
                        connection.exec_driver_sql("ANALYZE")
                    positions = reader_positions(engine)
                    timings[written] = seconds_per_page(base_url, token, positions, repeats)
        finally:
            engine.dispose()
            dispose(app)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=10_000, help="changes in the small history")
    parser.add_argument("--large", type=int, default=1_000_000, help="changes in the large one")
    parser.add_argument("--organisations", type=int, default=20, help="feeds the changes reach")
    parser.add_argument("--repeats", type=int, default=20, help="timed passes; the best counts")
    args = parser.parse_args(argv)
    reason = postgres_unreachable()
    if reason:
        sys.stdout.write(f"postgresql skipped: {reason}\n")
        return 1
    timings = run(args.small, args.large, args.organisations, args.repeats)
    for changes, seconds in timings.items():
        sys.stdout.write(
            f"postgresql feed page ({PAGE_SIZE} items) after {changes:>9,} changes "
            f"{seconds * 1000:8.2f} ms\n"
        )
    small, large = timings.values()
    ratio = large / small
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    sys.stdout.write(
        f"postgresql feed page time ratio {ratio:.2f} ({verdict} the target of at most "
        f"{TARGET_RATIO})\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
