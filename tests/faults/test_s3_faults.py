"""Matrix 5-7 (and an S3 reset mid-object): the assets' S3 objects are missing, denied, changed
or cut off. Every scenario checks what CodeArtifact holds afterwards."""

from __future__ import annotations

import pytest

from handler.harness import Outcome, dump

from .conftest import World, sha256

PUBLISH = "PublishPackageVersion"


def _assert_failed_naming(outcome: Outcome, *fragments: str) -> None:
    """The Create answered FAILED with a reason holding every fragment."""
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    for fragment in fragments:
        assert fragment in outcome.response.reason


def _assert_nothing_published(world: World) -> None:
    assert world.version() is None
    assert world.versions() == []
    assert world.blob_count() == world.stored_asset_count()


@pytest.mark.parametrize("missing", ["key", "bucket"])
def test_05_missing_s3_object_fails_naming_the_asset_before_any_upload(
    world: World, missing: str
) -> None:
    # GIVEN two assets of which the second's object (or its whole bucket) does not exist
    first = world.put("a.bin", b"a" * 100)
    gone = {
        "Name": "gone.bin",
        "Bucket": world.bucket if missing == "key" else f"{world.bucket}-absent",
        "Key": "assets/never-uploaded",
        "Sha256": "0" * 64,
        "Size": "10",
    }
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([first, gone]))
    # THEN FAILED naming the asset and its location
    _assert_failed_naming(outcome, "'gone.bin'", "does not exist", "assets/never-uploaded")
    # AND every object was checked before anything was uploaded: no publish at all
    assert world.calls(PUBLISH) == []
    _assert_nothing_published(world)


def test_06_access_denied_by_s3_fails_naming_the_asset_before_any_upload(world: World) -> None:
    # GIVEN an S3 that denies HeadObject and GetObject of the second asset (IAM/bucket policy)
    first = world.put("a.bin", b"a" * 100)
    denied = world.put("secret.bin", b"s" * 100)
    world.proxy.deny(world.bucket, denied["Key"])
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([first, denied]))
    # THEN FAILED naming the asset and saying access was denied
    _assert_failed_naming(outcome, "'secret.bin'", "access denied")
    # AND nothing was uploaded
    assert world.calls(PUBLISH) == []
    _assert_nothing_published(world)


def test_06_get_denied_after_head_allowed_fails_at_once_and_cleans_up(world: World) -> None:
    # GIVEN S3 allowing HeadObject but denying GetObject of the second asset (as for an SSE-KMS
    # object whose key the role may not use). The denial is lifted after two GETs only so that
    # this test stays fast while defect D2 (the handler retries it) is there.
    first = world.put("a.bin", b"a" * 100)
    denied = world.put("kms.bin", b"k" * 100)
    world.proxy.deny(world.bucket, denied["Key"], methods=("GET",), times=2)
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([first, denied]))
    # THEN the handler answered, after publishing a.bin (Unfinished)
    assert outcome.response is not None, dump(outcome)
    assert len(world.calls(PUBLISH, assetName="a.bin")) == 1
    assert world.blob_count() == world.stored_asset_count()
    # AND it failed at the first denial, naming the asset, and removed the Unfinished version
    gets = world.proxy.requests_for(world.bucket, denied["Key"], "GET")
    reason = outcome.response.reason
    assert not outcome.response.succeeded
    assert "'kms.bin'" in reason
    assert "access denied" in reason
    assert not reason.startswith("An HTTP Client")
    assert len(gets) == 1
    assert world.versions() == []


def test_07_object_changed_with_same_size_is_caught_while_streaming(world: World) -> None:
    # GIVEN the second asset's object replaced after synth by other bytes of the same size
    # (no S3 checksum to compare), and a CodeArtifact that would store a body whatever its
    # SHA256: only the handler's own cross-check can catch the change
    first = world.put("a.bin", b"a" * 100)
    changed = world.put("app.zip", b"original-bytes" * 1000)
    world.s3.put_object(Bucket=world.bucket, Key=changed["Key"], Body=b"tampered-bytes" * 1000)
    assert world.s3.head_object(Bucket=world.bucket, Key=changed["Key"])["ContentLength"] == 14000
    world.emulator.faults.next(PUBLISH, "accept_wrong_hash", times=None)
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([first, changed]))
    # THEN FAILED naming the asset and saying it changed since synth
    _assert_failed_naming(outcome, "'app.zip'", "changed since synth")
    # AND the upload was attempted but never completed: CodeArtifact holds nothing
    assert world.calls(PUBLISH, assetName="app.zip")
    _assert_nothing_published(world)


@pytest.mark.parametrize("how", ["size-differs", "s3-checksum-differs"])
def test_07_object_changed_is_caught_before_any_upload(world: World, how: str) -> None:
    # GIVEN an asset whose object now has another size, or another S3-stored SHA256
    original = b"v1" * 500
    entry = world.put("app.zip", original)
    replacement = b"v2" * 501 if how == "size-differs" else b"v2" * 500
    world.s3.put_object(
        Bucket=world.bucket, Key=entry["Key"], Body=replacement, ChecksumAlgorithm="SHA256"
    )
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([entry]))
    # THEN FAILED naming the asset and saying it changed since synth, before any upload
    _assert_failed_naming(outcome, "'app.zip'", "changed since synth")
    assert world.calls(PUBLISH) == []
    _assert_nothing_published(world)


def test_s3_reset_mid_object_is_retried_with_a_fresh_get(world: World) -> None:
    # GIVEN S3 resetting the connection halfway through the first GetObject of a 3 MiB asset
    small = world.put("a.bin", b"a" * 100)
    data = bytes(range(256)) * (3 * 4096)
    big = world.put("big.bin", data)
    world.proxy.reset_mid_body(world.bucket, big["Key"])
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([small, big]))
    # THEN SUCCESS: the upload was retried and the object read again from the start
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    assert len(world.proxy.requests_for(world.bucket, big["Key"], "GET")) == 2
    assert len(world.calls(PUBLISH, assetName="big.bin")) == 2
    # AND CodeArtifact holds the whole object once
    assert world.assets() == [("a.bin", sha256(b"a" * 100)), ("big.bin", sha256(data))]
    assert world.blob_count() == world.stored_asset_count()
