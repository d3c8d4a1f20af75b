"""The handler and S3's stored checksums of objects uploaded the way the CDK CLI uploads them.

The CLI sends ``ChecksumAlgorithm=SHA256``: a file up to 5 MiB becomes one ``PutObject`` and S3
stores its FULL_OBJECT SHA256 (the file's hash); a larger one is a multipart upload and S3
stores a COMPOSITE SHA256 (a hash of the parts' hashes), which is not the file's hash. With no
SHA256 known at synth, the handler must use the first (one S3 read, streamed) and hash the
object itself for the second (one S3 read, spooled).

The objects here are uploaded with the offline kit's CLI-like uploader, through moto; an
S3 proxy counts the handler's reads. moto's HeadObject of a multipart object gives the bare
composite value and no ChecksumType (see tests/local_deploy/test_local_deploy_asset_checksums.py),
so the shapes real S3 answers are checked on the parser directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from codeartifact_generic.handler import contract
from codeartifact_generic.handler.s3_source import _full_object_sha256

from codeartifact_generic.testing._local_deploy.assets import MIN_PART_SIZE, upload_like_cdk
from scaffolding.s3_fault_proxy import S3FaultProxy

from .conftest import Repo, Servers
from .harness import (
    CustomResourceHarness,
    Outcome,
    asset_entry,
    dump,
    repo_properties,
    serving_harness,
)

SMALL = 1000
#: Just above the CLI's multipart threshold: two parts.
ABOVE = MIN_PART_SIZE + 1


@pytest.fixture(scope="module")
def proxy(servers: Servers) -> Iterator[S3FaultProxy]:
    """A recording proxy in front of the session's moto."""
    with S3FaultProxy(servers.s3.endpoint_url) as running:
        yield running


@pytest.fixture(scope="module")
def reading_harness(
    servers: Servers, proxy: S3FaultProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CustomResourceHarness]:
    """The bundled handler, reading S3 through the recording proxy."""
    with serving_harness(
        tmp_path_factory.mktemp("checksums"), proxy.endpoint_url, servers.emulator.endpoint_url
    ) as harness:
        yield harness


@dataclass
class ReadingHandler:
    """The handler reading one test's bucket through the recording proxy."""

    servers: Servers
    repo: Repo
    proxy: S3FaultProxy
    harness: CustomResourceHarness
    tmp_path: Path

    def upload(self, name: str, size: int) -> bytes:
        """``size`` random bytes uploaded to ``k/<name>`` as the CDK CLI would upload them."""
        data = os.urandom(size)
        (self.tmp_path / name).write_bytes(data)
        parts = upload_like_cdk(
            self.servers.s3_client(), self.tmp_path / name, self.repo.bucket, f"k/{name}"
        )
        assert parts == (1 if size <= MIN_PART_SIZE else 2)
        return data

    def entry(self, name: str, declared: bytes | None = None) -> dict[str, str]:
        """The ``Assets`` entry of ``k/<name>`` (see :func:`asset_entry`)."""
        return asset_entry(self.repo.bucket, name, declared)

    def create(self, *assets: dict[str, str]) -> Outcome:
        """CloudFormation's Create of ``assets``, the proxy's record of reads started afresh."""
        self.proxy.clear()
        return self.harness.send("Create", repo_properties(self.repo, list(assets)))

    def reads(self, name: str) -> tuple[int, int]:
        """(HEAD, GET) requests the handler sent for ``k/<name>``."""
        key = f"k/{name}"
        return (
            len(self.proxy.requests_for(self.repo.bucket, key, "HEAD")),
            len(self.proxy.requests_for(self.repo.bucket, key, "GET")),
        )


@pytest.fixture
def handler(
    servers: Servers,
    repo: Repo,
    proxy: S3FaultProxy,
    reading_harness: CustomResourceHarness,
    tmp_path: Path,
) -> ReadingHandler:
    return ReadingHandler(servers, repo, proxy, reading_harness, tmp_path)


def _paths(outcome: Outcome) -> dict[str, str]:
    """Asset name → the data path its ``asset_published`` log line names."""
    found = {}
    for line in outcome.log.splitlines():
        start = line.find('{"event": "asset_published"')
        if start >= 0:
            entry = json.loads(line[start:])
            found[entry["asset"]] = entry["path"]
    return found


def test_unknown_sha256_uses_the_full_object_checksum_and_hashes_a_composite_one(
    handler: ReadingHandler,
) -> None:
    # GIVEN a small and a just-above-threshold object, uploaded like `cdk deploy`, no SHA256
    small = handler.upload("small.bin", SMALL)
    big = handler.upload("big.bin", ABOVE)
    # WHEN CloudFormation sends Create
    outcome = handler.create(handler.entry("small.bin"), handler.entry("big.bin"))
    # THEN both assets are published with the objects' real SHA256
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    data = outcome.response.data
    assert data[contract.Attr.asset_sha256(0)] == hashlib.sha256(small).hexdigest()
    assert data[contract.Attr.asset_sha256(1)] == hashlib.sha256(big).hexdigest()
    # AND the small one streamed under S3's FULL_OBJECT SHA256, the big one (COMPOSITE) was
    # hashed while spooling
    assert _paths(outcome) == {"small.bin": "stream-s3-checksum", "big.bin": "spool-tmp"}
    # AND each object was HEADed once and read once: the HEAD that sized it (one invocation or
    # crhelper's polling) also planned its publish
    assert handler.reads("small.bin") == (1, 1)
    assert handler.reads("big.bin") == (1, 1)


def test_declared_sha256_of_a_multipart_object_is_not_compared_with_its_composite(
    handler: ReadingHandler,
) -> None:
    # GIVEN a multipart-uploaded object whose SHA256 synth computed (a file asset above 5 MiB)
    big = handler.upload("big.bin", ABOVE)
    # WHEN CloudFormation sends Create
    outcome = handler.create(handler.entry("big.bin", big))
    # THEN it is streamed under the declared hash (no false "changed since synth") in one read
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    assert outcome.response.data[contract.Attr.asset_sha256(0)] == hashlib.sha256(big).hexdigest()
    assert _paths(outcome) == {"big.bin": "stream-declared-sha256"}
    assert handler.reads("big.bin") == (1, 1)


def test_declared_sha256_that_differs_from_the_full_object_checksum_fails_before_reading(
    handler: ReadingHandler,
) -> None:
    # GIVEN a small object whose stored FULL_OBJECT SHA256 is not the one synth saw
    handler.upload("small.bin", SMALL)
    # WHEN CloudFormation sends Create
    outcome = handler.create(handler.entry("small.bin", os.urandom(SMALL)))
    # THEN it fails naming the asset, from the HEAD alone: the object is never downloaded
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    assert "small.bin" in outcome.response.reason
    assert "changed since synth" in outcome.response.reason
    assert handler.reads("small.bin") == (1, 0)


# --------------------------------------------------------------- the shapes real S3 answers

_DIGEST = hashlib.sha256(b"asset").digest()
_B64 = base64.b64encode(_DIGEST).decode()
_SINGLE_ETAG = '"0cc175b9c0f1b6a831c399e269772661"'
_MULTIPART_ETAG = '"bdfc1826aeeaf7f2d0cbca85cf6ea2f5-2"'


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        # PutObject on S3: FULL_OBJECT, the object's own hash
        ({"ChecksumSHA256": _B64, "ChecksumType": "FULL_OBJECT", "ETag": _SINGLE_ETAG}, True),
        # the same through a botocore without the ChecksumType member
        ({"ChecksumSHA256": _B64, "ETag": _SINGLE_ETAG}, True),
        # multipart upload on S3: COMPOSITE, "<value>-N"
        (
            {"ChecksumSHA256": f"{_B64}-2", "ChecksumType": "COMPOSITE", "ETag": _MULTIPART_ETAG},
            False,
        ),
        # the same through a botocore without the ChecksumType member
        ({"ChecksumSHA256": f"{_B64}-2", "ETag": _MULTIPART_ETAG}, False),
        # moto 5.2.5's HeadObject of a multipart upload: bare value, no type
        ({"ChecksumSHA256": _B64, "ETag": _MULTIPART_ETAG}, False),
        # COMPOSITE without the suffix (defensive)
        ({"ChecksumSHA256": _B64, "ChecksumType": "COMPOSITE", "ETag": _SINGLE_ETAG}, False),
        # no stored SHA256 (uploaded without a checksum, or with another algorithm)
        ({"ETag": _SINGLE_ETAG}, False),
        ({"ChecksumCRC32": "AAAAAA==", "ChecksumType": "FULL_OBJECT", "ETag": _SINGLE_ETAG}, False),
    ],
    ids=[
        "put-full-object",
        "put-untyped",
        "multipart-composite",
        "multipart-untyped",
        "multipart-moto-head",
        "composite-bare",
        "no-checksum",
        "crc32-only",
    ],
)
def test_only_a_full_object_sha256_is_taken_for_the_hash(
    head: dict[str, Any], expected: bool
) -> None:
    assert _full_object_sha256(head) == (_DIGEST.hex() if expected else None)
