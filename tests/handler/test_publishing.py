"""The publishing rules, over in-memory fakes of S3 and CodeArtifact (milliseconds each).

Idempotency, conflicts, resuming, the final asset last with the final status, settling the
status, replace_existing, the cleanup of a failed run and the cancellation checks. What only
the wire can prove (streaming through botocore, the services' own answers) is in
``test_operations.py``; timeouts and retries in ``tests/faults``.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from codeartifact_generic.handler import contract, publishing, streams
from codeartifact_generic.handler.contract import MAX_PARALLEL_ASSETS, ResourceId, parallel_assets
from codeartifact_generic.handler.deadline import NO_DEADLINE, Deadline, OutOfTime
from codeartifact_generic.handler.errors import PublishFailed
from codeartifact_generic.handler.pacing import Pacing
from codeartifact_generic.handler.properties import AssetSpec, VersionRequest
from codeartifact_generic.handler.publishing import (
    AssetPublishFailed,
    OperationCancelled,
    PublishResult,
    publish,
)
from codeartifact_generic.handler.removal import owned_by
from codeartifact_generic.handler.streams import AssetContentMismatch

from .fakes import FakeObjects, FakeVersion, service_error, sha256
from .fakes import version_request as request

BUCKET = "assets"


class World:
    """One version in a fake CodeArtifact, and a fake bucket for its assets."""

    def __init__(self) -> None:
        self.objects = FakeObjects()
        self.version = FakeVersion()

    def put(
        self, name: str, data: bytes, *, declare: bool = True, stored_sha256: bool = False
    ) -> AssetSpec:
        """Store ``data`` as asset ``name``'s object; the spec declares its hash and size."""
        self.objects.put(BUCKET, f"k/{name}", data, stored_sha256=stored_sha256)
        return spec(name, data if declare else None)

    def publish(
        self,
        request: VersionRequest,
        *,
        deadline: Deadline = NO_DEADLINE,
        cancelled: Callable[[], bool] | None = None,
        parallel: int = MAX_PARALLEL_ASSETS,
        created_since: datetime | None = None,
    ) -> PublishResult:
        options: dict[str, Any] = {} if cancelled is None else {"cancelled": cancelled}
        options["created_since"] = created_since
        return publish(
            request, self.objects, self.version, deadline=deadline, parallel=parallel, **options
        )

    def writes(self) -> list[str]:
        """The version's write operations, in order."""
        reads = ("describe", "assets")
        return [op for op in self.version.operations() if op not in reads]


@pytest.fixture
def world() -> World:
    return World()


def spec(name: str, data: bytes | None) -> AssetSpec:
    """An asset in the bucket, with the SHA256 and size synth saw (none for ``data=None``)."""
    return AssetSpec(
        name=name,
        bucket=BUCKET,
        key=f"k/{name}",
        sha256=sha256(data) if data is not None else None,
        size=len(data) if data is not None else None,
    )


class Clock:
    """Remaining milliseconds of a Lambda, set by the test."""

    def __init__(self, seconds: float) -> None:
        self.ms = int(seconds * 1000)

    def __call__(self) -> int:
        return self.ms


# ------------------------------------------------------------------------ publishing anew


def test_publishes_every_asset_and_only_the_last_one_with_the_final_status(world: World) -> None:
    # GIVEN three objects whose hashes are known at synth
    blobs = {"a.tgz": b"a" * 3000, "b.txt": b"bee", "c.bin": bytes(range(256))}
    assets = [world.put(name, data) for name, data in blobs.items()]
    # WHEN the version is published
    result = world.publish(request(*assets))
    # THEN the assets went in declaration order, all but the last Unfinished
    assert world.version.of("publish") == [
        {"name": "a.tgz", "sha256": sha256(blobs["a.tgz"]), "unfinished": True},
        {"name": "b.txt", "sha256": sha256(blobs["b.txt"]), "unfinished": True},
        {"name": "c.bin", "sha256": sha256(blobs["c.bin"]), "unfinished": False},
    ]
    # AND the version is Published with exactly those bytes, under the revision returned
    assert world.version.stored() == {n: sha256(d) for n, d in blobs.items()}
    assert result.state.status == "Published" == world.version.status
    assert result.state.revision == world.version.revision
    assert result.sha256s == tuple(sha256(d) for d in blobs.values())
    # AND each object was read once
    assert [world.objects.opened(n) for n in blobs] == [1, 1, 1]


def test_republishing_the_same_version_is_idempotent(world: World) -> None:
    # GIVEN a published version
    req = request(world.put("a.bin", b"payload"))
    first = world.publish(req)
    written = world.writes()
    # WHEN the same Create arrives again (a retry or a duplicate event)
    second = world.publish(req)
    # THEN it succeeds with the same revision and nothing new is written
    assert second.state == first.state
    assert world.version.stored() == {"a.bin": sha256(b"payload")}
    assert world.writes() == written


def test_an_existing_identical_version_is_left_as_it_is(world: World) -> None:
    # GIVEN a Published version someone else published with the declared bytes
    world.version.existing({"a.bin": b"payload"})
    revision = world.version.revision
    asked: list[bool] = []
    # WHEN the stack declares it (a redelivery, another stack)
    again = world.publish(
        request(world.put("a.bin", b"payload")), cancelled=lambda: asked.append(True) or False
    )
    # THEN nothing is written (same revision), and there was no write to cancel
    assert again.state.revision == revision
    assert world.writes() == []
    assert asked == []


@pytest.mark.parametrize("target", ["Unlisted", "Archived", "Unfinished"])
def test_a_new_version_reaches_the_requested_status(world: World, target: str) -> None:
    # GIVEN two assets and a version that should end up ``target``
    assets = [world.put("a.bin", b"a"), world.put("b.bin", b"b")]
    # WHEN published
    result = world.publish(request(*assets, status=target))
    # THEN it has that status
    assert result.state.status == target == world.version.status
    # AND it was never Published on the way: every asset went in Unfinished, then one status
    # change with the revision of the last publish
    assert [p["unfinished"] for p in world.version.of("publish")] == [True, True]
    changes = world.version.of("set_status")
    if target == "Unfinished":
        assert changes == []
    else:
        assert [(c["target"], c["expected_status"]) for c in changes] == [(target, "Unfinished")]


def test_status_change_uses_expected_status_and_revision(world: World) -> None:
    # GIVEN a Published version
    asset = world.put("a.bin", b"payload")
    first = world.publish(request(asset))
    # WHEN the stack now declares it Archived
    archived = world.publish(request(asset, status="Archived"))
    # THEN one optimistic-locking status update moved it, and the revision changed
    assert archived.state.status == "Archived"
    assert archived.state.revision != first.state.revision
    assert world.version.of("set_status") == [
        {
            "target": "Archived",
            "expected_status": "Published",
            "expected_revision": first.state.revision,
        }
    ]
    assert len(world.version.of("publish")) == 1
    # AND back to Published works too
    assert world.publish(request(asset)).state.status == "Published"


def test_published_never_goes_back_to_unfinished(world: World) -> None:
    asset = world.put("a.bin", b"payload")
    world.publish(request(asset))
    with pytest.raises(PublishFailed, match="can never return to Unfinished"):
        world.publish(request(asset, status="Unfinished"))
    assert world.version.status == "Published"


# ------------------------------------------------------------------------------ conflicts


@pytest.mark.parametrize("existing_status", ["Published", "Unfinished"])
def test_existing_version_with_other_bytes_fails_with_a_fix(
    world: World, existing_status: str
) -> None:
    # GIVEN version 1.0.0 holding other bytes
    world.version.existing({"a.bin": b"one"}, existing_status)
    revision = world.version.revision
    # WHEN the same version is declared with other bytes
    req = request(world.put("a.bin", b"two"))
    # THEN it fails naming the asset and telling to bump the version; the old bytes stay
    with pytest.raises(PublishFailed, match=r"SHA256 of 'a.bin' differs.*bump the version"):
        world.publish(req)
    assert (world.version.status, world.version.revision) == (existing_status, revision)
    assert world.version.stored() == {"a.bin": sha256(b"one")}
    assert world.writes() == []


def test_existing_version_with_assets_not_declared_fails(world: World) -> None:
    world.version.existing({"a.bin": b"a", "extra.bin": b"x"}, "Unfinished")
    with pytest.raises(PublishFailed, match=r"holds assets this stack does not declare: 'extra"):
        world.publish(request(world.put("a.bin", b"a")))
    assert world.writes() == []


def test_a_sealed_version_without_a_declared_asset_fails(world: World) -> None:
    world.version.existing({"a.bin": b"a"}, "Unlisted")
    assets = [world.put("a.bin", b"a"), world.put("b.bin", b"b")]
    with pytest.raises(PublishFailed, match=r"already Unlisted without 'b.bin'; bump"):
        world.publish(request(*assets))
    assert world.writes() == []


def test_a_disposed_version_fails_asking_for_a_bump(world: World) -> None:
    world.version.existing({}, "Disposed")
    with pytest.raises(PublishFailed, match=r"already exists with status Disposed; bump"):
        world.publish(request(world.put("a.bin", b"a")))
    assert world.writes() == []


def test_stale_stored_asset_is_found_before_the_version_is_sealed(world: World) -> None:
    # GIVEN an Unfinished version holding b.bin="old" (an interrupted run)
    world.version.existing({"b.bin": b"old"}, "Unfinished")
    # AND a new declaration: a new asset first, then b.bin whose object now holds other bytes
    # (no hash known at synth, so it must be read to be compared)
    req = request(world.put("a.bin", b"new asset"), world.put("b.bin", b"new", declare=False))
    # WHEN published
    with pytest.raises(PublishFailed, match=r"SHA256 of 'b.bin' differs"):
        world.publish(req)
    # THEN nothing was written: still Unfinished with only the old b.bin, read once
    assert (world.version.status, world.version.stored()) == (
        "Unfinished",
        {"b.bin": sha256(b"old")},
    )
    assert world.writes() == []
    assert world.objects.opened("b.bin") == 1


def test_replace_existing_republishes_other_bytes(world: World) -> None:
    # GIVEN version 1.0.0 with old bytes
    world.version.existing({"a.bin": b"old"})
    # WHEN the same version is declared with new bytes and replace_existing
    before = datetime.now(UTC)
    result = world.publish(request(world.put("a.bin", b"new"), replace_existing=True))
    # THEN it was deleted, then holds the new bytes, and is dated now: the resource owns it
    assert world.writes() == ["delete", "publish"]
    assert world.version.stored() == {"a.bin": sha256(b"new")}
    assert result.state.status == "Published"
    state = world.version.describe()
    assert state is not None
    assert owned_by(state, ResourceId("x/y", before - timedelta(milliseconds=1)))


# ------------------------------------------------------------------------------- resuming


def test_interrupted_unfinished_version_is_resumed(world: World) -> None:
    # GIVEN a version left Unfinished with the first of two assets (an interrupted run)
    world.version.existing({"a.bin": b"first"}, "Unfinished")
    # WHEN the full version is published
    req = request(world.put("a.bin", b"first"), world.put("b.bin", b"second"))
    result = world.publish(req)
    # THEN only the missing asset is added, with the final status, and the version is
    # Published; the stored asset's object was not even read
    assert world.version.of("publish") == [
        {"name": "b.bin", "sha256": sha256(b"second"), "unfinished": False}
    ]
    assert result.state.status == "Published"
    assert set(world.version.stored()) == {"a.bin", "b.bin"}
    assert world.objects.opened("a.bin") == 0


def test_a_failed_resume_keeps_the_version_it_did_not_create(world: World) -> None:
    # GIVEN an Unfinished version this run did not create, and a refused upload
    world.version.existing({"a.bin": b"first"}, "Unfinished")
    world.version.fail_next("publish", service_error("ServiceQuotaExceededException"))
    req = request(world.put("a.bin", b"first"), world.put("b.bin", b"second"))
    # WHEN published
    with pytest.raises(AssetPublishFailed, match=r"'b\.bin'"):
        world.publish(req)
    # THEN the version is left for a later run to resume
    assert world.version.status == "Unfinished"
    assert "delete" not in world.writes()


# ------------------------------------------------------------------------------- objects


def test_size_mismatch_is_caught_before_reading(world: World) -> None:
    world.objects.put(BUCKET, "k/a.bin", b"longer than declared")
    with pytest.raises(PublishFailed, match=r"has 20 bytes, synth saw 5"):
        world.publish(request(spec("a.bin", b"short")))
    assert not world.version.exists
    assert world.objects.opened("a.bin") == 0


def test_a_stored_sha256_other_than_the_declared_one_fails_before_reading(world: World) -> None:
    world.objects.put(BUCKET, "k/a.bin", b"NEW!", stored_sha256=True)
    with pytest.raises(PublishFailed, match=r"'a.bin'.*the object changed since synth"):
        world.publish(request(spec("a.bin", b"old!")))
    assert world.objects.opened("a.bin") == 0
    assert world.writes() == []


def _declared(name: str, data: bytes) -> AssetSpec:
    """An existing object's asset whose SHA256 the user declared (no size: nothing staged)."""
    return AssetSpec(name=name, bucket=BUCKET, key=f"k/{name}", sha256=sha256(data))


@pytest.mark.parametrize("stored_sha256", [True, False])
def test_a_declared_sha256_that_does_not_match_the_object_says_so(
    world: World, stored_sha256: bool
) -> None:
    # GIVEN an existing object and a SHA256 the user declared for other bytes (found from S3's
    # stored checksum before reading, or while streaming)
    world.objects.put(BUCKET, "k/a.bin", b"the real bytes", stored_sha256=stored_sha256)
    # WHEN published
    with pytest.raises((PublishFailed, AssetContentMismatch)) as caught:
        world.publish(request(_declared("a.bin", b"what the user thought")))
    # THEN the reason blames the declaration, not a change since synth, and says what to do
    reason = str(caught.value)
    assert "'a.bin'" in reason and "was declared for it" in reason
    assert "declare the object's real SHA256" in reason
    assert "since synth" not in reason
    assert not world.version.exists


def test_unknown_hash_uses_the_stored_checksum_or_is_computed_while_spooling(
    world: World,
) -> None:
    # GIVEN one object without any checksum and one with S3's full-object SHA256 checksum
    plain, checked = b"plain bytes" * 1000, b"checked bytes" * 1000
    req = request(
        world.put("plain.bin", plain, declare=False),
        world.put("checked.bin", checked, declare=False, stored_sha256=True),
    )
    # WHEN published without any declared hash
    result = world.publish(req)
    # THEN both hashes are right, each object read once, and the version is Published
    assert result.sha256s == (sha256(plain), sha256(checked))
    assert [p["sha256"] for p in world.version.of("publish")] == [sha256(plain), sha256(checked)]
    assert world.objects.opened("plain.bin") == world.objects.opened("checked.bin") == 1
    assert world.version.status == "Published"


def test_changed_object_fails_naming_the_asset_and_leaves_nothing(world: World) -> None:
    # GIVEN a first asset that is fine and a second whose object changed since synth (same size)
    ok = world.put("ok.bin", b"fine")
    world.objects.put(BUCKET, "k/model.bin", b"NEW!")
    # WHEN published
    with pytest.raises(AssetContentMismatch, match=r"model\.bin") as caught:
        world.publish(request(ok, spec("model.bin", b"old!")))
    # THEN the reason says the object changed, each object was read once, and the Unfinished
    # version the run created was removed
    assert "changed since synth" in str(caught.value)
    assert world.objects.opened("ok.bin") == world.objects.opened("model.bin") == 1
    assert not world.version.exists
    assert world.version.of("delete") == [{"expected_status": "Unfinished"}]


def test_missing_object_fails_before_any_write(world: World) -> None:
    first = world.put("a.bin", b"a")
    with pytest.raises(PublishFailed, match=r"asset 'gone.bin': s3://assets/k/gone.bin does not"):
        world.publish(request(first, spec("gone.bin", b"x")))
    assert world.writes() == []


# ---------------------------------------------------------------- failures and the cleanup


def test_a_refused_asset_fails_naming_it_and_removes_the_unfinished_version(world: World) -> None:
    # GIVEN CodeArtifact refusing b.bin, the second of three assets
    assets = [world.put(n, n.encode()) for n in ("a.bin", "b.bin", "c.txt")]
    world.version.fail_next(
        "publish", service_error("ServiceQuotaExceededException", "too many"), name="b.bin"
    )
    # WHEN published
    with pytest.raises(AssetPublishFailed) as raised:
        world.publish(request(*assets))
    # THEN the reason names the asset and the service's answer
    assert str(raised.value) == "asset 'b.bin': ServiceQuotaExceededException: too many"
    # AND c.txt was never tried, and the Unfinished version holding a.bin, which the run
    # created, was deleted
    assert [p["name"] for p in world.version.of("publish")] == ["a.bin", "b.bin"]
    assert world.version.of("delete") == [{"expected_status": "Unfinished"}]
    assert not world.version.exists


def test_retries_are_counted_in_the_reason(world: World) -> None:
    refusal = service_error("InternalServerException", "boom")
    refusal.response["ResponseMetadata"] = {"RetryAttempts": 10}
    world.version.fail_next("publish", refusal)
    with pytest.raises(AssetPublishFailed) as raised:
        world.publish(request(world.put("a.bin", b"a")))
    assert str(raised.value) == "asset 'a.bin': InternalServerException: boom (after 11 attempts)"


def test_running_out_of_time_between_assets_says_where_and_cleans_up(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a Lambda with 100 s left (a 10 s margin), 91 s older once a.bin is in (the clock
    # moves in the cancellation check that follows each asset)
    monkeypatch.setattr(publishing, "_BETWEEN_CHECKS_SECONDS", 0.0)
    clock = Clock(100)
    assets = [world.put(n, n.encode()) for n in ("a.bin", "b.bin", "c.txt")]

    def age_once_a_bin_is_in() -> bool:
        if world.version.of("publish"):
            clock.ms = 9_000
        return False

    # WHEN published
    with pytest.raises(OutOfTime) as raised:
        world.publish(request(*assets), deadline=Deadline(clock), cancelled=age_once_a_bin_is_in)
    # THEN it stopped before b.bin, saying so, and removed the Unfinished version it created
    assert str(raised.value) == (
        "stopped before the Lambda timeout while starting asset 'b.bin' (2 of 3 to publish)"
    )
    assert [p["name"] for p in world.version.of("publish")] == ["a.bin"]
    assert world.version.of("delete") == [{"expected_status": "Unfinished"}]
    assert not world.version.exists


def test_a_call_abandoned_at_the_deadline_still_gets_its_cleanup(world: World) -> None:
    # GIVEN the upload of b.bin abandoned at the margin (what the CodeArtifact adapter raises
    # when the call is still stuck in its socket)
    assets = [world.put("a.bin", b"a"), world.put("b.bin", b"b")]
    stuck = OutOfTime("stopped before the Lambda timeout while publishing asset 'b.bin'")
    world.version.fail_next("publish", stuck, name="b.bin")
    # WHEN published
    with pytest.raises(OutOfTime) as raised:
        world.publish(request(*assets))
    # THEN that is the reason, and the Unfinished version holding a.bin was removed all the same
    assert raised.value is stuck
    assert world.version.of("delete") == [{"expected_status": "Unfinished"}]
    assert not world.version.exists


def test_a_cleanup_that_fails_leaves_the_original_reason(world: World) -> None:
    # GIVEN b.bin refused, and CodeArtifact then failing the cleanup's describe
    assets = [world.put("a.bin", b"a"), world.put("b.bin", b"b")]
    world.version.before_next(
        "publish",
        lambda: world.version.fail_next("describe", service_error("InternalServerException")),
        name="b.bin",
    )
    world.version.fail_next("publish", service_error("ServiceQuotaExceededException"), name="b.bin")
    # WHEN published
    with pytest.raises(AssetPublishFailed, match=r"'b\.bin': ServiceQuotaExceeded"):
        world.publish(request(*assets))
    # THEN the reason is the refusal, and the version is left as it was (no delete)
    assert world.version.status == "Unfinished"
    assert world.version.of("delete") == []


def test_version_finished_by_another_writer_meanwhile_counts_as_success(world: World) -> None:
    # GIVEN a publish that races with another writer publishing the identical version
    req = request(world.put("a.bin", b"same bytes"))
    other = FakeVersion()

    def other_writer_first() -> None:
        other.publish("a.bin", io.BytesIO(b"same bytes"), sha256(b"same bytes"), unfinished=False)
        world.version.status, world.version.held = other.status, dict(other.held)
        world.version.revision, world.version.published_time = other.revision, datetime.now(UTC)

    world.version.before_next("publish", other_writer_first)
    # WHEN our publish then meets a ConflictException
    result = world.publish(req)
    # THEN it succeeds with the version as it is
    assert result.state.status == "Published"
    assert result.state.revision == world.version.revision
    assert world.version.stored() == {"a.bin": sha256(b"same bytes")}
    assert world.version.of("delete") == []


def test_another_writers_version_with_other_bytes_fails_and_is_kept(world: World) -> None:
    # GIVEN another writer publishing the version with other bytes while we publish
    req = request(world.put("a.bin", b"ours"))

    def other_writer_first() -> None:
        world.version.existing({"a.bin": b"theirs"}, age=timedelta(0))

    world.version.before_next("publish", other_writer_first)
    # WHEN our publish meets the ConflictException
    with pytest.raises(AssetPublishFailed, match="ConflictException"):
        world.publish(req)
    # THEN their Published version is kept as it is
    assert world.version.stored() == {"a.bin": sha256(b"theirs")}
    assert world.version.status == "Published"


# ---------------------------------------------------------------------------- cancellation


def test_a_create_cancelled_before_its_first_write_writes_nothing(world: World) -> None:
    with pytest.raises(
        OperationCancelled, match=r"cancelled this operation on tools/mycli@1\.0\.0"
    ):
        world.publish(request(world.put("a.bin", b"a")), cancelled=lambda: True)
    assert world.writes() == []
    assert not world.version.exists


def test_a_create_cancelled_after_its_last_asset_removes_even_a_published_version(
    world: World,
) -> None:
    # GIVEN CloudFormation giving up on the Create while its last asset was being published
    answers = iter([False, True])
    assets = [world.put("a.bin", b"a"), world.put("b.bin", b"b")]
    # WHEN published
    with pytest.raises(OperationCancelled, match="what it wrote was removed"):
        world.publish(request(*assets), cancelled=lambda: next(answers))
    # THEN the Published version it created is deleted all the same
    assert world.version.of("delete") == [{"expected_status": "Published"}]
    assert not world.version.exists


@pytest.mark.parametrize(("between", "checks"), [(5.0, 2), (0.0, 4)])
def test_cancellation_is_asked_before_the_first_write_and_after_assets(
    world: World, monkeypatch: pytest.MonkeyPatch, between: float, checks: int
) -> None:
    # GIVEN three quick assets, and cancellation checks at most every ``between`` seconds
    monkeypatch.setattr(publishing, "_BETWEEN_CHECKS_SECONDS", between)
    assets = [world.put(n, n.encode()) for n in ("a.bin", "b.bin", "c.txt")]
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(len(world.version.of("publish")))
        return False

    # WHEN published
    world.publish(request(*assets), cancelled=cancelled)
    # THEN it asked before the first write and after the last asset, and in between only
    # once the interval had passed
    assert asked == ([0, 3] if checks == 2 else [0, 1, 2, 3])


def test_results_keep_declaration_order_when_some_assets_were_there(world: World) -> None:
    # GIVEN a version holding the second of two declared assets
    world.version.existing({"b.bin": b"b"}, "Unfinished")
    req = request(world.put("a.bin", b"a"), world.put("b.bin", b"b"))
    # WHEN published
    result = world.publish(req)
    # THEN the hashes are in declaration order
    assert result.sha256s == (sha256(b"a"), sha256(b"b"))


# ------------------------------------------------------------------------ assets in parallel


def _spans_overlap(timeline: list[tuple[str, str]], names: set[str]) -> bool:
    running = 0
    for event, name in timeline:
        if name in names:
            running += 1 if event == "start" else -1
            if running > 1:
                return True
    return False


def test_assets_between_the_first_and_the_final_one_go_at_once_within_the_bound(
    world: World,
) -> None:
    # GIVEN a new version of six assets, and a bound of three at a time
    names = ["a.bin", "b.bin", "c.bin", "d.bin", "e.bin", "f.txt"]
    assets = [world.put(n, n.encode() * 1000) for n in names]
    # AND b, c and d each wait (up to 10 s) until all three are being published at once
    together = threading.Barrier(3, timeout=10)
    for name in ("b.bin", "c.bin", "d.bin"):
        world.version.before_next("publish", together.wait, name=name)
    # WHEN published
    result = world.publish(request(*assets), parallel=3)
    # THEN three were in flight together (a one-at-a-time run breaks the barrier), never more
    assert world.version.most_in_flight == 3
    # AND the first one, which created the version, had ended before any other began
    assert world.version.timeline[:2] == [("start", "a.bin"), ("end", "a.bin")]
    # AND the final one began once every other had ended, the only one not Unfinished
    assert world.version.timeline[-2:] == [("start", "f.txt"), ("end", "f.txt")]
    assert [p["name"] for p in world.version.of("publish") if not p["unfinished"]] == ["f.txt"]
    # AND every object was read once, and the hashes keep declaration order
    assert [world.objects.opened(n) for n in names] == [1] * 6
    assert result.sha256s == tuple(sha256(n.encode() * 1000) for n in names)
    assert result.state.status == "Published"


def test_one_at_a_time_keeps_declaration_order(world: World) -> None:
    # GIVEN four assets, and a bound of one
    names = ["a.bin", "b.bin", "c.bin", "d.txt"]
    assets = [world.put(n, n.encode()) for n in names]
    # WHEN published
    world.publish(request(*assets), parallel=1)
    # THEN they went one after the other, in declaration order
    assert world.version.most_in_flight == 1
    assert [p["name"] for p in world.version.of("publish")] == names


def test_assets_added_to_an_unfinished_version_all_go_at_once(world: World) -> None:
    # GIVEN an Unfinished version that already holds one asset, and three more declared
    world.version.existing({"a.bin": b"a.bin"}, "Unfinished")
    assets = [world.put(n, n.encode()) for n in ("a.bin", "b.bin", "c.bin", "d.txt")]
    together = threading.Barrier(2, timeout=10)
    world.version.before_next("publish", together.wait, name="b.bin")
    world.version.before_next("publish", together.wait, name="c.bin")
    # WHEN published
    world.publish(request(*assets), parallel=4)
    # THEN the version exists already, so b and c went together, and d last
    assert world.version.most_in_flight == 2
    assert world.version.timeline[-2:] == [("start", "d.txt"), ("end", "d.txt")]


def test_objects_of_unknown_sha256_spool_one_at_a_time(world: World) -> None:
    # GIVEN a new version whose middle assets have no known SHA256 (each is spooled to /tmp)
    blobs = {n: n.encode() * 100 for n in ("a.bin", "b.bin", "c.bin", "d.bin", "e.txt")}
    assets = [world.put(n, d, declare=n in ("a.bin", "e.txt")) for n, d in blobs.items()]
    # WHEN published four at a time
    result = world.publish(request(*assets), parallel=4)
    # THEN no two spooled assets were in flight together: /tmp holds one object at most
    assert not _spans_overlap(world.version.timeline, {"b.bin", "c.bin", "d.bin"})
    assert result.sha256s == tuple(sha256(d) for d in blobs.values())


def test_a_failed_asset_stops_the_others_and_nothing_is_left_half_published(
    world: World,
) -> None:
    # GIVEN a new version whose asset b is refused while c is still being published, and d
    # waits for a free slot (two at a time)
    names = ["a.bin", "b.bin", "c.bin", "d.bin", "e.txt"]
    assets = [world.put(n, n.encode() * 1000) for n in names]
    both_in_flight = threading.Barrier(2, timeout=10)
    b_refused = threading.Event()

    def b_is_refused() -> None:
        both_in_flight.wait()
        b_refused.set()

    world.version.before_next("publish", b_is_refused, name="b.bin")
    world.version.fail_next("publish", service_error("ValidationException", "no"), name="b.bin")

    def c_outlives_b() -> None:
        both_in_flight.wait()
        b_refused.wait(10)
        time.sleep(0.3)  # widens the window in which a cleanup could race c's publish

    world.version.before_next("publish", c_outlives_b, name="c.bin")
    # WHEN published
    with pytest.raises(AssetPublishFailed, match=r"b\.bin") as failure:
        world.publish(request(*assets), parallel=2)
    # THEN the failure reported is b's, and neither d nor the final asset was started
    assert "ValidationException" in str(failure.value)
    assert world.objects.opened("d.bin") == world.objects.opened("e.txt") == 0
    # AND the version this run created was deleted, only once c's publish had ended
    assert not world.version.exists
    timeline = world.version.timeline
    assert timeline.index(("end", "c.bin")) < timeline.index(("delete", ""))


def test_an_asset_in_flight_is_abandoned_at_its_next_chunk() -> None:
    # GIVEN a body of three chunks whose asset gets abandoned after the first chunk was read
    abandon = threading.Event()
    data = b"x" * (3 * streams.CHUNK_BYTES)
    source = io.BytesIO(data)
    after_the_first_chunk = threading.Event()

    class Stalling:
        """Gives the first chunk at once, the others once the test says so."""

        def read(self, amt: int = -1, /) -> bytes:
            if source.tell():
                after_the_first_chunk.wait(10)
            return source.read(amt)

        def close(self) -> None:
            source.close()

    body = streams.HashingBody(
        Stalling,
        len(data),
        expected_sha256=sha256(data),
        progress=streams.Progress("big.bin", len(data), abandon=abandon),
    )
    first = body.read(streams.CHUNK_BYTES)
    abandon.set()
    after_the_first_chunk.set()
    # WHEN reading on
    with pytest.raises(streams.AssetAbandoned, match=r"big\.bin"):
        body.read(4 * streams.CHUNK_BYTES)
    # THEN it stopped before the end, and the body stays failed (botocore cannot rewind it)
    assert len(first) == streams.CHUNK_BYTES
    with pytest.raises(streams.AssetAbandoned):
        body.seek(0)
    body.close()


@pytest.mark.parametrize(("memory_mib", "assets"), [(128, 1), (256, 2), (320, 4), (10240, 4)])
def test_assets_in_flight_follow_the_functions_memory(memory_mib: int, assets: int) -> None:
    # GIVEN a handler with ``memory_mib`` of memory; THEN it publishes ``assets`` at once
    assert parallel_assets(memory_mib) == assets


# ------------------------------------------------------------ versions longer than one invocation


class Invocation:
    """A Lambda invocation of ``seconds`` whose clock moves only when an asset is published
    (each publish takes ``per_publish`` seconds of it)."""

    def __init__(self, world: World, seconds: float, per_publish: float) -> None:
        self.now = 0.0
        self._seconds = seconds
        self.deadline = Deadline(lambda: int((self._seconds - self.now) * 1000))
        self.pacing = Pacing(self.deadline, clock=lambda: self.now)
        self._world = world
        self._per_publish = per_publish

    def publish(self, req: VersionRequest, **options: Any) -> PublishResult:
        for spec in req.assets:
            self._world.version.before_next("publish", self._tick, name=spec.name)
        return publish(
            req,
            self._world.objects,
            self._world.version,
            deadline=self.deadline,
            pacing=self.pacing,
            parallel=1,
            **options,
        )

    def _tick(self) -> None:
        self.now += self._per_publish


def test_assets_that_would_not_fit_are_left_for_the_next_invocation(world: World) -> None:
    # GIVEN four assets that take 20 s each, and invocations of 60 s (6 s margin)
    names = ["a.bin", "b.bin", "c.bin", "d.txt"]
    req = request(*[world.put(n, n.encode() * 100) for n in names])
    # WHEN a first invocation publishes what fits
    with pytest.raises(publishing.PublishPaused, match=r"c\.bin"):
        Invocation(world, 60, per_publish=20).publish(req)
    # THEN a and b are in, c (20 s, with 14 s left) was not started, and the version is
    # kept Unfinished for the next invocation
    assert [p["name"] for p in world.version.of("publish")] == ["a.bin", "b.bin"]
    assert world.version.status == "Unfinished"
    assert "delete" not in world.version.operations()
    # WHEN the next invocation carries on
    result = Invocation(world, 60, per_publish=20).publish(req)
    # THEN it publishes only what was missing, the final asset last: no asset went twice and
    # every object was read once
    assert [p["name"] for p in world.version.of("publish")] == names
    assert [world.objects.opened(n) for n in names] == [1, 1, 1, 1]
    assert result.state.status == "Published"


def test_the_first_asset_of_an_invocation_is_judged_at_the_assumed_rate(world: World) -> None:
    # GIVEN two assets that take longer than assumed (10 s each), and invocations of 20 s
    req = request(world.put("a.bin", b"a" * 100), world.put("b.txt", b"b" * 100))
    # WHEN two invocations run
    with pytest.raises(publishing.PublishPaused):
        Invocation(world, 20, per_publish=10).publish(req)
    Invocation(world, 20, per_publish=10).publish(req)
    # THEN each started one: before anything is measured the assumed rate says it fits
    assert [p["name"] for p in world.version.of("publish")] == ["a.bin", "b.txt"]
    assert world.version.status == "Published"


def test_an_asset_too_large_for_any_invocation_fails_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an asset that would need 40 s at the assumed rate (100 bytes at 2.5 B/s), and
    # invocations of 20 s
    monkeypatch.setattr(contract, "ONE_INVOCATION_BYTES_PER_SECOND", 2.5)
    req = request(world.put("a.bin", b"a" * 100), world.put("b.txt", b"b"))
    # WHEN an invocation starts it
    with pytest.raises(PublishFailed, match=r"'a\.bin' \(100 bytes\) cannot be published"):
        Invocation(world, 20, per_publish=10).publish(req)
    # THEN it says so instead of leaving it for a later invocation that could not do better
    assert world.version.of("publish") == []


@pytest.mark.parametrize("ours", [True, False])
def test_a_later_invocation_that_fails_removes_the_version_only_if_the_operation_created_it(
    world: World, ours: bool
) -> None:
    # GIVEN a version left Unfinished by an earlier invocation, first published 10 s after
    # the operation began (ours) or 10 s before it (someone else's)
    req = request(world.put("a.bin", b"a"), world.put("b.txt", b"b"))
    world.version.existing({"a.bin": b"a"}, "Unfinished", age=timedelta(seconds=60))
    began = world.version.published_time + timedelta(seconds=-10 if ours else 10)  # type: ignore[operator]
    # AND CodeArtifact refuses the final asset
    world.version.fail_next("publish", service_error("ValidationException"), name="b.txt")
    # WHEN the next invocation carries on
    with pytest.raises(AssetPublishFailed):
        world.publish(req, created_since=began)
    # THEN the version is removed only when this operation had created it
    assert world.version.exists is not ours
