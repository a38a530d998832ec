"""Every state and kind a table holds as text, each once: the code's names and the database's.

They are `StrEnum`s, so a member is the very string the API sends and the column stores: code
compares and serialises them as strings, and nothing on the wire changes. `models` types each
column with its enum and holds it with a CHECK constraint, so a value outside it is refused by
the database itself, whoever writes the row.
"""

from __future__ import annotations

from enum import StrEnum


class OrganisationKind(StrEnum):
    """What an organisation is decides what it may do: providers publish, subscribers read."""

    PROVIDER = "provider"
    COMMISSIONER = "commissioner"
    REGULATOR = "regulator"
    PUBLIC_HEALTH = "public-health"
    WORKFORCE_BODY = "workforce-body"
    VENDOR = "vendor"
    ADMINISTRATOR = "administrator"


class AuthMethod(StrEnum):
    """How an OAuth client authenticates at the token endpoint."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    PRIVATE_KEY_JWT = "private_key_jwt"


class AgreementStatus(StrEnum):
    """`expired` is stored once the lapse is closed; until then it is shown from the end date."""

    REQUESTED = "requested"
    ACTIVE = "active"
    DECLINED = "declined"
    REVOKED = "revoked"
    EXPIRED = "expired"


class RecordState(StrEnum):
    """A retraction is a version too: the record stays, in the `retracted` state."""

    ACTIVE = "active"
    RETRACTED = "retracted"


class FeedState(StrEnum):
    """How an organisation's feed shows a record: at its latest version, or gone from its sight."""

    UPDATED = "updated"
    DELETED = "deleted"


class FeedbackKind(StrEnum):
    """`impact` is the one a provider most wants: what its data changed."""

    ACKNOWLEDGEMENT = "acknowledgement"
    QUESTION = "question"
    IMPACT = "impact"


class ReceiptChannel(StrEnum):
    """The way a record reached a subscriber, as its access receipt names it."""

    READ = "read"
    LISTED = "list"
    FEED = "feed"
    WEBHOOK = "webhook"
    EVENTS = "events"
    # A return filled from the record (`/v1/return-templates/{id}/returns`).
    RETURN = "return"


class SubscriptionChannel(StrEnum):
    """Pushed to a URL by the worker, or pulled by the subscriber from its events."""

    WEBHOOK = "webhook"
    PULL = "pull"


class SubscriptionContent(StrEnum):
    """`full` events carry the record, so delivering one leaves an access receipt."""

    ID_ONLY = "id-only"
    FULL = "full"


class SubscriptionStatus(StrEnum):
    """`paused` by the subscriber; `disabled` (a 410) and `error` (retries spent) by delivery."""

    ACTIVE = "active"
    PAUSED = "paused"
    DISABLED = "disabled"
    ERROR = "error"


class EventType(StrEnum):
    """The CloudEvents types of stored events (heartbeats are sent, never stored)."""

    RECORD_UPDATED = "org.careexchange.record.updated"
    RECORD_DELETED = "org.careexchange.record.deleted"
    FEEDBACK_CREATED = "org.careexchange.feedback.created"
