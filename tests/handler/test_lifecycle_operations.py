"""Lifecycle semantics of the plain functions: status changes, replacement and removal."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
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
    operation_started: Callable[[], datetime | None] = lambda: None,
) -> PublishResult:
    servers.s3_client().put_object(Bucket=repo.bucket, Key="k/a.bin", Body=data)
    return publish(
        request,
        S3ObjectSource(servers.s3_client()),
        PackageVersionRepository(servers.codeartifact_client(), request),
        operation_started=operation_started,
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


def test_a_version_published_before_the_stack_operation_began_is_adopted(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN version 1.0.0 published by someone, then a stack operation that began afterwards
    _publish(servers, repo, _request(repo))
    time.sleep(0.01)
    began = datetime.now(UTC)
    # WHEN the operation's Create finds it holding exactly the declared bytes
    result = _publish(servers, repo, _request(repo), operation_started=lambda: began)
    # THEN it is adopted: it existed before this resource
    assert result.adopted is True


def test_a_version_published_since_the_stack_operation_began_is_this_operations_own(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN a stack operation that began, then published 1.0.0 (a first delivery of Create)
    began = datetime.now(UTC)
    time.sleep(0.01)
    first = _publish(servers, repo, _request(repo), operation_started=lambda: began)
    # WHEN the same Create is delivered again
    again = _publish(servers, repo, _request(repo), operation_started=lambda: began)
    # THEN both count the version as created by this resource (the same physical id follows)
    assert (first.adopted, again.adopted) == (False, False)
    assert again.state.revision == first.state.revision


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


@pytest.mark.parametrize(
    ("declared", "outcome", "left"),
    [
        (b"payload", "deleted the Unfinished version", None),
        (b"other bytes", "kept: it holds other bytes than the declared ones", "Unfinished"),
    ],
)
def test_discarding_an_unfinished_version_only_deletes_the_declared_bytes(
    servers: Servers, repo: Repo, declared: bytes, outcome: str, left: str | None
) -> None:
    # GIVEN an Unfinished 1.0.0 holding a.bin ("payload")
    _publish(servers, repo, _request(repo, status="Unfinished"))
    # WHEN a failed Create declaring a.bin with ``declared`` bytes discards what it left
    request = _request(repo, declared)
    done = discard_leftover(
        request, PackageVersionRepository(servers.codeartifact_client(), request)
    )
    # THEN only a version holding exactly the declared bytes is deleted
    assert done == outcome
    assert _state(servers, request) == left


def test_discarding_keeps_a_version_holding_undeclared_assets_or_already_published(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN an Unfinished 1.0.0 holding a.bin, and a request that declares only b.bin
    _publish(servers, repo, _request(repo, status="Unfinished"))
    other = dataclasses.replace(
        _request(repo), assets=(dataclasses.replace(_request(repo).assets[0], name="b.bin"),)
    )
    repository = PackageVersionRepository(servers.codeartifact_client(), other)
    # WHEN it is discarded; THEN it is kept, as is a version that was Published meanwhile
    assert discard_leftover(other, repository) == (
        "kept: it holds assets this stack does not declare"
    )
    _publish(servers, repo, _request(repo))
    assert discard_leftover(_request(repo), repository) == (
        "kept: it is Published since before this stack operation"
    )
    assert _state(servers, _request(repo)) == "Published"


def test_discarding_deletes_a_version_published_since_the_stack_operation_began(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN a stack operation that began, then a publish of 1.0.0 that landed after its run
    # had given up (and answered FAILED)
    began = datetime.now(UTC)
    time.sleep(0.01)
    _publish(servers, repo, _request(repo))
    request = _request(repo)
    repository = PackageVersionRepository(servers.codeartifact_client(), request)
    # WHEN the rollback discards what the failed run left
    done = discard_leftover(request, repository, operation_started=lambda: began)
    # THEN the Published version holding exactly the declared bytes is deleted
    assert done == "deleted the Published version"
    assert _state(servers, request) is None
