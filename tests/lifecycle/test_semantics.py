"""Every row of the README's lifecycle table, through the local CloudFormation.

Each test deploys the lifecycle app with some knobs, changes them, and checks what
CodeArtifact holds afterwards (not only how the deployment ended).
"""

from __future__ import annotations

import hashlib

import aws_cdk as cdk
import pytest

from codeartifact_generic import DeleteBehavior, VersionStatus

from .conftest import Lifecycle
from .lifecycle_app import Knobs, coordinates

pytestmark = pytest.mark.slow

TOOL = "life/tool"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_version_bump_publishes_a_new_version_and_retains_the_old(life: Lifecycle) -> None:
    # GIVEN 1.0.0 deployed
    assert life.deploy(Knobs()).succeeded
    # WHEN the version is bumped
    bumped = life.deploy(Knobs(version="1.1.0", data="tool v2"))
    # THEN 1.1.0 is published and 1.0.0, under the default RETAIN, is still there
    assert bumped.succeeded, bumped.reason
    assert {k: v.status for k, v in bumped.versions.items()} == {
        (TOOL, "1.0.0"): "Published",
        (TOOL, "1.1.0"): "Published",
    }


def test_version_bump_under_destroy_deletes_the_old_version_in_cleanup(life: Lifecycle) -> None:
    destroy = Knobs(removal_policy=cdk.RemovalPolicy.DESTROY)
    assert life.deploy(destroy).succeeded
    bumped = life.deploy(Knobs(version="1.1.0", removal_policy=cdk.RemovalPolicy.DESTROY))
    assert bumped.succeeded, bumped.reason
    assert set(bumped.versions) == {(TOOL, "1.1.0")}


def test_same_version_with_other_bytes_fails_naming_the_asset_and_changes_nothing(
    life: Lifecycle,
) -> None:
    # GIVEN 1.0.0 deployed
    first = life.deploy(Knobs())
    # WHEN the bytes change but the version does not
    changed = life.deploy(Knobs(data="tool v1, rebuilt"))
    # THEN the deployment fails, naming the asset and the fix, and rolls back
    assert not changed.succeeded
    assert "tool.bin" in changed.reason
    assert "bump the version" in changed.reason
    # AND CodeArtifact still holds the old bytes under the same revision
    assert changed.versions == first.versions
    assert life.assets("1.0.0") == {"tool.bin": _sha("tool v1")}


def test_replace_existing_republishes_other_bytes(life: Lifecycle) -> None:
    first = life.deploy(Knobs())
    replaced = life.deploy(Knobs(data="tool v1, rebuilt", replace_existing=True))
    assert replaced.succeeded, replaced.reason
    assert life.assets("1.0.0") == {"tool.bin": _sha("tool v1, rebuilt")}
    assert replaced.versions[(TOOL, "1.0.0")].revision != first.versions[(TOOL, "1.0.0")].revision


def test_assets_added_to_an_unfinished_version_publish_only_the_new_ones(life: Lifecycle) -> None:
    # GIVEN an Unfinished version with one asset
    first = life.deploy(Knobs(status=VersionStatus.UNFINISHED))
    assert first.versions[(TOOL, "1.0.0")].status == "Unfinished"
    publishes = life.count_calls("PublishPackageVersion")
    # WHEN a second asset is declared and the version finished
    finished = life.deploy(Knobs(extra_asset=True))
    # THEN exactly the new asset was uploaded, and the version is Published with both
    assert finished.succeeded, finished.reason
    assert [call["assetName"] for call in publishes] == ["extra.txt"]
    assert finished.versions[(TOOL, "1.0.0")].status == "Published"
    assert set(life.assets("1.0.0")) == {"tool.bin", "extra.txt"}


def test_status_change_updates_in_place_with_optimistic_locking(life: Lifecycle) -> None:
    first = life.deploy(Knobs())
    updates = life.count_calls("UpdatePackageVersionsStatus")
    archived = life.deploy(Knobs(status=VersionStatus.ARCHIVED))
    assert archived.succeeded, archived.reason
    assert archived.versions[(TOOL, "1.0.0")].status == "Archived"
    assert len(updates) == 1
    assert updates[0]["expectedStatus"] == "Published"
    assert updates[0]["versionRevisions"] == {"1.0.0": first.versions[(TOOL, "1.0.0")].revision}


def test_published_to_unfinished_fails_with_a_reason(life: Lifecycle) -> None:
    first = life.deploy(Knobs())
    back = life.deploy(Knobs(status=VersionStatus.UNFINISHED))
    assert not back.succeeded
    assert "never return to Unfinished" in back.reason
    assert back.versions == first.versions


@pytest.mark.parametrize(
    ("policy", "on_delete", "left"),
    [
        (cdk.RemovalPolicy.RETAIN, None, "Published"),
        (cdk.RemovalPolicy.DESTROY, None, None),
        (cdk.RemovalPolicy.DESTROY, DeleteBehavior.DISPOSE, "Disposed"),
        (cdk.RemovalPolicy.DESTROY, DeleteBehavior.ARCHIVE, "Archived"),
        (cdk.RemovalPolicy.DESTROY, DeleteBehavior.UNLIST, "Unlisted"),
    ],
)
def test_destroy_applies_the_removal_policy(
    life: Lifecycle, policy: cdk.RemovalPolicy, on_delete: DeleteBehavior | None, left: str | None
) -> None:
    knobs = Knobs(removal_policy=policy, on_delete=on_delete)
    assert life.deploy(knobs).succeeded
    life.destroy(knobs, ["LifePackages"])
    row = life.versions().get((TOOL, "1.0.0"))
    assert (row.status if row else None) == left


def test_a_version_that_existed_before_is_never_destroyed(life: Lifecycle) -> None:
    # GIVEN the repository stack, and 1.0.0 already published by hand with the same bytes
    knobs = Knobs(removal_policy=cdk.RemovalPolicy.DESTROY)
    assert life.deploy(knobs).succeeded
    life.destroy(knobs, ["LifePackages"])  # DESTROY: 1.0.0 deleted, repository kept
    client = life.cfn.codeartifact_client()
    client.publish_package_version(
        **coordinates("tool"),
        packageVersion="1.0.0",
        assetName="tool.bin",
        assetContent=b"tool v1",
        assetSHA256=_sha("tool v1"),
    )
    # WHEN the stack adopts it and is destroyed under DESTROY
    assert life.deploy(knobs).succeeded
    life.destroy(knobs, ["LifePackages"])
    # THEN the version is still there
    assert life.versions()[(TOOL, "1.0.0")].status == "Published"


def test_failed_update_rolls_back_the_version_it_created(life: Lifecycle) -> None:
    # GIVEN 1.0.0 deployed
    first = life.deploy(Knobs())
    # WHEN 1.1.0 is published but a later resource of the same deployment fails
    failed = life.deploy(Knobs(version="1.1.0", broken_sibling=True))
    # THEN the deployment fails on that resource and rolls back
    assert not failed.succeeded
    assert "no-such-bucket-here" in failed.reason
    # AND the package is as it was: 1.1.0 removed even under RETAIN, 1.0.0 untouched
    assert failed.versions == first.versions
    # AND the stack still works afterwards
    assert life.deploy(Knobs(version="1.1.0")).succeeded


def test_failed_create_leaves_nothing(life: Lifecycle) -> None:
    failed = life.deploy(Knobs(broken_sibling=True))
    assert not failed.succeeded
    assert failed.versions == {}


def test_redeploying_the_same_app_is_idempotent(life: Lifecycle) -> None:
    first = life.deploy(Knobs())
    publishes = life.count_calls("PublishPackageVersion")
    again = life.deploy(Knobs(context={"unrelated": "change"}))
    assert again.succeeded
    assert again.versions == first.versions
    assert publishes == []
