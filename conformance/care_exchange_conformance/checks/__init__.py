"""The checks, one module per area; importing this package registers them all."""

from care_exchange_conformance.checks import (
    auth,
    directory,
    discovery,
    errors,
    feed,
    feedback,
    generated,
    idempotency,
    isolation,
    receipts,
    receiving,
    records,
    returns,
    subscriptions,
)
from care_exchange_conformance.registry import REGISTRY, Check

AREAS = (
    discovery,
    auth,
    records,
    errors,
    idempotency,
    isolation,
    feed,
    subscriptions,
    receipts,
    feedback,
    directory,
    returns,
    generated,
    receiving,
)


def all_checks() -> list[Check]:
    """Every registered check; importing this package registered them."""
    return list(REGISTRY.values())
