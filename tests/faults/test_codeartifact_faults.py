"""Matrix 1-4 and 14: CodeArtifact throttles, fails, resets and refuses while we publish.

Each scenario runs the real bundled handler on a real CloudFormation event and then looks at
what CodeArtifact holds: the versions, their assets and hashes, the files on the emulator's
disk, and the calls the handler made (recorded by the emulator's fault plan).
"""

from __future__ import annotations

import pytest

from handler.harness import dump

from .conftest import Kit, World, set_limits, sha256

PUBLISH = "PublishPackageVersion"


def _three_assets(
    world: World, middle_size: int = 2000
) -> tuple[list[dict[str, str]], dict[str, str]]:
    data = {
        "a.bin": b"A" * 1000,
        "b.bin": bytes(range(256)) * (middle_size // 256 + 1),
        "c.txt": b"c",
    }
    data["b.bin"] = data["b.bin"][:middle_size]
    return [world.put(name, content) for name, content in data.items()], {
        name: sha256(content) for name, content in data.items()
    }


def _assert_published_exactly(world: World, hashes: dict[str, str], revision: str) -> None:
    version = world.version()
    assert version is not None and version["status"] == "Published"
    assert version["revision"] == revision, "the response must carry the current revision"
    assert world.assets() == list(hashes.items()), "each asset exactly once, with its bytes"
    assert world.blob_count() == world.stored_asset_count(), "no orphaned asset file"


def test_01_throttled_publish_is_retried_with_backoff_and_succeeds(world: World) -> None:
    # GIVEN a three-asset version, and CodeArtifact throttling the first two uploads of b.bin
    assets, hashes = _three_assets(world)
    rule = world.emulator.faults.next(
        PUBLISH, "throttling", times=2, match={"assetName": "b.bin"}, retry_after=1
    )
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(assets))
    # THEN SUCCESS, after botocore retried b.bin until it went through
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    attempts = world.calls(PUBLISH, assetName="b.bin")
    assert [call.fault for call in attempts] == ["throttling", "throttling", None]
    assert rule.hits == 2
    # AND the retries waited: botocore's jittered backoff for throttling is rand(0, 1) s, then
    # rand(0, 2) s; both together under 0.05 s happen less than once in 1000 runs, while a
    # tight retry loop takes a few milliseconds
    assert attempts[-1].at - attempts[0].at > 0.05
    # AND the version is Published with each asset once and the answered revision is current
    _assert_published_exactly(world, hashes, outcome.response.data["VersionRevision"])


def test_02_internal_error_on_publish_is_retried_and_succeeds(world: World) -> None:
    # GIVEN CodeArtifact answering 500 to the first two uploads of the first asset
    assets, hashes = _three_assets(world)
    world.emulator.faults.next(PUBLISH, "internal", times=2, match={"assetName": "a.bin"})
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(assets))
    # THEN SUCCESS after two retries of a.bin; the other assets went through first time
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    assert [c.fault for c in world.calls(PUBLISH, assetName="a.bin")] == [
        "internal",
        "internal",
        None,
    ]
    assert len(world.calls(PUBLISH)) == 5
    # AND the version holds exactly the three assets, Published
    _assert_published_exactly(world, hashes, outcome.response.data["VersionRevision"])


def test_03_connection_reset_mid_upload_is_retried_with_a_fresh_body(world: World) -> None:
    # GIVEN a 4 MiB middle asset, and CodeArtifact resetting the connection halfway through
    # its first upload (after reading 2 MiB, without answering)
    assets, hashes = _three_assets(world, middle_size=4 * 1024 * 1024)
    world.emulator.faults.next(PUBLISH, "reset_mid_body", match={"assetName": "b.bin"})
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(assets))
    # THEN SUCCESS: the upload was retried...
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    assert [c.fault for c in world.calls(PUBLISH, assetName="b.bin")] == ["reset_mid_body", None]
    # ...with a fresh body: the object was read from S3 again, from the start (a second
    # GetObject), and what CodeArtifact stored has the object's SHA256, not a tail of it
    b_key = next(a["Key"] for a in assets if a["Name"] == "b.bin")
    assert len(world.proxy.requests_for(world.bucket, b_key, "GET")) == 2
    # AND no duplicate or partial asset: three assets, each once, no orphaned file
    _assert_published_exactly(world, hashes, outcome.response.data["VersionRevision"])


def test_04_persistent_internal_error_fails_and_leaves_nothing_half_published(
    world: World,
) -> None:
    # GIVEN CodeArtifact answering 500 to every upload of b.bin, the second of three assets
    assets, _ = _three_assets(world)
    world.emulator.faults.next(PUBLISH, "internal", times=None, match={"assetName": "b.bin"})
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(assets))
    # THEN FAILED with a one-line reason that says what failed
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    reason = outcome.response.reason
    assert "InternalServerException" in reason
    assert "Traceback" not in reason and "\n" not in reason and len(reason) <= 256
    assert not outcome.response.physical_resource_id.endswith("/1.0.0"), "generated id"
    # AND botocore gave up after its attempts (1 + 10 retries), and c.txt was never tried
    assert len(world.calls(PUBLISH, assetName="b.bin")) == 11
    assert world.calls(PUBLISH, assetName="c.txt") == []
    # AND nothing is half-published: the Unfinished version holding a.bin was deleted
    assert world.calls("DeletePackageVersions"), "the handler cleaned up"
    assert world.version() is None
    assert world.blob_count() == world.stored_asset_count()


@pytest.mark.parametrize(
    ("limits", "failing_asset", "fragment"),
    [
        ({"max_assets_per_version": 2}, "c.txt", "maximum number of assets"),
        ({"max_asset_size_bytes": 1500}, "b.bin", "larger than the maximum asset size"),
    ],
    ids=["too-many-assets", "asset-too-large"],
)
def test_14_service_quota_exceeded_fails_clearly_without_retrying(
    world: World, kit: Kit, limits: dict[str, int], failing_asset: str, fragment: str
) -> None:
    # GIVEN a CodeArtifact whose quotas the declared version exceeds
    assets, _ = _three_assets(world)
    set_limits(kit, **limits)
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(assets))
    # THEN FAILED with the service's quota message
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    assert "ServiceQuotaExceededException" in outcome.response.reason
    assert fragment in outcome.response.reason
    # AND a quota error is not retried: one attempt of the asset that broke it
    assert len(world.calls(PUBLISH, assetName=failing_asset)) == 1
    # AND the Unfinished version with the assets before it was removed
    assert world.version() is None
    assert world.blob_count() == world.stored_asset_count()


def test_14_injected_quota_error_on_the_first_asset_fails_without_retrying(world: World) -> None:
    # GIVEN CodeArtifact answering ServiceQuotaExceeded (402) to the first upload
    assets, _ = _three_assets(world)
    world.emulator.faults.next(PUBLISH, "quota")
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(assets))
    # THEN FAILED naming the quota error, after exactly one upload attempt; nothing stored
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    assert "ServiceQuotaExceededException" in outcome.response.reason
    assert len(world.calls(PUBLISH)) == 1
    assert world.versions() == []


def test_14_quota_error_reason_names_the_asset_it_stopped_at(world: World) -> None:
    # GIVEN CodeArtifact refusing the upload of b.bin, the second of three assets, with 402
    assets, _ = _three_assets(world)
    world.emulator.faults.next(PUBLISH, "quota", match={"assetName": "b.bin"})
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(assets))
    # THEN the reason says which asset could not be published (a.bin went through)
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    assert "b.bin" in outcome.response.reason, outcome.response.reason
