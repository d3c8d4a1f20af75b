"""Lifecycle semantics of the plain functions: status changes, replacement and removal."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from codeartifact_generic.handler.codeartifact_repository import PackageVersionRepository
from codeartifact_generic.handler.contract import ResourceId
from codeartifact_generic.handler.errors import PublishFailed
from codeartifact_generic.handler.operations import (
    PublishResult,
    discard_created_since,
    owned_by,
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


def _remove(servers: Servers, request: VersionRequest, *, owned: bool = True) -> str:
    repository = PackageVersionRepository(servers.codeartifact_client(), request)
    return remove(request, repository, owned=owned)


def _state(servers: Servers, request: VersionRequest) -> str | None:
    state = PackageVersionRepository(servers.codeartifact_client(), request).describe()
    return None if state is None else state.status


@pytest.mark.parametrize("target", ["Unlisted", "Archived", "Unfinished"])
def test_a_new_version_reaches_the_requested_status(
    servers: Servers, repo: Repo, target: str
) -> None:
    result = _publish(servers, repo, _request(repo, status=target))
    assert result.state.status == target == _state(servers, _request(repo))


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


def test_existing_identical_version_is_left_as_it_is(servers: Servers, repo: Repo) -> None:
    # GIVEN a Published version
    first = _publish(servers, repo, _request(repo))
    # WHEN the same version is published again (a redelivery, another stack)
    again = _publish(servers, repo, _request(repo))
    # THEN nothing is written: same revision
    assert again.state.revision == first.state.revision


def test_replace_existing_republishes_other_bytes(servers: Servers, repo: Repo) -> None:
    # GIVEN version 1.0.0 with old bytes
    _publish(servers, repo, _request(repo, b"old"), b"old")
    # WHEN the same version is declared with new bytes and replace_existing
    before = datetime.now(UTC)
    result = _publish(servers, repo, _request(repo, b"new", replace_existing=True), b"new")
    # THEN it holds the new bytes and is dated now: the resource owns it
    assets = PackageVersionRepository(servers.codeartifact_client(), _request(repo)).assets()
    assert assets["a.bin"].sha256 == hashlib.sha256(b"new").hexdigest()
    assert result.state.status == "Published"
    state = PackageVersionRepository(servers.codeartifact_client(), _request(repo)).describe()
    assert state is not None
    assert owned_by(state, ResourceId("x/y", before - timedelta(milliseconds=1)))


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
    assert "existed before" in _remove(servers, request, owned=False)
    assert _state(servers, request) == "Published"
    _remove(servers, dataclasses.replace(request, remove_adopted=True), owned=False)
    assert _state(servers, request) is None


def test_removing_a_version_that_is_gone_succeeds(servers: Servers, repo: Repo) -> None:
    assert _remove(servers, _request(repo, removal_policy="Destroy")) == "already gone"


@pytest.mark.parametrize(
    ("offset", "owned"),
    [(timedelta(seconds=-5), True), (timedelta(0), True), (timedelta(seconds=5), False)],
)
def test_a_resource_owns_what_was_dated_at_or_after_its_creation(
    servers: Servers, repo: Repo, offset: timedelta, owned: bool
) -> None:
    # GIVEN a version CodeArtifact dates at publishedTime
    _publish(servers, repo, _request(repo))
    state = PackageVersionRepository(servers.codeartifact_client(), _request(repo)).describe()
    assert state is not None and state.published_time is not None
    # WHEN a resource created ``offset`` after that asks whether it owns the version
    resource = ResourceId("id", state.published_time + offset)
    # THEN it owns it only when the version is not older than the resource
    assert owned_by(state, resource) is owned


@pytest.mark.parametrize(("adopted", "owned"), [(False, True), (True, False)])
def test_legacy_ids_keep_their_adoption_marker(
    servers: Servers, repo: Repo, adopted: bool, owned: bool
) -> None:
    _publish(servers, repo, _request(repo))
    state = PackageVersionRepository(servers.codeartifact_client(), _request(repo)).describe()
    assert state is not None
    legacy = ResourceId.parse(
        "123456789012/d/r/generic/n/p/1.0.0" + ("#adopted" if adopted else "")
    )
    assert owned_by(state, legacy) is owned


@pytest.mark.parametrize("status", ["Unfinished", "Published"])
def test_discarding_deletes_what_was_created_since(
    servers: Servers, repo: Repo, status: str
) -> None:
    # GIVEN a version created after the moment a failed operation began
    since = datetime.now(UTC) - timedelta(milliseconds=1)
    _publish(servers, repo, _request(repo, status=status))
    # WHEN what the operation created is discarded
    done = discard_created_since(
        _request(repo),
        PackageVersionRepository(servers.codeartifact_client(), _request(repo)),
        since,
    )
    # THEN the version goes, whatever its status
    assert done == f"deleted the {status} version"
    assert _state(servers, _request(repo)) is None


def test_discarding_keeps_a_version_that_existed_before(servers: Servers, repo: Repo) -> None:
    # GIVEN a version published before the failed operation began
    _publish(servers, repo, _request(repo))
    since = datetime.now(UTC) + timedelta(seconds=1)
    # WHEN the operation's leftovers are discarded
    done = discard_created_since(
        _request(repo),
        PackageVersionRepository(servers.codeartifact_client(), _request(repo)),
        since,
    )
    # THEN it is kept
    assert done.startswith("kept: the Published version existed before")
    assert _state(servers, _request(repo)) == "Published"


def test_discarding_keeps_a_version_holding_assets_not_declared(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN a new version holding a.bin, and a resource that declares only b.bin
    since = datetime.now(UTC) - timedelta(milliseconds=1)
    _publish(servers, repo, _request(repo))
    other = _request(repo)
    other = dataclasses.replace(other, assets=(dataclasses.replace(other.assets[0], name="b.bin"),))
    # WHEN that resource discards what was created since
    done = discard_created_since(
        other, PackageVersionRepository(servers.codeartifact_client(), other), since
    )
    # THEN it is kept: someone else's assets
    assert done.startswith("kept: it holds assets this resource does not declare")
    assert _state(servers, other) == "Published"
