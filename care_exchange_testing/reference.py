"""The reference server on a real socket, seeded with the demo, as the conformance suite sees it.

Shared by the suite's tests (which also serve broken variants of it) and `bench.conformance`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from care_exchange_conformance.config import Config, Party
from care_exchange_server.app import create_app, dispose
from care_exchange_server.demo import SERVICES, expired_token, seed
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import transaction
from care_exchange_server.worker import start_in_thread
from care_exchange_testing.live_server import bound_socket, live_server

Variant = Callable[[FastAPI], None]
# The delivery worker's settings: fast retries, so the webhook checks pass in seconds.
FAST_DELIVERY = {
    "webhook_retry_delays_seconds": [0, 0.5, 1, 1, 1],
    "webhook_timeout_seconds": 2.0,
    "webhook_heartbeat_seconds": 1.0,
    "worker_lease_seconds": 5.0,
    "worker_poll_seconds": 0.05,
}


@contextmanager
def serve_reference(database_url: str, variant: Variant | None = None) -> Iterator[Config]:
    """Serve the reference server on a migrated, empty database, changed by `variant` if given.

    Yields the suite's configuration for it: the demo's provider, commissioner, outsider and
    second provider (`second_publisher`).
    """
    listener = bound_socket()
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = Settings(
        database_url=database_url,
        issuer=base_url,
        webhook_allowed_hosts=["127.0.0.1/32"],
        **FAST_DELIVERY,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    stop_worker: Callable[[], None] | None = None
    try:
        with transaction(app.state.sessions) as session:
            made = seed(session)
            assert made is not None, "the database already holds the demo"
            expired = expired_token(session, settings, made[0].client_id)
        if variant is not None:
            variant(app)
        stop_worker = start_in_thread(settings)
        with live_server(app, listener=listener):
            provider, commissioner, other, second = made
            yield Config(
                base_url=base_url,
                publisher=Party(provider.client_id, provider.secret),
                service_id=SERVICES[0],
                subscriber=Party(commissioner.client_id, commissioner.secret),
                outsider=Party(other.client_id, other.secret),
                second_publisher=Party(second.client_id, second.secret),
                expired_token=expired,
            )
    finally:
        if stop_worker is not None:
            stop_worker()
        dispose(app)
