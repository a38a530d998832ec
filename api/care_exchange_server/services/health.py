"""Whether this process can serve: its database answers and has the schema its code expects."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from care_exchange_server.bodies import ReadinessBody, ReadinessChecksBody
from care_exchange_server.storage.migrate import schema_state


def readiness(engine: Engine) -> ReadinessBody:
    """The checks, never an exception: a probe that fails must say so in its answer."""
    try:
        migrations = schema_state(engine)
    except SQLAlchemyError:
        checks = ReadinessChecksBody(database="unreachable", migrations="unknown")
    else:
        checks = ReadinessChecksBody(database="ok", migrations=migrations)
    ready = checks["database"] == "ok" and checks["migrations"] == "current"
    return ReadinessBody(status="ready" if ready else "not-ready", checks=checks)
