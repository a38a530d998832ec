"""Each installable part, built as a wheel and installed into a fresh virtual environment, works
on its own: what a vendor gets from `pip install`, not what the editable checkout happens to see.
The wheels are built once, and the installed SDK and suite talk to the installed server.

Slow (four virtual environments, dependencies from the package index or pip's cache), so marked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from care_exchange_testing.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PARTS = {
    "standard": ROOT / "schemas",
    "server": ROOT / "api",
    "suite": ROOT / "conformance",
    "client": ROOT / "clients" / "python",
}
# The list; pydantic is not on it (typer itself depends on it).
SERVER_LIBRARIES = {"fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "psycopg"}
CAPACITY_EXAMPLE = ROOT / "schemas/examples/valid/capacity-snapshot/nursing-home-open.json"


def new_capacity_snapshot() -> dict[str, Any]:
    """The example capacity snapshot with an id of its own."""
    record: dict[str, Any] = json.loads(CAPACITY_EXAMPLE.read_text(encoding="utf-8"))
    return record | {"id": str(uuid.uuid4())}


pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Venv:
    """A fresh virtual environment with one part installed from its wheel."""

    path: Path

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def run(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, capture_output=True, text=True, check=False, cwd=cwd, env=env, timeout=600
        )

    def distributions(self) -> set[str]:
        listed = self.run(
            self.bin("python"),
            "-c",
            "import importlib.metadata as m; print(*(d.name for d in m.distributions()))",
        )
        assert listed.returncode == 0, listed.stderr
        return {name.lower() for name in listed.stdout.split()}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every part's wheel, built from this checkout."""
    folder = tmp_path_factory.mktemp("wheels")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", folder, *PARTS.values()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return folder


def test_without_a_c_compiler_the_standard_is_pure_python(tmp_path: Path) -> None:
    """CARE_EXCHANGE_PURE_PYTHON stands in for a machine without one: the wheel is for any."""
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            tmp_path,
            PARTS["standard"],
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CARE_EXCHANGE_PURE_PYTHON": "1"},
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("care_exchange_standard-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    with zipfile.ZipFile(wheel) as archive:
        assert not [name for name in archive.namelist() if name.endswith((".so", ".pyd"))]


def make_venv(wheelhouse: Path, where: Path, distribution: str) -> Venv:
    """A new environment with `distribution` from the wheelhouse and its declared dependencies.

    This checkout's pip installs into it (`--python`), so the environment gets no pip of its own,
    and nothing is compiled ahead: a fifth of the time, with the same resolution and files.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", where], check=True, timeout=120)
    venv = Venv(where)
    installed = venv.run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        venv.bin("python"),
        "install",
        "-q",
        "--no-compile",
        "--disable-pip-version-check",
        "--find-links",
        str(wheelhouse),
        distribution,
    )
    assert installed.returncode == 0, installed.stderr
    return venv


def test_the_wheels_carry_the_schemas_and_the_spec(wheelhouse: Path) -> None:
    (standard,) = wheelhouse.glob("care_exchange_standard-*.whl")
    names = set(
        subprocess.run(
            [sys.executable, "-m", "zipfile", "-l", standard],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    )
    data = "care_exchange_standard/data/"
    assert f"{data}spec/openapi.yaml" in names
    assert f"{data}schemas/records/capacity-snapshot.json" in names
    assert f"{data}schemas/codelists/bed-types.json" in names or any(
        name.startswith(f"{data}schemas/codelists/") for name in names
    )
    assert f"{data}schemas/VERSION" in names
    # The C line builder is compiled in (a wheel for this platform), its source left out.
    assert any(
        re.fullmatch(r"care_exchange_standard/tables/_line_builder\..+\.so", n) for n in names
    )
    assert not any(name.endswith(".c") for name in names)
    assert not standard.name.endswith("-py3-none-any.whl"), standard.name
    (server,) = wheelhouse.glob("care_exchange_server-*.whl")
    listing = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", server], capture_output=True, text=True, check=True
    ).stdout
    assert "care_exchange_server/storage/migrations/script.py.mako" in listing
    assert "care_exchange_server/swagger_ui/swagger-ui-bundle.js" in listing
    assert "care_exchange_server/swagger_ui/LICENSE" in listing
    assert not re.search(r"^(api|schemas|conformance)/", listing, re.MULTILINE)
    for name in ("formats/return-template.json", "formats/rule-set.json", "rules/"):
        assert any(entry.startswith(f"{data}schemas/{name}") for entry in names), name


def test_every_wheel_carries_the_licence_and_the_release_version(wheelhouse: Path) -> None:
    version = (ROOT / "schemas" / "VERSION").read_text().strip()
    for package in ("standard", "server", "conformance", "client"):
        (wheel,) = wheelhouse.glob(f"care_exchange_{package}-*.whl")
        assert wheel.name.startswith(f"care_exchange_{package}-{version}-"), wheel.name
        with zipfile.ZipFile(wheel) as archive:
            licence = archive.read(f"care_exchange_{package}/LICENSE").decode()
        assert "MIT License" in licence and "CC BY 4.0" in licence


@pytest.mark.timeout(600)
def test_the_standard_alone_validates_and_pulls_no_server_library(
    wheelhouse: Path, tmp_path: Path
) -> None:
    venv = make_venv(wheelhouse, tmp_path / "venv", "care-exchange-standard")
    assert venv.distributions() & SERVER_LIBRARIES == set()
    examples = ROOT / "schemas" / "examples"
    valid = venv.run(
        venv.bin("care-exchange"), "validate", str(next((examples / "valid").rglob("*.json")))
    )
    assert valid.returncode == 0, valid.stdout + valid.stderr
    invalid = venv.run(
        venv.bin("care-exchange"), "validate", str(next((examples / "invalid").rglob("*.json")))
    )
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    # The installed standard reads CSV, with its compiled line builder.
    sheet = tmp_path / "capacity.csv"
    wrote = venv.run(
        venv.bin("care-exchange"),
        "spreadsheet",
        "capacity-snapshot",
        "--format",
        "csv",
        "--output",
        str(sheet),
        "--from",
        str(CAPACITY_EXAMPLE),
    )
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    read = venv.run(venv.bin("care-exchange"), "validate", str(sheet))
    assert read.returncode == 0 and "1 record" in read.stdout, read.stdout + read.stderr
    native = venv.run(
        venv.bin("python"),
        "-c",
        "from care_exchange_standard.tables._line_builder import Builder; print(Builder)",
    )
    assert native.returncode == 0 and "Builder" in native.stdout, native.stderr
    missing = venv.run(venv.bin("care-exchange"), "serve")
    assert missing.returncode == 2
    assert "pip install care-exchange-server" in missing.stderr
    assert "Traceback" not in missing.stderr


@dataclass(frozen=True)
class Running:
    """The installed server: its address and the demo clients it printed, in order."""

    base_url: str
    clients: list[tuple[str, str]]
    conformance_config: Path

    def token(self, index: int) -> str:
        client_id, secret = self.clients[index]
        answer = httpx.post(
            f"{self.base_url}/oauth/token",
            auth=(client_id, secret),
            data={"grant_type": "client_credentials"},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def publish_example(self) -> str:
        """Publish a capacity snapshot (with an id of its own) as the demo's first provider."""
        record = new_capacity_snapshot()
        published = httpx.post(
            f"{self.base_url}/v1/records/capacity-snapshot",
            json=record,
            headers={"Authorization": f"Bearer {self.token(0)}"},
        )
        assert published.status_code == 201, published.text
        return str(published.json()["id"])


@pytest.fixture(scope="module")
def installed_server(
    wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """`care-exchange run` from the server's wheel alone, in an empty folder."""
    tmp_path = tmp_path_factory.mktemp("server")
    venv = make_venv(wheelhouse, tmp_path / "venv", "care-exchange-server")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CARE_EXCHANGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    process = subprocess.Popen(
        [venv.bin("care-exchange"), "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    clients: list[tuple[str, str]] = []
    config: Path | None = None
    logged: list[str] = []
    drain: threading.Thread | None = None
    try:
        for line in process.stdout:
            found = re.search(r"client_id=(\S+) client_secret=(\S+)", line)
            if found:
                clients.append((found[1], found[2]))
            command = re.search(r"care-exchange conformance run --config (\S+)", line)
            if command:
                config = tmp_path / command[1]
                break
        assert process.poll() is None and len(clients) == 4, clients  # the demo's four clients
        assert config is not None and config.is_file()
        # The server logs every request to this pipe: keep reading it, or a full pipe stops it.
        drain = threading.Thread(target=logged.extend, args=(process.stdout,), daemon=True)
        drain.start()
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_up(base_url)
        yield Running(base_url, clients, config)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        if drain is not None:
            drain.join(timeout=10)
        process.stdout.close()


def _wait_until_up(base_url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base_url}/.well-known/care-exchange", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.timeout(600)
def test_the_server_wheel_serves_its_spec_and_takes_a_publish(installed_server: Running) -> None:
    base_url = installed_server.base_url
    spec = httpx.get(f"{base_url}/openapi.yaml")
    assert spec.status_code == 200
    served = yaml.safe_load(spec.text)
    source = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))
    assert served["paths"].keys() == source["paths"].keys()
    assert "../schemas/" not in spec.text, "the served document is bundled from the wheel's data"
    schema = httpx.get(f"{base_url}/schemas/v1/records/capacity-snapshot.json")
    assert schema.content == (ROOT / "schemas/records/capacity-snapshot.json").read_bytes()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "care-exchange-docs.js"):
        assert httpx.get(f"{base_url}/docs/assets/{asset}").status_code == 200, asset
    published = installed_server.publish_example()
    read = httpx.get(
        f"{base_url}/v1/records/capacity-snapshot/{published}",
        headers={"Authorization": f"Bearer {installed_server.token(1)}"},
    )
    assert read.status_code == 200, read.text


@pytest.mark.timeout(600)
def test_the_suite_alone_checks_the_installed_server(
    wheelhouse: Path, installed_server: Running, tmp_path: Path
) -> None:
    venv = make_venv(wheelhouse, tmp_path / "suite-venv", "care-exchange-conformance")
    # schemathesis (the generated checks, CX-SPEC-*) brings starlette with its ASGI test client;
    # the suite never imports it (lint-imports), and nothing else of the server comes along.
    assert venv.distributions() & SERVER_LIBRARIES == {"starlette"}
    assert "care-exchange-server" not in venv.distributions()
    installed_server.publish_example()  # a real record, which CX-RCPT-004 needs
    report = tmp_path / "report.json"
    # One generated request per operation and kind: the breadth of CX-SPEC is tested in
    # tests/conformance; here the installed suite only has to run every check.
    one_example = {**os.environ, "CARE_EXCHANGE_CONFORMANCE_GENERATED_EXAMPLES": "1"}
    checked = venv.run(
        venv.bin("care-exchange"),
        "conformance",
        "run",
        "--config",
        str(installed_server.conformance_config),
        "--level",
        "1",
        "--json",
        str(report),
        env=one_example,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Verdict: conforms" in checked.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["summary"]["passed"] > 40 and data["summary"]["failed"] == 0
    # Every check applies to the demo: it has a second provider, short heartbeats and
    # timeouts, and (published above) a real record for CX-RCPT-004's return to count.
    not_applicable = [r["id"] for r in data["results"] if r["status"] == "not-applicable"]
    assert not_applicable == []


@pytest.mark.timeout(600)
def test_the_sdk_alone_publishes_to_the_installed_server(
    wheelhouse: Path, installed_server: Running, tmp_path: Path
) -> None:
    venv = make_venv(wheelhouse, tmp_path / "sdk-venv", "care-exchange-client")
    distributions = venv.distributions()
    assert "care-exchange-client" in distributions
    assert "care-exchange-standard" in distributions
    ours = {"care-exchange-server", "care-exchange-conformance"}
    assert distributions & (SERVER_LIBRARIES | ours) == set()
    client_id, secret = installed_server.clients[0]
    record = new_capacity_snapshot()
    script = textwrap.dedent(
        f"""
        import json, sys
        from care_exchange_client import Client, ClientSecret
        credentials = ClientSecret({client_id!r}, {secret!r})
        with Client({installed_server.base_url!r}, credentials) as client:
            envelope = client.publish_record("capacity-snapshot", json.loads(sys.argv[1]))
            print(envelope["id"], envelope["version"], [r.status for r in client.publish_many([])])
        """
    )
    published = venv.run(venv.bin("python"), "-W", "error", "-c", script, json.dumps(record))
    assert published.returncode == 0, published.stderr
    assert published.stdout.split() == [record["id"], "1", "[]"]
