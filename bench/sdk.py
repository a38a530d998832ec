"""The SDK's bulk publishing against raw httpx2 bulk calls, to the same server in the same run.

Both contenders publish fresh capacity snapshots to the reference server (seeded demo, real
uvicorn on loopback, real access tokens) through `POST /v1/bulk` in chunks of 500:

- the SDK: `Client.publish_many(records)`, which also reads the capability document, encodes
  each record canonically, derives each chunk's `Idempotency-Key` from its bytes, and turns the
  answers into per-item results in input order;
- the baseline: an httpx2 client with a token fetched once, posting `json.dumps` of each chunk
  with a random key and parsing the answer, nothing more.

Rounds alternate between the two and each keeps its best, so a shared machine's noise hits both
alike. This is the floor under `care-exchange publish` (issue 12, target 0.8x of raw calls): the
SDK itself should cost little. Target: at least 0.9x.
Run: `.venv/bin/python -m bench.sdk [--backend sqlite|postgresql] [--records N] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

import httpx2

from bench.api import Result, fresh_database, postgres_unreachable
from care_exchange_client import Client, ClientSecret
from care_exchange_conformance.config import Party
from care_exchange_standard import SCHEMA_DIR
from care_exchange_testing.reference import serve_reference

TARGET_RATIO = 0.9
CHUNK = 500
EXAMPLE = SCHEMA_DIR / "examples" / "valid" / "capacity-snapshot" / "nursing-home-open.json"


def fresh_records(count: int, service_id: str) -> list[dict[str, Any]]:
    """`count` copies of an example capacity snapshot, each with a new id."""
    template = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return [{**template, "id": str(uuid.uuid4()), "serviceId": service_id} for _ in range(count)]


def _sdk(base_url: str, party: Party, records: list[dict[str, Any]]) -> float:
    with Client(base_url, ClientSecret(party.client_id, party.client_secret)) as client:
        client.fetch_token()
        started = time.perf_counter()
        results = list(client.publish_many(records))
        elapsed = time.perf_counter() - started
    assert all(r.published for r in results), [r for r in results if not r.published][:1]
    return elapsed


def raw_bulk(base_url: str, party: Party, records: list[dict[str, Any]]) -> float:
    """Seconds to post `records` 500 at a time with a token fetched once: the floor."""
    with httpx2.Client(base_url=base_url, timeout=60) as http:
        token = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(party.client_id, party.client_secret),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        published = 0
        for start in range(0, len(records), CHUNK):
            body = json.dumps({"records": records[start : start + CHUNK]}).encode()
            answer = http.post(
                "/v1/bulk",
                content=body,
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            published += sum(item["status"] == 201 for item in answer.json()["results"])
        elapsed = time.perf_counter() - started
    assert published == len(records)
    return elapsed


def run(backend: str, count: int, rounds: int) -> tuple[Result, Result]:
    best = {"sdk": float("inf"), "raw": float("inf")}
    with fresh_database(backend) as url, serve_reference(url) as config:
        assert config.publisher is not None and config.service_id is not None
        for _ in range(rounds):
            for name, contender in (("sdk", _sdk), ("raw", raw_bulk)):
                records = fresh_records(count, config.service_id)
                best[name] = min(best[name], contender(config.base_url, config.publisher, records))
    return (
        Result("SDK publish_many", count / best["sdk"], "records/s"),
        Result("raw httpx2 bulk calls", count / best["raw"], "records/s"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    if options.backend == "postgresql" and (reason := postgres_unreachable()):
        sys.stdout.write(f"postgresql skipped: {reason}\n")
        return 1
    ours, baseline = run(options.backend, options.records, options.rounds)
    for result in (ours, baseline):
        sys.stdout.write(
            f"{options.backend:<10} {result.name:<24} {result.per_second:>10,.0f} {result.unit}\n"
        )
    ratio = ours.per_second / baseline.per_second
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    sys.stdout.write(
        f"{options.backend:<10} SDK bulk ratio {ratio:.2f}x "
        f"({verdict} the target of {TARGET_RATIO}x)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
