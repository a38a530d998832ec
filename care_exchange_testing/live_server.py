"""A real uvicorn server on loopback, in background threads, for concurrency tests and benchmarks.

The listening socket is bound before the server starts (port 0, so the kernel picks a free port
and nothing can take it in between). With `loops > 1` several uvicorn servers, each with its own
event loop in its own thread, accept on duplicates of that one socket and share the one app
object, so requests are handled truly concurrently even where a route does blocking work on the
event loop.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT_SECONDS = 15.0


def bound_socket() -> socket.socket:
    """A listening socket on a free loopback port, for a server whose settings need its URL."""
    # IPPROTO_TCP spelled out: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it Nagle plus delayed ACKs cost ~40 ms a request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def free_port() -> int:
    """A port free a moment ago, for a server started in another process."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(
    app: ASGIApp, loops: int = 1, listener: socket.socket | None = None
) -> Iterator[str]:
    """Serve `app` over real HTTP; yields the base URL and stops every server on exit."""
    listener = listener or bound_socket()
    port = listener.getsockname()[1]
    sockets = [listener.dup() for _ in range(loops)]
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                app,
                lifespan="off",
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=5,
            )
        )
        for _ in range(loops)
    ]
    threads = [
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        for server, sock in zip(servers, sockets, strict=True)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not all(server.started for server in servers):
            if time.monotonic() > deadline or not all(t.is_alive() for t in threads):
                raise RuntimeError("the live server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        for server in servers:
            server.should_exit = True
        for thread in threads:
            if thread.ident is not None:
                thread.join(timeout=30)
        for sock in (*sockets, listener):
            sock.close()
        stuck = [thread.name for thread in threads if thread.is_alive()]
        if stuck:
            raise RuntimeError(f"live server threads did not stop: {stuck}")
