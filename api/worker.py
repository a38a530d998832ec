"""The delivery worker: POSTs subscription events to webhooks, signed, in order, with retries.

It runs as its own process (`care-exchange worker`; as many as needed, they share the work) or
in a thread of the embedded server (`care-exchange run`). Each round claims what is due, sends
every subscription's events concurrently with the others but one at a time within it, and
records the outcome. It also closes agreements that reached their end date, so that their
records leave subscribers' feeds and subscriptions without waiting for a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.services import delivery, feed, signatures, webhook_urls
from api.services.delivery import Failure, Outcome, Work
from api.settings import Settings
from api.storage.db import make_engine, session_factory, transaction
from api.storage.types import utcnow

log = logging.getLogger("care_exchange.worker")
EXPIRY_SWEEP_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 86_400.0
USER_AGENT = "care-exchange-webhooks/1"


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date), within a day."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,12}", value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


class Worker:
    """One delivery worker; `worker_id` names its leases."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        read_sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._swept_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; an idle round waits for the poll interval."""
        limits = httpx.Limits(max_connections=self.settings.worker_claim_size)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
            while not stop.is_set():
                try:
                    busy = await self.run_once(client)
                except Exception:
                    log.exception("delivery round failed; trying again")
                    busy = 0
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.worker_poll_seconds)

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One round: claim, deliver, record. Returns how many subscriptions it worked on.

        Agreements past their end date are closed first (once a minute), so that the deleted
        events they cause go out in the same round.
        """
        self.close_lapsed_agreements()
        started = time.monotonic()
        with transaction(self.sessions) as session:
            leased = delivery.claim(session, self.worker_id, self.settings)
        if not leased:
            return 0
        with self.read_sessions() as session:
            work = delivery.prepare(session, leased, self.settings, date.today())
        deadline = started + self.settings.worker_lease_seconds
        targets = await self._targets({item.url for item in work})
        outcomes = await asyncio.gather(
            *(self._deliver(client, item, deadline, targets[item.url]) for item in work)
        )
        with transaction(self.sessions) as session:
            delivery.record(session, self.worker_id, outcomes, self.settings)
        return len(leased)

    def close_lapsed_agreements(self) -> None:
        if time.monotonic() - self._swept_at < EXPIRY_SWEEP_SECONDS:
            return
        with transaction(self.sessions) as session:
            feed.close_lapsed(session, date.today())
        self._swept_at = time.monotonic()

    async def _targets(self, urls: set[str]) -> dict[str, webhook_urls.Target | str]:
        """Where to connect for each URL, or why not (what a name resolves to can change)."""

        def resolve(url: str) -> webhook_urls.Target | str:
            try:
                return webhook_urls.target(url, self.settings.webhook_allowed_hosts)
            except webhook_urls.RefusedURLError as error:
                return f"The webhook URL was refused: it {error}"

        found = await asyncio.gather(*(asyncio.to_thread(resolve, url) for url in urls))
        return dict(zip(urls, found, strict=True))

    async def _deliver(
        self,
        client: httpx.AsyncClient,
        work: Work,
        deadline: float,
        target: webhook_urls.Target | str,
    ) -> Outcome:
        outcome = Outcome(work)
        if isinstance(target, str):
            outcome.failure = Failure(target)
            return outcome
        if work.heartbeat is not None:
            outcome.failure = await self._post(client, work, target, *work.heartbeat)
            return outcome
        for event in work.events:
            if time.monotonic() + self.settings.webhook_timeout_seconds > deadline:
                break
            failure = await self._post(client, work, target, event.event_id, event.encoded())
            if failure is not None:
                outcome.failure = failure
                log.info("delivery of %s to %s failed: %s", event.event_id, work.url, failure)
                break
            outcome.delivered.append(event)
        return outcome

    async def _post(
        self,
        client: httpx.AsyncClient,
        work: Work,
        target: webhook_urls.Target,
        message_id: str,
        body: bytes,
    ) -> Failure | None:
        """One attempt; whatever goes wrong becomes a `Failure`, never an exception.

        An exception here would lose the whole round's outcome, and every subscription in it
        would be delivered again and again.
        """
        timeout = self.settings.webhook_timeout_seconds
        headers = {
            "host": target.host,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signatures.headers(work.secrets, message_id, int(time.time()), body),
        }
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
        try:
            response = await asyncio.wait_for(
                client.post(
                    target.url,
                    content=body,
                    headers=headers,
                    timeout=timeout,
                    extensions=extensions,
                ),
                timeout,
            )
            if 200 <= response.status_code < 300:
                return None
            wait = retry_after(response.headers.get("retry-after"), utcnow())
        except TimeoutError:
            return Failure(f"No answer within {timeout:g} s.")
        except httpx.HTTPError as error:
            return Failure(f"Could not deliver ({type(error).__name__}): {error}".strip())
        except Exception as error:
            log.exception("unexpected failure delivering %s", message_id)
            return Failure(f"Could not deliver ({type(error).__name__}).")
        return Failure(f"The receiver answered {response.status_code}.", response.status_code, wait)


def _engines(settings: Settings) -> tuple[Engine, Engine]:
    return make_engine(settings.database_url), make_engine(settings.database_url, reading=True)


def _worker(settings: Settings, engines: tuple[Engine, Engine]) -> Worker:
    return Worker(settings, session_factory(engines[0]), session_factory(engines[1]))


def run_until_signalled(settings: Settings) -> None:
    """The `care-exchange worker` process: deliver until SIGTERM or SIGINT."""
    engines = _engines(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("delivery worker started")
        await _worker(settings, engines).run(stop)

    try:
        asyncio.run(main())
    finally:
        for engine in engines:
            engine.dispose()


def start_in_thread(settings: Settings) -> Callable[[], None]:
    """A worker in a thread of this process, for the embedded server; returns how to stop it."""
    engines = _engines(settings)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(_worker(settings, engines).run(stop))
        finally:
            loop.close()

    thread = threading.Thread(target=serve, name="care-exchange-worker", daemon=True)
    thread.start()

    def halt() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=settings.webhook_timeout_seconds + 5)
        for engine in engines:
            engine.dispose()

    return halt
