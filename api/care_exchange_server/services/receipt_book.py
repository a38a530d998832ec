"""Where access receipts wait, briefly, before one thread writes them in batches.

A receipt per read written in the read's own request would cost every subscriber read a commit
(a WAL flush on PostgreSQL): reads would run at half speed. Receipts are instead collected here
and written every `interval` seconds in one transaction. Reading the receipts flushes first, so
a provider always sees every read this process has served; a crash can lose at most the last
interval's receipts, never a record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.services import receipts

log = logging.getLogger("care_exchange.api")
MAX_PENDING = 100_000


class ReceiptBook:
    """Pending receipts and the thread that writes them."""

    def __init__(self, sessions: sessionmaker[Session], interval: float = 1.0) -> None:
        self._sessions = sessions
        self._interval = interval
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        with self._lock:
            self._pending.extend(rows)
            if len(self._pending) > MAX_PENDING:
                dropped = len(self._pending) - MAX_PENDING
                del self._pending[:dropped]
                log.error("access receipts dropped: the database is not taking them (%d)", dropped)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="access-receipts", daemon=True
                )
                self._thread.start()

    def flush(self) -> None:
        """Write every pending receipt now.

        If the database cannot be reached they stay pending and the error is raised. A receipt
        the database refuses (a broken reference: a bug, not an outage) is logged and dropped
        after the others are written, so one bad row never holds back the rest.
        """
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self._write(batch)
            except IntegrityError:
                self._write_each(batch)
            except BaseException:
                with self._lock:
                    self._pending[:0] = batch
                raise

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self._sessions() as session, session.begin():
            receipts.write(session, rows)

    def _write_each(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            try:
                self._write([row])
            except IntegrityError:
                log.exception("an access receipt was refused and dropped: %s", row)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:
                log.exception("access receipts could not be written; retrying")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()
