"""Lifecycle semantics of the plain functions: status changes, replacement and removal."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from codeartifact_generic.handler.codeartifact_repository import PackageVersionRepository
from codeartifact_generic.handler.errors import PublishFailed
from codeartifact_generic.handler.operations import (
    PublishResult,
    discard_leftover,
    publish,
    remove,
)
from codeartifact_generic.handler.properties import AssetSpec, VersionRequest
from codeartifact_generic.handler.s3_source import S3ObjectSource

from .conftest import ACCOUNT, Repo, Servers


def _request(repo: Repo, data: bytes = b"payload", **changes: Any) -> VersionRequest:
    request = VersionRequest(
        domain=repo.domain,
        domain_owner=ACCOUNT,
        repository=repo.repository,
        namespace="tools",
        package="mycli",
        version="1.0.0",
        status="Published",
        assets=(
            AssetSpec(
                name="a.bin",
                bucket=repo.bucket,
                key="k/a.bin",
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
            ),
        ),
    )
    return dataclasses.replace(request, **changes)


def _publish(
    servers: Servers,
    repo: Repo,
    request: VersionRequest,
    data: bytes = b"payload",
) -> PublishResult:
    servers.s3_client().put_object(Bucket=repo.bucket, Key="k/a.bin", Body=data)
    return publish(
        request,
        S3ObjectSource(servers.s3_client()),
        PackageVersionRepository(servers.codeartifact_client(), request),
    )


def _remove(
    servers: Servers, request: VersionRequest, *, adopted: bool = False, rolling_back: bool = False
) -> str:
    repository = PackageVersionRepository(servers.codeartifact_client(), request)
    return remove(request, repository, adopted=adopted, rolling_back=rolling_back)


def _state(servers: Servers, request: VersionRequest) -> str | None:
    state = PackageVersionRepository(servers.codeartifact_client(), request).describe()
    return None if state is None else state.status


@pytest.mark.parametrize("target", ["Unlisted", "Archived", "Unfinished"])
def test_a_new_version_reaches_the_requested_status(
    servers: Servers, repo: Repo, target: str
) -> None:
    result = _publish(servers, repo, _request(repo, status=target))
    assert result.state.status == target == _state(servers, _request(repo))
    assert result.adopted is False


def test_status_change_uses_expected_status_and_revision(servers: Servers, repo: Repo) -> None:
    # GIVEN a Published version
    first = _publish(servers, repo, _request(repo))
    seen: list[dict[str, Any]] = []

    def record(operation: str, request: Any) -> None:
        if operation == "UpdatePackageVersionsStatus":
            seen.append(dict(request.params))

    servers.emulator.before_dispatch.append(record)
    try:
        # WHEN the stack now declares it Archived
        archived = _publish(servers, repo, _request(repo, status="Archived"))
    finally:
        servers.emulator.before_dispatch.remove(record)
    # THEN one optimistic-locking status update moved it, and the revision changed
    assert archived.state.status == "Archived"
    assert archived.state.revision != first.state.revision
    assert len(seen) == 1
    assert seen[0]["expectedStatus"] == "Published"
    assert seen[0]["versionRevisions"] == {"1.0.0": first.state.revision}
    # AND back to Published works too
    assert _publish(servers, repo, _request(repo)).state.status == "Published"


def test_published_never_goes_back_to_unfinished(servers: Servers, repo: Repo) -> None:
    _publish(servers, repo, _request(repo))
    with pytest.raises(PublishFailed, match="can never return to Unfinished"):
        _publish(servers, repo, _request(repo, status="Unfinished"))
    assert _state(servers, _request(repo)) == "Published"


def test_existing_identical_version_is_adopted(servers: Servers, repo: Repo) -> None:
    _publish(servers, repo, _request(repo))
    assert _publish(servers, repo, _request(repo)).adopted is True


def test_replace_existing_republishes_other_bytes(servers: Servers, repo: Repo) -> None:
    # GIVEN version 1.0.0 with old bytes
    _publish(servers, repo, _request(repo, b"old"), b"old")
    # WHEN the same version is declared with new bytes and replace_existing
    result = _publish(servers, repo, _request(repo, b"new", replace_existing=True), b"new")
    # THEN it holds the new bytes and counts as created by this resource
    assets = PackageVersionRepository(servers.codeartifact_client(), _request(repo)).assets()
    assert assets["a.bin"].sha256 == hashlib.sha256(b"new").hexdigest()
    assert (result.state.status, result.adopted) == ("Published", False)


def test_retain_keeps_the_version(servers: Servers, repo: Repo) -> None:
    _publish(servers, repo, _request(repo))
    assert _remove(servers, _request(repo)).startswith("retained")
    assert _state(servers, _request(repo)) == "Published"


@pytest.mark.parametrize(
    ("on_delete", "expected"),
    [("Delete", None), ("Dispose", "Disposed"), ("Archive", "Archived"), ("Unlist", "Unlisted")],
)
def test_destroy_applies_on_delete(
    servers: Servers, repo: Repo, on_delete: str, expected: str | None
) -> None:
    request = _request(repo, removal_policy="Destroy", on_delete=on_delete)
    _publish(servers, repo, request)
    _remove(servers, request)
    assert _state(servers, request) == expected


def test_adopted_version_survives_destroy_unless_asked(servers: Servers, repo: Repo) -> None:
    request = _request(repo, removal_policy="Destroy")
    _publish(servers, repo, request)
    assert "existed before" in _remove(servers, request, adopted=True)
    assert _state(servers, request) == "Published"
    _remove(servers, dataclasses.replace(request, remove_adopted=True), adopted=True)
    assert _state(servers, request) is None


def test_rollback_removes_what_this_deployment_created_whatever_the_policy(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN a version created by the deployment now rolling back, under the Retain policy
    _publish(servers, repo, _request(repo))
    # WHEN its rollback Delete arrives
    outcome = _remove(servers, _request(repo), rolling_back=True)
    # THEN it is deleted: the package is as it was before the deployment
    assert outcome == "deleted"
    assert _state(servers, _request(repo)) is None


def test_rollback_keeps_an_adopted_version(servers: Servers, repo: Repo) -> None:
    _publish(servers, repo, _request(repo, removal_policy="Destroy"))
    assert _remove(
        servers, _request(repo, removal_policy="Destroy"), adopted=True, rolling_back=True
    ).startswith("kept")
    assert _state(servers, _request(repo)) == "Published"


def test_removing_a_version_that_is_gone_succeeds(servers: Servers, repo: Repo) -> None:
    assert _remove(servers, _request(repo, removal_policy="Destroy")) == "already gone"


def _discard(
    servers: Servers,
    request: VersionRequest,
    span: tuple[datetime, datetime] | None = None,
    data: bytes | None = b"payload",
) -> str:
    """discard_leftover for a failed run that wrote a.bin with ``data`` (None: bytes whose
    SHA256 nobody knows), in its own cleanup (no ``span``) or at its rollback."""
    sha256 = hashlib.sha256(data).hexdigest() if data is not None else None
    repository = PackageVersionRepository(servers.codeartifact_client(), request)
    return discard_leftover(request, repository, sha256s={"a.bin": sha256}, published_between=span)


def _span_around_now() -> tuple[datetime, datetime]:
    return datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("status", "at_rollback", "outcome"),
    [
        ("Unfinished", False, "deleted the Unfinished version"),
        ("Unfinished", True, "deleted the Unfinished version"),
        ("Published", True, "deleted the Published version"),
        ("Published", False, "kept: it is Published"),
    ],
)
def test_discarding_what_the_failed_run_left(
    servers: Servers, repo: Repo, status: str, at_rollback: bool, outcome: str
) -> None:
    # GIVEN a run that found 1.0.0 absent, then a.bin that landed (leaving the version
    # Unfinished, or Published when it was the last asset)
    span = _span_around_now()
    _publish(servers, repo, _request(repo, status=status))
    # WHEN the leftover is discarded by the run's own cleanup, or at its rollback
    done = _discard(servers, _request(repo), span if at_rollback else None)
    # THEN an Unfinished version goes either way, a sealed one only at the rollback (the run's
    # own cleanup cannot tell it from a version another stack just published)
    assert done == outcome
    assert _state(servers, _request(repo)) == (status if done.startswith("kept") else None)


@pytest.mark.parametrize("written", [b"other bytes", None])
def test_discarding_keeps_bytes_the_failed_run_did_not_write(
    servers: Servers, repo: Repo, written: bytes | None
) -> None:
    # GIVEN an Unfinished 1.0.0 holding a.bin ("payload"), published during the run
    span = _span_around_now()
    _publish(servers, repo, _request(repo, status="Unfinished"))
    # WHEN the leftover of a run that wrote other bytes (or bytes of unknown SHA256) is
    # discarded
    done = _discard(servers, _request(repo), span, written)
    # THEN it is kept: someone else wrote it
    assert done == "kept: it holds other bytes than the failed run wrote"
    assert _state(servers, _request(repo)) == "Unfinished"


@pytest.mark.parametrize("shift", [timedelta(seconds=60), timedelta(minutes=-30)])
def test_discarding_keeps_a_version_published_outside_the_failed_run(
    servers: Servers, repo: Repo, shift: timedelta
) -> None:
    # GIVEN 1.0.0 Published with exactly the bytes, long before or long after the failed run
    _publish(servers, repo, _request(repo))
    began, ended = _span_around_now()
    # WHEN its rollback discards the leftover
    done = _discard(servers, _request(repo), (began + shift, ended + shift))
    # THEN it is kept
    assert done.startswith("kept: Published since ") and done.endswith("outside the failed run")
    assert _state(servers, _request(repo)) == "Published"


def test_discarding_a_sealed_version_needs_every_asset_to_be_the_runs(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN a Published 1.0.0 holding a.bin, and a run that wrote a.bin and b.bin
    span = _span_around_now()
    _publish(servers, repo, _request(repo))
    request = _request(repo)
    repository = PackageVersionRepository(servers.codeartifact_client(), request)
    both = {"a.bin": hashlib.sha256(b"payload").hexdigest(), "b.bin": "0" * 64}
    # WHEN its rollback discards the leftover
    done = discard_leftover(request, repository, sha256s=both, published_between=span)
    # THEN it is kept: a Published version with fewer assets is not what the run published
    assert done == "kept: it holds another set of assets than the failed run wrote"
    assert _state(servers, request) == "Published"
