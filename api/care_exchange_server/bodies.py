"""The JSON bodies the server sends, as types mypy checks where they are built.

Each `XBody` mirrors the component `X` of `spec/openapi.yaml`, member for member, required for
required (`tests/api/test_bodies.py` holds them together); schemathesis checks the values on the
wire. Member names are the wire's, hence camelCase.
"""

from typing import Any, Generic, TypeVar

# pydantic needs this TypedDict on Python 3.11 for the routes that return a body as it is.
from typing_extensions import NotRequired, TypedDict  # noqa: UP035

Item = TypeVar("Item")


class PageBody(TypedDict, Generic[Item]):
    """Every list's page: the spec's `...Page` components with a `nextPageToken`."""

    items: list[Item]
    nextPageToken: str | None


class ProblemErrorBody(TypedDict):
    pointer: NotRequired[str]
    parameter: NotRequired[str]
    keyword: str
    message: str
    docs: NotRequired[str]
    rule: NotRequired[str]


class ProblemBody(TypedDict):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: NotRequired[str]
    requestId: str
    errors: NotRequired[list[ProblemErrorBody]]


class RecordEnvelopeBody(TypedDict):
    recordType: str
    id: str
    version: int
    state: str
    serviceId: str
    providerId: str
    submittedBy: str
    publishedAt: str
    data: NotRequired[Any]
    warnings: NotRequired[list[ProblemErrorBody]]


class BulkItemPublishedBody(TypedDict):
    index: int
    status: int
    recordType: str
    id: str
    version: int
    warnings: NotRequired[list[ProblemErrorBody]]


class BulkItemFailedBody(TypedDict):
    index: int
    status: int
    problem: ProblemBody


class HealthBody(TypedDict):
    status: str


class ReadinessChecksBody(TypedDict):
    database: str
    migrations: str


class ReadinessBody(TypedDict):
    status: str
    checks: ReadinessChecksBody


class BulkResultBody(TypedDict):
    results: list[BulkItemPublishedBody | BulkItemFailedBody]
    dryRun: NotRequired[bool]


class FeedItemBody(TypedDict):
    id: str
    kind: str
    state: str
    modified: int
    data: NotRequired[RecordEnvelopeBody]


class FeedPageBody(TypedDict):
    items: list[FeedItemBody]
    next: str


class FeedbackPeriodBody(TypedDict):
    start: str
    end: str


class FeedbackReplyBody(TypedDict):
    text: str
    providerId: str
    createdAt: str


class FeedbackBody(TypedDict):
    id: str
    kind: str
    text: str
    providerId: str
    serviceId: str
    subscriberId: str
    recordType: str | None
    recordId: str | None
    recordVersion: int | None
    period: FeedbackPeriodBody | None
    createdAt: str
    replies: list[FeedbackReplyBody]


class AccessReceiptBody(TypedDict):
    subscriberId: str
    providerId: str
    serviceId: str
    agreementId: str | None
    recordType: str
    recordId: str
    version: int
    channel: str
    readAt: str


class SubscriberSummaryBody(TypedDict):
    subscriberId: str
    recordsReceived: int
    recordsRead: int
    # Optional in the spec (since 1.1, a 1.0 server may leave it out); this server always sends it.
    recordsInReturns: NotRequired[int]
    lastReadAt: str | None


class AccessReceiptSummaryBody(TypedDict):
    subscribers: list[SubscriberSummaryBody]


class ClientBody(TypedDict):
    clientId: str
    organisationId: str
    name: str
    scopes: list[str]
    authMethod: str
    jwks: NotRequired[dict[str, Any]]
    createdAt: str
    disabledAt: str | None


class ClientCreatedBody(ClientBody):
    clientSecret: NotRequired[str]


class RootLinksBody(TypedDict):
    capabilities: str
    oauthMetadata: str
    jwks: str
    openapi: str
    openapiJson: NotRequired[str]
    docs: NotRequired[str]


class RootDocumentBody(TypedDict):
    name: str
    standardVersion: str
    links: RootLinksBody


class IdempotencyCapabilityBody(TypedDict):
    header: str
    retentionHours: int


class LimitsBody(TypedDict):
    maxBodyBytes: int
    pageSizeDefault: int
    pageSizeMax: int
    bulkMaxItems: int


class RateLimitBody(TypedDict):
    limit: int
    windowSeconds: int


class RateLimitsBody(TypedDict, total=False):
    tokenPerClient: RateLimitBody
    tokenPerAddress: RateLimitBody
    apiPerClient: RateLimitBody


class AuthCapabilityBody(TypedDict):
    issuer: str
    tokenEndpoint: str
    tokenEndpointAuthMethods: list[str]
    accessTokenLifetimeSeconds: int


class SubscriptionsCapabilityBody(TypedDict):
    channels: list[str]
    contents: list[str]
    retryDelaysSeconds: list[float]
    heartbeatSeconds: float
    timeoutSeconds: float
    secretOverlapHours: float
    eventRetentionDays: int
    signatureSchemes: list[str]
    webhookUrlSchemes: list[str]


class FeaturesBody(TypedDict):
    subscriptions: bool
    feed: bool
    feedback: bool
    returnTemplates: bool


class CapabilityDocumentBody(TypedDict):
    standardVersion: str
    apiVersion: str
    recordTypes: list[str]
    scopes: list[str]
    idempotency: IdempotencyCapabilityBody
    limits: LimitsBody
    rateLimits: NotRequired[RateLimitsBody]
    auth: AuthCapabilityBody
    subscriptions: NotRequired[SubscriptionsCapabilityBody]
    features: FeaturesBody


class AuthorizationServerMetadataBody(TypedDict):
    issuer: str
    token_endpoint: str
    revocation_endpoint: str
    introspection_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    response_types_supported: NotRequired[list[str]]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    scopes_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_signing_alg_values_supported: NotRequired[list[str]]
    introspection_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_signing_alg_values_supported: NotRequired[list[str]]


class JwksBody(TypedDict):
    keys: list[dict[str, Any]]


class OrganisationBody(TypedDict):
    id: str
    name: str
    kind: str


class DelegationBody(TypedDict):
    id: str
    providerId: str
    vendorId: str
    serviceIds: list[str] | None
    createdAt: str
    revokedAt: str | None


class AgreementBody(TypedDict):
    id: str
    providerId: str
    subscriberId: str
    recordTypes: list[str]
    serviceIds: list[str] | None
    purpose: str
    legalBasis: str
    endDate: str | None
    statutory: bool
    status: str
    createdAt: str
    decidedAt: str | None
    revokedAt: str | None


class SubscriptionFilterBody(TypedDict):
    services: NotRequired[list[str]]
    areas: NotRequired[list[str]]


class ChannelBody(TypedDict):
    type: str
    url: NotRequired[str]


class SubscriptionBody(TypedDict):
    id: str
    types: list[str]
    filter: SubscriptionFilterBody | None
    channel: ChannelBody
    content: str
    status: str
    statusReason: str | None
    latestSequence: int
    createdAt: str
    updatedAt: str


class DeliveryErrorBody(TypedDict):
    at: str | None
    message: str
    statusCode: int | None


class SubscriptionStatusBody(TypedDict):
    id: str
    status: str
    statusReason: str | None
    latestSequence: int
    deliveredSequence: int
    backlog: int
    lastDeliveredAt: str | None
    nextAttemptAt: str | None
    attempts: int
    lastError: DeliveryErrorBody | None


class SubscriptionSecretBody(TypedDict):
    secret: str
    previousSecretExpiresAt: str | None


class EventBody(TypedDict):
    specversion: str
    id: str
    source: str
    type: str
    subject: NotRequired[str]
    time: str
    datacontenttype: str
    sequence: NotRequired[str]
    subscription: NotRequired[str]
    data: Any


class EventPageBody(TypedDict):
    items: list[EventBody]
    latestSequence: int
    nextPageToken: str | None


class StoredReturnTemplateBody(TypedDict):
    id: str
    version: str
    ownerId: str | None
    shipped: bool
    createdAt: str | None
    template: dict[str, Any]


class ReturnTemplateRefBody(TypedDict):
    id: str
    version: str
    title: str


class ReturnTemplateCoverageBody(TypedDict):
    template: ReturnTemplateRefBody
    fields: int
    exact: int
    derived: int
    unmapped: int
    mappedShare: float
    unmappedFields: list[dict[str, Any]]


class FilledReturnBody(TypedDict):
    template: ReturnTemplateRefBody
    serviceId: str
    period: dict[str, Any]
    fields: list[dict[str, Any]]
    coverage: dict[str, int]
    sources: dict[str, list[str]]
