"""The wire protocol, driven by botocore's ``codeartifact`` model (rest-json).

* Routing: the route table (HTTP method + ``requestUri`` → operation) is built from the model.
* Requests: each request is parsed generically from its operation's input shape: querystring
  members by their ``serialization['name']``, header members, URI labels, JSON body members,
  and the streaming payload member (``assetContent``), which is handed over unread as a
  :class:`BodyStream` so that large bodies never sit in memory.
* Validation: required members, string/list/map lengths, numeric ranges, enums and the model's
  patterns, matched in full. Names use the patterns of the shared contract module
  (``codeartifact_generic.handler.contract``), which equal the model's; asset names follow
  ``contract.ASSET_NAME``, the stricter set the CLI reference documents. The model's
  ``\\P{C}`` (no Unicode "other" characters) patterns, which Python's ``re`` cannot express,
  are checked with :mod:`unicodedata`. Every problem is reported at once, worded the way AWS
  words them: ``1 validation error detected: Value 'x' at 'domain' failed to satisfy
  constraint: Member must ...``.
* Responses: members with location ``header`` go to headers, a streaming payload member is the
  body (GetPackageVersionAsset), everything else is the JSON body. Timestamps in the body are
  epoch seconds (the rest-json default).
* Errors: ``x-amzn-ErrorType`` header plus a JSON body with the error shape's members.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, BinaryIO, Final, Protocol
from urllib.parse import parse_qs

from codeartifact_generic.handler import contract
from codeartifact_generic.testing._emulator import errors
from codeartifact_generic.testing._emulator.spec import (
    OperationModel,
    ServiceModel,
    Shape,
    StructureShape,
    as_list,
    as_map,
    as_structure,
    service_model,
)

#: Largest JSON request body accepted (CodeArtifact's JSON requests are tiny).
MAX_JSON_BODY_BYTES: Final = 1024 * 1024

#: Shape names whose values are checked with the shared contract's name rules.
CONTRACT_PATTERNS: Final[Mapping[str, contract.NamePattern]] = {
    "DomainName": contract.DOMAIN_NAME,
    "RepositoryName": contract.REPOSITORY_NAME,
    "PackageNamespace": contract.NAMESPACE_NAME,
    "PackageName": contract.PACKAGE_NAME,
    "PackageVersion": contract.VERSION_NAME,
    "AccountId": contract.ACCOUNT_ID,
    "AssetName": contract.ASSET_NAME,
    "SHA256": contract.SHA256_HEX,
}


class BodyStream(Protocol):
    """A request body that is read incrementally (the streaming payload member's value)."""

    @property
    def length(self) -> int | None:
        """Declared length (``Content-Length``), or None for a chunked body."""

    def read(self, size: int, /) -> bytes:
        """Read at most ``size`` bytes; ``b""`` at the end."""


@dataclass(frozen=True)
class Payload:
    """A streaming response body: an open binary file positioned at the start, and its size."""

    stream: BinaryIO
    length: int


@dataclass
class Request:
    """A parsed request, as dispatch hooks and operation handlers see it."""

    operation: str
    method: str
    path: str
    #: Query parameters, each with every value given.
    query: Mapping[str, list[str]]
    #: Request headers, names lower-cased.
    headers: Mapping[str, str]
    #: Input members by their model name (``domain``, ``assetContent``, ...).
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Response:
    """What to send back: status, headers and either ``body`` or a streaming ``payload``."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    payload: Payload | None = None


# --------------------------------------------------------------------------------------------
# Routing


@dataclass(frozen=True)
class _Route:
    method: str
    path: re.Pattern[str]
    fixed_query: Mapping[str, str]
    operation: OperationModel


class RouteTable:
    """HTTP method + path (+ fixed query parts) → operation, built from the service model."""

    def __init__(self, model: ServiceModel | None = None) -> None:
        self._model = model or service_model()
        self._routes: list[_Route] = []
        for name in self._model.operation_names:
            operation = self._model.operation_model(name)
            uri = str(operation.http["requestUri"])
            path, _, fixed = uri.partition("?")
            fixed_query = {k: v[0] for k, v in parse_qs(fixed, keep_blank_values=True).items()}
            self._routes.append(
                _Route(
                    str(operation.http["method"]).upper(),
                    _compile_path(path),
                    fixed_query,
                    operation,
                )
            )
        # More specific routes (fixed query parts) first.
        self._routes.sort(key=lambda r: -len(r.fixed_query))

    def match(
        self, method: str, path: str, query: Mapping[str, list[str]]
    ) -> tuple[OperationModel, dict[str, str]] | None:
        """The operation for a request and its URI labels, or None when nothing matches."""
        for route in self._routes:
            if route.method != method.upper():
                continue
            found = route.path.fullmatch(path)
            if found is None:
                continue
            if all(query.get(k, [None])[0] == v for k, v in route.fixed_query.items()):
                return route.operation, dict(found.groupdict())
        return None

    def operation_names(self) -> list[str]:
        """Every operation the model defines."""
        return [route.operation.name for route in self._routes]


def _compile_path(path: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            label = part[1:-1]
            greedy = label.endswith("+")
            label = label.rstrip("+")
            pattern += f"(?P<{label}>.+)" if greedy else f"(?P<{label}>[^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(pattern)


# --------------------------------------------------------------------------------------------
# Request parsing


def parse_request(
    operation: OperationModel,
    *,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    labels: Mapping[str, str],
    body: BodyStream,
) -> dict[str, Any]:
    """Parse and validate a request from ``operation``'s input shape.

    The streaming payload member (if any) gets ``body`` itself, unread; otherwise a JSON body
    is read (at most :data:`MAX_JSON_BODY_BYTES`). Raises a ``ValidationException``
    :class:`~.errors.EmulatorError` listing every problem found.
    """
    shape = operation.input_shape
    if shape is None:
        return {}
    problems: list[str] = []
    params: dict[str, Any] = {}
    payload_name = shape.serialization.get("payload")
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location is None and name == payload_name:
            params[name] = _parse_payload(member, body, name, problems)
        elif location is None:
            body_members[name] = member
        else:
            raw = _located_value(member, name, query, headers, labels)
            if raw is not None:
                params[name] = _from_text_values(member, raw, name, problems)
    if body_members and payload_name is None:
        document = _read_json_object(body)
        for name, value in document.items():
            if name in body_members and value is not None:
                params[name] = _from_json(body_members[name], value, name, problems)
    if problems:
        raise _validation_error(problems, errors.REASON_CANNOT_PARSE)
    validate(shape, params)
    return params


def _located_value(
    member: Shape,
    name: str,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    labels: Mapping[str, str],
) -> list[str] | None:
    """The raw text value(s) of a querystring, header or URI member, or None if absent."""
    location = member.serialization.get("location")
    wire_name = str(member.serialization.get("name", name))
    if location == "querystring":
        return query.get(wire_name) or None
    if location == "header":
        value = _header(headers, wire_name)
    elif location == "uri":
        value = labels.get(wire_name)
    else:
        value = None
    return None if value is None else [value]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _parse_payload(member: Shape, body: BodyStream, path: str, problems: list[str]) -> Any:
    if member.type_name == "blob" and member.serialization.get("streaming"):
        return body
    raw = _read_all(body, MAX_JSON_BODY_BYTES)
    if member.type_name in ("blob",):
        return raw
    if member.type_name == "string":
        return raw.decode("utf-8", errors="replace")
    if not raw:
        return None
    return _from_json(member, _decode_json(raw), path, problems)


def _read_all(body: BodyStream, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := body.read(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise errors.validation(
                f"The request body is larger than {limit} bytes", reason=errors.REASON_OTHER
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _read_json_object(body: BodyStream) -> dict[str, Any]:
    raw = _read_all(body, MAX_JSON_BODY_BYTES)
    if not raw.strip():
        return {}
    document = _decode_json(raw)
    if not isinstance(document, dict):
        raise errors.validation(
            "The request body must be a JSON object", reason=errors.REASON_CANNOT_PARSE
        )
    return document


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise errors.validation(
            f"The request body is not valid JSON: {error}", reason=errors.REASON_CANNOT_PARSE
        ) from error


def _from_text_values(member: Shape, values: list[str], path: str, problems: list[str]) -> Any:
    if member.type_name == "list":
        element = as_list(member).member
        return [
            _from_text(element, value, f"{path}.{index + 1}", problems)
            for index, value in enumerate(values)
        ]
    return _from_text(member, values[0], path, problems)


def _parse_bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError(value)
    return value.lower() == "true"


def _parse_timestamp_text(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(float(value), UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_TEXT_CONVERTERS: Final[Mapping[str, Callable[[str], Any]]] = {
    "integer": int,
    "long": int,
    "float": float,
    "double": float,
    "boolean": _parse_bool,
    "timestamp": _parse_timestamp_text,
}


def _from_text(member: Shape, value: str, path: str, problems: list[str]) -> Any:
    """Convert a querystring/header/label value to the member's type."""
    convert = _TEXT_CONVERTERS.get(member.type_name)
    if convert is None:
        return value
    try:
        return convert(value)
    except (ValueError, OverflowError):
        problems.append(f"Value '{value}' at '{path}' could not be parsed as {member.type_name}")
        return None


_JSON_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "list": (list,),
    "map": (dict,),
    "structure": (dict,),
    "blob": (str,),
}


def _from_json(member: Shape, value: Any, path: str, problems: list[str]) -> Any:
    """Check a JSON body value against the member's type and convert it, recursively."""
    kind = member.type_name
    if kind == "timestamp":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        return _from_text(member, str(value), path, problems)
    expected = _JSON_TYPES.get(kind)
    wrong_bool = kind in ("integer", "long", "float", "double") and isinstance(value, bool)
    if expected is not None and (not isinstance(value, expected) or wrong_bool):
        problems.append(f"Value at '{path}' must be of type {kind}")
        return None
    convert = _JSON_CONTAINERS.get(kind)
    return value if convert is None else convert(member, value, path, problems)


def _json_list(member: Shape, value: Any, path: str, problems: list[str]) -> Any:
    element = as_list(member).member
    return [
        _from_json(element, item, f"{path}.{index + 1}", problems)
        for index, item in enumerate(value)
    ]


def _json_map(member: Shape, value: Any, path: str, problems: list[str]) -> Any:
    value_shape = as_map(member).value
    return {
        str(key): _from_json(value_shape, item, f"{path}.{key}", problems)
        for key, item in value.items()
    }


def _json_structure(member: Shape, value: Any, path: str, problems: list[str]) -> Any:
    members = as_structure(member).members
    return {
        key: _from_json(members[key], item, f"{path}.{key}", problems)
        for key, item in value.items()
        if key in members and item is not None
    }


def _json_blob(member: Shape, value: Any, path: str, problems: list[str]) -> Any:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        problems.append(f"Value at '{path}' is not valid base64")
        return None


_JSON_CONTAINERS: Final[Mapping[str, Callable[[Shape, Any, str, list[str]], Any]]] = {
    "list": _json_list,
    "map": _json_map,
    "structure": _json_structure,
    "blob": _json_blob,
}


# --------------------------------------------------------------------------------------------
# Validation


def validate(shape: StructureShape, params: Mapping[str, Any]) -> None:
    """Check ``params`` against the constraints of ``shape``; raise ValidationException."""
    problems: list[str] = []
    _check_structure(shape, params, "", problems)
    if problems:
        raise _validation_error(problems, errors.REASON_FIELD_VALIDATION_FAILED)


def _validation_error(problems: list[str], reason: str) -> errors.EmulatorError:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return errors.validation(
        f"{count} validation {noun} detected: " + "; ".join(problems), reason=reason
    )


def _check_structure(
    shape: StructureShape, value: Mapping[str, Any], prefix: str, problems: list[str]
) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(
                f"Value null at '{prefix}{name}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, member in shape.members.items():
        item = value.get(name)
        if item is not None and not member.serialization.get("streaming"):
            _check_value(member, item, f"{prefix}{name}", problems)


def _check_value(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata

    def fail(constraint: str) -> None:
        shown = value if isinstance(value, str | int | float) else "[...]"
        problems.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}")

    if kind == "string" and isinstance(value, str):
        _check_string(shape, value, fail)
    elif kind in ("integer", "long") and isinstance(value, int):
        if "min" in meta and value < int(meta["min"]):
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > int(meta["max"]):
            fail(f"Member must have value less than or equal to {meta['max']}")
    elif kind == "list" and isinstance(value, list):
        _check_count(meta, len(value), fail)
        element = as_list(shape).member
        for index, item in enumerate(value):
            if item is not None:
                _check_value(element, item, f"{path}.{index + 1}", problems)
    elif kind == "map" and isinstance(value, dict):
        _check_count(meta, len(value), fail)
        map_shape = as_map(shape)
        for key, item in value.items():
            _check_value(map_shape.key, key, f"{path}.key", problems)
            if item is not None:
                _check_value(map_shape.value, item, f"{path}.{key}", problems)
    elif kind == "structure" and isinstance(value, dict):
        _check_structure(as_structure(shape), value, f"{path}.", problems)


def _check_count(meta: Mapping[str, Any], count: int, fail: Callable[[str], None]) -> None:
    if "min" in meta and count < int(meta["min"]):
        fail(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and count > int(meta["max"]):
        fail(f"Member must have length less than or equal to {meta['max']}")


def _check_string(shape: Shape, value: str, fail: Callable[[str], None]) -> None:
    meta = shape.metadata
    enum = meta.get("enum")
    if enum is not None and value not in enum:
        fail(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        return
    rule = CONTRACT_PATTERNS.get(shape.name)
    if rule is not None:
        if not rule.min_len <= len(value) <= rule.max_len:
            fail(f"Member must have length between {rule.min_len} and {rule.max_len}")
        elif not _contract_regex(rule.pattern).fullmatch(value):
            fail(
                f"Member must satisfy regular expression pattern: {rule.pattern} "
                f"({rule.field}: {rule.rule})"
            )
        return
    _check_count(meta, len(value), fail)
    pattern = meta.get("pattern")
    if pattern is not None and not pattern_matcher(str(pattern))(value):
        fail(f"Member must satisfy regular expression pattern: {pattern}")


_CONTRACT_REGEXES: dict[str, re.Pattern[str]] = {}


def _contract_regex(pattern: str) -> re.Pattern[str]:
    compiled = _CONTRACT_REGEXES.get(pattern)
    if compiled is None:
        compiled = _CONTRACT_REGEXES[pattern] = re.compile(pattern)
    return compiled


def _is_other(char: str) -> bool:
    """Unicode general category C (control, format, surrogate, private use, unassigned)."""
    return unicodedata.category(char).startswith("C")


def _all_chars(check: Callable[[str], bool], *, allow_empty: bool) -> Callable[[str], bool]:
    def matcher(value: str) -> bool:
        return (allow_empty or bool(value)) and all(check(char) for char in value)

    return matcher


#: The model's patterns that use Java/ICU classes Python's ``re`` lacks, as character checks.
_UNICODE_PATTERNS: Final[Mapping[str, Callable[[str], bool]]] = {
    r"\P{C}+": _all_chars(lambda c: not _is_other(c), allow_empty=False),
    r"\P{C}*": _all_chars(lambda c: not _is_other(c), allow_empty=True),
    r"[^\p{C}\p{IsWhitespace}]+": _all_chars(
        lambda c: not _is_other(c) and not c.isspace(), allow_empty=False
    ),
    r"[\P{C}\s]+": _all_chars(lambda c: not _is_other(c) or c.isspace(), allow_empty=False),
}


def pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """A full-match predicate for a model pattern (unknown syntax accepts everything)."""
    special = _UNICODE_PATTERNS.get(pattern)
    if special is not None:
        return special
    try:
        compiled = _contract_regex(pattern)
    except re.error:
        return lambda _value: True
    return lambda value: compiled.fullmatch(value) is not None


# --------------------------------------------------------------------------------------------
# Response serialization


def serialize_output(operation: OperationModel, result: Mapping[str, Any]) -> Response:
    """Render an operation result (members by model name) as an HTTP response."""
    status = int(operation.http.get("responseCode", 200))
    headers: dict[str, str] = {}
    shape = operation.output_shape
    if shape is None:
        return _json_response(status, headers, {})
    payload_name = shape.serialization.get("payload")
    document: dict[str, Any] = {}
    payload: Payload | None = None
    raw_body: bytes | None = None
    for name, member in shape.members.items():
        value = result.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        wire_name = str(member.serialization.get("name", name))
        if location == "header":
            headers[wire_name] = _header_text(member, value)
        elif location == "statusCode":
            status = int(value)
        elif name == payload_name:
            if isinstance(value, Payload):
                payload = value
            elif isinstance(value, bytes):
                raw_body = value
            else:
                raw_body = json.dumps(_to_json(member, value)).encode()
        elif location is None:
            document[name] = _to_json(member, value)
    if payload is not None:
        headers["Content-Type"] = "application/octet-stream"
        return Response(status, headers, payload=payload)
    if raw_body is not None:
        headers.setdefault("Content-Type", "application/octet-stream")
        return Response(status, headers, body=raw_body)
    return _json_response(status, headers, document)


def serialize_error(error: errors.EmulatorError) -> Response:
    """Render an :class:`~.errors.EmulatorError` the way rest-json services send errors."""
    headers = {"x-amzn-ErrorType": error.code}
    document: dict[str, Any] = {"message": error.message}
    shape = _error_shape(error.code)
    if shape is not None:
        for name, member in shape.members.items():
            value = error.fields.get(name)
            if value is None or name == "message":
                continue
            if member.serialization.get("location") == "header":
                headers[str(member.serialization.get("name", name))] = _header_text(member, value)
            else:
                document[name] = _to_json(member, value)
    return _json_response(error.status, headers, document)


def _error_shape(code: str) -> StructureShape | None:
    for shape in service_model().error_shapes:
        if shape.name == code:
            return shape
    return None


def _json_response(status: int, headers: dict[str, str], document: Mapping[str, Any]) -> Response:
    headers["Content-Type"] = "application/json"
    return Response(status, headers, body=json.dumps(document).encode())


def _epoch(value: datetime) -> float:
    return round(value.timestamp(), 3)


def _header_text(member: Shape, value: Any) -> str:
    if isinstance(value, datetime):
        return format_datetime(value.astimezone(UTC), usegmt=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_json(member: Shape, value: Any) -> Any:
    kind = member.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = as_structure(member).members
        return {
            key: _to_json(members[key], item)
            for key, item in value.items()
            if key in members and item is not None
        }
    if kind == "list" and isinstance(value, Iterable) and not isinstance(value, str | bytes):
        element = as_list(member).member
        return [_to_json(element, item) for item in value]
    if kind == "map" and isinstance(value, Mapping):
        value_shape = as_map(member).value
        return {str(key): _to_json(value_shape, item) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, datetime):
        return _epoch(value)
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
