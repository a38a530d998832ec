"""Warm workers lent to one thread at a time, retired after so many returns, stopped on close."""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any

import pytest

from care_exchange_standard.returns import FilledReturn, SandboxPool, fill, load_template
from care_exchange_standard.returns.sandbox import Sandbox
from tests.schemas.returns.conftest import SERVICE, template


def _fill(pool: SandboxPool, records: list[dict[str, Any]]) -> tuple[FilledReturn, Sandbox]:
    with pool.borrow() as sandbox:
        filled = fill(
            load_template(template()),
            records,
            service_id=SERVICE,
            period="2026-10",
            sandbox=sandbox,
        )
    return filled, sandbox


def _snapshots(filled: FilledReturn) -> Any:
    return {f.definition["code"]: f.value for f in filled.fields}["SNAPSHOTS"]


def test_the_next_return_reuses_the_warm_worker(records: list[dict[str, Any]]) -> None:
    pool = SandboxPool()
    try:
        first, lent = _fill(pool, records)
        pid = lent.pid
        second, again = _fill(pool, records)
        assert again is lent and again.pid == pid and again.started == 1
        assert _snapshots(first) == _snapshots(second) == 2
    finally:
        pool.close()
    assert lent.pid is None


def test_no_more_workers_than_the_size_serve_at_once(records: list[dict[str, Any]]) -> None:
    pool = SandboxPool(size=2)
    lent: set[int] = set()
    busy, most = 0, 0
    counting = threading.Lock()

    def serve() -> None:
        nonlocal busy, most
        with pool.borrow() as sandbox:
            with counting:
                busy += 1
                most = max(most, busy)
                lent.add(id(sandbox))
            time.sleep(0.2)
            filled = fill(
                load_template(template()),
                records,
                service_id=SERVICE,
                period="2026-10",
                sandbox=sandbox,
            )
            assert _snapshots(filled) == 2
            with counting:
                busy -= 1

    threads = [threading.Thread(target=serve) for _ in range(5)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        pool.close()
    assert most == 2 and len(lent) == 2


def test_a_worker_is_retired_after_its_uses(records: list[dict[str, Any]]) -> None:
    pool = SandboxPool(uses=2)
    try:
        _, first = _fill(pool, records)
        _, second = _fill(pool, records)
        assert second is first and first.pid is None  # retired when given back
        _, third = _fill(pool, records)
        assert third is not first and pool.idle == [third]
    finally:
        pool.close()


def test_a_closed_pool_lends_nothing_and_stops_what_comes_back(
    records: list[dict[str, Any]],
) -> None:
    pool = SandboxPool()
    with pool.borrow() as sandbox:
        fill(
            load_template(template()),
            records,
            service_id=SERVICE,
            period="2026-10",
            sandbox=sandbox,
        )
        pool.close()
        assert sandbox.pid is not None  # still in use
    assert sandbox.pid is None and pool.idle == []
    with pytest.raises(RuntimeError, match="closed"), pool.borrow():
        pass


def test_a_sandbox_dropped_unclosed_leaves_no_worker_behind(
    records: list[dict[str, Any]],
) -> None:
    sandbox = Sandbox()
    fill(load_template(template()), records, service_id=SERVICE, period="2026-10", sandbox=sandbox)
    pid = sandbox.pid
    assert pid is not None
    del sandbox
    gc.collect()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
