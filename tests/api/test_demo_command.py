"""`care-exchange run` and `demo reset` as a newcomer meets them: a busy port, a second run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from care_exchange_conformance.config import Party, load
from care_exchange_testing.live_server import free_port

COMMAND = str(Path(sys.executable).with_name("care-exchange"))


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder to run the demo in: its var/ holds the SQLite database and the config."""
    for name in list(os.environ):
        if name.startswith("CARE_EXCHANGE_"):
            monkeypatch.delenv(name)
    return tmp_path


def _run(demo_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args], cwd=demo_dir, capture_output=True, text=True, timeout=60, check=False
    )


@contextmanager
def _demo_server(demo_dir: Path, port: int) -> Iterator[list[str]]:
    """`care-exchange run --port PORT` until it answers, stopped as Ctrl+C stops it.

    What it printed is in the yielded list once the block ends.
    """
    printed: list[str] = []
    process = subprocess.Popen(
        [COMMAND, "run", "--port", str(port)],
        cwd=demo_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # the demo seeds at the full scrypt cost first
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.1)
        yield printed
    finally:
        process.send_signal(signal.SIGINT)
        printed.append(process.communicate(timeout=30)[0])


def _publisher(demo_dir: Path) -> Party:
    """The demo's provider client, from the suite's configuration the demo writes."""
    party = load(demo_dir / "var" / "conformance-demo.toml").publisher
    assert party is not None
    return party


def _token(port: int, client_id: str, secret: str) -> int:
    return httpx.post(
        f"http://127.0.0.1:{port}/oauth/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
    ).status_code


def test_a_taken_port_stops_the_demo_before_it_seeds_anything(demo_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(demo_dir, "run", "--port", str(port))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert f"--port {port + 1}" in done.stderr
    assert "client_secret" not in done.stdout
    assert not (demo_dir / "var").exists()


@pytest.mark.slow
def test_a_second_run_shows_the_walkthrough_and_reset_gives_working_secrets(
    demo_dir: Path,
) -> None:
    port = free_port()
    with _demo_server(demo_dir, port) as first:
        pass
    first_output = first[0]
    assert f"listening on http://127.0.0.1:{port}" in first_output
    old = _publisher(demo_dir)
    assert f"client_secret={old.client_secret}" in first_output

    with _demo_server(demo_dir, port) as second:
        reset = _run(demo_dir, "demo", "reset", "--port", str(port))
        assert reset.returncode == 0, reset.stderr
        new = _publisher(demo_dir)
        assert new.client_id == old.client_id
        assert new.client_secret != old.client_secret
        assert f"{new.client_id}:{new.client_secret}" in reset.stdout
        assert _token(port, new.client_id, new.client_secret) == 200
        assert _token(port, old.client_id, old.client_secret) == 401
    again = second[0]
    assert "seeded by an earlier run" in again
    assert f"care-exchange demo reset --port {port}" in again
    assert f"{old.client_id}:SECRET" in again
    assert old.client_secret not in again
    assert f"listening on http://127.0.0.1:{port}" in again
