"""The publishing and removal workflows on the wire: the boto3 adapters over HTTP against moto
S3 and the CodeArtifact emulator.

What only the wire can prove: bodies streamed through botocore (and not retried when they
cannot succeed), S3's stored checksums and error answers, CodeArtifact's own answers
(ResourceNotFound, ConflictException, ``publishedTime``, the parameters of status changes and
deletions). The rules themselves are tested over fakes in ``test_publishing.py`` and
``test_removal.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from codeartifact_generic.handler.codeartifact import CodeArtifactVersion
from codeartifact_generic.handler.contract import ResourceId
from codeartifact_generic.handler.errors import PublishFailed
from codeartifact_generic.handler.ports import ObjectInfo
from codeartifact_generic.handler.properties import AssetSpec, VersionRequest
from codeartifact_generic.handler.publishing import PublishResult, publish
from codeartifact_generic.handler.removal import discard_created_since, owned_by, remove
from codeartifact_generic.handler.s3_source import S3ObjectSource
from codeartifact_generic.handler.streams import AssetContentMismatch, Readable

from .conftest import ACCOUNT, Repo, Servers
from .fakes import version_request


def _request(
    repo: Repo, assets: list[AssetSpec], *, version: str = "1.0.0", status: str = "Published"
) -> VersionRequest:
    return version_request(
        *assets,
        domain=repo.domain,
        domain_owner=ACCOUNT,
        repository=repo.repository,
        version=version,
        status=status,
    )


def _put(servers: Servers, repo: Repo, key: str, data: bytes, **extra: Any) -> None:
    servers.s3_client().put_object(Bucket=repo.bucket, Key=key, Body=data, **extra)


def _spec(repo: Repo, name: str, data: bytes | None, *, declare: bool = True) -> AssetSpec:
    return AssetSpec(
        name=name,
        bucket=repo.bucket,
        key=f"k/{name}",
        sha256=hashlib.sha256(data).hexdigest() if (declare and data is not None) else None,
        size=len(data) if (declare and data is not None) else None,
    )


class CountingSource(S3ObjectSource):
    """The real S3 source, counting how often an object is opened for reading."""

    opened = 0

    def open(self, asset: AssetSpec, info: ObjectInfo) -> Readable:
        self.opened += 1
        return super().open(asset, info)


def _run(
    servers: Servers, request: VersionRequest, source: S3ObjectSource | None = None
) -> PublishResult:
    return publish(
        request,
        source or S3ObjectSource(servers.s3_client()),
        CodeArtifactVersion(servers.codeartifact_client(), request),
    )


def _store(servers: Servers, request: VersionRequest) -> CodeArtifactVersion:
    return CodeArtifactVersion(servers.codeartifact_client(), request)


def _coordinates(request: VersionRequest) -> dict[str, Any]:
    """The requested version, as CodeArtifact's API names it."""
    return {
        "domain": request.domain,
        "repository": request.repository,
        "format": "generic",
        "namespace": request.namespace,
        "package": request.package,
        "packageVersion": request.version,
    }


def _stored(servers: Servers, request: VersionRequest) -> tuple[str, dict[str, str]]:
    client = servers.codeartifact_client()
    coords = _coordinates(request)
    status = client.describe_package_version(**coords)["packageVersion"]["status"]
    assets = client.list_package_version_assets(**coords)["assets"]
    return status, {a["name"]: a["hashes"]["SHA-256"] for a in assets}


def _absent(servers: Servers, request: VersionRequest) -> bool:
    client = servers.codeartifact_client()
    try:
        client.describe_package_version(**_coordinates(request))
    except client.exceptions.ResourceNotFoundException:
        return True
    return False


def test_publishes_all_assets_and_returns_the_revision(servers: Servers, repo: Repo) -> None:
    # GIVEN three objects in S3 whose hashes are known at synth
    blobs = {"a.tgz": b"a" * 3_000_000, "b.txt": b"bee", "c.bin": bytes(range(256)) * 99}
    for name, data in blobs.items():
        _put(servers, repo, f"k/{name}", data)
    request = _request(repo, [_spec(repo, n, d) for n, d in blobs.items()])
    # WHEN the version is published
    result = _run(servers, request)
    # THEN CodeArtifact holds a Published version with exactly those bytes
    status, stored = _stored(servers, request)
    assert status == "Published" == result.state.status
    assert stored == {n: hashlib.sha256(d).hexdigest() for n, d in blobs.items()}
    assert result.sha256s == tuple(hashlib.sha256(d).hexdigest() for d in blobs.values())
    assert result.state.revision


def test_unknown_hash_uses_spool_and_stored_checksum(servers: Servers, repo: Repo) -> None:
    # GIVEN one object without any checksum and one with S3's full-object SHA256 checksum
    plain, checked = b"plain bytes" * 1000, b"checked bytes" * 1000
    _put(servers, repo, "k/plain.bin", plain)
    _put(
        servers,
        repo,
        "k/checked.bin",
        checked,
        ChecksumSHA256=base64.b64encode(hashlib.sha256(checked).digest()).decode(),
    )
    request = _request(
        repo,
        [
            _spec(repo, "plain.bin", plain, declare=False),
            _spec(repo, "checked.bin", checked, declare=False),
        ],
    )
    # WHEN published without any declared hash
    result = _run(servers, request)
    # THEN both hashes are right
    assert result.sha256s == (
        hashlib.sha256(plain).hexdigest(),
        hashlib.sha256(checked).hexdigest(),
    )
    assert _stored(servers, request)[0] == "Published"


def test_changed_object_fails_naming_the_asset_and_leaves_nothing(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN a first asset that is fine and a second whose object changed since synth (same size)
    _put(servers, repo, "k/ok.bin", b"fine")
    _put(servers, repo, "k/model.bin", b"NEW!")
    ok = _spec(repo, "ok.bin", b"fine")
    changed = _spec(repo, "model.bin", b"old!")
    request = _request(repo, [ok, changed])
    source = CountingSource(servers.s3_client())
    # WHEN published
    with pytest.raises(AssetContentMismatch, match=r"model\.bin") as caught:
        _run(servers, request, source)
    # THEN the reason says the object changed, the request was not retried (each object read
    # once), and no (Unfinished) version is left behind
    assert "changed since synth" in str(caught.value)
    assert source.opened == 2
    assert _absent(servers, request)


def test_missing_object_fails_with_its_location(servers: Servers, repo: Repo) -> None:
    request = _request(repo, [_spec(repo, "gone.bin", b"x")])
    with pytest.raises(
        PublishFailed, match=rf"asset 'gone.bin': s3://{repo.bucket}/k/gone.bin does not exist"
    ):
        _run(servers, request)


def test_interrupted_unfinished_version_is_resumed(servers: Servers, repo: Repo) -> None:
    # GIVEN a version left Unfinished with the first of two assets (an interrupted run)
    _put(servers, repo, "k/a.bin", b"first")
    _put(servers, repo, "k/b.bin", b"second")
    _run(servers, _request(repo, [_spec(repo, "a.bin", b"first")], status="Unfinished"))
    # WHEN the full version is published
    request = _request(repo, [_spec(repo, "a.bin", b"first"), _spec(repo, "b.bin", b"second")])
    result = _run(servers, request)
    # THEN only the missing asset is added and the version is Published
    assert result.state.status == "Published"
    assert set(_stored(servers, request)[1]) == {"a.bin", "b.bin"}


def test_missing_repository_fails_clearly(servers: Servers, repo: Repo) -> None:
    _put(servers, repo, "k/a.bin", b"x")
    request = _request(Repo(repo.domain, "no-such-repo", repo.bucket), [_spec(repo, "a.bin", b"x")])
    with pytest.raises(ClientError, match=r"ResourceNotFoundException.*no-such-repo"):
        _run(servers, request)


def test_version_finished_by_another_writer_meanwhile_counts_as_success(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN a publish that races with another writer publishing the identical version
    _put(servers, repo, "k/a.bin", b"same bytes")
    request = _request(repo, [_spec(repo, "a.bin", b"same bytes")])
    other = servers.codeartifact_client()

    def other_writer_first(operation: str, _request: object) -> None:
        servers.emulator.before_dispatch.remove(other_writer_first)
        if operation == "PublishPackageVersion":
            other.publish_package_version(
                **_coordinates(request),
                assetName="a.bin",
                assetContent=b"same bytes",
                assetSHA256=hashlib.sha256(b"same bytes").hexdigest(),
            )

    servers.emulator.before_dispatch.append(other_writer_first)
    # WHEN our publish then meets a ConflictException
    result = _run(servers, request)
    # THEN it succeeds with the version as it is
    assert result.state.status == "Published"
    assert _stored(servers, request)[1] == {"a.bin": hashlib.sha256(b"same bytes").hexdigest()}


def _single(repo: Repo, data: bytes = b"payload", **changes: Any) -> VersionRequest:
    """tools/mycli@1.0.0 holding a.bin with ``data``."""
    request = _request(repo, [_spec(repo, "a.bin", data)])
    return dataclasses.replace(request, **changes)


def _publish_single(
    servers: Servers, repo: Repo, request: VersionRequest, data: bytes = b"payload"
) -> PublishResult:
    _put(servers, repo, "k/a.bin", data)
    return _run(servers, request)


def _status(servers: Servers, request: VersionRequest) -> str | None:
    state = _store(servers, request).describe()
    return None if state is None else state.status


def test_status_change_uses_expected_status_and_revision(servers: Servers, repo: Repo) -> None:
    # GIVEN a Published version
    first = _publish_single(servers, repo, _single(repo))
    seen: list[dict[str, Any]] = []

    def record(operation: str, request: Any) -> None:
        if operation == "UpdatePackageVersionsStatus":
            seen.append(dict(request.params))

    servers.emulator.before_dispatch.append(record)
    try:
        # WHEN the stack now declares it Archived
        archived = _publish_single(servers, repo, _single(repo, status="Archived"))
    finally:
        servers.emulator.before_dispatch.remove(record)
    # THEN one optimistic-locking status update moved it, and the revision changed
    assert archived.state.status == "Archived"
    assert archived.state.revision != first.state.revision
    assert len(seen) == 1
    assert seen[0]["expectedStatus"] == "Published"
    assert seen[0]["versionRevisions"] == {"1.0.0": first.state.revision}
    # AND back to Published works too
    assert _publish_single(servers, repo, _single(repo)).state.status == "Published"


def test_replace_existing_republishes_other_bytes(servers: Servers, repo: Repo) -> None:
    # GIVEN version 1.0.0 with old bytes
    _publish_single(servers, repo, _single(repo, b"old"), b"old")
    # WHEN the same version is declared with new bytes and replace_existing
    before = datetime.now(UTC)
    result = _publish_single(servers, repo, _single(repo, b"new", replace_existing=True), b"new")
    # THEN it holds the new bytes and CodeArtifact dates it now: the resource owns it
    assets = _store(servers, _single(repo)).assets()
    assert assets["a.bin"].sha256 == hashlib.sha256(b"new").hexdigest()
    assert result.state.status == "Published"
    state = _store(servers, _single(repo)).describe()
    assert state is not None
    assert owned_by(state, ResourceId("x/y", before - timedelta(milliseconds=1)))


@pytest.mark.parametrize(
    ("on_delete", "expected"),
    [("Delete", None), ("Dispose", "Disposed"), ("Archive", "Archived"), ("Unlist", "Unlisted")],
)
def test_destroy_applies_on_delete(
    servers: Servers, repo: Repo, on_delete: str, expected: str | None
) -> None:
    request = _single(repo, removal_policy="Destroy", on_delete=on_delete)
    _publish_single(servers, repo, request)
    remove(request, _store(servers, request), owned=True)
    assert _status(servers, request) == expected


@pytest.mark.parametrize(
    ("offset", "owned"),
    [(timedelta(seconds=-5), True), (timedelta(0), True), (timedelta(seconds=5), False)],
)
def test_a_resource_owns_what_was_dated_at_or_after_its_creation(
    servers: Servers, repo: Repo, offset: timedelta, owned: bool
) -> None:
    # GIVEN a version CodeArtifact dates at publishedTime
    _publish_single(servers, repo, _single(repo))
    state = _store(servers, _single(repo)).describe()
    assert state is not None and state.published_time is not None
    # WHEN a resource created ``offset`` after that asks whether it owns the version
    resource = ResourceId("id", state.published_time + offset)
    # THEN it owns it only when the version is not older than the resource
    assert owned_by(state, resource) is owned


@pytest.mark.parametrize("status", ["Unfinished", "Published"])
def test_discarding_deletes_what_was_created_since(
    servers: Servers, repo: Repo, status: str
) -> None:
    # GIVEN a version created after the moment a failed operation began
    since = datetime.now(UTC) - timedelta(milliseconds=1)
    _publish_single(servers, repo, _single(repo, status=status))
    # WHEN what the operation created is discarded
    done = discard_created_since(_single(repo), _store(servers, _single(repo)), since)
    # THEN the version goes, whatever its status
    assert done == f"deleted the {status} version"
    assert _status(servers, _single(repo)) is None


def test_assets_of_one_version_are_sent_at_the_same_time(servers: Servers, repo: Repo) -> None:
    # GIVEN four objects of a new version, and the emulator holding the publishes of b and c
    blobs = {name: name.encode() * 50_000 for name in ("a.bin", "b.bin", "c.bin", "d.txt")}
    for name, data in blobs.items():
        _put(servers, repo, f"k/{name}", data)
    request = _request(repo, [_spec(repo, name, data) for name, data in blobs.items()])
    held = {
        name: servers.emulator.faults.next(
            "PublishPackageVersion", "hold", match={"assetName": name}, timeout=30
        )
        for name in ("b.bin", "c.bin")
    }
    source = CountingSource(servers.s3_client())
    # WHEN the version is published (four at a time) while they are held
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_run, servers, request, source)
        # THEN b and c both reached CodeArtifact before either was answered
        both = all(rule.reached.wait(20) for rule in held.values())
        for rule in held.values():
            rule.release()
        result = running.result(timeout=60)
    assert both
    # AND the version is Published whole, each object read once
    assert result.state.status == "Published"
    assert source.opened == 4
    stored = servers.codeartifact_client().list_package_version_assets(
        domain=repo.domain,
        repository=repo.repository,
        format="generic",
        namespace=request.namespace,
        package=request.package,
        packageVersion=request.version,
    )
    assert {a["name"]: a["hashes"]["SHA-256"] for a in stored["assets"]} == {
        name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()
    }
