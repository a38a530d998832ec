"""Rules of the change feed (`services.feed`) that the mutation run found no test for."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import FastAPI
from sqlalchemy import select, update

from care_exchange_server.services import entitlements, feed
from care_exchange_server.services.changes import Change
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.enums import FeedState
from care_exchange_server.storage.models import Agreement, FeedEntry, Record
from tests.api.world import World, published_example, walk_feed

TYPE = "capacity-snapshot"
FEED = f"/v1/feed/{TYPE}"


def grant(world: World, provider: str, subscriber: str) -> str:
    """An agreement of `provider`'s with `subscriber` for every service; its id."""
    granted = world.call(
        provider,
        "POST",
        "/v1/agreements",
        json={
            "subscriberId": f"org-{subscriber}",
            "recordTypes": [TYPE],
            "serviceIds": None,
            "purpose": "Market oversight.",
            "legalBasis": "Public task.",
        },
    )
    assert granted.status_code == 201, granted.text
    made: str = granted.json()["id"]
    return made


def test_a_revoked_agreement_past_its_end_date_stays_revoked(app: FastAPI, world: World) -> None:
    """Only agreements still active lapse: reading the feed must not relabel a revoked one."""
    record = published_example(world)
    revoked = world.call("provider", "POST", "/v1/agreements/agr-subscriber/revoke")
    assert revoked.status_code == 200, revoked.text
    with transaction(app.state.sessions) as session:
        session.execute(
            update(Agreement)
            .where(Agreement.id == "agr-subscriber")
            .values(end_date=date.today() - timedelta(days=1))
        )
    items, _ = walk_feed(world, "subscriber", FEED)
    assert [(item["id"], item["state"]) for item in items] == [(record["id"], "deleted")]
    shown = world.call("provider", "GET", "/v1/agreements/agr-subscriber")
    assert shown.json()["status"] == "revoked"


def _lapse(app: FastAPI, agreement_id: str) -> None:
    """The agreement's end date moves to yesterday (still marked active)."""
    with transaction(app.state.sessions) as session:
        session.execute(
            update(Agreement)
            .where(Agreement.id == agreement_id)
            .values(end_date=date.today() - timedelta(days=1))
        )


def test_one_lapsed_agreement_leaves_the_subscribers_others_in_force(
    app: FastAPI, world: World
) -> None:
    """Closing org-subscriber's lapsed agreement with org-provider must not touch the one it
    holds with org-other_provider (nor what that one lets it see)."""
    other = grant(world, "other_provider", "subscriber")
    lapsing = published_example(world)
    kept = published_example(world, "svc-q1", "other_provider")
    _lapse(app, "agr-subscriber")
    items, _ = walk_feed(world, "subscriber", FEED)
    latest = {item["id"]: item["state"] for item in items}
    assert latest == {lapsing["id"]: "deleted", kept["id"]: "updated"}
    statuses = {
        agreement_id: world.call("subscriber", "GET", f"/v1/agreements/{agreement_id}").json()[
            "status"
        ]
        for agreement_id in ("agr-subscriber", other)
    }
    assert statuses == {"agr-subscriber": "expired", other: "active"}


def test_the_sweep_of_every_subscriber_closes_lapsed_agreements(app: FastAPI, world: World) -> None:
    """What the worker runs: `close_lapsed` for everyone marks the agreement expired (so it is
    not found lapsed again) and deletes its records from the subscriber's feed."""
    record = published_example(world)
    _lapse(app, "agr-subscriber")
    today = date.today()
    with transaction(app.state.sessions) as session:
        assert entitlements.has_lapsed(session, "org-subscriber", today)
        entitlements.close_lapsed(session, today)
    with app.state.read_sessions() as session:
        assert not entitlements.has_lapsed(session, "org-subscriber", today)
        agreement = session.get(Agreement, "agr-subscriber")
        assert agreement is not None and agreement.status == "expired"
        states = [
            (state, row.record_id)
            for _, state, row in feed.page(session, "org-subscriber", TYPE, 0, 10)
        ]
    assert states == [("deleted", record["id"])]


def test_a_vendor_sees_only_the_providers_that_delegated_to_it(world: World) -> None:
    """other_provider delegates every service of its own to other_vendor: none of org-provider's."""
    delegated = world.call(
        "other_provider",
        "POST",
        "/v1/delegations",
        json={"vendorId": "org-other_vendor", "serviceIds": None},
    )
    assert delegated.status_code == 201, delegated.text
    published_example(world)
    published_example(world, "svc-p2")
    assert walk_feed(world, "other_vendor", FEED)[0] == []


def test_a_revoked_delegation_sends_the_vendor_no_new_records(world: World) -> None:
    published_example(world)
    _, last = walk_feed(world, "vendor", FEED)
    assert world.call("provider", "DELETE", "/v1/delegations/dlg-vendor").status_code == 204
    _, last = walk_feed(world, "vendor", last)
    published_example(world)
    assert walk_feed(world, "vendor", last)[0] == []


def test_a_new_agreement_leaves_retracted_records_out_of_the_feed(world: World) -> None:
    kept, retracted = published_example(world), published_example(world)
    gone = world.call(
        "provider",
        "DELETE",
        f"/v1/records/{TYPE}/{retracted['id']}",
        headers={"If-Match": '"1"'},
    )
    assert gone.status_code == 204, gone.text
    grant(world, "provider", "other_subscriber")
    items, _ = walk_feed(world, "other_subscriber", FEED)
    assert [(item["id"], item["state"]) for item in items] == [(kept["id"], "updated")]


def test_a_record_lost_and_regained_comes_back_to_the_feed(world: World) -> None:
    record = published_example(world)
    _, last = walk_feed(world, "subscriber", FEED)
    revoked = world.call("provider", "POST", "/v1/agreements/agr-subscriber/revoke")
    assert revoked.status_code == 200, revoked.text
    lost, last = walk_feed(world, "subscriber", last)
    assert [(item["id"], item["state"]) for item in lost] == [(record["id"], "deleted")]
    grant(world, "provider", "subscriber")
    regained, _ = walk_feed(world, "subscriber", last)
    assert [(item["id"], item["state"]) for item in regained] == [(record["id"], "updated")]


def test_a_new_agreement_sends_only_what_it_adds(world: World) -> None:
    """Records the feed already shows at their state are not sent again (nor renumbered)."""
    published_example(world)
    _, last = walk_feed(world, "subscriber", FEED)
    added = published_example(world, "svc-q1", "other_provider")
    grant(world, "other_provider", "subscriber")
    later, _ = walk_feed(world, "subscriber", last)
    assert [(item["id"], item["state"]) for item in later] == [(added["id"], "updated")]


def test_a_lost_record_is_deleted_from_the_feed_once(world: World) -> None:
    """Later changes of entitlement do not send the deletion again."""
    published_example(world)
    _, last = walk_feed(world, "subscriber", FEED)
    revoked = world.call("provider", "POST", "/v1/agreements/agr-subscriber/revoke")
    assert revoked.status_code == 200, revoked.text
    _, last = walk_feed(world, "subscriber", last)
    added = published_example(world, "svc-q1", "other_provider")
    grant(world, "other_provider", "subscriber")
    later, _ = walk_feed(world, "subscriber", last)
    assert [(item["id"], item["state"]) for item in later] == [(added["id"], "updated")]


def test_a_feed_holds_only_its_own_type(world: World) -> None:
    capacity = published_example(world)
    workforce = published_example(world, record_type="workforce-snapshot")
    for record_type, record in ((TYPE, capacity), ("workforce-snapshot", workforce)):
        items, _ = walk_feed(world, "subscriber", f"/v1/feed/{record_type}")
        assert [(item["id"], item["kind"]) for item in items] == [(record["id"], record_type)]


def test_a_new_agreement_adds_only_its_providers_records_of_its_types(world: World) -> None:
    published_example(world, "svc-q1", "other_provider")
    mine = published_example(world)
    for party, record_types in (("other_provider", ["workforce-snapshot"]), ("provider", [TYPE])):
        granted = world.call(
            party,
            "POST",
            "/v1/agreements",
            json={
                "subscriberId": "org-other_subscriber",
                "recordTypes": record_types,
                "serviceIds": None,
                "purpose": "Market oversight.",
                "legalBasis": "Public task.",
            },
        )
        assert granted.status_code == 201, granted.text
    items, _ = walk_feed(world, "other_subscriber", FEED)
    assert [item["id"] for item in items] == [mine["id"]]


def test_two_changes_to_one_entry_in_one_write_leave_the_later(app: FastAPI, world: World) -> None:
    """As if written one after the other: the later change's number and state stand."""
    record = published_example(world)
    with transaction(app.state.sessions) as session:
        pk = session.scalars(select(Record.pk).where(Record.record_id == record["id"])).one()
        changes = [
            Change("org-provider", pk, TYPE, "svc-p1", 1, state)
            for state in (FeedState.UPDATED, FeedState.DELETED)
        ]
        first = feed.take_numbers(session, 0)
        feed.lock(session)
        feed.write(session, changes)
    with transaction(app.state.sessions) as session:
        entry = session.scalars(
            select(FeedEntry).where(
                FeedEntry.organisation_id == "org-provider", FeedEntry.record_pk == pk
            )
        ).one()
        assert (entry.state, entry.change_number) == (FeedState.DELETED, first + 1)
