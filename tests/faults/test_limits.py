"""Matrix 12-13: the Lambda's time limit and CloudFormation's 4096-byte response limit."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from handler.harness import Outcome, dump

from .conftest import World, sha256
from .scenarios import create_failed_on_its_second_asset

PUBLISH = "PublishPackageVersion"
BIG = 24 * 1024 * 1024  # more than loopback socket buffers hold: the upload really stalls
TIMEOUT = 8
#: Shorter, for calls stuck past the timeout (the handler's margin is 5 s at least).
STUCK_TIMEOUT = 7
#: Longer than the stuck scenarios' Lambda lives (the runner kills it 2 s after its answer).
STALL_SECONDS = 10


def _lambda_deadline(outcome: Outcome, timeout: float) -> float:
    """Wall-clock time at which Lambda would have frozen the handler.

    The local runner lets the process run a little past its timeout; real Lambda does not, so
    only what happened before this instant counts.
    """
    started = (outcome.invocation.log_path.parent / "started").read_text()
    return float(started) + timeout


def _cleaned_up_in_time(world: World, outcome: Outcome, timeout: float = TIMEOUT) -> bool:
    deadline = _lambda_deadline(outcome, timeout)
    return any(c.at <= deadline for c in world.calls("DeletePackageVersions"))


def test_12_stalled_upload_answers_failed_before_the_timeout_saying_how_far_it_got(
    world: World,
) -> None:
    # GIVEN a 24 MiB second asset whose upload stalls for 4 s after its first MiB, and a
    # Lambda timeout of 8 s (the handler keeps a 5 s safety margin)
    small = world.put("a.bin", b"a" * 100)
    big = world.put("big.bin", b"\x5a" * BIG)
    world.emulator.faults.next(
        PUBLISH, "slow", match={"assetName": "big.bin"}, seconds=4, after_bytes=1024 * 1024
    )
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([small, big]), timeout_seconds=TIMEOUT)
    # THEN a FAILED answer arrived before the Lambda died...
    assert not outcome.invocation.timed_out, dump(outcome)
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    # ...saying which asset it stopped at and how far it got
    reason = outcome.response.reason
    assert "stopped before the Lambda timeout" in reason
    assert "'big.bin'" in reason and f"of {BIG} bytes" in reason
    # AND the Unfinished version holding a.bin was removed, before Lambda's deadline
    assert world.version() is None
    assert _cleaned_up_in_time(world, outcome)
    assert world.blob_count() == world.stored_asset_count()


@pytest.mark.parametrize("where", ["codeartifact-answer", "s3-download"])
def test_12_call_stuck_past_the_timeout_still_answers_with_progress_and_cleans_up(
    world: World, where: str
) -> None:
    # GIVEN a Lambda timeout of 7 s and, on the second asset, a call that stays stuck past it:
    # CodeArtifact holding its answer to the upload for 10 s (botocore waits up to its 900 s
    # read timeout), or S3 pausing the download for 10 s halfway (60 s read timeout)
    small = world.put("a.bin", b"a" * 100)
    big = world.put("big.bin", b"\x5a" * (4 * 1024 * 1024))
    if where == "codeartifact-answer":
        world.emulator.faults.next(
            PUBLISH, "slow", match={"assetName": "big.bin"}, seconds=STALL_SECONDS
        )
    else:
        world.proxy.stall_mid_body(world.bucket, big["Key"], seconds=STALL_SECONDS)
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([small, big]), timeout_seconds=STUCK_TIMEOUT)
    # THEN some FAILED answer still arrived before the process was killed
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    # AND it says which asset and how far it got, and the Unfinished version was removed
    # before Lambda's deadline (afterwards the process would have been frozen)
    reason = outcome.response.reason
    in_time = _cleaned_up_in_time(world, outcome, STUCK_TIMEOUT)
    if where == "codeartifact-answer":
        # Let the emulator's stuck request end (it then finds the client gone) before the next
        # scenario counts asset files.
        stuck = world.calls(PUBLISH, assetName="big.bin")[0]
        time.sleep(max(0.0, stuck.at + STALL_SECONDS + 0.3 - time.time()))
    assert "stopped before the Lambda timeout" in reason, dump(outcome)
    assert "'big.bin'" in reason, dump(outcome)
    assert in_time, dump(outcome)


def test_13_response_that_would_exceed_4096_bytes_is_trimmed_and_still_succeeds(
    world: World,
) -> None:
    # GIVEN 40 assets with 200-character names and no synth-time hashes (so the response
    # would carry 40 hashes), under a 240-character version
    version = "1.0.0-" + "r" * 234
    names = [f"{i:03d}-" + "n" * 196 for i in range(40)]
    data = {name: name.encode() * 3 for name in names}
    entries = [world.put(name, content, declare=False) for name, content in data.items()]
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(entries, Version=version))
    # THEN SUCCESS in a body CloudFormation accepts (at most 4096 bytes)
    assert outcome.raw is not None and len(outcome.raw) <= 4096, dump(outcome)
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    answered = json.loads(outcome.raw)["Data"]
    # AND the trimming is flagged, the attributes are all there, and every hash that did fit
    # is the SHA256 CodeArtifact stored for that asset
    assert answered["AssetHashesTruncated"] == "true"
    assert answered["AssetCount"] == "40" and answered["Version"] == version
    returned = {
        int(key[len("Asset") : -len("Sha256")]): value
        for key, value in answered.items()
        if key.startswith("Asset") and key.endswith("Sha256")
    }
    assert 0 < len(returned) < 40
    stored = dict(world.assets(version))
    for index, value in returned.items():
        assert value == stored[names[index]] == sha256(data[names[index]])
    # AND CodeArtifact holds all 40 assets, Published, under the revision answered
    described = world.version(version)
    assert described is not None and described["status"] == "Published"
    assert described["revision"] == answered["VersionRevision"]
    assert len(stored) == 40


def _wait_for(world: World, version: str, seconds: float) -> dict[str, Any] | None:
    give_up = time.monotonic() + seconds
    while (found := world.version(version)) is None and time.monotonic() < give_up:
        time.sleep(0.05)
    return found


def _create_whose_only_upload_lands_late(world: World) -> tuple[dict[str, Any], str]:
    """A Create that gives up waiting for CodeArtifact's answer to its only upload, which then
    lands after the Create's cleanup and publishes 1.0.0. Returns the properties and the
    failed Create's physical id."""
    props = world.props([world.put("a.bin", b"one")])
    world.emulator.faults.next(PUBLISH, "slow", seconds=4)
    failed = world.send("Create", props, timeout_seconds=STUCK_TIMEOUT)
    assert failed.response is not None and not failed.response.succeeded, dump(failed)
    landed = _wait_for(world, "1.0.0", seconds=STALL_SECONDS)
    assert landed is not None and landed["status"] == "Published"
    return props, failed.response.physical_resource_id


def test_12_a_late_landing_that_published_the_version_is_discarded_by_the_rollback(
    world: World,
) -> None:
    # GIVEN a failed Create whose only upload landed after it gave up, publishing 1.0.0
    props, generated = _create_whose_only_upload_lands_late(world)
    # WHEN CloudFormation rolls the Create back
    world.kit.harness.continue_stack_operation("ROLLBACK_IN_PROGRESS")
    deleted = world.send("Delete", props, physical_id=generated)
    # THEN SUCCESS, and the version the failed Create published after all is gone
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)
    assert world.version() is None
    assert world.blob_count() == world.stored_asset_count()


def test_12_outside_a_rollback_the_delete_of_a_failed_create_touches_nothing(
    world: World,
) -> None:
    # GIVEN the same late landing, on a stack that does not roll back (DisableRollback): the
    # failed resource is only deleted with the stack, maybe much later
    props, generated = _create_whose_only_upload_lands_late(world)
    revision = world.version()
    # WHEN the stack is deleted
    world.kit.harness.continue_stack_operation("DELETE_IN_PROGRESS")
    deleted = world.send("Delete", props, physical_id=generated)
    # THEN SUCCESS, and 1.0.0 is kept: by then it may well be someone else's
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)
    assert world.version() == revision


def test_12_a_rollback_delete_stuck_in_its_cleanup_still_succeeds_in_time(world: World) -> None:
    # GIVEN a Create that failed on its second asset after writing the first (so its rollback
    # Delete looks for leftovers), and a CodeArtifact that then stalls DescribePackageVersion
    # past a 7 s Lambda's life
    props, generated = create_failed_on_its_second_asset(world)
    world.emulator.faults.next("DescribePackageVersion", "slow", seconds=STALL_SECONDS)
    # WHEN CloudFormation rolls the Create back
    world.kit.harness.continue_stack_operation("ROLLBACK_IN_PROGRESS")
    deleted = world.send("Delete", props, physical_id=generated, timeout_seconds=STUCK_TIMEOUT)
    # THEN it answers SUCCESS with the same id before the Lambda dies: a FAILED here would
    # leave the stack in ROLLBACK_FAILED
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)
    assert deleted.response.physical_resource_id == generated
    assert not deleted.invocation.timed_out
    assert world.version() is None
