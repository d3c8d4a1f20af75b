"""Create / update / delete of a generic package version, free of CloudFormation details.

``publish`` is the one workflow behind Create and Update: it is idempotent (a version that
already holds exactly the declared assets is left alone), resumes an Unfinished version from
what CodeArtifact reports, and removes an Unfinished version it created itself when it fails,
so no deployment leaves a half-published version behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from . import contract
from .codeartifact_repository import PackageVersionRepository, StoredAsset, VersionState
from .contract import Removal, Status
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
    #: The version existed before this run (this resource did not create it).
    adopted: bool = False


#: Statuses of a version that takes no more assets (but can still change status).
_SEALED = (Status.PUBLISHED, Status.UNLISTED, Status.ARCHIVED)


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
    on_first_write: Callable[[datetime], None] = lambda _since: None,
) -> PublishResult:
    """Make CodeArtifact hold ``request``'s version with exactly its assets and status.

    ``on_first_write`` is called once, before the first asset is written to a version that is
    absent (never there, or just deleted by ``replace_existing``), with the time it was found
    absent: what a failed run leaves from then on is its own (see :func:`discard_leftover`).
    """
    looked_at = datetime.now(UTC)
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
                looked_at = datetime.now(UTC)
                _replace(request, repository)
                existing, stored = None, {}
            if existing is not None and existing.status != Status.UNFINISHED:
                # Sealed with exactly the declared assets: only the status may still change.
                # It existed before this run, which cannot tell an earlier delivery of its own
                # event from another stack publishing the same bytes: adopted, the side that
                # never deletes it.
                log_line("already_published", version=request.label, revision=existing.revision)
                return _result(_settle_status(request, repository, existing), plans, adopted=True)
            if existing is None:
                on_first_write(looked_at)
                wrote = True
            state = _publish_missing(
                request, plans, source, repository, stored, spool_dir, deadline
            )
            state = _settle_status(request, repository, state)
        # Resuming an Unfinished version completes a publication (most likely an interrupted
        # run of this very resource): the version counts as created here, not adopted.
        return _result(state, plans, adopted=False)
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


def _result(state: VersionState, plans: Sequence[_Planned], *, adopted: bool) -> PublishResult:
    return PublishResult(state, tuple(p.sha256 or "" for p in plans), adopted)


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
) -> VersionState | None:
    todo = [p for p in plans if p.spec.name not in stored]
    state: VersionState | None = None
    for number, plan in enumerate(todo, start=1):
        deadline.check(f"starting asset {plan.spec.name!r} ({number} of {len(todo)} to publish)")
        # Only a Published target is reached by the last publish itself; Unlisted and Archived
        # are set afterwards, so the version is never visible as Published on the way.
        unfinished = not (plan is todo[-1] and request.status == Status.PUBLISHED)
        state = _publish_one(plan, source, repository, unfinished, spool_dir, deadline)
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
    return _result(state, plans, adopted=True)


#: Tolerated difference between the Lambda's clock and CodeArtifact's.
_CLOCK_SKEW = timedelta(seconds=2)
#: How long after a failed run ended an upload it had sent may still land.
_LATE_LANDING = timedelta(minutes=10)
#: What is left of the margin when the cleanup of a failed run must give up.
_CLEANUP_MARGIN_SECONDS = 1.5


def _remove_leftover(
    request: VersionRequest,
    repository: PackageVersionRepository,
    plans: Sequence[_Planned],
    deadline: Deadline,
    cause: BaseException,
) -> None:
    """Best effort, within the margin: delete the Unfinished version this failed run created
    (see :func:`discard_leftover`); the original failure is what gets reported."""
    written = {p.spec.name: p.sha256 for p in plans}
    try:
        with deadline.interrupting(margin_seconds=_CLEANUP_MARGIN_SECONDS):
            outcome = discard_leftover(request, repository, sha256s=written)
    except (Exception, Interrupted) as error:
        log_line("cleanup_failed", version=request.label, reason=reason_for(error))
        return
    log_line("cleanup", version=request.label, outcome=outcome, cause=reason_for(cause))


def discard_leftover(
    request: VersionRequest,
    repository: PackageVersionRepository,
    *,
    sha256s: Mapping[str, str | None],
    published_between: tuple[datetime, datetime] | None = None,
) -> str:
    """Delete what a failed run left of ``request``'s version, if it can tell it is that.

    The version must hold only bytes the run wrote (``sha256s`` by asset name; an unknown
    SHA256 never matches). Without ``published_between`` (the run's own cleanup, right after
    it found the version absent and wrote to it) only an Unfinished version is deleted. With
    the run's span (the rollback of a failed Create, later), a version an upload the run had
    given up on sealed after all is deleted too: it must then hold all of those assets, and
    its ``publishedTime`` must fall in the span (give or take the clock skew, plus the time a
    late upload may take to land). Anything else is kept, though identical bytes published by
    someone else within that span cannot be told apart. Returns what was done, for the log.
    """
    state = repository.describe()
    if state is None:
        return "nothing to discard"
    foreign = _written_by_someone_else(state, published_between) or _other_assets(
        state, repository.assets(), sha256s
    )
    if foreign:
        return f"kept: {foreign}"
    if repository.delete(expected_status=state.status):
        return f"deleted the {state.status} version"
    return "kept: it changed meanwhile"


def _written_by_someone_else(
    state: VersionState, published_between: tuple[datetime, datetime] | None
) -> str | None:
    """Why the version's status or publishedTime shows another writer, or None."""
    if published_between is None:
        return None if state.status == Status.UNFINISHED else f"it is {state.status}"
    if state.published_time is None:
        return f"{state.status}, with no publishedTime to tell who published it"
    began, ended = published_between
    if not began - _CLOCK_SKEW <= state.published_time <= ended + _LATE_LANDING:
        return f"{state.status} since {state.published_time.isoformat()}, outside the failed run"
    return None


def _other_assets(
    state: VersionState, stored: Mapping[str, StoredAsset], sha256s: Mapping[str, str | None]
) -> str | None:
    """Why the stored assets are not (all) the failed run's, or None."""
    sealed = state.status != Status.UNFINISHED
    if set(stored) - set(sha256s) or (sealed and set(stored) != set(sha256s)):
        return "it holds another set of assets than the failed run wrote"
    if any(sha256s[name] != asset.sha256 for name, asset in stored.items()):
        return "it holds other bytes than the failed run wrote"
    return None


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


def remove(
    request: VersionRequest,
    repository: PackageVersionRepository,
    *,
    adopted: bool,
    rolling_back: bool,
) -> str:
    """Apply the removal policy to the version; returns what was done, for the log.

    During a rollback the version is deleted whatever the policy if this resource created it,
    so that a failed deployment leaves the package as it was; a version that existed before
    (adopted) is kept.
    """
    if rolling_back:
        if adopted:
            return "kept: it existed before this deployment"
        action = Removal.DELETE
    elif request.removal_policy == Removal.RETAIN:
        return "retained (removal policy Retain)"
    elif adopted and not request.remove_adopted:
        return "retained: it existed before this resource (set remove_adopted to change that)"
    else:
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
