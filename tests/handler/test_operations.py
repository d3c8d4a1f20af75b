"""The publish workflow as plain functions, over HTTP against moto S3 and the emulator."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from codeartifact_generic.handler.codeartifact_repository import PackageVersionRepository
from codeartifact_generic.handler.errors import PublishFailed
from codeartifact_generic.handler.operations import publish, response_data
from codeartifact_generic.handler.properties import AssetSpec, VersionRequest
from codeartifact_generic.handler.s3_source import ObjectInfo, S3ObjectSource
from codeartifact_generic.handler.streams import AssetContentMismatch, Readable

from .conftest import ACCOUNT, Repo, Servers


def _request(
    repo: Repo, assets: list[AssetSpec], *, version: str = "1.0.0", status: str = "Published"
) -> VersionRequest:
    return VersionRequest(
        domain=repo.domain,
        domain_owner=ACCOUNT,
        repository=repo.repository,
        namespace="tools",
        package="mycli",
        version=version,
        status=status,
        assets=tuple(assets),
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


def _run(servers: Servers, request: VersionRequest, source: S3ObjectSource | None = None):  # type: ignore[no-untyped-def]
    return publish(
        request,
        source or S3ObjectSource(servers.s3_client()),
        PackageVersionRepository(servers.codeartifact_client(), request),
    )


def _stored(servers: Servers, request: VersionRequest) -> tuple[str, dict[str, str]]:
    client = servers.codeartifact_client()
    coords = {
        "domain": request.domain,
        "repository": request.repository,
        "format": "generic",
        "namespace": request.namespace,
        "package": request.package,
        "packageVersion": request.version,
    }
    status = client.describe_package_version(**coords)["packageVersion"]["status"]
    assets = client.list_package_version_assets(**coords)["assets"]
    return status, {a["name"]: a["hashes"]["SHA-256"] for a in assets}


def _absent(servers: Servers, request: VersionRequest) -> bool:
    client = servers.codeartifact_client()
    try:
        client.describe_package_version(
            domain=request.domain,
            repository=request.repository,
            format="generic",
            namespace=request.namespace,
            package=request.package,
            packageVersion=request.version,
        )
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


def test_republishing_the_same_version_is_idempotent(servers: Servers, repo: Repo) -> None:
    # GIVEN a published version
    _put(servers, repo, "k/a.bin", b"payload")
    request = _request(repo, [_spec(repo, "a.bin", b"payload")])
    first = _run(servers, request)
    # WHEN the same Create arrives again (a retry or a duplicate event)
    second = _run(servers, request)
    # THEN it succeeds with the same revision and nothing new is written
    assert second.state == first.state
    assert _stored(servers, request)[1] == {"a.bin": hashlib.sha256(b"payload").hexdigest()}


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


def test_size_mismatch_is_caught_before_reading(servers: Servers, repo: Repo) -> None:
    _put(servers, repo, "k/a.bin", b"longer than declared")
    request = _request(repo, [_spec(repo, "a.bin", b"short")])
    with pytest.raises(PublishFailed, match=r"has 20 bytes, synth saw 5"):
        _run(servers, request)
    assert _absent(servers, request)


def test_missing_object_fails_with_its_location(servers: Servers, repo: Repo) -> None:
    request = _request(repo, [_spec(repo, "gone.bin", b"x")])
    with pytest.raises(
        PublishFailed, match=rf"asset 'gone.bin': s3://{repo.bucket}/k/gone.bin does not exist"
    ):
        _run(servers, request)


def test_existing_version_with_other_bytes_fails_with_a_fix(servers: Servers, repo: Repo) -> None:
    # GIVEN version 1.0.0 published with some bytes
    _put(servers, repo, "k/a.bin", b"one")
    _run(servers, _request(repo, [_spec(repo, "a.bin", b"one")]))
    # WHEN the same version is declared with other bytes
    _put(servers, repo, "k/a.bin", b"two")
    request = _request(repo, [_spec(repo, "a.bin", b"two")])
    # THEN it fails naming the asset and telling to bump the version; the old bytes stay
    with pytest.raises(PublishFailed, match=r"SHA256 of 'a.bin' differs.*bump the version"):
        _run(servers, request)
    assert _stored(servers, request) == ("Published", {"a.bin": hashlib.sha256(b"one").hexdigest()})


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


def test_response_data_is_trimmed_to_fit_keeping_unknown_hashes_first(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN a result with 100 asset hashes, of which only the last 5 were unknown at synth
    _put(servers, repo, "k/a.bin", b"x")
    result = _run(servers, _request(repo, [_spec(repo, "a.bin", b"x")]))
    hashes = [hashlib.sha256(bytes([i])).hexdigest() for i in range(100)]
    specs = [
        AssetSpec(
            name=f"f{i}", bucket=repo.bucket, key=f"k/{i}", sha256=None if i >= 95 else hashes[i]
        )
        for i in range(100)
    ]
    many = type(result)(result.state, tuple(hashes))
    # WHEN the data must fit a small budget
    data = response_data(_request(repo, specs), many, lambda d: len(str(d)) < 2000)
    # THEN the core attributes are all there, hashes are cut and the cut is flagged
    assert data["VersionRevision"] == result.state.revision
    assert data["AssetHashesTruncated"] == "true"
    included = [k for k in data if k.startswith("Asset") and k.endswith("Sha256")]
    assert 5 < len(included) < 100
    # AND the hashes only the deploy could know are all included
    assert {f"Asset{i}Sha256" for i in range(95, 100)} <= set(included)


def test_stale_stored_asset_is_found_before_the_version_is_sealed(
    servers: Servers, repo: Repo
) -> None:
    # GIVEN an Unfinished version holding b.bin="old" (an interrupted run)
    _put(servers, repo, "k/b.bin", b"old")
    _run(servers, _request(repo, [_spec(repo, "b.bin", None, declare=False)], status="Unfinished"))
    # AND a new declaration: a new asset first, then b.bin whose S3 object now holds other bytes
    _put(servers, repo, "k/a.bin", b"new asset")
    _put(servers, repo, "k/b.bin", b"new")
    request = _request(
        repo, [_spec(repo, "a.bin", b"new asset"), _spec(repo, "b.bin", None, declare=False)]
    )
    # WHEN published
    with pytest.raises(PublishFailed, match=r"SHA256 of 'b.bin' differs"):
        _run(servers, request)
    # THEN nothing was written: the version is still Unfinished with only the old b.bin
    assert _stored(servers, request) == (
        "Unfinished",
        {"b.bin": hashlib.sha256(b"old").hexdigest()},
    )


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
                domain=repo.domain,
                repository=repo.repository,
                format="generic",
                namespace="tools",
                package="mycli",
                packageVersion="1.0.0",
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
