"""`services.entitlements`: every change of an agreement or a delegation brings the feed, and the
subscriptions' events, along in the same transaction, whoever calls it (a route's service, the
worker, or seeding)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from care_exchange_server.problems import ProblemError
from care_exchange_server.services import entitlements, feed
from care_exchange_server.services.entitlements import AgreementTerms
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.enums import AgreementStatus, FeedState
from care_exchange_server.storage.models import Agreement, Delegation
from tests.api.world import World, published_example

TYPE = "capacity-snapshot"
TERMS = AgreementTerms([TYPE], None, "Oversight.", "Public task.", None)
NEWCOMER, SUBSCRIBER = "org-other_subscriber", "org-subscriber"


def _requested(session: Session) -> Agreement:
    return entitlements.request(session, "org-provider", NEWCOMER, TERMS)


def _lapse_and_close(session: Session) -> None:
    """The world's agreement reaches its end date, and the worker's sweep comes round."""
    session.get_one(Agreement, "agr-subscriber").end_date = date.today() - timedelta(days=1)
    session.flush()
    entitlements.close_lapsed(session, date.today())


# name: (whose feed, the change, how that feed shows the record afterwards: None for not at all)
CHANGES: dict[str, tuple[str, Callable[[Session], object], FeedState | None]] = {
    "grant": (
        NEWCOMER,
        lambda session: entitlements.grant(session, "org-provider", NEWCOMER, TERMS),
        FeedState.UPDATED,
    ),
    "request": (NEWCOMER, _requested, None),
    "accept": (
        NEWCOMER,
        lambda session: entitlements.decide(session, _requested(session), accept=True),
        FeedState.UPDATED,
    ),
    "decline": (
        NEWCOMER,
        lambda session: entitlements.decide(session, _requested(session), accept=False),
        None,
    ),
    "revoke": (
        SUBSCRIBER,
        lambda session: entitlements.revoke(session, session.get_one(Agreement, "agr-subscriber")),
        FeedState.DELETED,
    ),
    "lapse": (SUBSCRIBER, _lapse_and_close, FeedState.DELETED),
    "delegate": (
        "org-other_vendor",
        lambda session: entitlements.delegate(session, "org-provider", "org-other_vendor", None),
        FeedState.UPDATED,
    ),
    "revoke delegation": (
        "org-vendor",
        lambda session: entitlements.revoke_delegation(
            session, session.get_one(Delegation, "dlg-vendor")
        ),
        FeedState.DELETED,
    ),
}


def _feed_of(app: FastAPI, organisation_id: str) -> list[tuple[str, FeedState]]:
    with app.state.read_sessions() as session:
        rows = feed.page(session, organisation_id, TYPE, 0, 100)
    return [(record.record_id, state) for _, state, record in rows]


@pytest.mark.parametrize("name", list(CHANGES))
def test_the_feed_follows_each_change_in_its_transaction(
    app: FastAPI, world: World, name: str
) -> None:
    organisation, change, shown = CHANGES[name]
    record = published_example(world)
    with transaction(app.state.sessions) as session:
        change(session)
    expected = [] if shown is None else [(record["id"], shown)]
    assert _feed_of(app, organisation) == expected


def test_a_subscriptions_events_follow_a_grant_and_its_revocation(
    app: FastAPI, world: World
) -> None:
    subscribed = world.call(
        "other_subscriber",
        "POST",
        "/v1/subscriptions",
        json={"types": [TYPE], "channel": {"type": "pull"}},
    )
    assert subscribed.status_code == 201, subscribed.text
    record = published_example(world)
    with transaction(app.state.sessions) as session:
        granted = entitlements.grant(session, "org-provider", NEWCOMER, TERMS)
    with transaction(app.state.sessions) as session:
        entitlements.revoke(session, session.get_one(Agreement, granted.id))
    events = world.call(
        "other_subscriber", "GET", f"/v1/subscriptions/{subscribed.json()['id']}/events"
    )
    assert events.status_code == 200, events.text
    assert [(event["type"], event["data"]["id"]) for event in events.json()["items"]] == [
        ("org.careexchange.record.updated", record["id"]),
        ("org.careexchange.record.deleted", record["id"]),
    ]


def test_a_decided_agreement_cannot_be_decided_again_nor_a_revoked_one_revoked(
    app: FastAPI, world: World
) -> None:
    with transaction(app.state.sessions) as session:
        agreement = session.get_one(Agreement, "agr-subscriber")
        with pytest.raises(ProblemError, match="is active, not requested") as undecidable:
            entitlements.decide(session, agreement, accept=False)
        entitlements.revoke(session, agreement)
        with pytest.raises(ProblemError, match="already revoked") as unrevocable:
            entitlements.revoke(session, agreement)
        assert agreement.status is AgreementStatus.REVOKED
    assert undecidable.value.code == unrevocable.value.code == "conflict"


def test_revoking_a_revoked_delegation_changes_nothing(app: FastAPI, world: World) -> None:
    published_example(world)
    with transaction(app.state.sessions) as session:
        entitlements.revoke_delegation(session, session.get_one(Delegation, "dlg-vendor"))
    before = _feed_of(app, "org-vendor")
    with transaction(app.state.sessions) as session:
        delegation = session.get_one(Delegation, "dlg-vendor")
        revoked_at = delegation.revoked_at
        entitlements.revoke_delegation(session, delegation)
        assert delegation.revoked_at == revoked_at
    assert _feed_of(app, "org-vendor") == before
