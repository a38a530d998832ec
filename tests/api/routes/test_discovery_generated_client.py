"""A client generated from the document a running server serves, as a new user would make one.

openapi-python-client reads `/openapi.json` over HTTP from a server on a real socket; the
package it writes must import, read every valid example of the standard into its models, and
talk to that server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from care_exchange_server.app import create_app, dispose
from care_exchange_server.settings import Settings
from care_exchange_server.storage.migrate import upgrade
from care_exchange_standard.files import SCHEMA_DIR
from care_exchange_testing.live_server import bound_socket, live_server

PACKAGE = "cx_generated"
# The generator omits what it cannot model and says so; these omissions are known and accepted.
# YAML is the one media type of the document it has no parser for; `/openapi.json` is the same
# document as JSON.
KNOWN_WARNINGS = {"Unsupported content_type application/yaml"}

CHECK = textwrap.dedent(
    """
    import importlib, json, pathlib, pkgutil, sys
    import cx_generated
    from cx_generated.client import Client
    from cx_generated.api.discovery import get_capabilities, get_root

    modules = [name for _, name, _ in pkgutil.walk_packages(cx_generated.__path__, "cx_generated.")]
    for name in modules:
        importlib.import_module(name)
    examples = pathlib.Path(sys.argv[2]) / "examples" / "valid"
    read = 0
    for path in sorted(examples.glob("*/*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if "recordType" not in document:
            continue
        name = "".join(part.title() for part in document["recordType"].split("-"))
        model = getattr(importlib.import_module("cx_generated.models"), name)
        assert model.from_dict(document).to_dict()["recordType"] == document["recordType"]
        read += 1
    with Client(base_url=sys.argv[1]) as client:
        root = get_root.sync(client=client)
        capabilities = get_capabilities.sync(client=client)
    assert root.links.openapi_json == "/openapi.json", root
    assert "capacity-snapshot" in capabilities.record_types
    print(len(modules), read)
    """
)


@pytest.mark.slow
def test_a_client_generated_from_the_served_document_works(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    upgrade(database_url)
    listener = bound_socket()
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    app = create_app(Settings(database_url=database_url, issuer=base_url))
    tools = str(Path(sys.executable).parent)
    environment = {**os.environ, "PATH": tools + os.pathsep + os.environ.get("PATH", "")}
    try:
        with live_server(app, listener=listener):
            assert httpx.get(f"{base_url}/openapi.json").json()["servers"][0]["url"] == base_url
            generated = subprocess.run(
                [
                    str(Path(tools) / "openapi-python-client"),
                    "generate",
                    "--url",
                    f"{base_url}/openapi.json",
                    "--meta",
                    "none",
                    "--output-path",
                    str(tmp_path / PACKAGE),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                env=environment,
                check=False,
            )
            output = generated.stdout + generated.stderr
            assert generated.returncode == 0, output
            lines = [line for line in output.splitlines() if line.strip()]
            headed = [i for i, line in enumerate(lines) if line.startswith(("WARNING", "ERROR"))]
            assert not [lines[i] for i in headed if lines[i].startswith("ERROR")], output
            reasons = [lines[i + 1] for i in headed]
            assert reasons, "the generator no longer warns about YAML: update KNOWN_WARNINGS"
            unknown = [r for r in reasons if not any(known in r for known in KNOWN_WARNINGS)]
            assert not unknown, output
            assert "not in PATH" not in output, output
            checked = subprocess.run(
                [sys.executable, "-c", CHECK, base_url, str(SCHEMA_DIR)],
                capture_output=True,
                text=True,
                timeout=300,
                cwd=tmp_path,
                env={**environment, "PYTHONPATH": str(tmp_path)},
                check=False,
            )
    finally:
        dispose(app)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    modules, read = (int(number) for number in checked.stdout.split())
    assert modules > 100
    assert read >= 9
