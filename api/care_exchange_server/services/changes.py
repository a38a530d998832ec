"""A change to what one organisation sees: the unit both its feed and its subscriptions take."""

from __future__ import annotations

from dataclasses import dataclass

from care_exchange_server.storage.enums import FeedState


@dataclass(frozen=True)
class Change:
    """An organisation now sees a record at a version, in a state."""

    organisation_id: str
    record_pk: int
    record_type: str
    service_id: str
    version: int
    state: FeedState
