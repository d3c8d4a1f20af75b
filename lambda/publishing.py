"""Publishing a generic package version (Create and Update), free of CloudFormation details.

``publish`` is the one workflow behind Create and Update: it is idempotent (a version that
already holds exactly the declared assets is left alone), resumes an Unfinished version from
what CodeArtifact reports, publishes the final asset last with the final status, and removes
an Unfinished version it created itself when it fails, so no deployment leaves a
half-published version behind. It works over two ports (:mod:`.ports`): the object source and
the package version store.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from botocore.exceptions import ClientError

from .contract import MAX_PARALLEL_ASSETS, Status
from .deadline import NO_DEADLINE, Deadline
from .errors import PublishFailed, client_error_code, quote_names, reason_for
from .log import log_line
from .pacing import Pacing
from .ports import ObjectInfo, ObjectSource, PackageVersionStore, StoredAsset, VersionState
from .properties import AssetSpec, VersionRequest
from .removal import discard
from .streams import AssetAbandoned, HashingBody, Progress, Readable, hash_only, spool


@dataclass(frozen=True)
class PublishResult:
    """What the custom resource returns: the version's state and its assets' hashes."""

    state: VersionState
    #: SHA256 of each declared asset, in declaration order.
    sha256s: tuple[str, ...]


#: Statuses of a version that takes no more assets (but can still change status).
_SEALED = (Status.PUBLISHED, Status.UNLISTED, Status.ARCHIVED)
#: Least time between two cancellation checks while assets are published.
_BETWEEN_CHECKS_SECONDS = 5.0
#: What is left of the margin when the cleanup of a failed run must give up.
_CLEANUP_MARGIN_SECONDS = 1.5


class OperationCancelled(PublishFailed):
    """CloudFormation gave up on this Create or Update (another resource failed) while it
    ran."""


class PublishPaused(Exception):
    """The assets left would not fit in this invocation; the next one carries on from what
    CodeArtifact holds (nothing was removed)."""


class AssetPublishFailed(PublishFailed):
    """CodeArtifact refused an asset; the message names it, ``error`` is the service's answer."""

    def __init__(self, asset: str, error: ClientError) -> None:
        attempts = int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        super().__init__(f"asset {asset!r}: {reason_for(error)}{tries}")
        self.error = error


def _never() -> bool:
    return False


@dataclass
class _Planned:
    spec: AssetSpec
    info: ObjectInfo
    #: SHA256 once known: declared at synth, stored by S3, or computed while reading.
    sha256: str | None


def publish(
    request: VersionRequest,
    source: ObjectSource,
    store: PackageVersionStore,
    *,
    spool_dir: str | None = None,
    deadline: Deadline = NO_DEADLINE,
    cancelled: Callable[[], bool] = _never,
    parallel: int = MAX_PARALLEL_ASSETS,
    pacing: Pacing | None = None,
    created_since: datetime | None = None,
) -> PublishResult:
    """Make the store hold ``request``'s version with exactly its assets and status.

    Assets go ``parallel`` at a time, each read once, except the first of a new version (it
    creates the version) and the final one, which goes last with the final status, once all
    the others are in: the version is never Published half-filled.

    ``cancelled`` is asked before the first write and after every asset written (at most
    every few seconds, and always after the last): once it says yes (CloudFormation gave up
    on this Create or Update), the version this run created is deleted whatever its status,
    so a cancelled operation leaves nothing behind even when its last asset landed after
    CloudFormation's Delete (or rollback Update) had run.

    With ``pacing``, an asset that would not end before the deadline's margin is not started:
    :class:`PublishPaused` is raised once the assets in flight have ended, and a later call
    carries on. ``created_since``: an Unfinished version first published at or after this
    moment was created by this operation (in an earlier invocation), so a failure removes it.
    """
    wrote = False
    plans: list[_Planned] = []
    try:
        existing, stored = _survey(request, source, store, plans, deadline)
        conflict = _conflict(request, existing, plans, stored)
        if conflict is not None:
            if not request.replace_existing:
                raise PublishFailed(conflict)
            store.delete()
            log_line("replaced_existing", version=request.label)
            existing, stored = None, {}
        if existing is not None and existing.status != Status.UNFINISHED:
            # Sealed with exactly the declared assets: only the status may still change.
            log_line("already_published", version=request.label, revision=existing.revision)
            return _result(_settle_status(request, store, existing), plans)

        def check_cancelled() -> None:
            if cancelled():
                raise OperationCancelled(
                    f"CloudFormation cancelled this operation on {request.label}; "
                    "what it wrote was removed"
                )

        check_cancelled()
        wrote = existing is None or _created_since(existing, created_since)
        state = _publish_missing(
            request,
            plans,
            _Sending(source, store, spool_dir, deadline, pacing),
            stored,
            check_cancelled,
            parallel,
        )
        return _result(_settle_status(request, store, state), plans)
    except PublishPaused as paused:
        log_line("paused", version=request.label, reason=str(paused))
        raise
    except AssetPublishFailed as failure:
        settled = _settled_within_margin(request, store, plans, failure.error, deadline)
        if settled is not None:
            return settled
        if wrote:
            _remove_leftover(request, store, plans, deadline, failure)
        raise
    except BaseException as error:
        if wrote:
            _remove_leftover(request, store, plans, deadline, error)
        raise


def _created_since(existing: VersionState | None, since: datetime | None) -> bool:
    return (
        existing is not None
        and since is not None
        and existing.status == Status.UNFINISHED
        and existing.published_time is not None
        and existing.published_time >= since
    )


def _survey(
    request: VersionRequest,
    source: ObjectSource,
    store: PackageVersionStore,
    plans: list[_Planned],
    deadline: Deadline,
) -> tuple[VersionState | None, dict[str, StoredAsset]]:
    """The version as it is, and the plan of each declared asset (appended to ``plans``)."""
    existing = store.describe()
    stored = store.assets() if existing is not None else {}
    plans.extend(_plan(spec, source) for spec in request.assets)
    # Every stored asset must be these bytes before anything is written (a publish could
    # otherwise seal a version with stale bytes): hash those nobody knows, one read each.
    for plan in plans:
        if plan.spec.name in stored and plan.sha256 is None:
            progress = Progress(plan.spec.name, plan.info.size, deadline)
            plan.sha256 = hash_only(_opener(source, plan), plan.info.size, progress)
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
            f"{quote_names(foreign)}; bump the version or declare them"
        )
    changed = [
        p.spec.name
        for p in plans
        if p.sha256 and p.spec.name in stored and stored[p.spec.name].sha256 != p.sha256
    ]
    if changed:
        return (
            f"{request.label} already exists and the SHA256 of {quote_names(changed)} differs "
            "from what CodeArtifact holds; bump the version to publish the new bytes"
        )
    missing = [p.spec.name for p in plans if p.spec.name not in stored]
    if existing.status in _SEALED and missing:
        return (
            f"{request.label} is already {existing.status} without {quote_names(missing)}; "
            "bump the version to publish a different set of assets"
        )
    return None


def _result(state: VersionState, plans: Sequence[_Planned]) -> PublishResult:
    return PublishResult(state, tuple(p.sha256 or "" for p in plans))


def _plan(spec: AssetSpec, source: ObjectSource) -> _Planned:
    info = source.head(spec)
    if spec.size is not None and info.size != spec.size:
        raise PublishFailed(
            f"asset {spec.name!r}: {spec.location} has {info.size} bytes, synth saw "
            f"{spec.size}: the object changed since synth"
        )
    if spec.sha256 and info.stored_sha256 and spec.sha256 != info.stored_sha256:
        raise PublishFailed(spec.sha256_mismatch(info.stored_sha256))
    return _Planned(spec, info, spec.sha256 or info.stored_sha256)


def _opener(source: ObjectSource, plan: _Planned) -> Callable[[], Readable]:
    return lambda: source.open(plan.spec, plan.info)


class _Checks:
    """The cancellation checks of one run: after an asset at most every few seconds (many
    handlers of one stack share CloudFormation's API rate), and always after the last."""

    def __init__(self, check: Callable[[], None]) -> None:
        self._check = check
        self._last = time.monotonic()

    def now(self) -> None:
        self._check()
        self._last = time.monotonic()

    def if_due(self) -> None:
        if time.monotonic() - self._last >= _BETWEEN_CHECKS_SECONDS:
            self.now()


@dataclass(frozen=True)
class _Sending:
    """Where assets come from and go to, and the bounds of this invocation."""

    source: ObjectSource
    store: PackageVersionStore
    spool_dir: str | None
    deadline: Deadline
    pacing: Pacing | None
    #: At most one asset spools at a time: /tmp holds one object, as the construct sized it.
    spooling: threading.Lock = field(default_factory=threading.Lock)


def _publish_missing(
    request: VersionRequest,
    plans: Sequence[_Planned],
    sending: _Sending,
    stored: dict[str, StoredAsset],
    after_each: Callable[[], None],
    parallel: int,
) -> VersionState | None:
    """Publish every planned asset the version lacks: the first alone when it creates the
    version, the others but the final one ``parallel`` at a time, the final one last."""
    todo = [p for p in plans if p.spec.name not in stored]
    if not todo:
        return None
    checks = _Checks(after_each)
    started = itertools.count(1)

    def one(
        plan: _Planned, *, final: bool = False, abandon: threading.Event | None = None
    ) -> VersionState:
        size = plan.info.size
        if sending.pacing is not None and not sending.pacing.fits(size):
            if not sending.pacing.measured:
                # Nothing moved in this invocation: a later one would not do better.
                raise PublishFailed(
                    f"asset {plan.spec.name!r} ({size} bytes) cannot be published in one "
                    "invocation at the rate assumed before anything is measured"
                )
            raise PublishPaused(f"asset {plan.spec.name!r} ({size} bytes) left for later")
        sending.deadline.check(
            f"starting asset {plan.spec.name!r} ({next(started)} of {len(todo)} to publish)"
        )
        # Only a Published target is reached by the last publish itself; Unlisted and Archived
        # are set afterwards, so the version is never visible as Published on the way.
        unfinished = not (final and request.status == Status.PUBLISHED)
        with sending.pacing.publishing(size) if sending.pacing else nullcontext():
            return _publish_one(plan, sending, unfinished, abandon)

    *middle, final = todo
    if middle and not stored:
        # The first publish creates the version: alone, so no two requests race to create it.
        one(middle.pop(0))
        checks.if_due()
    _in_parallel(middle, one, checks, parallel)
    state = one(final, final=True)
    checks.now()
    return state


def _in_parallel(
    plans: Sequence[_Planned],
    one: Callable[..., VersionState],
    checks: _Checks,
    parallel: int,
) -> None:
    """Publish ``plans`` at most ``parallel`` at a time, each read once. On the first failure
    (or cancellation) nothing more starts, assets in flight are abandoned at their next chunk,
    and once every one has ended that first failure is raised: the cleanup that follows never
    races a publish of this run."""
    if len(plans) < 2 or parallel < 2:
        for plan in plans:
            one(plan)
            checks.if_due()
        return
    abandon = threading.Event()

    paused: list[PublishPaused] = []

    def attempt(plan: _Planned) -> None:
        # Set by the failing thread itself, before it takes the next asset from the queue.
        if abandon.is_set():
            raise AssetAbandoned(f"asset {plan.spec.name!r} not started")
        try:
            one(plan, abandon=abandon)
        except PublishPaused as pause:  # the others in flight go on
            paused.append(pause)
        except BaseException:
            abandon.set()
            raise

    failures: list[BaseException] = []
    with ThreadPoolExecutor(min(parallel, len(plans)), thread_name_prefix="asset") as pool:
        for future in as_completed([pool.submit(attempt, plan) for plan in plans]):
            try:
                future.result()
                if not abandon.is_set():
                    checks.if_due()
            except BaseException as error:  # raised once every asset in flight has ended
                abandon.set()
                failures.append(error)
    if failures:
        # The cause, not the assets abandoned because of it.
        raise next((f for f in failures if not isinstance(f, AssetAbandoned)), failures[0])
    if paused:
        raise PublishPaused(f"{len(paused)} assets left for later, e.g. {paused[0]}")


def _publish_one(
    plan: _Planned, sending: _Sending, unfinished: bool, abandon: threading.Event | None
) -> VersionState:
    spec, info = plan.spec, plan.info
    source, store = sending.source, sending.store
    progress = Progress(spec.name, info.size, sending.deadline, abandon=abandon)
    if plan.sha256 is not None:
        sha256 = plan.sha256
        path = "stream-declared-sha256" if spec.sha256 else "stream-s3-checksum"
        body = HashingBody(
            _opener(source, plan),
            info.size,
            expected_sha256=sha256,
            progress=progress,
            describe_mismatch=spec.sha256_mismatch if spec.sha256 else None,
        )
        with closing(body):
            try:
                state = store.publish(spec.name, body, sha256, unfinished=unfinished)
            except ClientError as error:
                raise AssetPublishFailed(spec.name, error) from error
            except Exception:
                # botocore wraps errors raised while sending the body; ours is the reason.
                if body.failure is not None:
                    raise body.failure from None
                raise
    else:
        path = "spool-tmp"
        with sending.spooling:
            spooled, sha256 = spool(_opener(source, plan), info.size, progress, sending.spool_dir)
            plan.sha256 = sha256
            with spooled:
                try:
                    state = store.publish(spec.name, spooled, sha256, unfinished=unfinished)
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


def _settle_status(
    request: VersionRequest, store: PackageVersionStore, state: VersionState | None
) -> VersionState:
    """Move the version to the requested status (optimistic locking on status and revision)."""
    current = state or store.describe()
    if current is None:  # pragma: no cover - a version we just published cannot vanish
        raise PublishFailed(f"{request.label} disappeared while publishing")
    if current.status == request.status:
        return current
    if request.status == Status.UNFINISHED:
        raise PublishFailed(
            f"{request.label} is {current.status} and can never return to Unfinished; "
            "declare another status or bump the version"
        )
    return store.set_status(request.status, expected=current)


def _settled_within_margin(
    request: VersionRequest,
    store: PackageVersionStore,
    plans: Sequence[_Planned],
    error: ClientError,
    deadline: Deadline,
) -> PublishResult | None:
    """:func:`_settled_by_another_writer`, given up (None) when the margin runs out."""
    try:
        with deadline.margin(_CLEANUP_MARGIN_SECONDS):
            return _settled_by_another_writer(request, store, plans, error)
    except Exception as failure:
        log_line("settled_check_failed", version=request.label, reason=reason_for(failure))
        return None


def _settled_by_another_writer(
    request: VersionRequest,
    store: PackageVersionStore,
    plans: Sequence[_Planned],
    error: ClientError,
) -> PublishResult | None:
    """After a ConflictException: the version may already be exactly what we declared.

    That happens when another writer (or a retried request the server had already
    committed) finished it meanwhile; then there is nothing left to do.
    """
    if client_error_code(error) != "ConflictException" or any(p.sha256 is None for p in plans):
        return None
    state = store.describe()
    if state is None or state.status != request.status:
        return None
    stored = {name: asset.sha256 for name, asset in store.assets().items()}
    if stored != {p.spec.name: p.sha256 for p in plans}:
        return None
    log_line("settled_meanwhile", version=request.label, revision=state.revision)
    return _result(state, plans)


def _remove_leftover(
    request: VersionRequest,
    store: PackageVersionStore,
    plans: Sequence[_Planned],
    deadline: Deadline,
    cause: BaseException,
) -> None:
    """Best effort, within the margin: delete the version this failed run created (found
    absent, then written): Unfinished, or any status when CloudFormation cancelled the operation.
    The original failure is what gets reported."""
    declared = {p.spec.name for p in plans}
    sealed_too = isinstance(cause, OperationCancelled)
    try:
        with deadline.margin(_CLEANUP_MARGIN_SECONDS):
            outcome = discard(store, declared, sealed_too=sealed_too)
    except Exception as error:
        log_line("cleanup_failed", version=request.label, reason=reason_for(error))
        return
    log_line("cleanup", version=request.label, outcome=outcome, cause=reason_for(cause))
