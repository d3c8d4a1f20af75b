"""Create / update / delete of a generic package version, free of CloudFormation details.

``publish`` is the one workflow behind Create and Update: it is idempotent (a version that
already holds exactly the declared assets is left alone), resumes an Unfinished version from
what CodeArtifact reports, and removes an Unfinished version it created itself when it fails,
so no deployment leaves a half-published version behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass

from . import contract
from .codeartifact_repository import PackageVersionRepository, StoredAsset, VersionState
from .contract import Status
from .errors import PublishFailed, reason_for
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


@dataclass
class _Planned:
    spec: AssetSpec
    info: ObjectInfo
    #: SHA256 known before any byte is read: declared at synth or stored by S3.
    sha256: str | None


def publish(
    request: VersionRequest,
    source: S3ObjectSource,
    repository: PackageVersionRepository,
    *,
    spool_dir: str | None = None,
) -> PublishResult:
    """Make CodeArtifact hold ``request``'s version with exactly its assets and status."""
    existing = repository.describe()
    stored = repository.assets() if existing is not None else {}
    if existing is not None and existing.status not in (Status.UNFINISHED, Status.PUBLISHED):
        raise PublishFailed(
            f"{request.label} already exists with status {existing.status}; "
            "bump the version to publish new assets"
        )
    _reject_foreign_assets(request, stored)
    plans = [_plan(spec, source) for spec in request.assets]
    _reject_changed(request, [(p.spec, p.sha256) for p in plans], stored)

    if existing is not None and existing.status != Status.UNFINISHED:
        # Published: assets can no longer be added, so every one must already match.
        sha256s = _verify_all_stored(request, plans, source, stored)
        log_line("already_published", version=request.label, revision=existing.revision)
        return PublishResult(existing, sha256s)

    try:
        state, sha256s = _publish_missing(request, plans, source, repository, stored, spool_dir)
        if state is None or state.status != request.status:
            state = _finish(request, repository, state)
    except BaseException as error:
        if existing is None:
            _remove_unfinished(request, repository, error)
        raise
    return PublishResult(state, sha256s)


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


def _reject_foreign_assets(request: VersionRequest, stored: dict[str, StoredAsset]) -> None:
    foreign = sorted(set(stored) - {a.name for a in request.assets})
    if foreign:
        raise PublishFailed(
            f"{request.label} already holds assets this stack does not declare: "
            f"{_names(foreign)}; bump the version or declare them"
        )


def _reject_changed(
    request: VersionRequest,
    known: Sequence[tuple[AssetSpec, str | None]],
    stored: dict[str, StoredAsset],
) -> None:
    changed = [
        spec.name
        for spec, sha256 in known
        if sha256 and spec.name in stored and stored[spec.name].sha256 != sha256
    ]
    if changed:
        raise PublishFailed(
            f"{request.label} already exists and the SHA256 of {_names(changed)} differs "
            "from what CodeArtifact holds; bump the version to publish the new bytes"
        )


def _verify_all_stored(
    request: VersionRequest,
    plans: Sequence[_Planned],
    source: S3ObjectSource,
    stored: dict[str, StoredAsset],
) -> tuple[str, ...]:
    missing = [p.spec.name for p in plans if p.spec.name not in stored]
    if missing:
        raise PublishFailed(
            f"{request.label} is already Published without {_names(missing)}; "
            "bump the version to publish a different set of assets"
        )
    sha256s = [p.sha256 or _hash_object(p, source) for p in plans]
    _reject_changed(request, [(p.spec, h) for p, h in zip(plans, sha256s, strict=True)], stored)
    return tuple(sha256s)


def _publish_missing(
    request: VersionRequest,
    plans: Sequence[_Planned],
    source: S3ObjectSource,
    repository: PackageVersionRepository,
    stored: dict[str, StoredAsset],
    spool_dir: str | None,
) -> tuple[VersionState | None, tuple[str, ...]]:
    sha256s: list[str] = []
    todo = [p for p in plans if p.spec.name not in stored]
    state: VersionState | None = None
    for plan in plans:
        if plan.spec.name in stored:
            # Resuming: the stored copy must be these bytes (hash them if nobody knows).
            sha256 = plan.sha256 or _hash_object(plan, source)
            _reject_changed(request, [(plan.spec, sha256)], stored)
            sha256s.append(sha256)
            continue
        last = plan is todo[-1]
        unfinished = not (last and request.status == Status.PUBLISHED)
        state, sha256 = _publish_one(plan, source, repository, unfinished, spool_dir)
        sha256s.append(sha256)
    return state, tuple(sha256s)


def _publish_one(
    plan: _Planned,
    source: S3ObjectSource,
    repository: PackageVersionRepository,
    unfinished: bool,
    spool_dir: str | None,
) -> tuple[VersionState, str]:
    spec, info = plan.spec, plan.info
    progress = Progress(spec.name, info.size)
    if plan.sha256 is not None:
        path = "stream-declared-sha256" if spec.sha256 else "stream-s3-checksum"
        body = HashingBody(
            lambda: source.open(spec, info),
            info.size,
            expected_sha256=plan.sha256,
            progress=progress,
        )
        with closing(body):
            try:
                state = repository.publish(spec.name, body, plan.sha256, unfinished=unfinished)
            except Exception:
                # botocore wraps errors raised while sending the body; ours is the reason.
                if body.mismatch is not None:
                    raise body.mismatch from None
                raise
        sha256 = plan.sha256
    else:
        path = "spool-tmp"
        spooled, sha256 = spool(source.open(spec, info), progress, spool_dir)
        with spooled:
            state = repository.publish(spec.name, spooled, sha256, unfinished=unfinished)
    log_line(
        "asset_published",
        asset=spec.name,
        size=info.size,
        sha256=sha256,
        seconds=round(progress.elapsed, 3),
        path=path,
        status=state.status,
    )
    return state, sha256


def _hash_object(plan: _Planned, source: S3ObjectSource) -> str:
    progress = Progress(plan.spec.name, plan.info.size)
    return hash_only(source.open(plan.spec, plan.info), progress)


def _finish(
    request: VersionRequest, repository: PackageVersionRepository, state: VersionState | None
) -> VersionState:
    current = state or repository.describe()
    if current is None:  # pragma: no cover - a version we just published cannot vanish
        raise PublishFailed(f"{request.label} disappeared while publishing")
    if current.status == Status.UNFINISHED and request.status == Status.PUBLISHED:
        current = repository.set_status(Status.PUBLISHED, expected=current)
    if current.status != request.status:
        raise PublishFailed(
            f"{request.label} is {current.status} and cannot become {request.status}"
        )
    return current


def _remove_unfinished(
    request: VersionRequest, repository: PackageVersionRepository, cause: BaseException
) -> None:
    """Best effort: delete the Unfinished version this failed run created."""
    try:
        deleted = repository.delete(expected_status=Status.UNFINISHED)
    except Exception as error:  # the original failure is what matters
        log_line("cleanup_failed", version=request.label, reason=reason_for(error))
        return
    if deleted:
        log_line("cleanup_deleted_unfinished", version=request.label, cause=reason_for(cause))


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
    for index, sha256 in enumerate(result.sha256s):
        candidate = {**data, attr.asset_sha256(index): sha256}
        if not fits(candidate):
            data[attr.ASSET_HASHES_TRUNCATED] = "true"
            break
        data = candidate
    return data
