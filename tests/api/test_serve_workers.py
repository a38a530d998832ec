"""`care-exchange serve --workers N`: several real server processes on one PostgreSQL database,
each on uvloop and httptools; refused on SQLite; the settings the command derives reach them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from care_exchange_server.auth import clients
from care_exchange_server.cli import settings_environment
from care_exchange_server.services import directory
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, session_factory, transaction
from care_exchange_server.storage.enums import AuthMethod, OrganisationKind
from care_exchange_server.storage.migrate import upgrade
from care_exchange_server.storage.models import Service
from care_exchange_standard.command import build
from care_exchange_testing import postgres
from care_exchange_testing.live_server import free_port
from tests.api.world import example_record, service_document

CLI = str(Path(sys.executable).parent / "care-exchange")
TYPE = "capacity-snapshot"
SERVICE = "svc-workers"


def _seeded(url: str) -> tuple[str, str]:
    """A provider client with a secret and one service, in the migrated database at `url`."""
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            directory.create_organisation(session, "P", OrganisationKind.PROVIDER, "org-p")
            made, secret = clients.create_client(
                session,
                "org-p",
                "p",
                [f"{TYPE}:publish", f"{TYPE}:read"],
                AuthMethod.CLIENT_SECRET_BASIC,
            )
            session.add(
                Service(
                    id=SERVICE, provider_id="org-p", document=service_document(SERVICE, "org-p")
                )
            )
    finally:
        engine.dispose()
    assert secret is not None
    return made.client_id, secret


def _answered_by(log: Path) -> dict[str, int]:
    """Which process answered each request, from the JSON request log lines."""
    found = {}
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("message") == "request":
            found[entry["request_id"]] = entry["pid"]
    return found


def _workers(pid: int) -> set[int]:
    """The server processes uvicorn started (not multiprocessing's resource tracker)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return {
        child for child in found if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    }


@pytest.fixture
def database(postgres_server: str) -> Iterator[str]:
    for url in postgres.fresh_database(postgres_server):
        upgrade(url)
        yield url


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_workers_serve_one_postgresql_database(database: str, tmp_path: Path) -> None:
    client_id, secret = _seeded(database)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{
            name: value
            for name, value in os.environ.items()
            if not name.startswith("CARE_EXCHANGE_")
        },
        "CARE_EXCHANGE_DATABASE_URL": database,
        "CARE_EXCHANGE_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "serve.log"
    command = [CLI, "serve", "--workers", "2", "--port", str(port)]
    with log.open("w") as stderr, subprocess.Popen(command, env=env, stderr=stderr) as server:
        try:
            _wait_ready(base, server)
            token = httpx.post(
                f"{base}/oauth/token",
                auth=(client_id, secret),
                data={"grant_type": "client_credentials"},
                timeout=30,
            ).json()["access_token"]
            # The issuer the command derived from --port reached the workers.
            capabilities = httpx.get(f"{base}/.well-known/care-exchange", timeout=30).json()
            assert capabilities["auth"]["issuer"] == base
            headers = {"Authorization": f"Bearer {token}"}
            record = example_record(TYPE, SERVICE)
            published = httpx.post(
                f"{base}/v1/records/{TYPE}",
                json=record,
                headers={**headers, "X-Request-ID": "publish"},
                timeout=30,
            )
            assert published.status_code == 201, published.text
            reads = _read_until_both_answer(
                f"{base}/v1/records/{TYPE}/{record['id']}", headers, log
            )
            answered = _answered_by(log)
            publisher = answered["publish"]
            # The last reads' log lines may still be on their way: those logged are enough.
            readers = {answered[request_id] for request_id in reads if request_id in answered}
            workers = _workers(server.pid)
            assert len(workers) == 2 and {publisher} | readers == workers
            assert readers - {publisher}, "the record was read through the other process"
            for worker in workers:
                maps = Path(f"/proc/{worker}/maps").read_text()
                assert "/uvloop/" in maps and "/httptools/" in maps
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=10)
    assert "Traceback" not in log.read_text()


def _wait_ready(base: str, server: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "the server exited"
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server was not ready within a minute"
        time.sleep(0.1)


def _read_until_both_answer(url: str, headers: dict[str, str], log: Path) -> list[str]:
    """Request ids of concurrent reads (each on its own connection), all 200 with the record,
    sent until two processes have answered them."""
    sent: list[str] = []

    def read(number: int) -> str:
        request_id = f"read-{number}"
        answer = httpx.get(url, headers={**headers, "X-Request-ID": request_id}, timeout=30)
        assert answer.status_code == 200, answer.text
        return request_id

    with ThreadPoolExecutor(8) as pool:
        for round_number in range(20):
            start = round_number * 16
            sent += pool.map(read, range(start, start + 16))
            time.sleep(0.2)  # the log line follows the response
            if len({_answered_by(log).get(request_id) for request_id in sent} - {None}) == 2:
                return sent
    return sent


def test_several_workers_are_refused_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARE_EXCHANGE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    result = CliRunner().invoke(build(), ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers above 1 needs PostgreSQL" in result.output
    assert not (tmp_path / "x.sqlite3").exists()


def test_the_settings_reach_worker_processes_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    derived = Settings(
        issuer="http://10.0.0.1:9000",
        rate_limit_api_per_client="off",
        rate_limit_token_per_client="7 per 3 seconds",
        webhook_allowed_hosts=["127.0.0.1/32"],
        webhook_retry_delays_seconds=[0, 0.5],
        worker_poll_seconds=0.25,
    )
    for name in list(os.environ):
        if name.startswith("CARE_EXCHANGE_"):
            monkeypatch.delenv(name)
    for name, value in settings_environment(derived).items():
        monkeypatch.setenv(name, value)
    assert Settings() == derived


def test_uvicorn_auto_resolves_to_uvloop_and_httptools() -> None:
    """What `serve` asks uvicorn for (`loop="auto"`, `http="auto"`) is uvloop and httptools here."""
    import httptools  # noqa: F401
    import uvloop

    config = uvicorn.Config(lambda: None, loop="auto", http="auto")
    config.load()
    assert config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"
    loop_factory = config.get_loop_factory()
    assert loop_factory is not None
    loop = loop_factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
