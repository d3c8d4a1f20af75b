"""Lambda entry point: crhelper wiring, and what each CloudFormation request means here.

The handler string is ``<package>.index.handler``. ``@helper.create``/``update``/``delete``
register the operations with crhelper; :class:`.responder.Responder` (the one adapter to
crhelper) runs them bounded by the invocation's timeout and answers exactly once. The work
itself is in :mod:`.publishing` and :mod:`.removal`, over the S3 and CodeArtifact adapters.

boto3 reads ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL_CODEARTIFACT`` by itself, which is
how the offline kit points it at local servers; no endpoint is configured here.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from crhelper import CfnResource

from . import contract
from .attributes import response_data
from .codeartifact import CodeArtifactVersion
from .contract import ResourceId
from .errors import reason_for
from .log import LOGGER, log_line
from .pacing import Pacing
from .polling import still_polled
from .ports import VersionState
from .properties import InvalidProperties, VersionRequest, parse_request
from .publishing import PublishPaused, PublishResult, publish
from .removal import discard_created_since, owned_by, remove
from .responder import Answer, Event, Invocation, Responder, answer_bytes, is_poll
from .s3_source import S3ObjectSource
from .stack_status import GIVEN_UP, StackView, is_rollback

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_codeartifact import CodeArtifactClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client

# sleep_on_delete=0: crhelper would otherwise idle up to two minutes on every Delete.
helper = CfnResource(log_level="INFO", boto_level="CRITICAL", sleep_on_delete=0)
responder = Responder(helper)
# crhelper's polling, for versions that may outlast one invocation: it schedules the function
# with an EventBridge rule every polling interval and answers once a poll returns an id.
long_helper = CfnResource(
    log_level="INFO",
    boto_level="CRITICAL",
    sleep_on_delete=0,
    polling_interval=contract.POLLING_INTERVAL_MINUTES,
)
long_responder = Responder(long_helper)
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
_EVENTS_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=5)
_S3_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": min(_ATTEMPTS, 9)},
    connect_timeout=10,
    read_timeout=20,  # below the deadline margin: a stalled read is retried in time
)
# Assets in flight at once: as many as the function's memory holds (the runtime sets it).
_PARALLEL_ASSETS = contract.parallel_assets(
    int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
)
# botocore >= 1.36 validates S3 checksums by default; the handler checks SHA256 itself, so
# that would hash every byte twice. An older runtime botocore (TypeError) validates nothing.
with contextlib.suppress(TypeError):
    _S3_CONFIG = _S3_CONFIG.merge(Config(response_checksum_validation="when_required"))


def handler(event: Event, context: Any) -> None:
    """Lambda handler: crhelper answers CloudFormation exactly once, whatever happens inside.

    A version that may outlast one invocation goes through ``long_helper`` (crhelper's
    polling), every other request through ``helper`` (one invocation, no polling delay).
    """
    invocation = Invocation(context)
    if is_poll(event) or _may_outlast_one_invocation(event, invocation):
        long_responder(event, context, invocation)
    else:
        responder(event, context, invocation)


@functools.cache
def _codeartifact() -> CodeArtifactClient:
    return boto3.client("codeartifact", config=_CODEARTIFACT_CONFIG)


@functools.cache
def _cloudformation() -> CloudFormationClient:
    return boto3.client("cloudformation", config=_CLOUDFORMATION_CONFIG)


@functools.cache
def _events() -> EventBridgeClient:
    return boto3.client("events", config=_EVENTS_CONFIG)


@functools.cache
def _s3() -> S3Client:
    return boto3.client("s3", config=_S3_CONFIG)


def _request(event: Event, invocation: Invocation) -> VersionRequest:
    properties = event.get("ResourceProperties")
    if not isinstance(properties, Mapping):
        raise InvalidProperties(["the event has no ResourceProperties map"])
    return parse_request(properties, default_owner=invocation.account)


def _store(request: VersionRequest, invocation: Invocation) -> CodeArtifactVersion:
    return CodeArtifactVersion(_codeartifact(), request, invocation.deadline)


@helper.create
@helper.update
@responder.operation
def publish_version(event: Event, invocation: Invocation) -> Answer:
    """Create/Update: publish the declared version (idempotent) and answer its physical id."""
    return _publish_declared(event, invocation, pacing=None)


@long_helper.create
@long_helper.update
@long_responder.operation
def start_publishing(event: Event, invocation: Invocation) -> Answer:
    """Create/Update of a version that may outlast one invocation: publish what fits; crhelper
    then re-invokes the function every polling interval until :func:`continue_publishing`
    finds the version complete, and only that answers CloudFormation."""
    try:
        return _publish_declared(event, invocation, pacing=Pacing(invocation.deadline))
    except PublishPaused:
        return Answer("")  # not the answer: crhelper keeps polling


@long_helper.poll_create
@long_helper.poll_update
@long_responder.operation
def continue_publishing(event: Event, invocation: Invocation) -> Answer | None:
    """A poll: carry on from what CodeArtifact holds (no asset is sent twice); the answer once
    the version is complete, None while assets are left (crhelper polls again).

    A poll delivered after the request was answered (or whose twin answered while it ran)
    does nothing and answers nothing: see :mod:`.polling`."""
    if not _still_polled(event, invocation):
        return None
    pacing = Pacing(invocation.deadline, within_seconds=contract.POLL_WORK_SECONDS)
    try:
        answer = _publish_declared(event, invocation, pacing=pacing)
    except PublishPaused:
        return None
    except Exception:
        if not _still_polled(event, invocation):
            return None  # another delivery of this poll answered; its answer stands
        raise
    return answer if _still_polled(event, invocation) else None


def _still_polled(event: Event, invocation: Invocation) -> bool:
    stack = StackView(_cloudformation(), str(event["StackId"]))
    logical_id = str(event["LogicalResourceId"])

    def in_progress() -> bool:  # "" (unreadable) counts as in progress: the poll goes on
        return not stack.resource_status(logical_id).endswith(("_COMPLETE", "_FAILED"))

    if still_polled(_events(), event, invocation.deadline, in_progress):
        return True
    log_line("poll_already_answered", request=event.get("RequestId"))
    return False


def _publish_declared(event: Event, invocation: Invocation, *, pacing: Pacing | None) -> Answer:
    """Publish the declared version (idempotent) and answer its physical id; with ``pacing``,
    raise :class:`.publishing.PublishPaused` when what is left does not fit in this invocation."""
    request = _request(event, invocation)
    stack = StackView(_cloudformation(), str(event["StackId"]))
    logical_id = str(event["LogicalResourceId"])
    creating = event.get("RequestType") == "Create"
    deadline = invocation.deadline
    log_line(
        "start",
        request=event.get("RequestType"),
        version=request.label,
        domain=request.domain,
        repository=request.repository,
        assets=len(request.assets),
        poll=is_poll(event),
    )
    if creating:
        resource = ResourceId(request.physical_id, _created_at(stack, logical_id))
    else:
        resource = ResourceId.parse(str(event.get("PhysicalResourceId", "")))
    physical_id = resource.with_identity(request.physical_id)
    if creating:
        operation_began = resource.resource_created
    elif is_rollback(stack.status()):
        return _roll_back_to(event, invocation, request, physical_id)
    else:
        operation_began = stack.operation_started_at()

    def cancelled() -> bool:
        # CloudFormation gave up on this operation (another resource failed, or the
        # ServiceTimeout passed): a Create is then CREATE_FAILED, an Update's stack rolls back.
        if creating:
            return deadline.run(lambda: stack.resource_status(logical_id)) in GIVEN_UP
        return is_rollback(deadline.run(stack.status))

    result = publish(
        request,
        S3ObjectSource(_s3(), deadline, heads=invocation.seen_objects),
        _store(request, invocation),
        deadline=deadline,
        cancelled=cancelled,
        parallel=_PARALLEL_ASSETS,
        pacing=pacing,
        created_since=operation_began,
    )
    log_line(
        "done", version=request.label, status=result.state.status, revision=result.state.revision
    )
    return _answer(event, request, physical_id, result)


def _may_outlast_one_invocation(event: Event, invocation: Invocation) -> bool:
    """Whether a Create or Update publishes more bytes than one invocation surely can, at
    :data:`.contract.ONE_INVOCATION_BYTES_PER_SECOND`; False when unsure (the one-invocation
    path then reports whatever is wrong with the event)."""
    if event.get("RequestType") not in ("Create", "Update"):
        return False
    if len(str(event.get("LogicalResourceId", ""))) > contract.MAX_POLLED_LOGICAL_ID:
        return False  # crhelper could not name its rule: one invocation it is
    if len(json.dumps(event)) > contract.MAX_POLLED_EVENT_BYTES:
        return False  # nor schedule the event
    try:
        request = _request(event, invocation)
        source = S3ObjectSource(_s3(), invocation.deadline, heads=invocation.seen_objects)
        total = sum(
            spec.size if spec.size is not None else source.head(spec).size
            for spec in request.assets
        )
    except Exception as error:
        log_line("size_unknown", reason=reason_for(error))
        return False
    seconds = invocation.deadline.seconds_to_margin
    return total > seconds * contract.ONE_INVOCATION_BYTES_PER_SECOND


def _created_at(stack: StackView, logical_id: str) -> datetime:
    """When CloudFormation began creating this resource: the same for every delivery."""
    created = stack.resource_created_at(logical_id)
    if created is None:
        # Without it, a redelivery of this Create would answer another id; nothing is lost.
        created = datetime.now(UTC)
        log_line("resource_creation_time_unknown", level=logging.WARNING, using=str(created))
    return created


def _roll_back_to(
    event: Event, invocation: Invocation, request: VersionRequest, physical_id: str
) -> Answer:
    """An Update during a rollback carries the properties the resource had: put them back
    where that is possible, and never answer FAILED (the stack would be left in
    UPDATE_ROLLBACK_FAILED, recoverable only by hand): what cannot be undone (a Published
    version never returns to Unfinished) is kept as it is, and the log says so."""
    invocation.succeed_at_timeout()
    deadline = invocation.deadline
    store = _store(request, invocation)
    try:
        result = publish(
            request,
            S3ObjectSource(_s3(), deadline),
            store,
            deadline=deadline,
            parallel=_PARALLEL_ASSETS,
        )
    except Exception as error:
        log_line(
            "rollback_kept_as_is",
            level=logging.WARNING,
            version=request.label,
            reason=reason_for(error),
        )
        state = _quietly(store.describe)
        if state is None:
            return Answer(physical_id)
        return _answer(event, request, physical_id, PublishResult(state, ()))
    log_line("rolled_back", version=request.label, status=result.state.status)
    return _answer(event, request, physical_id, result)


def _quietly(read: Callable[[], VersionState | None]) -> VersionState | None:
    try:
        return read()
    except Exception as error:
        log_line("describe_failed", level=logging.WARNING, reason=reason_for(error))
        return None


def _answer(
    event: Event, request: VersionRequest, physical_id: str, result: PublishResult
) -> Answer:
    """SUCCESS with ``physical_id`` and the attributes that fit CloudFormation's limit."""

    def fits(data: dict[str, str]) -> bool:
        return answer_bytes(event, physical_id, data) <= contract.MAX_RESPONSE_BYTES

    return Answer(physical_id, response_data(request, result, fits))


@helper.delete
@responder.operation
def delete_version(event: Event, invocation: Invocation) -> Answer:
    """Delete: apply the removal policy, or undo what a failed operation created."""
    physical_id = str(event.get("PhysicalResourceId", ""))
    resource = ResourceId.parse(physical_id)
    try:
        request = _request(event, invocation)
    except InvalidProperties:
        log_line("delete_ignored", physical_id=physical_id, why="no usable properties")
        return Answer(physical_id)
    stack = StackView(_cloudformation(), str(event["StackId"]))
    if not resource.names_a_version:
        # The Create failed or was cancelled (CloudFormation may send this while it still
        # runs). During the rollback, discard what it created; outside one (a stack that
        # does not roll back, deleted maybe much later) the version may be someone's by then.
        # Never FAILED: that would fail the rollback or the deletion.
        invocation.succeed_at_timeout()
        if not is_rollback(stack.status()):
            log_line("delete_ignored", physical_id=physical_id, why="not a rollback")
            return Answer(physical_id)
        created = stack.resource_created_at(str(event["LogicalResourceId"]))
        _discard_quietly(invocation, request, created, why="its Create failed or was cancelled")
        return Answer(physical_id)
    if resource.identity != request.physical_id:
        # Properties that no longer describe this id: nothing here is known to be ours.
        log_line("delete_ignored", physical_id=physical_id)
        return Answer(physical_id)
    if is_rollback(stack.status()):
        # What the failed operation created goes, whatever the policy; nothing older does.
        invocation.succeed_at_timeout()
        since = stack.operation_started_at()
        if since is not None and resource.resource_created is not None:
            since = max(since, resource.resource_created)
        _discard_quietly(
            invocation, request, since, why="the stack operation that created it rolled back"
        )
        return Answer(physical_id)
    invocation.deadline.doing = f"removing {request.label}"
    store = _store(request, invocation)
    state = store.describe()
    owned = state is not None and owned_by(state, resource)
    outcome = "already gone" if state is None else remove(request, store, owned=owned)
    log_line("deleted", version=request.label, outcome=outcome, owned=owned)
    return Answer(physical_id)


def _discard_quietly(
    invocation: Invocation, request: VersionRequest, since: datetime | None, *, why: str
) -> None:
    """:func:`.removal.discard_created_since`, logging instead of failing (each call bounded
    by the deadline)."""
    if since is None:
        log_line("delete_ignored", version=request.label, why="creation time unknown: kept")
        return
    invocation.deadline.doing = f"discarding {request.label}"
    try:
        outcome = discard_created_since(request, _store(request, invocation), since)
    except Exception as error:
        log_line(
            "discard_failed", level=logging.WARNING, version=request.label, reason=reason_for(error)
        )
        return
    log_line("discarded", version=request.label, outcome=outcome, why=why)
