"""The bodies of the API as TypedDicts, one per component of spec/openapi.yaml.

They are plain dicts at run time, exactly the JSON the server sent: nothing is converted, so a
member a newer server adds is kept and a caller can pass a body straight back (a record envelope
into `replace_record`, say). Timestamps stay RFC 3339 strings for the same reason.
`tests/clients/test_sdk_types.py` holds each class to its component's members and required ones.
Records and directory entries are typed loosely on purpose: their normative definition is the
standard's JSON Schemas, which the server validates.
"""

# Each class mirrors the spec component of its name; the spec documents them.
# ruff: noqa: D101

# No `from __future__ import annotations` here: TypedDicts read `NotRequired` from evaluated
# annotations, so postponed ones would make every member required at run time.
from typing import Any, Generic, Literal, NotRequired, TypeAlias, TypedDict, TypeVar

Item = TypeVar("Item")

RecordType: TypeAlias = Literal[
    "capacity-snapshot",
    "home-care-activity",
    "workforce-snapshot",
    "resident-movements",
    "notifiable-event",
    "fees-and-charges",
    "complaints-and-compliments",
    "outcomes-summary",
    "achievement",
]
FeedbackKind: TypeAlias = Literal["acknowledgement", "question", "impact"]
AgreementStatus: TypeAlias = Literal["requested", "active", "declined", "revoked", "expired"]
OrganisationKind: TypeAlias = Literal[
    "provider",
    "commissioner",
    "regulator",
    "public-health",
    "workforce-body",
    "vendor",
    "administrator",
]
AuthMethod: TypeAlias = Literal["client_secret_basic", "private_key_jwt"]
EventType: TypeAlias = Literal[
    "org.careexchange.record.updated",
    "org.careexchange.record.deleted",
    "org.careexchange.feedback.created",
    "org.careexchange.heartbeat",
]

# A record of the standard, or a service's or provider's directory entry: defined by the
# standard's schemas.
Record: TypeAlias = dict[str, Any]
Service: TypeAlias = dict[str, Any]
Provider: TypeAlias = dict[str, Any]


class Page(TypedDict, Generic[Item]):
    """Every list but the feed: pass `nextPageToken` back as `page_token` until it is null."""

    items: list[Item]
    nextPageToken: str | None


class ProblemItem(TypedDict):
    pointer: NotRequired[str]
    parameter: NotRequired[str]
    keyword: str
    message: str
    docs: NotRequired[str]
    rule: NotRequired[str]


class Problem(TypedDict):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: NotRequired[str]
    requestId: str
    errors: NotRequired[list[ProblemItem]]


class RootLinks(TypedDict):
    capabilities: str
    oauthMetadata: str
    jwks: str
    openapi: str
    openapiJson: NotRequired[str]
    docs: NotRequired[str]


class RootDocument(TypedDict):
    name: str
    standardVersion: str
    links: RootLinks


class IdempotencyCapability(TypedDict):
    header: str
    retentionHours: int


class Limits(TypedDict):
    maxBodyBytes: int
    pageSizeDefault: int
    pageSizeMax: int
    bulkMaxItems: int


class AuthCapability(TypedDict):
    issuer: str
    tokenEndpoint: str
    tokenEndpointAuthMethods: list[AuthMethod]
    accessTokenLifetimeSeconds: int


class SubscriptionsCapability(TypedDict):
    channels: list[str]
    contents: list[str]
    retryDelaysSeconds: list[float]
    heartbeatSeconds: float
    timeoutSeconds: float
    secretOverlapHours: float
    eventRetentionDays: int
    signatureSchemes: list[str]
    webhookUrlSchemes: list[str]


class Features(TypedDict):
    subscriptions: bool
    feed: bool
    feedback: bool
    returnTemplates: bool


class Health(TypedDict):
    status: Literal["ok"]


class ReadinessChecks(TypedDict):
    database: Literal["ok", "unreachable"]
    migrations: Literal["current", "behind", "ahead", "unknown"]


class Readiness(TypedDict):
    status: Literal["ready", "not-ready"]
    checks: ReadinessChecks


class RateLimit(TypedDict):
    limit: int
    windowSeconds: int


class RateLimits(TypedDict):
    tokenPerClient: NotRequired[RateLimit]
    tokenPerAddress: NotRequired[RateLimit]
    apiPerClient: NotRequired[RateLimit]


class CapabilityDocument(TypedDict):
    standardVersion: str
    apiVersion: str
    recordTypes: list[RecordType]
    scopes: list[str]
    idempotency: IdempotencyCapability
    limits: Limits
    auth: AuthCapability
    subscriptions: NotRequired[SubscriptionsCapability]
    features: Features
    rateLimits: NotRequired[RateLimits]


class AuthorizationServerMetadata(TypedDict):
    issuer: str
    token_endpoint: str
    revocation_endpoint: str
    introspection_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    response_types_supported: NotRequired[list[str]]
    token_endpoint_auth_methods_supported: list[AuthMethod]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    scopes_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[AuthMethod]
    revocation_endpoint_auth_signing_alg_values_supported: NotRequired[list[str]]
    introspection_endpoint_auth_methods_supported: list[AuthMethod]
    introspection_endpoint_auth_signing_alg_values_supported: NotRequired[list[str]]


class Jwk(TypedDict):
    kty: str
    kid: NotRequired[str]
    use: NotRequired[str]
    alg: NotRequired[str]
    n: NotRequired[str]
    e: NotRequired[str]
    crv: NotRequired[str]
    x: NotRequired[str]
    y: NotRequired[str]


class Jwks(TypedDict):
    keys: list[Jwk]


class TokenResponse(TypedDict):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class IntrospectionResponse(TypedDict):
    active: bool
    scope: NotRequired[str]
    client_id: NotRequired[str]
    sub: NotRequired[str]
    org: NotRequired[str]
    exp: NotRequired[int]
    iat: NotRequired[int]
    iss: NotRequired[str]
    aud: NotRequired[str | list[str]]
    jti: NotRequired[str]
    token_type: NotRequired[str]


class RecordEnvelope(TypedDict):
    recordType: RecordType
    id: str
    version: int
    state: Literal["active", "retracted"]
    serviceId: str
    providerId: str
    submittedBy: str
    publishedAt: str
    data: NotRequired[Record]
    warnings: NotRequired[list[ProblemItem]]


class FeedItem(TypedDict):
    id: str
    kind: RecordType
    state: Literal["updated", "deleted"]
    modified: int
    data: NotRequired[RecordEnvelope]


class FeedPage(TypedDict):
    items: list[FeedItem]
    next: str


class FeedbackPeriod(TypedDict):
    start: str
    end: str


class FeedbackRequest(TypedDict):
    kind: FeedbackKind
    text: str
    recordType: NotRequired[RecordType]
    recordId: NotRequired[str]
    serviceId: NotRequired[str]
    period: NotRequired[FeedbackPeriod]


class FeedbackReplyRequest(TypedDict):
    text: str


class FeedbackReply(TypedDict):
    text: str
    providerId: str
    createdAt: str


class Feedback(TypedDict):
    id: str
    kind: FeedbackKind
    text: str
    providerId: str
    serviceId: str
    subscriberId: str
    recordType: RecordType | None
    recordId: str | None
    recordVersion: int | None
    period: FeedbackPeriod | None
    createdAt: str
    replies: list[FeedbackReply]


class SubscriptionFilter(TypedDict):
    services: NotRequired[list[str]]
    areas: NotRequired[list[str]]


class SubscriptionChannel(TypedDict):
    type: Literal["webhook", "pull"]
    url: NotRequired[str]


class SubscriptionRequest(TypedDict):
    types: list[str]
    filter: NotRequired[SubscriptionFilter]
    channel: SubscriptionChannel
    content: NotRequired[Literal["id-only", "full"]]


class SubscriptionUpdate(TypedDict, total=False):
    types: list[str]
    filter: SubscriptionFilter | None
    channel: SubscriptionChannel
    content: Literal["id-only", "full"]
    status: Literal["active", "paused"]


class Subscription(TypedDict):
    id: str
    types: list[str]
    filter: SubscriptionFilter | None
    channel: SubscriptionChannel
    content: Literal["id-only", "full"]
    status: Literal["active", "paused", "disabled", "error"]
    statusReason: str | None
    latestSequence: int
    createdAt: str
    updatedAt: str


class SubscriptionCreated(Subscription):
    secret: str | None


class SubscriptionSecret(TypedDict):
    secret: str | None
    previousSecretExpiresAt: str


class DeliveryError(TypedDict):
    at: str
    message: str
    statusCode: int | None


class SubscriptionStatus(TypedDict):
    id: str
    status: Literal["active", "paused", "disabled", "error"]
    statusReason: str | None
    latestSequence: int
    deliveredSequence: int
    backlog: int
    lastDeliveredAt: str | None
    nextAttemptAt: str | None
    attempts: int
    lastError: DeliveryError | None


class Event(TypedDict):
    """A CloudEvents 1.0 event. `sequence` is absent on heartbeats, which are never stored."""

    specversion: str
    id: str
    source: str
    type: EventType
    subject: NotRequired[str]
    time: str
    datacontenttype: str
    sequence: NotRequired[str]
    subscription: NotRequired[str]
    data: dict[str, Any]


class EventPage(TypedDict):
    items: list[Event]
    latestSequence: int
    nextPageToken: str | None


class AccessReceipt(TypedDict):
    subscriberId: str
    providerId: str
    serviceId: str
    agreementId: str
    recordType: RecordType
    recordId: str
    version: int
    channel: Literal["read", "list", "feed", "webhook", "events", "return"]
    readAt: str


class SubscriberSummary(TypedDict):
    subscriberId: str
    recordsReceived: int
    recordsRead: int
    recordsInReturns: NotRequired[int]
    lastReadAt: str


class AccessReceiptSummary(TypedDict):
    subscribers: list[SubscriberSummary]


class BulkRequest(TypedDict):
    records: list[Record]


class BulkItemPublished(TypedDict):
    index: int
    status: int
    recordType: RecordType
    id: str
    version: int
    warnings: NotRequired[list[ProblemItem]]


class BulkItemFailed(TypedDict):
    index: int
    status: int
    problem: Problem


class BulkResult(TypedDict):
    results: list[BulkItemPublished | BulkItemFailed]
    dryRun: NotRequired[bool]


class Organisation(TypedDict):
    id: str
    name: str
    kind: OrganisationKind


class OrganisationRequest(TypedDict):
    name: str
    kind: OrganisationKind


class DelegationRequest(TypedDict):
    vendorId: str
    serviceIds: list[str] | None


class Delegation(TypedDict):
    id: str
    providerId: str
    vendorId: str
    serviceIds: list[str] | None
    createdAt: str
    revokedAt: str | None


class AgreementRequest(TypedDict):
    providerId: NotRequired[str]
    subscriberId: NotRequired[str]
    recordTypes: list[RecordType]
    serviceIds: list[str] | None
    purpose: str
    legalBasis: str
    endDate: NotRequired[str | None]
    statutory: NotRequired[bool]


class Agreement(TypedDict):
    id: str
    providerId: str
    subscriberId: str
    recordTypes: list[RecordType]
    serviceIds: list[str] | None
    purpose: str
    legalBasis: str
    endDate: str | None
    statutory: bool
    status: AgreementStatus
    createdAt: str
    decidedAt: str | None
    revokedAt: str | None


class ClientRequest(TypedDict):
    organisationId: str
    name: str
    scopes: list[str]
    authMethod: AuthMethod
    jwks: NotRequired[Jwks]


class OAuthClient(TypedDict):
    """A registered OAuth client (the spec's `Client` component)."""

    clientId: str
    organisationId: str
    name: str
    scopes: list[str]
    authMethod: AuthMethod
    jwks: NotRequired[Jwks]
    createdAt: str
    disabledAt: str | None


class ClientCreated(OAuthClient):
    clientSecret: NotRequired[str]


class OAuthErrorBody(TypedDict):
    error: str
    error_description: NotRequired[str]
    error_uri: NotRequired[str]


class StoredReturnTemplate(TypedDict):
    """One version of a return template as a server holds it; `template` is the document."""

    id: str
    version: str
    ownerId: str | None
    shipped: bool
    createdAt: str | None
    template: dict[str, Any]


class ReturnTemplateRef(TypedDict):
    id: str
    version: str
    title: str


class ReturnTemplateCoverage(TypedDict):
    template: ReturnTemplateRef
    fields: int
    exact: int
    derived: int
    unmapped: int
    mappedShare: float
    unmappedFields: list[dict[str, Any]]


class FilledReturnField(TypedDict):
    code: str
    label: str
    section: NotRequired[str]
    unit: NotRequired[str]
    valueType: str
    value: Any
    status: Literal["value", "empty", "no-source", "unmapped", "error"]
    message: NotRequired[str]


class FilledReturn(TypedDict):
    """A return filled for one service and period; `coverage` counts the fields by status."""

    template: ReturnTemplateRef
    serviceId: str
    period: dict[str, Any]
    fields: list[FilledReturnField]
    coverage: dict[str, int]
    sources: dict[str, list[str]]
