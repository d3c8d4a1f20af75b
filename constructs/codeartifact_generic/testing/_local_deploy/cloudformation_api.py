"""A local CloudFormation API endpoint: ``DescribeStacks``, ``DescribeStackEvents`` and
``DescribeStackResource`` with the live stack status and events.

Handlers that must tell a rollback from a normal deletion (a Delete event does not say) call
``cloudformation:DescribeStacks(StackName=<event StackId>)`` and look at ``StackStatus``. The
engine runs :class:`CloudFormationEndpoint` next to the ResponseURL server and gives handlers
its URL as ``AWS_ENDPOINT_URL_CLOUDFORMATION``, so boto3 in the handler talks to it.

It speaks CloudFormation's query protocol the way botocore's ``cloudformation`` service model
expects (``POST /`` with a form-encoded ``Action=DescribeStacks&Version=2010-05-15&StackName=…``;
an XML ``DescribeStacksResponse``; errors as an XML ``ErrorResponse`` with HTTP 400).

What it answers comes from a :class:`StackDirectory`: immutable snapshots the engine publishes
whenever it records a stack (the status changes before each phase's first handler runs), so
the server thread never reads half-updated state.

* A live stack is found by its name or its stack id (ARN).
* A deleted stack is found only by its stack id and reported ``DELETE_COMPLETE`` (what
  CloudFormation does); by name it "does not exist". The engine forgets a stack whose
  creation rolled back (``ROLLBACK_COMPLETE``) as if it had been deleted, so such a stack is
  ``DELETE_COMPLETE`` by id afterwards.
* ``DescribeStackEvents``: the stack's events, newest first, 100 a page with ``NextToken``
  (the API reference's page size). A stack-level event (``ResourceType``
  ``AWS::CloudFormation::Stack``, the stack's name as logical id, its id as physical id) is
  recorded whenever the stack status changes; the engine records each resource's
  transitions (``CREATE_IN_PROGRESS`` before its provider is invoked, ``CREATE_FAILED`` with
  "Resource creation cancelled" for a cancelled Create, …), as the user guide's "Monitor
  stack progress" shows them.
* ``DescribeStackResource``: the resource as its newest event leaves it (status, physical
  id, ``LastUpdatedTimestamp``); ``ValidationError`` for a logical id without events.
* Any other action is refused with ``InvalidAction`` (HTTP 400) naming what is supported.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs

from .._serving import ApiError, LocalEndpoint
from .state import StackState

__all__ = [
    "API_VERSION",
    "XML_NAMESPACE",
    "ApiError",
    "CloudFormationEndpoint",
    "OutputDescription",
    "ParameterDescription",
    "StackDescription",
    "StackDirectory",
    "StackEvent",
    "answer",
    "describe_stacks_xml",
    "error_xml",
    "format_timestamp",
    "parse_timestamp",
]

_log = logging.getLogger(__name__)

#: ``Version`` of CloudFormation's query API (``metadata.apiVersion`` in botocore's model).
API_VERSION: Final = "2010-05-15"
#: ``metadata.xmlNamespace`` in botocore's model.
XML_NAMESPACE: Final = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
_SUPPORTED_ACTIONS: Final = ("DescribeStacks", "DescribeStackEvents", "DescribeStackResource")
#: ``DescribeStackEvents`` page size.
EVENTS_PAGE: Final = 100
_STACK_TYPE: Final = "AWS::CloudFormation::Stack"
_MAX_BODY: Final = 1024 * 1024
#: Characters XML 1.0 does not allow (a parser would refuse the whole response).
_XML_INVALID: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as CloudFormation writes ``CreationTime``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_timestamp(text: str) -> datetime | None:
    """Inverse of :func:`format_timestamp` (any ISO 8601 form); ``None`` for ``""``."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OutputDescription:
    """A member of ``Stack.Outputs``."""

    key: str
    value: str
    description: str | None = None
    export_name: str | None = None


@dataclass(frozen=True)
class ParameterDescription:
    """A member of ``Stack.Parameters``.

    ``value`` is what was passed (or the template default); ``resolved_value`` is set for
    ``AWS::SSM::Parameter::Value<…>`` parameters (the SSM parameter's value).
    """

    key: str
    value: str
    resolved_value: str | None = None


@dataclass(frozen=True)
class StackEvent:
    """One stack event, as ``DescribeStackEvents`` reports it."""

    event_id: str
    stack_id: str
    stack_name: str
    logical_id: str
    physical_id: str
    resource_type: str
    status: str
    timestamp: datetime
    reason: str = ""

    @property
    def is_stack_level(self) -> bool:
        """An event of the stack itself (not of one of its resources)."""
        return self.resource_type == _STACK_TYPE and self.physical_id == self.stack_id


@dataclass(frozen=True)
class StackDescription:
    """An immutable snapshot of one stack, as ``DescribeStacks`` reports it."""

    stack_id: str
    stack_name: str
    status: str
    creation_time: datetime
    status_reason: str = ""
    description: str | None = None
    last_updated_time: datetime | None = None
    deletion_time: datetime | None = None
    outputs: tuple[OutputDescription, ...] = ()
    parameters: tuple[ParameterDescription, ...] = ()

    @classmethod
    def from_state(cls, stack: StackState) -> StackDescription:
        """Snapshot a recorded stack (deep: later changes to ``stack`` do not show)."""
        declared: Mapping[str, Any] = stack.template.get("Parameters") or {}
        parameters: list[ParameterDescription] = []
        for key, value in stack.parameters.items():
            resolved = _parameter_text(value)
            kind = str((declared.get(key) or {}).get("Type", ""))
            if kind.startswith("AWS::SSM::Parameter::Value<"):
                given = stack.parameter_inputs.get(key, resolved)
                parameters.append(ParameterDescription(key, given, resolved))
            else:
                parameters.append(ParameterDescription(key, resolved))
        description = stack.template.get("Description")
        return cls(
            stack_id=stack.stack_id,
            stack_name=stack.stack_name,
            status=stack.status,
            status_reason=stack.status_reason,
            description=str(description) if description is not None else None,
            creation_time=parse_timestamp(stack.creation_time) or datetime.now(UTC),
            last_updated_time=parse_timestamp(stack.last_updated_time),
            outputs=tuple(
                OutputDescription(key, o.value, o.description, o.export_name)
                for key, o in stack.outputs.items()
            ),
            parameters=tuple(parameters),
        )


def _parameter_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


class StackDirectory:
    """What ``DescribeStacks`` answers: live stacks by name, deleted stacks by id.

    Thread-safe: the engine publishes from its thread, the endpoint reads from its own.
    """

    def __init__(self, stacks: Iterable[StackState] = ()) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, StackDescription] = {}
        self._deleted: dict[str, StackDescription] = {}
        #: stack id → its events, oldest first.
        self._events: dict[str, list[StackEvent]] = {}
        for stack in stacks:
            self.publish(stack)

    def publish(self, stack: StackState) -> None:
        """Record ``stack``'s current status (and outputs, parameters…)."""
        snapshot = StackDescription.from_state(stack)
        with self._lock:
            previous = self._live.get(stack.stack_name)
            if previous is not None and previous.stack_id != snapshot.stack_id:
                self._deleted[previous.stack_id] = _as_deleted(previous)
                self._stack_event(previous.stack_id, previous.stack_name, "DELETE_COMPLETE", "")
                previous = None
            if previous is None or previous.status != snapshot.status:
                self._stack_event(
                    snapshot.stack_id, snapshot.stack_name, snapshot.status, snapshot.status_reason
                )
            self._live[stack.stack_name] = snapshot
            self._deleted.pop(snapshot.stack_id, None)

    def record(
        self,
        stack_id: str,
        stack_name: str,
        logical_id: str,
        resource_type: str,
        status: str,
        *,
        physical_id: str = "",
        reason: str = "",
    ) -> StackEvent:
        """Record a resource's status change (what ``DescribeStackEvents`` lists)."""
        event = StackEvent(
            str(uuid.uuid4()),
            stack_id,
            stack_name,
            logical_id,
            physical_id,
            resource_type,
            status,
            datetime.now(UTC),
            reason,
        )
        with self._lock:
            self._events.setdefault(stack_id, []).append(event)
        return event

    def _stack_event(self, stack_id: str, stack_name: str, status: str, reason: str) -> None:
        self._events.setdefault(stack_id, []).append(
            StackEvent(
                str(uuid.uuid4()),
                stack_id,
                stack_name,
                stack_name,
                stack_id,
                _STACK_TYPE,
                status,
                datetime.now(UTC),
                reason,
            )
        )

    def events(self, stack_id: str) -> list[StackEvent]:
        """The stack's events, newest first."""
        with self._lock:
            return list(reversed(self._events.get(stack_id, [])))

    def remove(self, stack_name: str) -> None:
        """The stack is gone: ``DELETE_COMPLETE`` by id, unknown by name."""
        with self._lock:
            previous = self._live.pop(stack_name, None)
            if previous is not None:
                self._deleted[previous.stack_id] = _as_deleted(previous)
                self._stack_event(previous.stack_id, stack_name, "DELETE_COMPLETE", "")

    def find(self, name_or_id: str) -> StackDescription | None:
        """The live stack with this name or id, or the deleted stack with this id."""
        with self._lock:
            if name_or_id in self._live:
                return self._live[name_or_id]
            for stack in self._live.values():
                if stack.stack_id == name_or_id:
                    return stack
            return self._deleted.get(name_or_id)

    def status(self, name_or_id: str) -> str | None:
        """``StackStatus`` of :meth:`find`'s stack."""
        found = self.find(name_or_id)
        return None if found is None else found.status

    def live(self) -> list[StackDescription]:
        """Every stack that is not deleted (``DescribeStacks`` without ``StackName``)."""
        with self._lock:
            return list(self._live.values())


def _as_deleted(stack: StackDescription) -> StackDescription:
    return replace(
        stack, status="DELETE_COMPLETE", status_reason="", deletion_time=datetime.now(UTC)
    )


# ---------------------------------------------------------------------- XML


def _text(value: str) -> str:
    return html.escape(_XML_INVALID.sub("\ufffd", value), quote=False)


def _element(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{_text(value)}</{name}>"


Fields = tuple[tuple[str, str | None], ...]


def _members(tag: str, rows: Iterable[Fields]) -> str:
    """``<tag><member>…</member>…</tag>``: a list as the query protocol serializes it."""
    inner = "".join(
        "<member>" + "".join(_element(name, value) for name, value in row) + "</member>"
        for row in rows
    )
    return f"<{tag}>{inner}</{tag}>"


def _response(action: str, result: str, request_id: str) -> str:
    """``<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata/>`` around ``result``."""
    return (
        f'<{action}Response xmlns="{XML_NAMESPACE}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )


def _stack_fields(stack: StackDescription) -> Fields:
    deleted = stack.deletion_time
    updated = stack.last_updated_time
    return (
        ("StackId", stack.stack_id),
        ("StackName", stack.stack_name),
        ("Description", stack.description),
        ("CreationTime", format_timestamp(stack.creation_time)),
        ("DeletionTime", format_timestamp(deleted) if deleted else None),
        ("LastUpdatedTime", format_timestamp(updated) if updated else None),
        ("StackStatus", stack.status),
        ("StackStatusReason", stack.status_reason or None),
    )


def _stack_xml(stack: StackDescription) -> str:
    parameters = [
        (("ParameterKey", p.key), ("ParameterValue", p.value), ("ResolvedValue", p.resolved_value))
        for p in stack.parameters
    ]
    outputs = [
        (
            ("OutputKey", o.key),
            ("OutputValue", o.value),
            ("Description", o.description),
            ("ExportName", o.export_name),
        )
        for o in stack.outputs
    ]
    return "".join(
        (
            "<member>",
            "".join(_element(name, value) for name, value in _stack_fields(stack)),
            _members("Parameters", parameters) if parameters else "",
            "<DisableRollback>false</DisableRollback>",
            "<NotificationARNs/>",
            "<RollbackConfiguration/>",
            "<EnableTerminationProtection>false</EnableTerminationProtection>",
            "<DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus></DriftInformation>",
            _members("Outputs", outputs) if outputs else "",
            "<Tags/>",
            "</member>",
        )
    )


def describe_stacks_xml(stacks: Iterable[StackDescription], request_id: str) -> str:
    """The ``DescribeStacksResponse`` document."""
    members = "".join(_stack_xml(s) for s in stacks)
    return _response("DescribeStacks", f"<Stacks>{members}</Stacks>", request_id)


def _event_fields(event: StackEvent) -> Fields:
    return (
        ("StackId", event.stack_id),
        ("EventId", event.event_id),
        ("StackName", event.stack_name),
        ("LogicalResourceId", event.logical_id),
        ("PhysicalResourceId", event.physical_id),
        ("ResourceType", event.resource_type),
        ("Timestamp", format_timestamp(event.timestamp)),
        ("ResourceStatus", event.status),
        ("ResourceStatusReason", event.reason or None),
    )


def describe_stack_events_xml(
    events: list[StackEvent], next_token: str | None, request_id: str
) -> str:
    """The ``DescribeStackEventsResponse`` document (one page)."""
    page = _members("StackEvents", (_event_fields(e) for e in events))
    return _response("DescribeStackEvents", page + _element("NextToken", next_token), request_id)


def describe_stack_resource_xml(latest: StackEvent, request_id: str) -> str:
    """The ``DescribeStackResourceResponse`` document for the resource ``latest`` is about."""
    detail = "".join(
        _element(name, value)
        for name, value in (
            ("StackName", latest.stack_name),
            ("StackId", latest.stack_id),
            ("LogicalResourceId", latest.logical_id),
            ("PhysicalResourceId", latest.physical_id or None),
            ("ResourceType", latest.resource_type),
            ("LastUpdatedTimestamp", format_timestamp(latest.timestamp)),
            ("ResourceStatus", latest.status),
            ("ResourceStatusReason", latest.reason or None),
        )
    )
    return _response(
        "DescribeStackResource",
        f"<StackResourceDetail>{detail}</StackResourceDetail>",
        request_id,
    )


def error_xml(code: str, message: str, request_id: str, *, kind: str = "Sender") -> str:
    """An ``ErrorResponse`` document as CloudFormation's query API sends it."""
    return (
        f'<ErrorResponse xmlns="{XML_NAMESPACE}"><Error>'
        f"<Type>{kind}</Type><Code>{_text(code)}</Code><Message>{_text(message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def answer(directory: StackDirectory, params: Mapping[str, str], request_id: str) -> str:
    """The XML body for one request's parameters; raises :class:`ApiError`."""
    action = params.get("Action", "")
    if not action:
        raise ApiError("MissingAction", "The request must contain the parameter Action.")
    if action not in _SUPPORTED_ACTIONS:
        raise ApiError(
            "InvalidAction",
            f"The action {action} is not supported by the local CloudFormation endpoint "
            f"(supported: {', '.join(_SUPPORTED_ACTIONS)}).",
        )
    name = params.get("StackName")
    if action == "DescribeStacks" and not name:
        return describe_stacks_xml(directory.live(), request_id)
    if not name:
        raise ApiError("ValidationError", "StackName is required")
    found = directory.find(name)
    if found is None:
        raise ApiError("ValidationError", f"Stack with id {name} does not exist")
    if action == "DescribeStacks":
        return describe_stacks_xml([found], request_id)
    events = directory.events(found.stack_id)
    if action == "DescribeStackEvents":
        start = int(params["NextToken"]) if params.get("NextToken", "").isdigit() else 0
        end = start + EVENTS_PAGE
        token = str(end) if end < len(events) else None
        return describe_stack_events_xml(events[start:end], token, request_id)
    logical_id = params.get("LogicalResourceId", "")
    for event in events:
        if event.logical_id == logical_id and not event.is_stack_level:
            return describe_stack_resource_xml(event, request_id)
    raise ApiError(
        "ValidationError", f"Resource {logical_id} does not exist for stack {found.stack_name}"
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY:
            request_id = _request_id()
            body = error_xml("ValidationError", "bad Content-Length", request_id)
            self._reply(400, body, request_id)
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        query = self.path.partition("?")[2]
        self._serve({**_form(query), **_form(body)})

    def do_GET(self) -> None:
        self._serve(_form(self.path.partition("?")[2]))

    def _serve(self, params: dict[str, str]) -> None:
        request_id = _request_id()
        try:
            body = answer(self.server.directory, params, request_id)
            status = 200
        except ApiError as exc:
            body = error_xml(exc.code, exc.message, request_id)
            status = exc.status
        except Exception as exc:
            _log.exception("local CloudFormation endpoint failed")
            body = error_xml("InternalFailure", str(exc), request_id, kind="Receiver")
            status = 500
        self._reply(status, body, request_id)

    def _reply(self, status: int, body: str, request_id: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("cloudformation endpoint: " + format, *args)


def _form(text: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _request_id() -> str:
    return str(uuid.uuid4())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], directory: StackDirectory) -> None:
        self.directory = directory
        super().__init__(address, _Handler)


class CloudFormationEndpoint(LocalEndpoint):
    """HTTP server on 127.0.0.1 answering CloudFormation's ``DescribeStacks`` from ``directory``
    (its :attr:`url` is the handlers' ``AWS_ENDPOINT_URL_CLOUDFORMATION``).

    Example::

        with CloudFormationEndpoint(directory) as endpoint:
            boto3.client("cloudformation", endpoint_url=endpoint.url, ...).describe_stacks()
    """

    def __init__(self, directory: StackDirectory, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.directory = directory

    def _bind(self) -> tuple[_Server, str]:
        server = _Server((self._host, self._port), self.directory)
        return server, "local-deploy-cloudformation-endpoint"
