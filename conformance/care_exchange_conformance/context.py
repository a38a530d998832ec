"""What every check works with, and the assertions that turn a wrong answer into a report entry.

It holds the implementation's address, its clients' tokens and what it declares about itself.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from care_exchange_conformance.assertions import Assertions
from care_exchange_conformance.config import Config
from care_exchange_conformance.receiver import Receiver
from care_exchange_conformance.registry import CheckFailedError, NotApplicableError
from care_exchange_conformance.testdata import example_record, has_examples
from care_exchange_standard.spec import load_spec

CAPABILITIES_PATH = "/.well-known/care-exchange"
METADATA_PATH = "/.well-known/oauth-authorization-server"
FORM = "application/x-www-form-urlencoded"
MAX_SCHEMA_ERRORS = 3


class Context(Assertions):
    """Shared by the checks of one run; tokens and the capability document are fetched once."""

    def __init__(
        self, config: Config, seed: int, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self.seed = seed
        self.random = random.Random(seed)
        self.http = httpx.Client(
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            transport=transport,
            headers={"User-Agent": "care-exchange-conformance"},
        )
        self._tokens: dict[str, dict[str, Any]] = {}
        self._capabilities: dict[str, Any] | None = None
        self.published: dict[tuple[str, str], None] = {}
        self._metadata: dict[str, Any] | None = None
        self.subscriptions: dict[tuple[str, str], None] = {}
        # The return templates the run declared, by (party, id): retired when it ends.
        self.templates: dict[tuple[str, str], None] = {}
        self._receiver: Receiver | None = None

    def close(self) -> None:
        self.http.close()
        if self._receiver is not None:
            self._receiver.close()

    def receiver(self) -> Receiver:
        """The suite's webhook receiver, started at the first use."""
        if self._receiver is None:
            try:
                self._receiver = Receiver(self.config.receiver_listen, self.config.receiver_url)
            except OSError as error:
                raise NotApplicableError(
                    f"the webhook receiver cannot listen on {self.config.receiver_listen}: "
                    f"{error.strerror}"
                ) from None
        return self._receiver

    def record_type(self) -> str:
        """The type the checks publish: `capacity-snapshot` if declared, else the first one."""
        declared = [name for name in self.capabilities()["recordTypes"] if has_examples(name)]
        if not declared:
            raise NotApplicableError("the implementation declares no record type")
        return "capacity-snapshot" if "capacity-snapshot" in declared else declared[0]

    def new_record(self, record_type: str | None = None) -> dict[str, Any]:
        """A valid record the publisher may publish, never published before."""
        if self.config.service_id is None:
            raise NotApplicableError("no publisher service_id is configured")
        chosen = record_type or self.record_type()
        return example_record(chosen, self.config.service_id, self.random)

    def publish(
        self,
        record: dict[str, Any],
        party: str = "publisher",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST `record` as `party`; a record that is published is retracted when the run ends."""
        answer = self.request(
            "POST",
            f"/v1/records/{record['recordType']}",
            party=party,
            json=record,
            headers=headers or {},
        )
        if answer.status_code == 201:
            self.published[record["recordType"], record["id"]] = None
        return answer

    def published_record(self) -> tuple[dict[str, Any], httpx.Response]:
        """A record published for this check, and the answer to its publication."""
        record = self.new_record()
        answer = self.publish(record)
        self.expect_status(answer, 201, "the publisher could not publish a valid record")
        return record, answer

    def clean_up(self) -> list[str]:
        """Delete, retire and retract what the run made; what could not be, and why.

        Its subscriptions are deleted, its return templates retired, its records retracted.
        """
        left: list[str] = []
        for party, template_id in self.templates:
            path = f"/v1/return-templates/{template_id}"
            try:
                gone = self.request("DELETE", path, party=party)
                if gone.status_code in (405, 501):
                    left.append(f"{path}: {gone.status_code} (templates cannot be retired)")
                elif gone.status_code not in (204, 404):
                    left.append(f"{path}: {gone.status_code}")
            except (CheckFailedError, NotApplicableError) as error:
                left.append(f"{path}: {error}")
        for party, subscription_id in self.subscriptions:
            path = f"/v1/subscriptions/{subscription_id}"
            try:
                gone = self.request("DELETE", path, party=party)
                if gone.status_code not in (204, 404):
                    left.append(f"{path}: {gone.status_code}")
            except (CheckFailedError, NotApplicableError) as error:
                left.append(f"{path}: {error}")
        for record_type, record_id in self.published:
            path = f"/v1/records/{record_type}/{record_id}"
            try:
                current = self.get(path, party="publisher")
                if current.status_code != 200:
                    continue
                gone = self.request(
                    "DELETE",
                    path,
                    party="publisher",
                    headers={"If-Match": current.headers.get("ETag", "")},
                )
                if gone.status_code != 204:
                    left.append(f"{path}: {gone.status_code}")
            except (CheckFailedError, NotApplicableError) as error:
                left.append(f"{path}: {error}")
        return left

    def request(
        self, method: str, path: str, *, party: str | None = None, **options: Any
    ) -> httpx.Response:
        """A request to the implementation, as `party` (by its bearer token) or anonymous."""
        headers = dict(options.pop("headers", {}) or {})
        if party is not None:
            headers["Authorization"] = f"Bearer {self.token(party)}"
        try:
            return self.http.request(method, path, headers=headers, **options)
        except httpx.HTTPError as error:
            self.fail(
                f"{method} {path} could not be completed: {error!r}.",
                "an HTTP response",
            )

    def get(self, path: str, *, party: str | None = None, **options: Any) -> httpx.Response:
        return self.request("GET", path, party=party, **options)

    def post_form(
        self, url: str, form: Mapping[str, str], *, basic: tuple[str, str] | None = None
    ) -> httpx.Response:
        """A form-encoded POST (the OAuth endpoints), with HTTP Basic credentials if given."""
        try:
            return self.http.post(
                url,
                content=urlencode(dict(form)).encode("ascii"),
                headers={"Content-Type": FORM},
                auth=httpx.BasicAuth(*basic) if basic else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as error:
            self.fail(f"POST {url} could not be completed: {error!r}.", "an HTTP response")

    def credentials(self, party: str) -> tuple[str, str]:
        """A configured client's id and secret, for HTTP Basic."""
        client = self.config.party(party)
        if client is None:
            raise NotApplicableError(f"no {party} client is configured")
        return client.client_id, client.client_secret

    def token_response(self, party: str, **form: str | None) -> httpx.Response:
        """The token endpoint's answer to `party` (Basic auth), unchecked and never cached.

        The grant is client credentials unless `form` says otherwise; a field given as None is
        left out of the request.
        """
        fields = {"grant_type": "client_credentials", **form}
        return self.post_form(
            self.capabilities()["auth"]["tokenEndpoint"],
            {name: value for name, value in fields.items() if value is not None},
            basic=self.credentials(party),
        )

    def new_token(self, party: str, **form: str | None) -> dict[str, Any]:
        """A token response body for `party` that must have been granted; never cached."""
        answer = self.token_response(party, **form)
        self.expect_status(answer, 200, f"the {party} client could not get a token")
        body = self.json(answer)
        self.expect(
            isinstance(body, dict) and isinstance(body.get("access_token"), str),
            "The token response has no access_token.",
            "a JSON object with a string access_token (RFC 6749 section 5.1)",
            answer,
        )
        assert isinstance(body, dict)
        return body

    def token_body(self, party: str) -> dict[str, Any]:
        """The token response that `token` came from, with all of the client's scopes."""
        if party not in self._tokens:
            self._tokens[party] = self.new_token(party)
        return self._tokens[party]

    def token(self, party: str) -> str:
        """An access token for a configured client, by client credentials with Basic auth."""
        token: str = self.token_body(party)["access_token"]
        return token

    def capabilities(self) -> dict[str, Any]:
        """The capability document, which says what the implementation offers."""
        if self._capabilities is None:
            answer = self.get(CAPABILITIES_PATH)
            self.expect_status(answer, 200, "the capability document could not be read")
            self._capabilities = self.expect_schema(answer, "CapabilityDocument")
        return self._capabilities

    def oauth_metadata(self) -> dict[str, Any]:
        """The RFC 8414 authorisation server metadata, which names the OAuth endpoints."""
        if self._metadata is None:
            answer = self.get(METADATA_PATH)
            self.expect_status(answer, 200, "the authorisation server metadata could not be read")
            body = self.json(answer)
            self.expect(
                isinstance(body, dict),
                "The authorisation server metadata is not a JSON object.",
                "RFC 8414 metadata",
                answer,
            )
            self._metadata = body
        return self._metadata

    def endpoint(self, member: str) -> str:
        """An endpoint the metadata must name (`revocation_endpoint`, `jwks_uri`, ...)."""
        url = self.oauth_metadata().get(member)
        self.expect(
            isinstance(url, str) and bool(url),
            f"The authorisation server metadata names no {member}.",
            f"{member} in the metadata (#/components/schemas/AuthorizationServerMetadata)",
        )
        assert isinstance(url, str)
        return url

    def json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            self.fail("The body is not JSON.", "a JSON body", response)

    def expect_problem(self, response: httpx.Response, status: int, code: str | None) -> Any:
        """An RFC 9457 problem document with the status and, when given, the spec's code."""
        self.expect_status(response, status, "the refusal had the wrong status")
        media = response.headers.get("content-type", "").split(";")[0].strip()
        self.expect(
            media == "application/problem+json",
            f"The refusal is {media or 'without a media type'}, not a problem document.",
            "Content-Type: application/problem+json (RFC 9457)",
            response,
        )
        body = self.expect_schema(response, "Problem")
        self.expect(
            body["status"] == status and (code is None or body["code"] == code),
            f"The problem's code is {body['code']!r} and its status {body['status']}.",
            f"status {status}" + (f" and code {code!r}" if code else ""),
            response,
        )
        return body

    def expect_schema(self, response: httpx.Response, component: str) -> Any:
        """The JSON body, which must be valid against the spec's component of that name."""
        body = self.json(response)
        errors = list(load_spec().component(component).iter_errors(body))
        if errors:
            shown = "; ".join(
                f"at '{error.instance_path and '/' + '/'.join(map(str, error.instance_path))}': "
                f"{_shorten(error.message)}"
                for error in errors[:MAX_SCHEMA_ERRORS]
            )
            hidden = len(errors) - MAX_SCHEMA_ERRORS
            more = f" (and {hidden} more)" if hidden > 0 else ""
            self.fail(
                f"The body does not match {component}: {shown}{more}.",
                f"a body valid against #/components/schemas/{component} of spec/openapi.yaml",
                response,
            )
        return body


def _shorten(message: str, limit: int = 160) -> str:
    """A validator's message, which quotes the offending value whole, cut to a readable size."""
    return message if len(message) <= limit else f"{message[: limit - 3]}..."
