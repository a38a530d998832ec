"""Subscriptions: what an organisation asks to hear about, where it goes, and how it is going.

An organisation only ever hears of what its feed shows (events are written from the feed's
changes), so a subscription's types and filter can only narrow what its agreements allow, never
widen it. The types still need the token's scopes, as reading that feed would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import (
    ChannelBody,
    DeliveryErrorBody,
    SubscriptionBody,
    SubscriptionFilterBody,
    SubscriptionSecretBody,
    SubscriptionStatusBody,
)
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.scopes import require_scope
from care_exchange_server.services import feed, paging, records, signatures, webhook_urls
from care_exchange_server.services.events import FEEDBACK_TYPE
from care_exchange_server.services.ids import new_id
from care_exchange_server.services.times import timestamp
from care_exchange_server.settings import Settings
from care_exchange_server.storage.enums import (
    OrganisationKind,
    SubscriptionChannel,
    SubscriptionContent,
    SubscriptionStatus,
)
from care_exchange_server.storage.models import Service, Subscription, SubscriptionEvent
from care_exchange_server.storage.types import utcnow
from care_exchange_standard import load_standard

SCOPE = "subscriptions"
WEBHOOK, PULL = SubscriptionChannel.WEBHOOK, SubscriptionChannel.PULL


@dataclass(frozen=True)
class Terms:
    """A subscription's settings as the subscriber gives them, already in the schema's shape."""

    types: tuple[str, ...]
    service_ids: tuple[str, ...] | None
    area_codes: tuple[str, ...] | None
    channel: str
    url: str | None
    content: str


def _invalid(pointer: str, message: str, keyword: str = "invalid") -> ProblemError:
    return ProblemError(
        "validation_failed", f"{pointer}: {message}", [FieldError(pointer, message, keyword)]
    )


def _check_types(principal: Principal, types: Sequence[str]) -> None:
    known = load_standard().record_types
    for index, kind in enumerate(types):
        if kind == FEEDBACK_TYPE:
            if principal.organisation_kind != OrganisationKind.PROVIDER:
                raise _invalid(f"/types/{index}", "only providers receive feedback.")
            require_scope(principal, "feedback")
        elif kind not in known:
            raise _invalid(f"/types/{index}", "not a record type or 'feedback'.", "enum")
        else:
            records.require_reader(principal, kind)


def _check_services(session: Session, service_ids: Sequence[str] | None) -> None:
    if not service_ids:
        return
    found = set(session.scalars(select(Service.id).where(Service.id.in_(service_ids))))
    for index, service_id in enumerate(service_ids):
        if service_id not in found:
            raise _invalid(f"/filter/services/{index}", f"no service '{service_id}'.")


def _check_url(url: str | None, settings: Settings) -> None:
    if url is None:
        return
    try:
        webhook_urls.check(url, settings.webhook_allowed_hosts)
    except webhook_urls.RefusedURLError as error:
        raise _invalid("/channel/url", str(error), "format") from None


ALL_TERMS = frozenset(Terms.__dataclass_fields__)


def _check(
    session: Session,
    principal: Principal,
    terms: Terms,
    settings: Settings,
    given: Collection[str] = ALL_TERMS,
) -> None:
    """The rules of the terms given (names of `Terms` fields).

    A PATCH leaves the others as they are, even a URL that stopped resolving: pausing is what a
    subscriber does then.
    """
    if "types" in given:
        _check_types(principal, terms.types)
    if "service_ids" in given:
        _check_services(session, terms.service_ids)
    if "url" in given:
        _check_url(terms.url, settings)


def _apply(subscription: Subscription, terms: Terms) -> None:
    subscription.types = list(terms.types)
    subscription.service_ids = None if terms.service_ids is None else list(terms.service_ids)
    subscription.area_codes = None if terms.area_codes is None else list(terms.area_codes)
    subscription.channel, subscription.url = SubscriptionChannel(terms.channel), terms.url
    subscription.content = SubscriptionContent(terms.content)


def create(
    session: Session, principal: Principal, terms: Terms, settings: Settings
) -> tuple[Subscription, str | None]:
    """The new subscription, and its secret (shown this once) if it has a webhook."""
    require_scope(principal, SCOPE)
    _check(session, principal, terms, settings)
    secret = signatures.new_secret() if terms.channel == WEBHOOK else None
    now = utcnow()
    made = Subscription(
        id=new_id("sub"),
        organisation_id=principal.organisation_id,
        status=SubscriptionStatus.ACTIVE,
        secret=secret,
        last_sequence=0,
        delivered_sequence=0,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    _apply(made, terms)
    session.add(made)
    session.flush()
    return made, secret


def require_reader_of_events(principal: Principal, subscription: Subscription) -> None:
    """Reading events is reading what they carry: the scopes making the subscription needed.

    Whoever of the organisation made it, the token that reads its events needs them too.
    """
    for kind in subscription.types:
        if kind == FEEDBACK_TYPE:
            require_scope(principal, "feedback")
        else:
            records.require_reader(principal, kind)


def mark_read(session: Session, subscription_pk: int, sequence: int) -> None:
    """A pull subscription's delivered sequence is the highest it has read."""
    session.execute(
        sql_update(Subscription)
        .where(Subscription.pk == subscription_pk, Subscription.delivered_sequence < sequence)
        .values(delivered_sequence=sequence, last_delivered_at=utcnow())
    )


def events_page(
    session: Session, subscription: Subscription, after: int, size: int, token: str | None
) -> paging.Page[SubscriptionEvent]:
    """The subscription's events after `after`, the replay's start, paged like every list.

    `after` is part of the token's query, so that a token continues only the replay it came
    from. The position is decoded here rather than by `keyset` because the pruning check needs
    it: sequences have no gaps and only the oldest are pruned, so a page that does not continue
    right after its position, while later events exist, starts where the kept events do.
    """
    query_key = {"events": subscription.id, "start": after}
    position = after if token is None else paging.decode_token(token, query_key)
    query = select(SubscriptionEvent).where(
        SubscriptionEvent.subscription_pk == subscription.pk,
        SubscriptionEvent.sequence > position,
    )
    page = paging.keyset(session, query, SubscriptionEvent.sequence, size, None, query_key)
    kept = page.items[0].sequence if page.items else subscription.last_sequence + 1
    if position < subscription.last_sequence and position + 1 < kept:
        raise _pruned(kept, from_token=token is not None)
    return page


def _pruned(kept: int, *, from_token: bool) -> ProblemError:
    restart = kept - 1
    place = (
        FieldError.of_parameter(
            "page_token",
            f"continues from before event {kept}, the oldest kept; "
            f"start again with after={restart}.",
        )
        if from_token
        else FieldError.of_parameter("after", f"must be at least {restart}.", "minimum")
    )
    return ProblemError(
        "events_pruned",
        f"Events before {kept} were delivered and are no longer kept; read the feed to catch "
        f"up, then continue with after={restart}.",
        [place],
    )


def owned(session: Session, principal: Principal, subscription_id: str) -> Subscription:
    """One of the caller's subscriptions; anyone else's is not found, not forbidden."""
    require_scope(principal, SCOPE)
    found = session.scalar(
        select(Subscription).where(
            Subscription.id == subscription_id,
            Subscription.organisation_id == principal.organisation_id,
        )
    )
    if found is None:
        raise ProblemError("not_found", f"No subscription '{subscription_id}' of yours.")
    return found


def terms_of(subscription: Subscription) -> Terms:
    return Terms(
        types=tuple(subscription.types),
        service_ids=None if subscription.service_ids is None else tuple(subscription.service_ids),
        area_codes=None if subscription.area_codes is None else tuple(subscription.area_codes),
        channel=subscription.channel,
        url=subscription.url,
        content=subscription.content,
    )


def update(
    session: Session,
    principal: Principal,
    subscription_id: str,
    given: Mapping[str, Any],
    status: str | None,
    settings: Settings,
) -> Subscription:
    """Replace the terms `given` (by `Terms` field name); `status` pauses, or resumes.

    Resuming starts the retry schedule again. A pull channel cannot become a webhook: its
    secret could not be shown once.
    """
    found = owned(session, principal, subscription_id)
    terms = dataclasses.replace(terms_of(found), **given)
    _check(session, principal, terms, settings, given.keys())
    if terms.channel == WEBHOOK and found.secret is None:
        raise _invalid("/channel", "a pull subscription cannot become a webhook; create one.")
    _apply(found, terms)
    if terms.channel == PULL:
        found.secret = found.previous_secret = found.previous_secret_expires_at = None
    if status == SubscriptionStatus.PAUSED:
        found.status, found.status_reason = SubscriptionStatus.PAUSED, None
    elif status == SubscriptionStatus.ACTIVE:
        found.status, found.status_reason = SubscriptionStatus.ACTIVE, None
        found.attempts, found.next_attempt_at = 0, None
    found.updated_at = utcnow()
    session.flush()
    return found


def remove(session: Session, principal: Principal, subscription_id: str) -> None:
    """Delete it and its events; under the feed's lock, so no event is being added to it."""
    found = owned(session, principal, subscription_id)
    feed.lock(session)
    session.execute(delete(SubscriptionEvent).where(SubscriptionEvent.subscription_pk == found.pk))
    session.delete(found)
    session.flush()


def rotate_secret(
    session: Session, principal: Principal, subscription_id: str, settings: Settings
) -> SubscriptionSecretBody:
    """A new secret; the current one keeps signing alongside it for the overlap."""
    found = owned(session, principal, subscription_id)
    if found.secret is None:
        raise ProblemError("conflict", "A pull subscription has no secret to rotate.")
    now = utcnow()
    found.previous_secret = found.secret
    found.previous_secret_expires_at = now + timedelta(hours=settings.webhook_secret_overlap_hours)
    found.secret = signatures.new_secret()
    found.updated_at = now
    session.flush()
    return SubscriptionSecretBody(
        secret=found.secret,
        previousSecretExpiresAt=timestamp(found.previous_secret_expires_at),
    )


def list_for(
    session: Session, principal: Principal, size: int, page_token: str | None
) -> tuple[list[Subscription], str | None]:
    require_scope(principal, SCOPE)
    query = select(Subscription).where(Subscription.organisation_id == principal.organisation_id)
    page = paging.keyset(session, query, Subscription.pk, size, page_token, {"of": SCOPE})
    return page.items, page.next_token


def subscription_dict(subscription: Subscription) -> SubscriptionBody:
    terms = terms_of(subscription)
    found_filter = SubscriptionFilterBody()
    if terms.service_ids is not None:
        found_filter["services"] = list(terms.service_ids)
    if terms.area_codes is not None:
        found_filter["areas"] = list(terms.area_codes)
    channel = ChannelBody(type=terms.channel)
    if terms.url is not None:
        channel["url"] = terms.url
    return SubscriptionBody(
        id=subscription.id,
        types=list(terms.types),
        filter=found_filter or None,
        channel=channel,
        content=terms.content,
        status=subscription.status,
        statusReason=subscription.status_reason,
        latestSequence=subscription.last_sequence,
        createdAt=timestamp(subscription.created_at),
        updatedAt=timestamp(subscription.updated_at),
    )


def status_dict(subscription: Subscription) -> SubscriptionStatusBody:
    last_error = None
    if subscription.last_error is not None:
        last_error = DeliveryErrorBody(
            at=timestamp(subscription.last_error_at),
            message=subscription.last_error,
            statusCode=subscription.last_error_status,
        )
    return SubscriptionStatusBody(
        id=subscription.id,
        status=subscription.status,
        statusReason=subscription.status_reason,
        latestSequence=subscription.last_sequence,
        deliveredSequence=subscription.delivered_sequence,
        backlog=subscription.last_sequence - subscription.delivered_sequence,
        lastDeliveredAt=timestamp(subscription.last_delivered_at),
        nextAttemptAt=timestamp(subscription.next_attempt_at),
        attempts=subscription.attempts,
        lastError=last_error,
    )
