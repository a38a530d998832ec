"""The normative spec applied to every request, so that no route can forget a rule it states.

`spec/openapi.yaml` declares each operation's parameters and body with JSON Schemas. They are
compiled once, at start, and every request is held to them before a route sees it: parameters
are parsed by their declared schema (an integer is digits, a date-time is RFC 3339 with an
offset, an empty page token is no token), unknown or repeated query parameters are refused, an
operation that takes no body refuses one, and a JSON body is checked member by member. The
standard's own documents (records and directory entries) are the one exception: the services
validate them with the standard's compiled validators, which explain their errors field by
field and link each to its documentation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jsonschema_rs
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from care_exchange_server.auth.dependencies import authenticate, bearer_token
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.strict_json import JsonError, loads
from care_exchange_standard.spec import SPEC_URI, Spec, SpecOperation, load_spec
from care_exchange_standard.standard import BASE_URI

# Bodies the spec declares as a document of the standard (a record of any type, or a directory
# entry) are validated by the services with the standard's own validators.
RECORD_BODY = "#/components/schemas/Record"
# A path parameter that fails its schema names nothing: `not_found`, or for a record type the
# code the spec gives an unknown one.
PATH_CODES = {"type": "unknown_record_type"}
_INTEGER = re.compile(r"^-?(0|[1-9][0-9]*)$")
_PLACEHOLDER = re.compile(r"\{([^}]+)\}")
_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Parameter:
    """One declared parameter and the compiled schema its value must meet."""

    name: str
    location: str
    required: bool
    kind: str | None
    validator: jsonschema_rs.Validator

    def value(self, raw: str) -> Any:
        if self.kind == "integer":
            if len(raw) > 20 or not _INTEGER.match(raw):
                raise ValueError("must be a whole number written in digits.")
            return int(raw)
        if self.kind == "boolean":
            if raw not in ("true", "false"):
                raise ValueError("must be true or false.")
            return raw == "true"
        return raw

    def errors(self, value: Any) -> list[str]:
        if self.validator.is_valid(value):
            return []
        return [error.message for error in self.validator.iter_errors(value)]


@dataclass(frozen=True)
class Operation:
    """What the spec says one method on one path accepts."""

    operation_id: str
    secured: bool
    path_names: tuple[str, ...]
    parameters: Mapping[tuple[str, str], Parameter]
    body: jsonschema_rs.Validator | None = None
    body_declared: bool = False
    body_required: bool = False
    query_names: frozenset[str] = field(default_factory=frozenset)

    def check_parameters(
        self,
        query: Iterable[tuple[str, str]],
        path: Mapping[str, Any],
        headers: Mapping[str, str],
    ) -> None:
        problems: list[FieldError] = []
        seen: set[str] = set()
        for name, raw in query:
            if name not in self.query_names:
                problems.append(
                    FieldError.of_parameter(name, "is not a parameter of this operation.", "not")
                )
            elif name in seen:
                problems.append(FieldError.of_parameter(name, "is given more than once.", "type"))
            else:
                seen.add(name)
                problems += self._judge(self.parameters["query", name], raw)
        problems += [
            FieldError.of_parameter(name, "is required.", "required")
            for (location, name), parameter in self.parameters.items()
            if location == "query" and parameter.required and name not in seen
        ]
        if problems:
            raise ProblemError("invalid_query", "The query parameters are not valid.", problems)
        for name, raw in zip(self.path_names, path.values(), strict=False):
            parameter = self.parameters.get(("path", name))
            found = self._judge(parameter, str(raw)) if parameter else []
            if found:
                raise ProblemError(
                    PATH_CODES.get(name, "not_found"),
                    f"Nothing is found at this path: {name} {found[0].message}",
                )
        for (location, name), parameter in self.parameters.items():
            raw_header = headers.get(name) if location == "header" else None
            found = self._judge(parameter, raw_header) if raw_header is not None else []
            if found:
                raise ProblemError("invalid_header", f"The {name} header is not valid.", found)

    @staticmethod
    def _judge(parameter: Parameter, raw: str) -> list[FieldError]:
        try:
            value = parameter.value(raw)
        except ValueError as error:
            return [FieldError.of_parameter(parameter.name, str(error), "type")]
        if "\x00" in raw:
            return [FieldError.of_parameter(parameter.name, "must not contain U+0000.", "pattern")]
        return [
            FieldError.of_parameter(parameter.name, message, "schema")
            for message in parameter.errors(value)
        ]

    def check_body(self, data: Any) -> None:
        if self.body is None:
            return
        errors = [found for error in self.body.iter_errors(data) for found in _field_errors(error)]
        if errors:
            raise ProblemError(
                "validation_failed", "The request body is not valid.", sorted(errors, key=str)
            )


_ALTERNATIVES = (
    jsonschema_rs.ValidationErrorKind.OneOfNotValid,
    jsonschema_rs.ValidationErrorKind.AnyOf,
)
_MISMATCHES = (
    jsonschema_rs.ValidationErrorKind.Constant,
    jsonschema_rs.ValidationErrorKind.Enum,
    jsonschema_rs.ValidationErrorKind.Type,
)


def _field_errors(error: jsonschema_rs.ValidationError) -> list[FieldError]:
    """Errors at the places to mend; for a failed choice, those of the branch the body meant.

    The meant branch is the one whose discriminating constants and types the body matched:
    `{"type": "webhook"}` missing its `url` is told about the `url`, not that it is not `pull`.
    """
    kind = error.kind
    if isinstance(kind, _ALTERNATIVES) and kind.context:
        depth = len(error.instance_path)

        def mismatched(branch: list[jsonschema_rs.ValidationError]) -> tuple[int, int]:
            wrong = sum(
                isinstance(found.kind, _MISMATCHES) and len(found.instance_path) <= depth + 1
                for found in branch
            )
            return wrong, len(branch)

        ranked = sorted(kind.context, key=mismatched)
        meant = ranked[0]
        if mismatched(meant)[0] == 0:
            if len(ranked) == 1 or mismatched(ranked[1]) != mismatched(meant):
                return [found for inner in meant for found in _field_errors(inner)]
            choices = " | ".join(
                ", ".join(found.message for found in branch)
                for branch in ranked
                if mismatched(branch)[0] == 0
            )
            return [FieldError(_pointer_of(error), f"needs one of: {choices}.", "oneOf")]
        return [_none_matched(error, kind.context)]
    return [_field_error(error)]


def _none_matched(
    error: jsonschema_rs.ValidationError, branches: list[list[jsonschema_rs.ValidationError]]
) -> FieldError:
    """Where every branch wants another value at one place, that place is the one to mend."""
    places = [
        {_pointer_of(found) for found in branch if isinstance(found.kind, _MISMATCHES)}
        for branch in branches
    ]
    common = set.intersection(*places) if places else set()
    if not common:
        return _field_error(error)
    place = max(common, key=len)
    wanted = [
        found.message
        for branch in branches
        for found in branch
        if _pointer_of(found) == place and isinstance(found.kind, _MISMATCHES)
    ]
    return FieldError(place, "is not allowed here: " + "; or ".join(wanted) + ".", "oneOf")


def _pointer_of(error: jsonschema_rs.ValidationError) -> str:
    return "".join(
        "/" + str(part).replace("~", "~0").replace("/", "~1") for part in error.instance_path
    )


def _field_error(error: jsonschema_rs.ValidationError) -> FieldError:
    here = _pointer_of(error)
    keyword = str(error.schema_path[-1]) if error.schema_path else "schema"
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return FieldError(f"{here}/{kind.property}", "is required.", "required")
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        names = ", ".join(f"'{name}'" for name in kind.unexpected)
        pointer = f"{here}/{kind.unexpected[0]}" if len(kind.unexpected) == 1 else here
        return FieldError(pointer, f"{names}: not a member this body may have.", keyword)
    return FieldError(here, error.message, keyword)


class Contract:
    """Every operation of the spec, keyed by method and path template."""

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self.operations: dict[tuple[str, str], Operation] = {}
        for declared in spec.operations():
            key = (declared.method, _template(declared.path))
            self.operations[key] = self._operation(declared)

    def methods_at(self, path: str) -> list[str]:
        """The methods the spec defines for a concrete request path, for an `Allow` header."""
        return sorted(
            method
            for (method, template), _ in self.operations.items()
            if re.fullmatch(template.replace("{}", "[^/]+"), path)
        )

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation of a route, whatever its path parameters are called in the code."""
        return self.operations.get((method, _template(path)))

    def _operation(self, declared: SpecOperation) -> Operation:
        operation = declared.declaration
        parameters: dict[tuple[str, str], Parameter] = {}
        for given in [*declared.shared_parameters, *operation.get("parameters", [])]:
            parameter = self._parameter(given)
            parameters[parameter.location, parameter.name] = parameter
        request_body = operation.get("requestBody")
        body = None
        if request_body is not None:
            content = request_body["content"]
            schema = content.get("application/json", {}).get("schema")
            if schema is not None and not _of_the_standard(schema):
                body = self._spec.compile(schema)
        return Operation(
            operation_id=declared.operation_id,
            secured=bool(operation.get("security", self._spec.document.get("security"))),
            path_names=tuple(_PLACEHOLDER.findall(declared.path)),
            parameters=parameters,
            body=body,
            body_declared=request_body is not None,
            body_required=bool(request_body and request_body.get("required")),
            query_names=frozenset(name for location, name in parameters if location == "query"),
        )

    def _parameter(self, declared: Mapping[str, Any]) -> Parameter:
        if "$ref" in declared:
            declared = self._spec.resolve(declared["$ref"])
        schema = declared["schema"]
        return Parameter(
            name=declared["name"],
            location=declared["in"],
            required=bool(declared.get("required")),
            kind=self._type_of(schema),
            validator=self._spec.compile(schema),
        )

    def _type_of(self, schema: Mapping[str, Any]) -> Any:
        while "$ref" in schema and "type" not in schema:
            schema = self._spec.resolve(schema["$ref"])
        return schema.get("type")


def _of_the_standard(schema: Mapping[str, Any]) -> bool:
    reference = str(schema.get("$ref", ""))
    return reference == SPEC_URI + RECORD_BODY or reference.startswith(BASE_URI)


@cache
def _template(path: str) -> str:
    return _PLACEHOLDER.sub("{}", path)


@cache
def load_contract() -> Contract:
    """The contract of the spec shipped with the standard, compiled once per process."""
    return Contract(load_spec())


async def conform(request: Request) -> None:
    """Hold the request's parameters, and the absence of a body, to its operation in the spec.

    An async dependency that runs before the route's own: the accepted request costs no
    threadpool hop. A refused one is refused only once its caller is known, so that a request
    without valid credentials is always a 401, whatever else is wrong with it.
    """
    route = request.scope.get("route")
    operation = load_contract().operation(request.method, getattr(route, "path", ""))
    request.state.operation = operation
    if operation is None:
        return
    try:
        operation.check_parameters(
            request.query_params.multi_items(), request.path_params, request.headers
        )
        if not operation.body_declared and await _has_body(request):
            raise ProblemError("unsupported_media_type", "This operation takes no body.")
    except ProblemError:
        if operation.secured:
            await _caller_or_refused(request)
        raise


async def _has_body(request: Request) -> bool:
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in (
        request.headers
    ):
        return False
    return bool(await request.body())


async def _caller_or_refused(request: Request) -> None:
    """401 unless the request carries a valid access token (only asked of refused requests)."""
    token = await bearer_token(request)
    sessions = request.app.state.read_sessions
    settings = request.app.state.settings

    def verify() -> None:
        with sessions() as session:
            authenticate(request, session, settings, token)

    await run_in_threadpool(verify)


async def read_json(request: Request) -> Any:
    """The request's JSON body, read strictly and checked against the spec's schema for it.

    None when the operation's body is optional and none was sent.
    """
    operation: Operation | None = getattr(request.state, "operation", None)
    raw = await request.body()
    if not raw and operation is not None and not operation.body_required:
        return None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ProblemError("unsupported_media_type", "Send the body as application/json.")
    charset = _charset(request.headers.get("content-type", ""))
    if charset not in (None, "utf-8", "utf8"):
        raise ProblemError("unsupported_media_type", "Send the body in UTF-8.")
    try:
        data = loads(raw)
    except JsonError as error:
        errors = (
            []
            if error.pointer is None
            else [FieldError(error.pointer, error.message, error.keyword)]
        )
        if error.in_text:
            raise ProblemError(
                "validation_failed", "Text in the body is not valid.", errors
            ) from None
        raise ProblemError("invalid_json", error.message, errors) from None
    if operation is not None:
        operation.check_body(data)
    return data


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None
