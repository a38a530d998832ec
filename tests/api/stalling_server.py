"""The server as a process of its own, for crash tests: `python -m tests.api.stalling_server FD`.

It serves `create_app` (settings from the environment) on the listening socket it inherits as
file descriptor FD, so a restarted server answers on the same address and requests sent in
between wait in the socket's backlog. With `stall` after FD, the first statement inserting a
record blocks (and says so on stdout) inside its transaction, so that the test can kill the
process while it holds an idempotency claim. The hook is an engine event added here, in the
test's process only: nothing in the server knows about it.
"""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any

import uvicorn
from sqlalchemy import event

from care_exchange_server.app import create_app
from care_exchange_server.settings import Settings

STALLED = "stalled"


def _stall(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if "INSERT INTO RECORDS " in statement.upper():  # alone, or in PostgreSQL's one statement
        print(STALLED, flush=True)
        threading.Event().wait()


def main() -> None:
    listener = socket.socket(fileno=int(sys.argv[1]))
    listener.setblocking(False)
    app = create_app(Settings())
    if sys.argv[2:] == ["stall"]:
        event.listen(app.state.engines[0], "before_cursor_execute", _stall)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
