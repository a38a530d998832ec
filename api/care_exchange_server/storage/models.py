"""The tables: organisations and their clients, keys, the directory, agreements and records."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from care_exchange_server.storage.enums import (
    AgreementStatus,
    AuthMethod,
    EventType,
    FeedbackKind,
    FeedState,
    OrganisationKind,
    ReceiptChannel,
    RecordState,
    SubscriptionChannel,
    SubscriptionContent,
    SubscriptionStatus,
)
from care_exchange_server.storage.types import JSONType, UTCDateTime, coded, utcnow

ID_LENGTH = 128


def one_of(table: str, column: str, enum: type[StrEnum]) -> CheckConstraint:
    """The database refuses any other value, whoever writes the row (raw SQL included).

    Named `ck_<table>_<column>`, as migration 0007 names it, so a later one can replace it.
    """
    allowed = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{table}_{column}")


class Base(DeclarativeBase):
    """Declarative base with the column types shared by every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class Organisation(Base):
    """A provider, commissioner, regulator, vendor, ... Every client belongs to exactly one."""

    __tablename__ = "organisations"
    __table_args__ = (one_of(__tablename__, "kind", OrganisationKind),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[OrganisationKind] = mapped_column(coded(OrganisationKind, 40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A provider's own directory entry (schemas/directory/provider.json), once it has stored one.
    directory_entry: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Client(Base):
    """An OAuth client; its secret is stored only as a hash."""

    __tablename__ = "clients"
    __table_args__ = (one_of(__tablename__, "auth_method", AuthMethod),)

    client_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    auth_method: Mapped[AuthMethod] = mapped_column(coded(AuthMethod, 40))
    secret_hash: Mapped[str | None] = mapped_column(String(300))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()


class SigningKey(Base):
    """A token-signing key, kept across restarts.

    A retired key stays published until the tokens it signed have expired.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    private_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()


class RevokedToken(Base):
    """The `jti` deny list for revoked access tokens, pruned after the tokens expire."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class UsedAssertion(Base):
    """Client-assertion `jti`s already seen, so a captured assertion cannot be replayed."""

    __tablename__ = "used_assertions"

    client_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    jti: Mapped[str] = mapped_column(String(300), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Service(Base):
    """A care service in the directory; `document` is a `service` directory record."""

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delegation(Base):
    """A provider lets a vendor publish for some (`service_ids`) or all (None) of its services."""

    __tablename__ = "delegations"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    vendor_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    service_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Agreement(Base):
    """A data-sharing agreement: a subscriber may read these record types of these services."""

    __tablename__ = "agreements"
    __table_args__ = (one_of(__tablename__, "status", AgreementStatus),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    record_types: Mapped[list[str]] = mapped_column(JSONType)
    service_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    end_date: Mapped[date | None] = mapped_column(Date)
    statutory: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[AgreementStatus] = mapped_column(coded(AgreementStatus, 20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Record(Base):
    """The latest version of a published record; every version is also in `record_versions`."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("record_type", "record_id"),
        one_of(__tablename__, "state", RecordState),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[RecordState] = mapped_column(coded(RecordState, 20))
    submitted_by: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    published_at: Mapped[datetime] = mapped_column(index=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class RecordVersion(Base):
    """One version of a record, never changed once written; a retraction is a tombstone."""

    __tablename__ = "record_versions"
    __table_args__ = (one_of(__tablename__, "state", RecordState),)

    record_pk: Mapped[int] = mapped_column(ForeignKey("records.pk"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[RecordState] = mapped_column(coded(RecordState, 20))
    submitted_by: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    published_at: Mapped[datetime] = mapped_column()
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ChangeCounter(Base):
    """The last change number given out, in one row.

    Taking numbers locks the row until commit, so change numbers follow commit order and a feed
    reader never skips a late commit.
    """

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class FeedEntry(Base):
    """A record as one organisation's feed shows it: its latest change number and state."""

    __tablename__ = "feed_entries"
    __table_args__ = (
        Index("ix_feed_entries_position", "organisation_id", "record_type", "change_number"),
        one_of(__tablename__, "state", FeedState),
    )

    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    record_pk: Mapped[int] = mapped_column(ForeignKey("records.pk"), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(60))
    change_number: Mapped[int] = mapped_column(BigInteger, unique=True)
    state: Mapped[FeedState] = mapped_column(coded(FeedState, 10))


class Feedback(Base):
    """A subscriber's acknowledgement, question or impact, on a record or a service and period."""

    __tablename__ = "feedback"
    __table_args__ = (one_of(__tablename__, "kind", FeedbackKind),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    kind: Mapped[FeedbackKind] = mapped_column(coded(FeedbackKind, 20))
    text: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"))
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    author_client_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    record_pk: Mapped[int | None] = mapped_column(ForeignKey("records.pk"))
    record_version: Mapped[int | None] = mapped_column(Integer)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedbackReply(Base):
    """The provider's reply to feedback."""

    __tablename__ = "feedback_replies"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feedback_pk: Mapped[int] = mapped_column(ForeignKey("feedback.pk"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    author_client_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessReceipt(Base):
    """A subscriber received a version of a record, under an agreement: what the provider sees."""

    __tablename__ = "access_receipts"
    __table_args__ = (
        Index("ix_access_receipts_provider_read", "provider_id", "read_at"),
        one_of(__tablename__, "channel", ReceiptChannel),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"))
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"))
    record_pk: Mapped[int] = mapped_column(ForeignKey("records.pk"))
    record_type: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[ReceiptChannel] = mapped_column(coded(ReceiptChannel, 10))
    read_at: Mapped[datetime] = mapped_column()


class ReturnTemplate(Base):
    """A return template declared on this server: its id, taken once, and its owner.

    Kept apart from records: a template is a subscriber's definition, never a provider's data.
    The row is locked while a version is added, so versions of one template are stored one at
    a time and each is greater than the one before.

    `retired_at` is set when its owner retires it: from then on it is shown to no one, but the
    row and its versions stay for audit, and so its id stays taken.
    """

    __tablename__ = "return_templates"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()


class ReturnTemplateVersion(Base):
    """One version of a template, never changed once stored; `document` as its owner wrote it."""

    __tablename__ = "return_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    template_id: Mapped[str] = mapped_column(ForeignKey("return_templates.id"))
    version: Mapped[str] = mapped_column(String(40))
    owner_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    """An organisation's subscription: which changes become its events, and where they go.

    `last_sequence` is the number of its latest event; it only changes under the feed counter's
    lock, so sequences are given out in commit order and without gaps. The delivery columns say
    how far the worker has got and hold its lease while it delivers.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        one_of(__tablename__, "channel", SubscriptionChannel),
        one_of(__tablename__, "content", SubscriptionContent),
        one_of(__tablename__, "status", SubscriptionStatus),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    types: Mapped[list[str]] = mapped_column(JSONType)
    service_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    area_codes: Mapped[list[str] | None] = mapped_column(JSONType)
    channel: Mapped[SubscriptionChannel] = mapped_column(coded(SubscriptionChannel, 10))
    url: Mapped[str | None] = mapped_column(Text)
    content: Mapped[SubscriptionContent] = mapped_column(coded(SubscriptionContent, 10))
    status: Mapped[SubscriptionStatus] = mapped_column(coded(SubscriptionStatus, 10))
    status_reason: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column()
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column()
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_status: Mapped[int | None] = mapped_column(Integer)
    last_error_at: Mapped[datetime | None] = mapped_column()
    last_delivered_at: Mapped[datetime | None] = mapped_column()
    last_contact_at: Mapped[datetime | None] = mapped_column()
    leased_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    lease_until: Mapped[datetime | None] = mapped_column()
    lease_key: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscriptionEvent(Base):
    """One numbered event of a subscription: the outbox row and the replay log in one."""

    __tablename__ = "subscription_events"
    __table_args__ = (
        UniqueConstraint("subscription_pk", "sequence"),
        one_of(__tablename__, "type", EventType),
    )

    # Every change times every subscription: 64-bit (SQLite's rowid already is).
    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    subscription_pk: Mapped[int] = mapped_column(ForeignKey("subscriptions.pk", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    type: Mapped[EventType] = mapped_column(coded(EventType, 60))
    record_pk: Mapped[int | None] = mapped_column(ForeignKey("records.pk"))
    version: Mapped[int | None] = mapped_column(Integer)
    feedback_pk: Mapped[int | None] = mapped_column(ForeignKey("feedback.pk"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKey(Base):
    """The first response to a POST with an `Idempotency-Key`, replayed for its repeats."""

    __tablename__ = "idempotency_keys"

    organisation_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
