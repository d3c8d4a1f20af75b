"""What real CloudFormation does, forced deterministically: parallel operations, cancelled
Creates, rollback Updates with the old properties, and the ownership rule that survives them.

Interleavings are forced with the emulator's ``hold`` fault (a call held before or after it
runs, or in the middle of its body) and :class:`~.interleaving.FailOnCue`, a sibling resource
that fails when the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from codeartifact_generic import VersionStatus
from codeartifact_generic.testing import LocalEnvironment
from codeartifact_generic.testing._lifecycle import repository_versions
from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation

from .conftest import Lifecycle
from .interleaving import CUE_TYPE, App, Deployment, FailOnCue, synth
from .lifecycle_app import DOMAIN, REPOSITORY, Knobs

pytestmark = pytest.mark.slow

RESOURCE_TYPE = "Custom::CodeArtifactGenericPackageVersion"


class Stage:
    """Servers, a local CloudFormation with the cue sibling, and the app's outputs."""

    def __init__(self, env: LocalEnvironment, tmp_path: Path, max_parallel: int = 8) -> None:
        self.env = env
        self.sibling = FailOnCue()
        self.cfn = LocalCloudFormation(
            tmp_path / "state",
            env.s3_endpoint,
            env.codeartifact_endpoint,
            providers={CUE_TYPE: self.sibling},
            max_parallel=max_parallel,
        )
        self.tmp_path = tmp_path
        self._step = 0

    def synth(self, app: App) -> Path:
        self._step += 1
        return synth(self.tmp_path / f"out{self._step}", app)

    def hold(self, operation: str, **options: Any) -> Any:
        return self.env.codeartifact.faults.next(operation, "hold", **options)

    def versions(self, package: str = "tool0") -> dict[str, str]:
        rows = repository_versions(self.cfn.codeartifact_client(), DOMAIN, REPOSITORY)
        return {row.version: row.status for row in rows if row.package == f"cue/{package}"}

    def publish_by_hand(self, version: str, app: App) -> str:
        """Publish the app's version outside CloudFormation (it exists before the stack)."""
        client = self.cfn.codeartifact_client()
        import hashlib

        for index, (name, data) in enumerate(app.data.items()):
            body = data.encode()
            client.publish_package_version(
                **_coordinates(version),
                assetContent=body,
                assetName=name,
                assetSHA256=hashlib.sha256(body).hexdigest(),
                unfinished=index < len(app.data) - 1,
            )
        return self._revision(version)

    def _revision(self, version: str) -> str:
        described = self.cfn.codeartifact_client().describe_package_version(**_coordinates(version))
        return described["packageVersion"]["revision"]


def _coordinates(version: str) -> dict[str, Any]:
    """Version ``version`` of cue/tool0, as CodeArtifact's API names it."""
    return {
        "domain": DOMAIN,
        "repository": REPOSITORY,
        "format": "generic",
        "namespace": "cue",
        "package": "tool0",
        "packageVersion": version,
    }


@pytest.fixture
def stage(env: LocalEnvironment, tmp_path: Path) -> Iterator[Stage]:
    created = Stage(env, tmp_path)
    try:
        # The repository exists before the package stack (no sibling there).
        created.cfn.deploy(created.synth(App(sibling=False)), ["CueRepo"], exclusively=True)
        yield created
    finally:
        created.cfn.close()


def _cancel_while_held(stage: Stage, hold: Any) -> str:
    """Deploy, wait until ``hold`` holds the Create, fail the sibling, let the rollback end;
    returns the stack id."""
    deployment = Deployment(stage.cfn, stage.synth(App()))
    deployment.start()
    assert hold.reached.wait(120), "the Create never reached the held call"
    described = stage.cfn.stack_directory.find("CuePackages")
    assert described is not None
    stage.sibling.fail_now()
    failure = deployment.outcome()
    assert failure is not None and failure.status == "ROLLBACK_COMPLETE", failure
    return described.stack_id


@pytest.mark.parametrize(
    ("where", "operation", "options"),
    [
        ("before the first asset", "PublishPackageVersion", {"match": {"assetName": "a.bin"}}),
        (
            "in the middle of an asset",
            "PublishPackageVersion",
            {"match": {"assetName": "b.bin"}, "after_bytes": 5},
        ),
        ("just before the final asset", "PublishPackageVersion", {"match": {"assetName": "c.bin"}}),
        (
            "after the final asset",
            "PublishPackageVersion",
            {"match": {"assetName": "c.bin"}, "phase": "after"},
        ),
    ],
)
def test_a_cancelled_create_leaves_nothing_it_wrote(
    stage: Stage, where: str, operation: str, options: dict[str, Any]
) -> None:
    # GIVEN a new stack whose package version's Create is held {where}
    hold = stage.hold(operation, **options)
    # WHEN a sibling fails meanwhile: CloudFormation cancels the Create and rolls back,
    # sending Delete (with an id it generated) while the Create still runs
    _cancel_while_held(stage, hold)
    assert not hold.released.is_set()  # the rollback completed while the Create was held
    hold.release()
    assert stage.cfn.wait_for_abandoned(120)
    # THEN once the cancelled Create's own late work is over, nothing it wrote is left
    assert stage.versions() == {}, where


def test_a_cancelled_create_is_reported_and_its_delete_carries_a_generated_id(
    stage: Stage,
) -> None:
    # GIVEN a Create held just before its final asset, and a sibling that fails
    hold = stage.hold("PublishPackageVersion", match={"assetName": "c.bin"})
    stack_id = _cancel_while_held(stage, hold)
    hold.release()
    stage.cfn.wait_for_abandoned(120)
    # THEN the events read like CloudFormation's: CREATE_FAILED "Resource creation cancelled",
    # then a Delete of an id CloudFormation generated (<stack>-<logical id>-<random>)
    events = [
        e
        for e in reversed(stage.cfn.stack_directory.events(stack_id))
        if e.resource_type == RESOURCE_TYPE
    ]
    statuses = [(e.status, e.reason) for e in events]
    assert statuses[:4] == [
        ("CREATE_IN_PROGRESS", ""),
        ("CREATE_FAILED", "Resource creation cancelled"),
        ("DELETE_IN_PROGRESS", ""),
        ("DELETE_COMPLETE", ""),
    ]
    generated = events[2].physical_id
    assert generated.startswith("CuePackages-Tool0") and "/" not in generated


def test_a_cancelled_create_leaves_a_version_that_existed_before_untouched(
    stage: Stage,
) -> None:
    # GIVEN the version published by hand before the stack, and a Create held while it looks
    revision = stage.publish_by_hand("1.0.0", App())
    hold = stage.hold("DescribePackageVersion", match={"package": "tool0"})
    # WHEN a sibling fails and CloudFormation cancels the Create
    _cancel_while_held(stage, hold)
    hold.release()
    assert stage.cfn.wait_for_abandoned(120)
    # THEN the version is still there, unchanged
    assert stage.versions() == {"1.0.0": "Published"}
    assert stage._revision("1.0.0") == revision


def test_independent_resources_are_created_in_parallel(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    # GIVEN two independent versions whose first uploads are both held
    stage = Stage(env, tmp_path)
    try:
        stage.cfn.deploy(stage.synth(App(sibling=False)), ["CueRepo"], exclusively=True)
        holds = [
            stage.hold("PublishPackageVersion", match={"package": f"tool{i}", "assetName": "a.bin"})
            for i in range(2)
        ]
        deployment = Deployment(stage.cfn, stage.synth(App(sibling=False, versions=2)))
        deployment.start()
        # WHEN both are held
        # THEN both Creates are running at once
        assert all(h.reached.wait(120) for h in holds)
        for h in holds:
            h.release()
        assert deployment.outcome() is None
        assert stage.versions("tool0") == stage.versions("tool1") == {"1.0.0": "Published"}
    finally:
        stage.cfn.close()


def test_parallelism_is_bounded(env: LocalEnvironment, tmp_path: Path) -> None:
    # GIVEN a local CloudFormation that runs one operation at a time
    stage = Stage(env, tmp_path, max_parallel=1)
    try:
        stage.cfn.deploy(stage.synth(App(sibling=False)), ["CueRepo"], exclusively=True)
        first = stage.hold("PublishPackageVersion", match={"assetName": "a.bin"})
        deployment = Deployment(stage.cfn, stage.synth(App(sibling=False, versions=2)))
        deployment.start()
        assert first.reached.wait(120)
        # WHEN one Create is held
        calls = len(env.codeartifact.faults.calls_to("PublishPackageVersion"))
        # THEN the other has not started publishing
        assert calls == 1
        first.release()
        assert deployment.outcome() is None
    finally:
        stage.cfn.close()


# ------------------------------------------------------------ rollback Updates and ownership


def _tool_id(life: Lifecycle) -> str:
    stack = life.cfn.stack("LifePackages")
    assert stack is not None
    (record,) = [r for r in stack.resources.values() if r.type == RESOURCE_TYPE]
    return record.physical_id


def test_a_rollback_update_never_fails_for_what_it_cannot_undo(life: Lifecycle) -> None:
    # GIVEN 1.0.0 deployed Unfinished
    assert life.deploy(Knobs(status=VersionStatus.UNFINISHED)).succeeded
    # WHEN it is deployed Published together with a sibling that fails
    failed = life.deploy(Knobs(broken_sibling=True))
    # THEN the rollback Update (back to Unfinished, which a Published version can never
    # return to) answers SUCCESS: the stack is UPDATE_ROLLBACK_COMPLETE, not stuck in
    # UPDATE_ROLLBACK_FAILED, and the version is kept as it is
    assert not failed.succeeded
    stack = life.cfn.stack("LifePackages")
    assert stack is not None and stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert failed.versions[("life/tool", "1.0.0")].status == "Published"
    # AND the stack can be deployed again
    assert life.deploy(Knobs()).succeeded


def test_a_rolled_back_bump_returns_exactly_the_physical_id_and_destroy_still_applies(
    life: Lifecycle,
) -> None:
    destroy = cdk.RemovalPolicy.DESTROY
    # GIVEN 2.0.0 deployed with DESTROY
    assert life.deploy(Knobs(version="2.0.0", removal_policy=destroy)).succeeded
    original = _tool_id(life)
    # WHEN a bump to 2.1.0 fails (a sibling fails) and rolls back
    failed = life.deploy(Knobs(version="2.1.0", removal_policy=destroy, broken_sibling=True))
    assert not failed.succeeded
    # THEN the resource has exactly the physical id it had, and 2.1.0 is gone
    assert _tool_id(life) == original
    assert set(failed.versions) == {("life/tool", "2.0.0")}
    # AND a later bump deletes 2.0.0, which this resource created
    bumped = life.deploy(Knobs(version="2.2.0", removal_policy=destroy))
    assert bumped.succeeded, bumped.reason
    assert set(bumped.versions) == {("life/tool", "2.2.0")}


def test_destroy_never_removes_a_version_that_existed_before_the_resource(
    life: Lifecycle,
) -> None:
    destroy = cdk.RemovalPolicy.DESTROY
    # GIVEN 1.0.0 published by an earlier stack, retained, and that stack destroyed
    assert life.deploy(Knobs()).succeeded
    life.destroy(Knobs(), ["LifeConsumer", "LifePackages"])
    # WHEN a new stack declares 1.0.0 under DESTROY, bumps it (failing once), then is destroyed
    assert life.deploy(Knobs(removal_policy=destroy)).succeeded
    assert not life.deploy(
        Knobs(version="1.1.0", removal_policy=destroy, broken_sibling=True)
    ).succeeded
    assert life.deploy(Knobs(removal_policy=destroy)).succeeded
    life.destroy(Knobs(removal_policy=destroy), ["LifeConsumer", "LifePackages"])
    # THEN 1.0.0, which existed before this resource, is still there
    assert {k: v.status for k, v in life.versions().items()} == {
        ("life/tool", "1.0.0"): "Published"
    }


def test_a_cancelled_update_is_rolled_back_and_its_late_work_removed(stage: Stage) -> None:
    # GIVEN 1.0.0 deployed (no sibling), then a bump to 1.1.0 held just before its last asset
    stage.cfn.deploy(stage.synth(App(sibling=False)))
    stack = stage.cfn.stack("CuePackages")
    assert stack is not None
    (before,) = [r.physical_id for r in stack.resources.values() if r.type == RESOURCE_TYPE]
    hold = stage.hold(
        "PublishPackageVersion", match={"packageVersion": "1.1.0", "assetName": "c.bin"}
    )
    deployment = Deployment(stage.cfn, stage.synth(App(version="1.1.0")))
    deployment.start()
    assert hold.reached.wait(120)
    stack_id = stack.stack_id
    # WHEN a sibling fails while the Update runs
    stage.sibling.fail_now()
    failure = deployment.outcome()
    assert failure is not None and failure.status == "UPDATE_ROLLBACK_COMPLETE", failure
    hold.release()
    assert stage.cfn.wait_for_abandoned(120)
    # THEN CloudFormation reported the Update cancelled and sent the rollback Update while it
    # ran; the resource keeps its physical id, and nothing of 1.1.0 is left once the
    # cancelled Update's late work is over
    statuses = [
        (e.status, e.reason)
        for e in reversed(stage.cfn.stack_directory.events(stack_id))
        if e.resource_type == RESOURCE_TYPE
    ]
    assert ("UPDATE_FAILED", "Resource update cancelled") in statuses
    after = stage.cfn.stack("CuePackages")
    assert after is not None
    assert [r.physical_id for r in after.resources.values() if r.type == RESOURCE_TYPE] == [before]
    assert stage.versions() == {"1.0.0": "Published"}
