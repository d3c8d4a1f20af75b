"""Lambda entry point: crhelper wiring only, over the plain functions in :mod:`.operations`.

The handler string is ``<package>.index.handler``. boto3 reads ``AWS_ENDPOINT_URL_S3`` and
``AWS_ENDPOINT_URL_CODEARTIFACT`` by itself, which is how the offline kit points it at local
servers; no endpoint is configured here.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from crhelper import CfnResource
from crhelper import utils as crhelper_utils
from crhelper.resource_helper import FAILED, SUCCESS

from . import contract
from .codeartifact_repository import PackageVersionRepository, VersionState
from .contract import ResourceId
from .deadline import NO_DEADLINE, Deadline, Interrupted
from .errors import PublishFailed, reason_for
from .log import LOGGER, log_line
from .operations import (
    PublishResult,
    discard_created_since,
    owned_by,
    publish,
    remove,
    response_data,
)
from .properties import InvalidProperties, VersionRequest, parse_request
from .s3_source import S3ObjectSource
from .stack_status import GIVEN_UP, StackView, is_rollback

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_codeartifact import CodeArtifactClient
    from mypy_boto3_s3 import S3Client

# sleep_on_delete=0: crhelper would otherwise idle up to two minutes on every Delete.
helper = CfnResource(log_level="INFO", boto_level="CRITICAL", sleep_on_delete=0)
LOGGER.setLevel(logging.INFO)

# AWS_MAX_ATTEMPTS (botocore's own variable) lets tests shorten the retries.
_ATTEMPTS = int(os.environ.get("AWS_MAX_ATTEMPTS", "11"))
# A long read timeout on purpose: timing out a slow upload and retrying could let the first,
# still in flight, land after the cleanup of a failed run.
_CODEARTIFACT_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": _ATTEMPTS},
    connect_timeout=10,
    read_timeout=900,
)
# Adaptive: many handlers of one stack read it at once (events, resource status).
_CLOUDFORMATION_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": 8}, connect_timeout=5
)
_S3_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": min(_ATTEMPTS, 9)},
    connect_timeout=10,
    read_timeout=20,  # below the deadline margin: a stalled read is retried in time
)
# botocore >= 1.36 validates S3 checksums by default; the handler checks SHA256 itself, so
# that would hash every byte twice. An older runtime botocore (TypeError) validates nothing.
with contextlib.suppress(TypeError):
    _S3_CONFIG = _S3_CONFIG.merge(Config(response_checksum_validation="when_required"))

Handler = Callable[[Mapping[str, Any], Any], str]


#: Event keys crhelper needs before it can answer at all.
_REQUIRED_EVENT_KEYS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")


def handler(event: Mapping[str, Any], context: Any) -> None:
    """Lambda handler: crhelper answers CloudFormation, whatever happens inside."""
    missing = [key for key in _REQUIRED_EVENT_KEYS if not isinstance(event.get(key), str)]
    if missing:
        # crhelper would fail before storing the ResponseURL and then retry a stale one forever.
        _answer_malformed(event, missing)
        return
    _begin_invocation(context)
    helper(event, context)


def _answer_malformed(event: Mapping[str, Any], missing: list[str]) -> None:
    reason = f"malformed CloudFormation event: missing {', '.join(missing)}"
    log_line("malformed_event", level=logging.ERROR, missing=missing)
    url = event.get("ResponseURL")
    if not isinstance(url, str):
        return  # nowhere to answer
    body = {
        "Status": "FAILED",
        "Reason": reason,
        "PhysicalResourceId": str(event.get("PhysicalResourceId") or "malformed-event"),
        "StackId": str(event.get("StackId", "")),
        "RequestId": str(event.get("RequestId", "")),
        "LogicalResourceId": str(event.get("LogicalResourceId", "")),
        "Data": {},
    }
    # crhelper keeps its response PUT (with retries and TLS handling) private.
    crhelper_utils._send_response(url, body, None)  # type: ignore[attr-defined]


@functools.cache
def _codeartifact() -> CodeArtifactClient:
    return boto3.client("codeartifact", config=_CODEARTIFACT_CONFIG)


@functools.cache
def _cloudformation() -> CloudFormationClient:
    return boto3.client("cloudformation", config=_CLOUDFORMATION_CONFIG)


@functools.cache
def _s3() -> S3Client:
    return boto3.client("s3", config=_S3_CONFIG)


def _readable_failures(func: Handler) -> Handler:
    """Turn any exception into a PublishFailed whose message is a console-ready reason."""

    @functools.wraps(func)
    def wrapper(event: Mapping[str, Any], context: Any) -> str:
        try:
            return func(event, context)
        # Interrupted only escapes Deadline.interrupting if the alarm beat its own cleanup.
        except (Exception, Interrupted) as error:
            reason = (
                reason_for(error)
                if isinstance(error, Exception)
                else f"stopped before the Lambda timeout while {_current_deadline.doing}"
            )
            log_line("failed", level=logging.ERROR, request=event.get("RequestType"), reason=reason)
            raise PublishFailed(reason) from None

    return wrapper


def _account_of(context: Any) -> str:
    arn = str(getattr(context, "invoked_function_arn", ""))
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _keep_physical_id_on_timeout(event: Mapping[str, Any]) -> None:
    """Give crhelper's timeout answer a valid physical id (it would send an empty one).

    Create gets a generated id: its Delete then discards what this resource created.
    """
    helper.PhysicalResourceId = event.get("PhysicalResourceId") or helper.generate_physical_id(
        event
    )


_current_deadline = NO_DEADLINE
#: What crhelper's timer answers: FAILED, except where failing would fail a rollback.
_timeout_answer = FAILED


def _begin_invocation(context: Any) -> None:
    """Per-invocation state: the deadline, the timer's answer, one answer not sent yet."""
    global _current_deadline, _timeout_answer  # noqa: PLW0603 - one invocation at a time
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    _current_deadline = Deadline(remaining) if callable(remaining) else NO_DEADLINE
    _timeout_answer = FAILED
    _answered.clear()


#: Set once this invocation answered CloudFormation (by the handler or by crhelper's timer).
_answered = threading.Event()
_answer_lock = threading.Lock()
_crhelper_send = helper._send  # type: ignore[attr-defined]


def _send_once(status: str | None = None, reason: str = "", **kwargs: Any) -> None:
    """crhelper's ``_send``, but only the first answer of an invocation goes out.

    crhelper's timer and the handler could otherwise both answer, with different statuses.
    """
    with _answer_lock:
        if _answered.is_set():
            log_line("second_answer_dropped", level=logging.WARNING, status=status)
            return
        _answered.set()
    _crhelper_send(status, reason, **kwargs)


helper._send = _send_once  # type: ignore[attr-defined]


def _answer_success_on_timeout() -> None:
    global _timeout_answer  # noqa: PLW0603 - one invocation at a time
    _timeout_answer = SUCCESS


def _timed_out() -> None:
    """crhelper's timer: an answer saying how far the work got (not a bare "timed out")."""
    reason = f"Lambda timeout reached while {_current_deadline.doing}"
    reason = reason[: contract.MAX_REASON_CHARS]
    log_line("timed_out", level=logging.ERROR, reason=reason, answer=_timeout_answer)
    helper._send(_timeout_answer, reason)  # type: ignore[attr-defined]


# crhelper starts its timer with this attribute before our functions run.
helper._timeout = _timed_out  # type: ignore[attr-defined]


def _request(event: Mapping[str, Any], context: Any) -> VersionRequest:
    properties = event.get("ResourceProperties")
    if not isinstance(properties, Mapping):
        raise InvalidProperties(["the event has no ResourceProperties map"])
    return parse_request(properties, default_owner=_account_of(context))


@helper.create
@helper.update
@_readable_failures
def publish_version(event: Mapping[str, Any], context: Any) -> str:
    """Create/Update: publish the declared version (idempotent) and return its physical id."""
    _keep_physical_id_on_timeout(event)
    request = _request(event, context)
    stack = StackView(_cloudformation(), str(event["StackId"]))
    logical_id = str(event["LogicalResourceId"])
    creating = event.get("RequestType") == "Create"
    log_line(
        "start",
        request=event.get("RequestType"),
        version=request.label,
        domain=request.domain,
        repository=request.repository,
        assets=len(request.assets),
    )
    if creating:
        resource = ResourceId(request.physical_id, _created_at(stack, logical_id))
    else:
        resource = ResourceId.parse(str(event.get("PhysicalResourceId", "")))
    physical_id = resource.with_identity(request.physical_id)
    if not creating and is_rollback(stack.status()):
        return _roll_back_to(event, request, physical_id)

    def cancelled() -> bool:
        # A Create CloudFormation gave up on (another resource failed) must not publish.
        return creating and stack.resource_status(logical_id) in GIVEN_UP

    result = publish(
        request,
        S3ObjectSource(_s3()),
        PackageVersionRepository(_codeartifact(), request),
        deadline=_current_deadline,
        cancelled=cancelled,
    )
    _answer_data(event, request, physical_id, result)
    log_line(
        "done", version=request.label, status=result.state.status, revision=result.state.revision
    )
    return physical_id


def _created_at(stack: StackView, logical_id: str) -> datetime:
    """When CloudFormation began creating this resource: the same for every delivery."""
    created = stack.resource_created_at(logical_id)
    if created is None:
        # Without it, a redelivery of this Create would answer another id; nothing is lost.
        created = datetime.now(UTC)
        log_line("resource_creation_time_unknown", level=logging.WARNING, using=str(created))
    return created


def _roll_back_to(event: Mapping[str, Any], request: VersionRequest, physical_id: str) -> str:
    """An Update during a rollback carries the properties the resource had: put them back
    where that is possible, and never answer FAILED (the stack would be left in
    UPDATE_ROLLBACK_FAILED, recoverable only by hand): what cannot be undone (a Published
    version never returns to Unfinished) is kept as it is, and the log says so."""
    _answer_success_on_timeout()
    repository = PackageVersionRepository(_codeartifact(), request)
    try:
        with _current_deadline.interrupting():
            result = publish(request, S3ObjectSource(_s3()), repository, deadline=_current_deadline)
    except (Exception, Interrupted) as error:
        log_line(
            "rollback_kept_as_is",
            level=logging.WARNING,
            version=request.label,
            reason=reason_for(error) if isinstance(error, Exception) else "out of time",
        )
        state = _quietly(repository.describe)
        if state is not None:
            _answer_data(event, request, physical_id, PublishResult(state, ()))
        return physical_id
    _answer_data(event, request, physical_id, result)
    log_line("rolled_back", version=request.label, status=result.state.status)
    return physical_id


def _quietly(read: Callable[[], VersionState | None]) -> VersionState | None:
    try:
        return read()
    except Exception as error:
        log_line("describe_failed", level=logging.WARNING, reason=reason_for(error))
        return None


def _answer_data(
    event: Mapping[str, Any], request: VersionRequest, physical_id: str, result: PublishResult
) -> None:
    def fits(data: dict[str, str]) -> bool:
        return _response_bytes(event, physical_id, data) <= contract.MAX_RESPONSE_BYTES

    helper.Data.update(response_data(request, result, fits))


@helper.delete
@_readable_failures
def delete_version(event: Mapping[str, Any], context: Any) -> str:
    """Delete: apply the removal policy, or undo what a failed operation created."""
    _keep_physical_id_on_timeout(event)
    physical_id = str(event.get("PhysicalResourceId", ""))
    resource = ResourceId.parse(physical_id)
    try:
        request = _request(event, context)
    except InvalidProperties:
        log_line("delete_ignored", physical_id=physical_id, why="no usable properties")
        return physical_id
    stack = StackView(_cloudformation(), str(event["StackId"]))
    if not resource.names_a_version:
        # The Create failed or was cancelled (CloudFormation may send this while it still
        # runs). During the rollback, discard what it created; outside one (a stack that
        # does not roll back, deleted maybe much later) the version may be someone's by then.
        # Never FAILED: that would fail the rollback or the deletion.
        _answer_success_on_timeout()
        if not is_rollback(stack.status()):
            log_line("delete_ignored", physical_id=physical_id, why="not a rollback")
            return physical_id
        created = stack.resource_created_at(str(event["LogicalResourceId"]))
        _discard_quietly(request, created, why="its Create failed or was cancelled")
        return physical_id
    if resource.identity != request.physical_id:
        # Properties that no longer describe this id: nothing here is known to be ours.
        log_line("delete_ignored", physical_id=physical_id)
        return physical_id
    if is_rollback(stack.status()):
        # What the failed operation created goes, whatever the policy; nothing older does.
        _answer_success_on_timeout()
        since = stack.operation_started_at()
        if since is not None and resource.resource_created is not None:
            since = max(since, resource.resource_created)
        _discard_quietly(request, since, why="the stack operation that created it rolled back")
        return physical_id
    repository = PackageVersionRepository(_codeartifact(), request)
    state = repository.describe()
    owned = state is not None and owned_by(state, resource)
    outcome = "already gone" if state is None else remove(request, repository, owned=owned)
    log_line("deleted", version=request.label, outcome=outcome, owned=owned)
    return physical_id


def _discard_quietly(request: VersionRequest, since: datetime | None, *, why: str) -> None:
    """:func:`discard_created_since`, logging instead of failing (bounded by the deadline)."""
    if since is None:
        log_line("delete_ignored", version=request.label, why="creation time unknown: kept")
        return
    _current_deadline.doing = f"discarding {request.label}"
    try:
        with _current_deadline.interrupting():
            outcome = discard_created_since(
                request, PackageVersionRepository(_codeartifact(), request), since
            )
    except (Exception, Interrupted) as error:
        reason = reason_for(error) if isinstance(error, Exception) else "out of time"
        log_line("discard_failed", level=logging.WARNING, version=request.label, reason=reason)
        return
    log_line("discarded", version=request.label, outcome=outcome, why=why)


def _response_bytes(event: Mapping[str, Any], physical_id: str, data: dict[str, str]) -> int:
    body = {
        "Status": "SUCCESS",
        "PhysicalResourceId": physical_id,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "Reason": "",
        "Data": data,
        "NoEcho": False,
    }
    return len(json.dumps(body).encode())
