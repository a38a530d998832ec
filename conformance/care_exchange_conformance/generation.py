"""Requests generated from `spec/openapi.yaml` by schemathesis, sent once per run, and findings.

The findings are what the `CX-SPEC-*` checks report, each with its request and response.

It is built to be safe against a vendor's real system:

- **Valid requests only to read.** Positive generation (data the spec allows) is used for GET
  operations alone, so the run creates no records, agreements, subscriptions or services of
  random content. Their path parameters name what exists where the suite knows of it: the
  record it publishes for the run (retracted at the end), the configured service and
  agreement, the first subscription and feedback the caller lists.
- **Invalid requests to everything else.** Negative generation (data the spec forbids) is used
  for every operation the suite's parties may call. A request that would change state is sent
  only when the suite's own reading of the spec (`requests_judge`) agrees it is invalid, so a
  conformant implementation refuses it and stores nothing. If one is accepted anyway, a
  subscription or record it created is removed at the end of the run with the suite's own.
- **Not called:** operations that need the `admin` scope (the suite has no administrator),
  features the capability document declares absent, OAuth endpoints the authorisation server
  metadata places elsewhere, and operations no configured client has the scope for.
  `publishRecord`, `replaceRecord`, `createService` and `replaceService` get no invalid
  requests: drawing a body valid against none of nine record schemas is too slow for a run, and
  an invalid service document takes seconds a request; the records and errors checks send
  their invalid records.

Each operation is called as the party its security requirement points to: the subscriber for
a read scope, the publisher otherwise (the subscriber sends feedback), with that party's token;
the OAuth endpoints with the publisher's client credentials (HTTP Basic). Hypothesis is seeded
with the run's seed and draws at most `generated_examples` requests of each kind per operation,
so a run repeats.
"""

from __future__ import annotations

import base64
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httpx

from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import CheckFailedError, NotApplicableError
from care_exchange_conformance.requests_judge import fault

if TYPE_CHECKING:
    from schemathesis import APIOperation, BaseSchema, Case
    from schemathesis.checks import CheckFunction

    Operation = APIOperation[Any, Any, Any, Any]

ADMIN = "admin"
OAUTH_ENDPOINTS = {
    "/oauth/token": "token_endpoint",
    "/oauth/revoke": "revocation_endpoint",
    "/oauth/introspect": "introspection_endpoint",
}
FEATURES = {"/v1/feed/": "feed", "/v1/subscriptions": "subscriptions", "/v1/feedback": "feedback"}
# Hypothesis cannot draw "valid against none of nine record schemas" in reasonable time, and an
# invalid service document takes it seconds a request (as much as all the other operations).
NO_INVALID_BODIES = frozenset({"publishRecord", "replaceRecord", "createService", "replaceService"})
# Listed as the caller to find an id that exists, for a read's path parameter.
LISTS = {
    "subscriptionId": "/v1/subscriptions",
    "feedbackId": "/v1/feedback",
    "agreementId": "/v1/agreements",
}
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_MESSAGE = 700
SCHEMA_MESSAGE = 240


class Kind(StrEnum):
    """What a finding is about; one check reports each kind."""

    SERVER_ERROR = "server-error"
    UNDOCUMENTED_STATUS = "undocumented-status"
    CONTENT_TYPE = "content-type"
    RESPONSE_SCHEMA = "response-schema"
    ACCEPTED_INVALID = "accepted-invalid"


@dataclass(frozen=True)
class Finding:
    """One generated request whose answer broke the spec, in one way."""

    kind: Kind
    operation: str
    valid: bool
    message: str
    response: httpx.Response | None
    why_invalid: str | None = None


@dataclass
class Outcome:
    """Everything the run's generated requests showed."""

    findings: list[Finding] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    withheld: int = 0
    unsendable: int = 0
    not_called: dict[str, str] = field(default_factory=dict)
    parties: set[str] = field(default_factory=set)

    def of(self, kind: Kind) -> list[Finding]:
        return [found for found in self.findings if found.kind is kind]

    @property
    def requests(self) -> int:
        return sum(self.sent.values())


_OUTCOMES: weakref.WeakKeyDictionary[Context, Outcome | BaseException] = weakref.WeakKeyDictionary()


def outcome(context: Context) -> Outcome:
    """The run's generated requests and findings, sent the first time a check asks."""
    found = _OUTCOMES.get(context)
    if found is None:
        try:
            found = Generator(context).run()
        except (CheckFailedError, NotApplicableError) as error:
            found = error
        _OUTCOMES[context] = found
    if isinstance(found, BaseException):
        raise found
    return found


@cache
def _schema() -> BaseSchema:
    """The spec as schemathesis reads it, with an explicit configuration.

    A `schemathesis.toml` in the working directory must not change a run.
    """
    import schemathesis

    from care_exchange_conformance import schemathesis_compat
    from care_exchange_standard.files import SPEC_FILE

    schemathesis_compat.install()
    config = schemathesis.Config.from_dict(
        {
            "phases": {"coverage": {"enabled": False}},
            "checks": {"negative_data_rejection": {"expected-statuses": ["4xx"]}},
        }
    )
    return schemathesis.openapi.from_path(SPEC_FILE, config=config)


def _checks() -> dict[Kind, CheckFunction]:
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = {
        Kind.UNDOCUMENTED_STATUS: status_code_conformance,
        Kind.CONTENT_TYPE: content_type_conformance,
        Kind.RESPONSE_SCHEMA: response_schema_conformance,
        Kind.ACCEPTED_INVALID: negative_data_rejection,
    }
    return {kind: cast("CheckFunction", found) for kind, found in checks.items()}


class Generator:
    """One run's generation: which operations, as whom, with what; then the findings."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.outcome = Outcome()
        self.examples = context.config.generated_examples
        self.base_path = urlsplit(context.config.base_url).path
        self._existing: dict[str, str | None] = {}

    def run(self) -> Outcome:
        """Generate and send, with Hypothesis drawing from the seed alone and leaving no files.

        Hypothesis keeps caches in `.hypothesis/` of the working directory, which is a vendor's
        CI checkout: they go to a temporary folder. Each draw is from the seed alone
        (`_without_local_constants`).
        """
        from hypothesis import configuration

        previous = getattr(configuration, "__hypothesis_home_directory", None)
        with tempfile.TemporaryDirectory(prefix="care-exchange-conformance-") as home:
            configuration.set_hypothesis_home_dir(home)
            try:
                return self._run()
            finally:
                configuration.set_hypothesis_home_dir(previous)

    def _run(self) -> Outcome:
        from schemathesis import GenerationMode
        from schemathesis.core.result import Ok

        schema = _schema()
        checks = _checks()
        for result in schema.get_all_operations():
            if not isinstance(result, Ok):
                raise result.err()  # the spec shipped with the suite is one schemathesis reads
            operation = result.ok()
            party = self._caller(operation)
            if party is None:
                continue
            modes = [GenerationMode.POSITIVE] if operation.method.upper() in SAFE else []
            if operation.definition.raw["operationId"] in NO_INVALID_BODIES:
                if not modes:
                    self._skip(operation, "drawing its invalid bodies is too slow for a run")
                    continue
            elif _has_inputs(operation):
                modes.append(GenerationMode.NEGATIVE)
            if party:
                self.outcome.parties.add(party)
            for mode in modes:
                for case in self._draw(operation, mode):
                    self._exercise(case, party, mode.is_positive, checks)
        return self.outcome

    # ------------------------------------------------------------------------- who calls

    def _skip(self, operation: Operation, why: str) -> None:
        self.outcome.not_called[operation.label] = why

    def _caller(self, operation: Operation) -> str | None:
        """The party that calls the operation, or None (and why) when the run does not."""
        path = operation.path
        raw: dict[str, Any] = operation.definition.raw
        for prefix, feature in FEATURES.items():
            if path.startswith(prefix) and not self.context.capabilities()["features"][feature]:
                self._skip(operation, f"the capability document declares no {feature}")
                return None
        if path in OAUTH_ENDPOINTS:
            member = OAUTH_ENDPOINTS[path]
            where = None
            with suppress(CheckFailedError):
                where = self.context.oauth_metadata().get(member)
            if where != self.context.config.base_url + path:
                self._skip(operation, f"the authorisation server metadata's {member} is {where!r}")
                return None
            if self.context.config.party("publisher") is None:
                self._skip(operation, "no publisher client is configured")
                return None
            return "publisher"
        requirements: list[dict[str, list[str]]] = raw.get("security", [])
        if not requirements:
            return ""  # anonymous
        wanted = [set(requirement.get("oauth2", [])) for requirement in requirements]
        if any(ADMIN in scopes for scopes in wanted):
            self._skip(operation, "it needs the admin scope, which no client of the suite has")
            return None
        reads = any(scope.endswith(":read") for scopes in wanted for scope in scopes)
        sends_feedback = path == "/v1/feedback" and operation.method.upper() == "POST"
        order = ["publisher", "subscriber"]
        if reads or sends_feedback:
            order.reverse()
        for party in order:
            if any(scopes <= self._scopes(party) for scopes in wanted):
                return party
        self._skip(operation, f"no configured client ({' or '.join(order)}) has its scope")
        return None

    def _scopes(self, party: str) -> set[str]:
        """The scopes of the party's token; none for a client the configuration lacks."""
        if self.context.config.party(party) is None:
            return set()
        return set(str(self.context.token_body(party).get("scope", "")).split())

    # ---------------------------------------------------------------------------- drawing

    def _draw(self, operation: Operation, mode: Any) -> list[Case[Any]]:
        """Up to `generated_examples` cases, drawn by Hypothesis seeded with the run's seed."""
        from hypothesis import HealthCheck, Phase, given, seed, settings
        from hypothesis.errors import Unsatisfiable

        drawn: list[Case[Any]] = []

        @seed(self.context.seed)
        @settings(
            max_examples=self.examples,
            phases=[Phase.generate],
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy(generation_mode=mode))
        def collect(case: Case[Any]) -> None:
            drawn.append(case)

        with suppress(Unsatisfiable), _without_local_constants():
            collect()  # Unsatisfiable: nothing of that kind to generate
        return drawn

    # ---------------------------------------------------------------------------- sending

    def _exercise(
        self, case: Case[Any], party: str, valid: bool, checks: dict[Kind, CheckFunction]
    ) -> None:
        operation_id: str = case.operation.definition.raw["operationId"]
        if valid:
            self._point_at_existing(case, party)
        request = self._request(case, party)
        if request is None:
            return
        why_invalid = None if valid else fault(operation_id, request, self.base_path)
        if not valid and why_invalid is None and case.method.upper() not in SAFE:
            self.outcome.withheld += 1  # perhaps valid after all: it could change something
            return
        try:
            response = self.context.http.send(request)
        except httpx.LocalProtocolError:
            self.outcome.unsendable += 1  # refused by the HTTP library before it was sent
            return
        except httpx.HTTPError as error:
            message = f"It was not answered: {error!r}."
            self._found(Kind.SERVER_ERROR, case, valid, message, None, why_invalid)
            return
        label = case.operation.label
        self.outcome.sent[label] = self.outcome.sent.get(label, 0) + 1
        if not valid and 200 <= response.status_code < 300:
            self._remember_created(case, party, response)
        if response.status_code >= 500:
            self._found(
                Kind.SERVER_ERROR,
                case,
                valid,
                f"It was answered {response.status_code}.",
                response,
                why_invalid,
            )
        sent_headers = {
            name: value for name, value in request.headers.items() if name != "authorization"
        }
        for kind, check in checks.items():
            if kind is Kind.ACCEPTED_INVALID and (valid or why_invalid is None):
                continue
            failure = _failure(case, response, check, sent_headers)
            if failure is not None:
                self._found(kind, case, valid, failure, response, why_invalid)

    def _found(
        self,
        kind: Kind,
        case: Case[Any],
        valid: bool,
        message: str,
        response: httpx.Response | None,
        why_invalid: str | None = None,
    ) -> None:
        self.outcome.findings.append(
            Finding(kind, case.operation.label, valid, message, response, why_invalid)
        )

    def _request(self, case: Case[Any], party: str) -> httpx.Request | None:
        """The request schemathesis would send for the case, built as httpx's.

        None when it cannot go on the wire (a header value outside ISO-8859-1).
        """
        import requests

        headers: dict[str, str] = {}
        if case.operation.path in OAUTH_ENDPOINTS:
            client_id, secret = self.context.credentials(party)
            basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {basic}"
        elif party:
            headers["Authorization"] = f"Bearer {self.context.token(party)}"
        kwargs = case.as_transport_kwargs(base_url=self.context.config.base_url, headers=headers)
        kwargs.pop("auth", None)
        try:
            prepared = requests.Request(**kwargs).prepare()
            raw_headers = [
                (name.encode("latin-1"), str(value).encode("latin-1"))
                for name, value in prepared.headers.items()
                if name.lower() != "content-length"
            ]
        except (UnicodeError, ValueError, TypeError):
            return None
        body = prepared.body
        content = body.encode("utf-8") if isinstance(body, str) else body
        if content is not None and not isinstance(content, bytes):
            return None  # a stream: schemathesis builds none for this spec
        assert prepared.method is not None and prepared.url is not None
        try:
            return self.context.http.build_request(
                prepared.method, prepared.url, headers=raw_headers, content=content
            )
        except (httpx.InvalidURL, ValueError):
            return None

    # ------------------------------------------------------------ valid reads, real things

    def _point_at_existing(self, case: Case[Any], party: str) -> None:
        """Path parameters that name what exists, where the suite knows of it."""
        path_parameters = dict(case.path_parameters or {})
        if "type" in path_parameters:
            declared = self.context.capabilities()["recordTypes"]
            if "id" in path_parameters or path_parameters["type"] not in declared:
                path_parameters["type"] = self.context.record_type()
        if "id" in path_parameters and (record_id := self._record_id()) is not None:
            path_parameters["id"] = record_id
        if "serviceId" in path_parameters and self.context.config.service_id:
            path_parameters["serviceId"] = self.context.config.service_id
        for name, listed in LISTS.items():
            if name in path_parameters:
                existing = self._first(party, listed)
                if name == "agreementId" and self.context.config.agreement_id:
                    existing = self.context.config.agreement_id
                if name == "subscriptionId" and existing is None:
                    existing = self._pull_subscription(party)
                if existing is not None:
                    path_parameters[name] = existing
        case.path_parameters = path_parameters
        query = case.query
        if isinstance(query, dict):
            query.pop("page_token", None)  # opaque: only one the server issued is valid
            _in_order(query, "since", "until")

    def _record_id(self) -> str | None:
        """The id of a record published for the run (retracted at its end), if one could be."""
        if "record" not in self._existing:
            self._existing["record"] = None
            with suppress(CheckFailedError, NotApplicableError):
                record, _ = self.context.published_record()
                self._existing["record"] = str(record["id"])
        return self._existing["record"]

    def _pull_subscription(self, party: str) -> str | None:
        """A pull subscription of the party's for the run's reads, if the channel is offered.

        It is deleted when the run ends.
        """
        key = f"{party} pull subscription"
        if key not in self._existing:
            self._existing[key] = None
            offered = self.context.capabilities().get("subscriptions") or {}
            if "pull" in offered.get("channels", []):
                request = {"types": [self.context.record_type()], "channel": {"type": "pull"}}
                made = None
                with suppress(CheckFailedError):
                    answer = self.context.request(
                        "POST", "/v1/subscriptions", party=party, json=request
                    )
                    made = _created_id(answer)
                if made is not None:
                    self.context.subscriptions[party, made] = None
                self._existing[key] = made
        return self._existing[key]

    def _first(self, party: str, path: str) -> str | None:
        """The id of the first item the party lists at `path`, if any."""
        key = f"{party} {path}"
        if key not in self._existing:
            self._existing[key] = None
            with suppress(CheckFailedError):
                items = _items(self.context.get(path, party=party))
                self._existing[key] = str(items[0]["id"]) if items else None
        return self._existing[key]

    def _remember_created(self, case: Case[Any], party: str, response: httpx.Response) -> None:
        """What an accepted invalid request created, so that the run's clean-up removes it."""
        try:
            body = response.json()
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        if case.operation.path == "/v1/subscriptions" and isinstance(body.get("id"), str):
            self.context.subscriptions[party, body["id"]] = None
        for item in body.get("results", []) if case.operation.path == "/v1/bulk" else []:
            if isinstance(item, dict) and item.get("status") == 201:
                self.context.published[str(item.get("recordType")), str(item.get("id"))] = None


@contextmanager
def _without_local_constants() -> Iterator[None]:
    """Hypothesis without the constants of the local modules loaded.

    Now and then it draws a constant found in the source of the modules loaded from outside
    site-packages, so the same seed would draw other requests in another environment, or later
    in the same process once more modules are loaded.
    """
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    original = providers._get_local_constants
    none = Constants()
    providers.CONSTANTS_CACHE.cache.clear()  # it holds the local constants drawn so far
    setattr(providers, "_get_local_constants", lambda: none)  # noqa: B010
    try:
        yield
    finally:
        setattr(providers, "_get_local_constants", original)  # noqa: B010
        providers.CONSTANTS_CACHE.cache.clear()


def _has_inputs(operation: Operation) -> bool:
    """Whether the operation takes anything that could be invalid."""
    raw: dict[str, Any] = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody") or operation.path_parameters)


def _created_id(answer: httpx.Response) -> str | None:
    if answer.status_code != 201:
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    found = body.get("id") if isinstance(body, dict) else None
    return found if isinstance(found, str) else None


def _items(answer: httpx.Response) -> list[dict[str, Any]]:
    if answer.status_code != 200:
        return []
    try:
        body = answer.json()
    except ValueError:
        return []
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]


def _in_order(query: dict[str, Any], first: str, last: str) -> None:
    """Two instants of a period put in order: the other way round is a valid request refused."""
    early, late = query.get(first), query.get(last)
    if not isinstance(early, str) or not isinstance(late, str):
        return
    try:
        if datetime.fromisoformat(early) > datetime.fromisoformat(late):
            query[first], query[last] = late, early
    except (ValueError, TypeError):
        return


def _failure(
    case: Case[Any], response: httpx.Response, check: CheckFunction, headers: dict[str, str]
) -> str | None:
    """The verdict of one of schemathesis' checks on the answer: its message, or None."""
    from schemathesis.core.failures import FailureGroup

    try:
        case.validate_response(response, checks=[check], headers=headers)
    except FailureGroup as group:
        return _cut("; ".join(_describe(failure) for failure in group.exceptions))
    return None


def _describe(failure: Any) -> str:
    """A failure in a line; for a schema violation, where in the body and which keyword.

    A violation's message quotes the whole offending value first: the middle of a long one is cut.
    """
    validation = getattr(failure, "validation_message", None)
    if isinstance(validation, str):
        pointer = "".join(f"/{part}" for part in getattr(failure, "instance_path", []))
        keyword = (getattr(failure, "schema_path", None) or ["?"])[-1]
        text = " ".join(validation.split())
        if len(text) > SCHEMA_MESSAGE:
            half = SCHEMA_MESSAGE // 2
            text = f"{text[:half]} ... {text[-half:]}"
        return f"{failure.title} at '{pointer or '/'}' ({keyword}): {text}"
    message = " ".join(str(failure.message).split())
    return f"{failure.title}: {message}" if message else str(failure.title)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else f"{text[: MAX_MESSAGE - 3]}..."


def by_operation(findings: list[Finding]) -> Iterator[tuple[str, int]]:
    """How many findings each operation had, in the order they were found."""
    counts: dict[str, int] = {}
    for found in findings:
        counts[found.operation] = counts.get(found.operation, 0) + 1
    yield from counts.items()
