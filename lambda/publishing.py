"""Create / update / delete of a generic package version, free of CloudFormation details.

``publish`` is the one workflow behind Create and Update: it is idempotent (a version that
already holds exactly the declared assets is left alone), resumes an Unfinished version from
what CodeArtifact reports, and removes an Unfinished version it created itself when it fails,
so no deployment leaves a half-published version behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import ClientError

from . import contract
from .codeartifact_repository import PackageVersionRepository, StoredAsset, VersionState
from .contract import Removal, ResourceId, Status
from .deadline import NO_DEADLINE, Deadline, Interrupted
from .errors import PublishFailed, client_error_code, reason_for
from .log import log_line
from .properties import AssetSpec, VersionRequest
from .s3_source import ObjectInfo, S3ObjectSource
from .streams import HashingBody, Progress, hash_only, spool


@dataclass(frozen=True)
class PublishResult:
    """What the custom resource returns: the version's state and its assets' hashes."""

    state: VersionState
    #: SHA256 of each declared asset, in declaration order.
    sha256s: tuple[str, ...]


#: Statuses of a version that takes no more assets (but can still change status).
_SEALED = (Status.PUBLISHED, Status.UNLISTED, Status.ARCHIVED)


class CreateCancelled(PublishFailed):
    """CloudFormation gave up on this Create (another resource failed) while it ran."""


def _never() -> bool:
    return False


class AssetPublishFailed(PublishFailed):
    """CodeArtifact refused an asset; the message names it, ``error`` is the service's answer."""

    def __init__(self, asset: str, error: ClientError) -> None:
        attempts = int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        super().__init__(f"asset {asset!r}: {reason_for(error)}{tries}")
        self.error = error


@dataclass
class _Planned:
    spec: AssetSpec
    info: ObjectInfo
    #: SHA256 once known: declared at synth, stored by S3, or computed while reading.
    sha256: str | None


def publish(
    request: VersionRequest,
    source: S3ObjectSource,
    repository: PackageVersionRepository,
    *,
    spool_dir: str | None = None,
    deadline: Deadline = NO_DEADLINE,
    cancelled: Callable[[], bool] = _never,
) -> PublishResult:
    """Make CodeArtifact hold ``request``'s version with exactly its assets and status.

    ``cancelled`` is asked before the first write and after every asset written: once it
    says yes (CloudFormation gave up on this Create), the version this run created is
    deleted whatever its status, so a cancelled Create leaves nothing behind even when its
    last asset landed after CloudFormation's Delete had run.
    """
    wrote = False
    plans: list[_Planned] = []
    try:
        # Interrupted at the deadline's margin, wherever it waits, so the cleanup below runs.
        with deadline.interrupting():
            existing, stored = _survey(request, source, repository, plans, deadline)
            conflict = _conflict(request, existing, plans, stored)
            if conflict is not None:
                if not request.replace_existing:
                    raise PublishFailed(conflict)
                _replace(request, repository)
                existing, stored = None, {}
            if existing is not None and existing.status != Status.UNFINISHED:
                # Sealed with exactly the declared assets: only the status may still change.
                log_line("already_published", version=request.label, revision=existing.revision)
                return _result(_settle_status(request, repository, existing), plans)

            def check_cancelled() -> None:
                if cancelled():
                    raise CreateCancelled(
                        f"CloudFormation cancelled the Create of {request.label}; "
                        "what it wrote was removed"
                    )

            check_cancelled()
            wrote = existing is None
            state = _publish_missing(
                request, plans, source, repository, stored, spool_dir, deadline, check_cancelled
            )
            state = _settle_status(request, repository, state)
        return _result(state, plans)
    except AssetPublishFailed as failure:
        settled = _settled_within_margin(request, repository, plans, failure.error, deadline)
        if settled is not None:
            return settled
        if wrote:
            _remove_leftover(request, repository, plans, deadline, failure)
        raise
    except BaseException as error:
        if wrote:
            _remove_leftover(request, repository, plans, deadline, error)
        raise


def _survey(
    request: VersionRequest,
    source: S3ObjectSource,
    repository: PackageVersionRepository,
    plans: list[_Planned],
    deadline: Deadline,
) -> tuple[VersionState | None, dict[str, StoredAsset]]:
    """The version as it is, and the plan of each declared asset (appended to ``plans``)."""
    existing = repository.describe()
    stored = repository.assets() if existing is not None else {}
    plans.extend(_plan(spec, source) for spec in request.assets)
    # Every stored asset must be these bytes before anything is written (a publish could
    # otherwise seal a version with stale bytes): hash those nobody knows, one read each.
    for plan in plans:
        if plan.spec.name in stored and plan.sha256 is None:
            plan.sha256 = _hash_object(plan, source, deadline)
    return existing, stored


def _conflict(
    request: VersionRequest,
    existing: VersionState | None,
    plans: Sequence[_Planned],
    stored: dict[str, StoredAsset],
) -> str | None:
    """Why the existing version cannot become the declared one, or None."""
    if existing is None:
        return None
    if existing.status not in (Status.UNFINISHED, *_SEALED):
        return (
            f"{request.label} already exists with status {existing.status}; "
            "bump the version to publish new assets"
        )
    foreign = sorted(set(stored) - {a.name for a in request.assets})
    if foreign:
        return (
            f"{request.label} already holds assets this stack does not declare: "
            f"{_names(foreign)}; bump the version or declare them"
        )
    changed = [
        p.spec.name
        for p in plans
        if p.sha256 and p.spec.name in stored and stored[p.spec.name].sha256 != p.sha256
    ]
    if changed:
        return (
            f"{request.label} already exists and the SHA256 of {_names(changed)} differs "
            "from what CodeArtifact holds; bump the version to publish the new bytes"
        )
    missing = [p.spec.name for p in plans if p.spec.name not in stored]
    if existing.status in _SEALED and missing:
        return (
            f"{request.label} is already {existing.status} without {_names(missing)}; "
            "bump the version to publish a different set of assets"
        )
    return None


def _replace(request: VersionRequest, repository: PackageVersionRepository) -> None:
    """replace_existing: delete the version that holds other bytes, to publish it anew."""
    repository.delete()
    log_line("replaced_existing", version=request.label)


def _result(state: VersionState, plans: Sequence[_Planned]) -> PublishResult:
    return PublishResult(state, tuple(p.sha256 or "" for p in plans))


def _plan(spec: AssetSpec, source: S3ObjectSource) -> _Planned:
    info = source.head(spec)
    if spec.size is not None and info.size != spec.size:
        raise PublishFailed(
            f"asset {spec.name!r}: {spec.location} has {info.size} bytes, synth saw "
            f"{spec.size}: the object changed since synth"
        )
    if spec.sha256 and info.stored_sha256 and spec.sha256 != info.stored_sha256:
        raise PublishFailed(_changed_since_synth(spec, info.stored_sha256))
    return _Planned(spec, info, spec.sha256 or info.stored_sha256)


def _publish_missing(
    request: VersionRequest,
    plans: Sequence[_Planned],
    source: S3ObjectSource,
    repository: PackageVersionRepository,
    stored: dict[str, StoredAsset],
    spool_dir: str | None,
    deadline: Deadline,
    after_each: Callable[[], None],
) -> VersionState | None:
    todo = [p for p in plans if p.spec.name not in stored]
    state: VersionState | None = None
    checked = time.monotonic()
    for number, plan in enumerate(todo, start=1):
        deadline.check(f"starting asset {plan.spec.name!r} ({number} of {len(todo)} to publish)")
        # Only a Published target is reached by the last publish itself; Unlisted and Archived
        # are set afterwards, so the version is never visible as Published on the way.
        unfinished = not (plan is todo[-1] and request.status == Status.PUBLISHED)
        state = _publish_one(plan, source, repository, unfinished, spool_dir, deadline)
        # After the last asset always; in between at most every few seconds (many handlers of
        # one stack share CloudFormation's API rate).
        if plan is todo[-1] or time.monotonic() - checked >= _BETWEEN_CHECKS_SECONDS:
            after_each()
            checked = time.monotonic()
    return state


def _publish_one(
    plan: _Planned,
    source: S3ObjectSource,
    repository: PackageVersionRepository,
    unfinished: bool,
    spool_dir: str | None,
    deadline: Deadline,
) -> VersionState:
    spec, info = plan.spec, plan.info
    progress = Progress(spec.name, info.size, deadline)
    if plan.sha256 is not None:
        sha256 = plan.sha256
        path = "stream-declared-sha256" if spec.sha256 else "stream-s3-checksum"
        body = HashingBody(
            lambda: source.open(spec, info), info.size, expected_sha256=sha256, progress=progress
        )
        with closing(body):
            try:
                state = repository.publish(spec.name, body, sha256, unfinished=unfinished)
            except ClientError as error:
                raise AssetPublishFailed(spec.name, error) from error
            except Exception:
                # botocore wraps errors raised while sending the body; ours is the reason.
                if body.failure is not None:
                    raise body.failure from None
                raise
    else:
        path = "spool-tmp"
        spooled, sha256 = spool(source.open(spec, info), progress, spool_dir)
        plan.sha256 = sha256
        with spooled:
            try:
                state = repository.publish(spec.name, spooled, sha256, unfinished=unfinished)
            except ClientError as error:
                raise AssetPublishFailed(spec.name, error) from error
    log_line(
        "asset_published",
        asset=spec.name,
        size=info.size,
        sha256=sha256,
        seconds=round(progress.elapsed, 3),
        mb_per_s=round(info.size / max(progress.elapsed, 1e-9) / 1e6, 1),
        path=path,
        status=state.status,
    )
    return state


def _hash_object(plan: _Planned, source: S3ObjectSource, deadline: Deadline) -> str:
    progress = Progress(plan.spec.name, plan.info.size, deadline)
    return hash_only(source.open(plan.spec, plan.info), progress)


def _settle_status(
    request: VersionRequest, repository: PackageVersionRepository, state: VersionState | None
) -> VersionState:
    """Move the version to the requested status (optimistic locking on status and revision)."""
    current = state or repository.describe()
    if current is None:  # pragma: no cover - a version we just published cannot vanish
        raise PublishFailed(f"{request.label} disappeared while publishing")
    if current.status == request.status:
        return current
    if request.status == Status.UNFINISHED:
        raise PublishFailed(
            f"{request.label} is {current.status} and can never return to Unfinished; "
            "declare another status or bump the version"
        )
    return repository.set_status(request.status, expected=current)


def _settled_within_margin(
    request: VersionRequest,
    repository: PackageVersionRepository,
    plans: Sequence[_Planned],
    error: ClientError,
    deadline: Deadline,
) -> PublishResult | None:
    """:func:`_settled_by_another_writer`, given up (None) when the margin runs out."""
    try:
        with deadline.interrupting(margin_seconds=_CLEANUP_MARGIN_SECONDS):
            return _settled_by_another_writer(request, repository, plans, error)
    except (Exception, Interrupted) as failure:
        log_line("settled_check_failed", version=request.label, reason=reason_for(failure))
        return None


def _settled_by_another_writer(
    request: VersionRequest,
    repository: PackageVersionRepository,
    plans: Sequence[_Planned],
    error: ClientError,
) -> PublishResult | None:
    """After a ConflictException: the version may already be exactly what we declared.

    That happens when another writer (or a retried request the server had already
    committed) finished it meanwhile; then there is nothing left to do.
    """
    if client_error_code(error) != "ConflictException" or any(p.sha256 is None for p in plans):
        return None
    state = repository.describe()
    if state is None or state.status != request.status:
        return None
    stored = {name: asset.sha256 for name, asset in repository.assets().items()}
    if stored != {p.spec.name: p.sha256 for p in plans}:
        return None
    log_line("settled_meanwhile", version=request.label, revision=state.revision)
    return _result(state, plans)


#: Least time between two cancellation checks while assets are published.
_BETWEEN_CHECKS_SECONDS = 5.0
#: What is left of the margin when the cleanup of a failed run must give up.
_CLEANUP_MARGIN_SECONDS = 1.5


def _remove_leftover(
    request: VersionRequest,
    repository: PackageVersionRepository,
    plans: Sequence[_Planned],
    deadline: Deadline,
    cause: BaseException,
) -> None:
    """Best effort, within the margin: delete the version this failed run created (found
    absent, then written): Unfinished, or any status when CloudFormation cancelled the Create.
    The original failure is what gets reported."""
    declared = {p.spec.name for p in plans}
    sealed_too = isinstance(cause, CreateCancelled)
    try:
        with deadline.interrupting(margin_seconds=_CLEANUP_MARGIN_SECONDS):
            outcome = _discard(request, repository, declared, sealed_too=sealed_too)
    except (Exception, Interrupted) as error:
        log_line("cleanup_failed", version=request.label, reason=reason_for(error))
        return
    log_line("cleanup", version=request.label, outcome=outcome, cause=reason_for(cause))


def owned_by(state: VersionState, resource: ResourceId) -> bool:
    """The ownership rule: a resource owns the version when CodeArtifact dates the version
    (``publishedTime``) at or after the moment CloudFormation began creating the resource.

    Both moments are durable facts, so every delivery of an event, every rollback and every
    later Delete reach the same answer. A version that cannot be dated is not owned; a legacy
    id (no creation moment) owns its version unless it was marked adopted.
    """
    if resource.resource_created is None:
        return not resource.legacy_adopted
    return state.published_time is not None and state.published_time >= resource.resource_created


def discard_created_since(
    request: VersionRequest, repository: PackageVersionRepository, since: datetime
) -> str:
    """Delete the version if CodeArtifact dates it at or after ``since`` (whatever its
    status): what a failed, cancelled or rolled-back operation of this resource created. A
    version that existed before is kept. Returns what was done, for the log."""
    state = repository.describe()
    if state is None:
        return "nothing to discard"
    if state.published_time is None or state.published_time < since:
        when = state.published_time.isoformat() if state.published_time else "undated"
        return f"kept: the {state.status} version existed before ({when})"
    return _discard(
        request, repository, {a.name for a in request.assets}, sealed_too=True, state=state
    )


def _discard(
    request: VersionRequest,
    repository: PackageVersionRepository,
    declared: set[str],
    *,
    sealed_too: bool,
    state: VersionState | None = None,
) -> str:
    """Delete the version unless it is sealed (and ``sealed_too`` is off) or holds assets
    this resource does not declare (someone else's)."""
    state = state or repository.describe()
    if state is None:
        return "nothing to discard"
    if state.status != Status.UNFINISHED and not sealed_too:
        return f"kept: it is {state.status}"
    foreign = sorted(set(repository.assets()) - declared)
    if foreign:
        return f"kept: it holds assets this resource does not declare: {_names(foreign)}"
    if repository.delete(expected_status=state.status):
        return f"deleted the {state.status} version"
    return "kept: it changed meanwhile"


def _changed_since_synth(spec: AssetSpec, actual: str) -> str:
    return (
        f"asset {spec.name!r}: {spec.location} has SHA256 {actual[:12]}… but synth computed "
        f"{(spec.sha256 or '')[:12]}…: the object changed since synth"
    )


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def response_data(
    request: VersionRequest, result: PublishResult, fits: Callable[[dict[str, str]], bool]
) -> dict[str, str]:
    """The custom resource's Data: attributes first, then per-asset hashes while they fit."""
    attr = contract.Attr
    data = {
        attr.VERSION_REVISION: result.state.revision,
        attr.STATUS: result.state.status,
        attr.FORMAT: contract.PACKAGE_FORMAT,
        attr.NAMESPACE: request.namespace,
        attr.PACKAGE: request.package,
        attr.VERSION: request.version,
        attr.ASSET_COUNT: str(len(request.assets)),
        attr.ASSET_HASHES_TRUNCATED: "false",
    }
    # Hashes the stack could not know at synth come first: only they are read with GetAtt.
    order = sorted(range(len(result.sha256s)), key=lambda i: request.assets[i].sha256 is not None)
    for index in order:
        candidate = {**data, attr.asset_sha256(index): result.sha256s[index]}
        if not fits(candidate):
            data[attr.ASSET_HASHES_TRUNCATED] = "true"
            break
        data = candidate
    return data


def remove(request: VersionRequest, repository: PackageVersionRepository, *, owned: bool) -> str:
    """Apply the removal policy to the version (outside a rollback); returns what was done.

    A version this resource does not own (it existed before) is kept unless
    ``remove_adopted`` is set.
    """
    if request.removal_policy == Removal.RETAIN:
        return "retained (removal policy Retain)"
    if not owned and not request.remove_adopted:
        return "retained: it existed before this resource (set remove_adopted to change that)"
    action = request.on_delete
    state = repository.describe()
    if state is None:
        return "already gone"
    if action == Removal.DELETE:
        repository.delete()
    elif action == Removal.DISPOSE:
        repository.dispose()
    else:
        target = Status.ARCHIVED if action == Removal.ARCHIVE else Status.UNLISTED
        if state.status != target:
            repository.set_status(target, expected=state)
    return {
        Removal.DELETE: "deleted",
        Removal.DISPOSE: "disposed",
        Removal.ARCHIVE: "archived",
        Removal.UNLIST: "unlisted",
    }[action]
