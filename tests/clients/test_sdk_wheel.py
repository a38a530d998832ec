"""The SDK as a vendor gets it: its wheel installed into a fresh virtual environment, with the
standard's wheel and nothing of the server, publishing to the reference server.

Slow (a virtual environment, dependencies from the package index or pip's cache), so marked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.clients.conftest import Reference, new_record

ROOT = Path(__file__).resolve().parents[2]
SERVER_LIBRARIES = {"fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "psycopg"}
OUR_PARTS = {"care-exchange-server", "care-exchange-conformance"}

pytestmark = pytest.mark.slow


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, timeout=600
    )


@pytest.mark.timeout(600)
def test_the_installed_sdk_publishes_without_the_server(
    tmp_path: Path, sqlite_reference: Reference
) -> None:
    wheels = tmp_path / "wheels"
    for part in (ROOT / "schemas", ROOT / "clients" / "python"):
        built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, part)
        assert built.returncode == 0, built.stderr
    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", venv).returncode == 0
    python = venv / "bin" / "python"
    installed = _run(
        python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
        "--find-links", wheels, "care-exchange-client",
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    listed = _run(python, "-m", "pip", "list", "--format=freeze").stdout.split()
    distributions = {line.split("==")[0].lower() for line in listed}
    assert "care-exchange-client" in distributions
    assert distributions & (SERVER_LIBRARIES | OUR_PARTS) == set()

    party = sqlite_reference.party("publisher")
    record = new_record(sqlite_reference.service_id)
    script = textwrap.dedent(
        f"""
        import json, sys
        from care_exchange_client import Client, ClientSecret
        credentials = ClientSecret({party.client_id!r}, {party.client_secret!r})
        with Client({sqlite_reference.base_url!r}, credentials) as client:
            envelope = client.publish_record("capacity-snapshot", json.loads(sys.argv[1]))
            print(envelope["version"], [r.status for r in client.publish_many([])])
        """
    )
    published = _run(python, "-W", "error", "-c", script, json.dumps(record))
    assert published.returncode == 0, published.stderr
    assert published.stdout.split("\n")[0] == "1 []"
