"""The delivery worker: POSTs subscription events to webhooks, signed, in order, with retries.

It runs as its own process (`care-exchange worker`; as many as needed, they share the work) or
in a thread of the embedded server (`care-exchange run`). Every subscription progresses on its
own: the worker leases what is due, gives each leased subscription a task that sends its events
one at a time, and records a subscription's outcome (releasing its lease) as soon as that task
ends, while it keeps leasing other due subscriptions, up to `worker_claim_size` at once. A slow
or failing receiver delays only its own subscription. Leases are renewed while their tasks run,
and a request to a webhook starts only when it can end before the lease does. All database work
happens on one thread of the worker's own, so the event loop never waits on the database and a
slow name resolution never delays a lease's renewal. It also closes agreements that reached
their end date, so that their records leave subscribers' feeds and subscriptions without
waiting for a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import ParamSpec, TypeVar

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.services import delivery, entitlements, signatures, webhook_urls
from care_exchange_server.services.delivery import Failure, HolderLock, Outcome, Work
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, session_factory, transaction
from care_exchange_server.storage.types import utcnow

log = logging.getLogger("care_exchange.worker")
EXPIRY_SWEEP_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 86_400.0
USER_AGENT = "care-exchange-webhooks/1"
# Structured-mode CloudEvents (the spec's webhook request body).
CLOUDEVENTS_JSON = "application/cloudevents+json"
RENEWALS_PER_LEASE = 4
P = ParamSpec("P")
T = TypeVar("T")
Target = webhook_urls.Target | str


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


@dataclass(eq=False)
class _Leased:
    """A subscription being delivered: its task, its outcome so far, and how long it is ours.

    `valid_until` is on this process's monotonic clock, taken before the claim or renewal that
    set the lease, so it never runs past the lease the database holds.
    """

    work: Work
    outcome: Outcome
    valid_until: float
    task: asyncio.Task[None] | None = None
    lost: bool = False


@dataclass(eq=False)
class _State:
    """What `run` shares between its loop and the delivery tasks."""

    leased: dict[int, _Leased] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    renewed: asyncio.Event = field(default_factory=asyncio.Event)
    renew_wanted: bool = False
    renewed_at: float = 0.0
    lock_checked_at: float = 0.0


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
        self._db: ThreadPoolExecutor | None = None
        self._lock: HolderLock | None = None

    async def _in_db(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run database work on the worker's database thread (inline outside `run`)."""
        if self._db is None:
            return call(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, functools.partial(call, *args, **kwargs))

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; in-flight deliveries are then cut short and recorded."""
        limits = httpx.Limits(max_connections=self.settings.worker_claim_size)
        state = _State()
        self._db = ThreadPoolExecutor(1, thread_name_prefix="care-exchange-worker-db")
        self._lock = HolderLock(self._engine())
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: state.wake.set())
        try:
            async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
                while not stop.is_set():
                    try:
                        await self._step(client, state)
                        pause = self._pause(state)
                    except Exception:
                        log.exception("delivery step failed; trying again")
                        state.wake.clear()
                        pause = self.settings.worker_poll_seconds
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(state.wake.wait(), pause)
                await self._cut_short(state, state.leased.values())
        finally:
            stopping.cancel()
            with contextlib.suppress(Exception):
                await self._in_db(self._lock.release)
            self._db.shutdown(wait=True)
            self._db = self._lock = None

    def _engine(self) -> Engine:
        bind = self.sessions.kw["bind"]
        assert isinstance(bind, Engine)
        return bind

    def _pause(self, state: _State) -> float:
        """How long the loop may sleep: until work is due to be looked for or a lease renewed."""
        pause = self.settings.worker_poll_seconds
        if state.leased:
            every = self.settings.worker_lease_seconds / RENEWALS_PER_LEASE
            pause = min(pause, max(state.renewed_at + every - time.monotonic(), 0.0))
        return pause

    async def _step(self, client: httpx.AsyncClient, state: _State) -> None:
        """Record what finished, keep the leases of what runs, lease what is due.

        `wake` is cleared first, so a task that ends during the step wakes the next one.
        """
        state.wake.clear()
        assert self._lock is not None
        lock = self._lock
        if time.monotonic() >= state.lock_checked_at + self.settings.worker_poll_seconds:
            state.lock_checked_at = time.monotonic()
            if not await self._in_db(lock.held):
                if state.leased:
                    log.warning("the worker's lock connection was lost; stopping its deliveries")
                await self._cut_short(state, state.leased.values())
                await self._in_db(lock.acquire)
        finished = [held for held in state.leased.values() if held.task and held.task.done()]
        if finished:
            await self._record(state, finished)
        every = self.settings.worker_lease_seconds / RENEWALS_PER_LEASE
        if state.leased and (state.renew_wanted or time.monotonic() >= state.renewed_at + every):
            await self._renew(state)
        await self._in_db(self.close_lapsed_agreements)
        room = self.settings.worker_claim_size - len(state.leased)
        if room > 0:
            await self._start(client, state, room, lock.key)

    async def _start(
        self, client: httpx.AsyncClient, state: _State, room: int, lease_key: int | None
    ) -> int:
        """Lease up to `room` due subscriptions and start a delivery task for each."""
        claimed_at = time.monotonic()
        leased = await self._in_db(self._claim, room, list(state.leased), lease_key)
        if not leased:
            return 0
        work = await self._in_db(self._prepare, leased)
        valid_until = claimed_at + self.settings.worker_lease_seconds
        targets = self._targets({item.url for item in work})
        for item in work:
            held = _Leased(item, Outcome(item), valid_until)
            held.task = asyncio.create_task(self._deliver(client, held, targets[item.url], state))
            held.task.add_done_callback(lambda _: state.wake.set())
            state.leased[item.subscription_pk] = held
        return len(leased)

    async def _renew(self, state: _State) -> None:
        state.renew_wanted = False
        asked_at = time.monotonic()
        still = await self._in_db(self._renew_leases, list(state.leased))
        for pk, held in state.leased.items():
            if pk in still:
                held.valid_until = asked_at + self.settings.worker_lease_seconds
            else:
                held.lost = True
        state.renewed_at = asked_at
        state.renewed.set()
        state.renewed = asyncio.Event()

    async def _record(self, state: _State, finished: Iterable[_Leased]) -> None:
        done = list(finished)
        await self._in_db(self._record_outcomes, [held.outcome for held in done])
        for held in done:
            state.leased.pop(held.work.subscription_pk, None)

    async def _cut_short(self, state: _State, leased: Iterable[_Leased]) -> None:
        """Stop these deliveries and record what they got done.

        An event cut off mid-request counts as not delivered: it goes again, same `webhook-id`.
        """
        stopped = list(leased)
        for held in stopped:
            if held.task is not None:
                held.task.cancel()
        await asyncio.gather(*(h.task for h in stopped if h.task), return_exceptions=True)
        if stopped:
            await self._record(state, stopped)

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One round: lease what is due, deliver it all, record. Returns how many subscriptions.

        For tests and benchmarks that want rounds; `run` does the same work without them, each
        subscription's outcome recorded as soon as it has one. Agreements past their end date
        are closed first (once a minute), so that the deleted events they cause go out in the
        same round.
        """
        self.close_lapsed_agreements()
        claimed_at = time.monotonic()
        leased = self._claim(self.settings.worker_claim_size, (), None)
        if not leased:
            return 0
        work = self._prepare(leased)
        valid_until = claimed_at + self.settings.worker_lease_seconds
        targets = self._targets({item.url for item in work})
        held = [_Leased(item, Outcome(item), valid_until) for item in work]
        await asyncio.gather(*(self._deliver(client, h, targets[h.work.url], None) for h in held))
        self._record_outcomes([h.outcome for h in held])
        return len(leased)

    def _claim(self, room: int, exclude: Collection[int], lease_key: int | None) -> list[int]:
        with transaction(self.sessions) as session:
            return delivery.claim(session, self.worker_id, self.settings, room, exclude, lease_key)

    def _prepare(self, leased: list[int]) -> list[Work]:
        with self.read_sessions() as session:
            return delivery.prepare(session, leased, self.settings, date.today())

    def _renew_leases(self, leased: list[int]) -> set[int]:
        with transaction(self.sessions) as session:
            return delivery.renew(session, self.worker_id, leased, self.settings)

    def _record_outcomes(self, outcomes: list[Outcome]) -> None:
        with transaction(self.sessions) as session:
            delivery.record(session, self.worker_id, outcomes, self.settings)

    def close_lapsed_agreements(self) -> None:
        if time.monotonic() - self._swept_at < EXPIRY_SWEEP_SECONDS:
            return
        with transaction(self.sessions) as session:
            entitlements.close_lapsed(session, date.today())
        self._swept_at = time.monotonic()

    def _targets(self, urls: set[str]) -> dict[str, Awaitable[Target]]:
        """Where to connect for each URL, or why not (what a name resolves to can change).

        Each URL is resolved once per claim, in the background: a slow resolver holds up only
        the subscriptions that wait for it.
        """

        def resolve(url: str) -> Target:
            try:
                return webhook_urls.target(url, self.settings.webhook_allowed_hosts)
            except webhook_urls.RefusedURLError as error:
                return f"The webhook URL was refused: it {error}"

        return {url: asyncio.ensure_future(asyncio.to_thread(resolve, url)) for url in urls}

    async def _room(self, held: _Leased, state: _State | None) -> bool:
        """Whether a request may start: only if the lease outlasts it.

        Under `run` the loop is asked to renew the lease early; in a lone round a lease too short
        for one more request ends the batch.
        """
        timeout = self.settings.webhook_timeout_seconds
        while not held.lost:
            if held.valid_until - time.monotonic() >= timeout:
                return True
            if state is None:
                return False
            renewed = state.renewed
            state.renew_wanted = True
            state.wake.set()
            try:
                await asyncio.wait_for(renewed.wait(), timeout)
            except TimeoutError:
                return False
        return False

    async def _deliver(
        self,
        client: httpx.AsyncClient,
        held: _Leased,
        target_ahead: Awaitable[Target],
        state: _State | None,
    ) -> None:
        """Send one subscription's events in order into `held.outcome`, stopping at a failure.

        Progress goes into the outcome as it happens, so a task cancelled part-way still says
        what it delivered.
        """
        work, outcome = held.work, held.outcome
        try:
            target = await target_ahead
        except Exception as error:
            target = f"Could not resolve the webhook URL ({type(error).__name__})."
        if isinstance(target, str):
            outcome.failure = Failure(target)
            outcome.beat = work.heartbeat is not None
            return
        if work.heartbeat is not None:
            if await self._room(held, state):
                outcome.beat = True
                outcome.failure = await self._post(client, work, target, *work.heartbeat)
            return
        for event in work.events:
            if not await self._room(held, state):
                break
            failure = await self._post(client, work, target, event.event_id, event.encoded())
            if failure is not None:
                outcome.failure = failure
                log.info("delivery of %s to %s failed: %s", event.event_id, work.url, failure)
                break
            outcome.delivered.append(event)

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
            "content-type": CLOUDEVENTS_JSON,
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
