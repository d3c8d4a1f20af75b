"""Matrix 8-11: what is (or is not) already in CodeArtifact when an event arrives.

Missing domains and repositories, a version that holds other bytes, duplicate Create events,
and the rollback Delete of a Create that failed. Each scenario checks CodeArtifact's state.
"""

from __future__ import annotations

import pytest
from codeartifact_generic.handler.contract import ResourceId

from handler.harness import dump

from .conftest import World, sha256
from .scenarios import create_failed_on_its_second_asset

PUBLISH = "PublishPackageVersion"
#: Operations that change CodeArtifact.
WRITES = (
    PUBLISH,
    "UpdatePackageVersionsStatus",
    "DeletePackageVersions",
    "DisposePackageVersions",
    "DeletePackage",
)


def _writes(world: World) -> list[str]:
    return [call.operation for call in world.calls() if call.operation in WRITES]


def _someone_elses_version(world: World, status: str, data: bytes) -> str:
    """1.0.0 holding ``data`` as a.bin, published with ``status`` outside the stack: its
    revision."""
    return world.publish_directly("1.0.0", {"a.bin": data}, unfinished=status == "Unfinished")


def _assert_untouched(world: World, status: str, revision: str, data: bytes) -> None:
    """Nothing was written: 1.0.0 has the same status, revision and bytes."""
    assert _writes(world) == []
    version = world.version()
    assert version is not None
    assert (version["status"], version["revision"]) == (status, revision)
    assert world.assets() == [("a.bin", sha256(data))]


@pytest.mark.parametrize("missing", ["domain", "repository"])
def test_08_missing_domain_or_repository_fails_naming_it(world: World, missing: str) -> None:
    # GIVEN properties naming a domain (or a repository) that does not exist
    entry = world.put("a.bin", b"a")
    props = world.props([entry])
    absent = f"{world.domain}-absent" if missing == "domain" else f"{world.repository}-absent"
    props["Domain" if missing == "domain" else "Repository"] = absent
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", props)
    # THEN FAILED with ResourceNotFound naming what is missing
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    assert "ResourceNotFoundException" in outcome.response.reason
    assert absent in outcome.response.reason
    # AND nothing was written anywhere; the missing resource was not created on the way
    assert _writes(world) == []
    domains = {d["name"] for d in world.codeartifact.list_domains()["domains"]}
    repositories = {
        r["name"]
        for r in world.codeartifact.list_repositories(repositoryPrefix=world.repository)[
            "repositories"
        ]
    }
    assert absent not in domains | repositories
    assert world.versions() == []


@pytest.mark.parametrize("existing_status", ["Published", "Unfinished"])
def test_09_version_with_different_bytes_fails_and_is_left_untouched(
    world: World, existing_status: str
) -> None:
    # GIVEN version 1.0.0 already holding a.bin with other bytes (published by someone else)
    revision = _someone_elses_version(world, existing_status, b"old bytes")
    entry = world.put("a.bin", b"new bytes")
    # WHEN the stack declares 1.0.0 with the new bytes
    outcome = world.send("Create", world.props([entry]))
    # THEN FAILED with a reason that names the asset and says how to fix it
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    reason = outcome.response.reason
    assert "'a.bin'" in reason and "differs" in reason and "bump the version" in reason
    # AND the existing version is exactly as it was: same status, revision and bytes
    _assert_untouched(world, existing_status, revision, b"old bytes")


def test_09_replace_existing_opts_in_to_republishing_other_bytes(world: World) -> None:
    # GIVEN version 1.0.0 holding other bytes, and a stack that opts in to replacing them
    old_revision = world.publish_directly("1.0.0", {"a.bin": b"old bytes"})
    entry = world.put("a.bin", b"new bytes")
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props([entry], ReplaceExisting="true"))
    # THEN SUCCESS and CodeArtifact holds the new bytes under a new revision
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    version = world.version()
    assert version is not None and version["revision"] != old_revision
    assert version["revision"] == outcome.response.data["VersionRevision"]
    assert world.assets() == [("a.bin", sha256(b"new bytes"))]


def test_10_duplicate_create_events_publish_nothing_twice(world: World) -> None:
    # GIVEN a two-asset version created by a first Create
    entries = [world.put("a.bin", b"a" * 10), world.put("b.bin", b"b" * 20)]
    props = world.props(entries)
    first = world.send("Create", props, request_id="dup-request")
    assert first.response is not None and first.response.succeeded, dump(first)
    revision = first.response.data["VersionRevision"]
    # WHEN the same Create arrives again (same RequestId), then once more (new RequestId;
    # CloudFormation recorded no new event for the resource)
    again = world.send("Create", props, request_id="dup-request", redelivery=True)
    writes_again = _writes(world)
    third = world.send("Create", props, redelivery=True)
    writes_third = _writes(world)
    # THEN both answer SUCCESS with the same attributes, without writing anything
    for outcome in (again, third):
        assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
        assert outcome.response.data == first.response.data
    assert writes_again == [] and writes_third == []
    # AND CodeArtifact still has one revision and each asset once
    version = world.version()
    assert version is not None and version["revision"] == revision
    assert world.assets() == [("a.bin", sha256(b"a" * 10)), ("b.bin", sha256(b"b" * 20))]
    assert world.blob_count() == world.stored_asset_count()
    # AND every answer names the same version with exactly the same physical id: the
    # resource's creation time, read from CloudFormation, is the same for every delivery
    ids = [o.response.physical_resource_id for o in (first, again, third) if o.response]
    assert ids == [ids[0]] * 3
    assert ResourceId.parse(ids[0]).resource_created is not None


def test_10_create_resumes_an_unfinished_version_it_had_started(world: World) -> None:
    # GIVEN an Unfinished 1.0.0 holding a.bin with the declared bytes (an earlier attempt died)
    world.publish_directly("1.0.0", {"a.bin": b"a" * 10}, unfinished=True)
    entries = [world.put("a.bin", b"a" * 10), world.put("b.bin", b"b" * 20)]
    # WHEN CloudFormation sends Create
    outcome = world.send("Create", world.props(entries))
    # THEN SUCCESS, and only the missing asset was uploaded
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    assert [c.params["assetName"] for c in world.calls(PUBLISH)] == ["b.bin"]
    # AND the version is Published with each asset once
    version = world.version()
    assert version is not None and version["status"] == "Published"
    assert world.assets() == [("a.bin", sha256(b"a" * 10)), ("b.bin", sha256(b"b" * 20))]


@pytest.mark.parametrize("existing_status", ["Published", "Unfinished"])
def test_11_rollback_delete_of_a_failed_create_touches_nothing(
    world: World, existing_status: str
) -> None:
    # GIVEN someone else's 1.0.0 with other bytes, and a stack that would Destroy its version
    revision = _someone_elses_version(world, existing_status, b"theirs")
    props = world.props([world.put("a.bin", b"ours")], RemovalPolicy="Destroy")
    failed = world.send("Create", props)
    assert failed.response is not None and not failed.response.succeeded, dump(failed)
    generated = failed.response.physical_resource_id
    # WHEN CloudFormation rolls back: Delete with the physical id the failed Create returned
    deleted = world.send("Delete", props, physical_id=generated)
    # THEN the failed Create's id was a generated one, not the version's identity...
    assert "/" not in generated and generated.startswith("HandlerTest_Version_")
    # ...the Delete answers SUCCESS with that same id...
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)
    assert deleted.response.physical_resource_id == generated
    # ...and it deleted nothing: their version is intact
    _assert_untouched(world, existing_status, revision, b"theirs")


def test_11_rollback_delete_after_a_failed_multi_asset_create_succeeds(world: World) -> None:
    # GIVEN a Create that failed on its second asset (ServiceQuotaExceeded) after publishing
    # the first one
    props, generated = create_failed_on_its_second_asset(world)
    # WHEN the rollback Delete arrives with the generated physical id
    deleted = world.send("Delete", props, physical_id=generated)
    # THEN SUCCESS, and no version is left: the failed Create had removed its own
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)
    assert world.versions() == []
    assert world.blob_count() == world.stored_asset_count()
