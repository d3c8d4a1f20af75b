"""The removal rules over a fake CodeArtifact: the removal policy, the ownership rule, and
discarding what a failed operation created."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from codeartifact_generic.handler.contract import ResourceId
from codeartifact_generic.handler.ports import VersionState
from codeartifact_generic.handler.properties import AssetSpec, VersionRequest
from codeartifact_generic.handler.removal import discard_created_since, owned_by, remove

from .fakes import FakeVersion, version_request


def _request(**changes: Any) -> VersionRequest:
    return version_request(AssetSpec(name="a.bin", bucket="b", key="k/a.bin"), **changes)


def _published(status: str = "Published", age: timedelta = timedelta(days=1)) -> FakeVersion:
    return FakeVersion().existing({"a.bin": b"payload"}, status, age=age)


def test_retain_keeps_the_version() -> None:
    version = _published()
    assert remove(_request(), version, owned=True).startswith("retained")
    assert version.status == "Published"
    assert version.operations() == []


@pytest.mark.parametrize(
    ("on_delete", "expected", "outcome"),
    [
        ("Delete", None, "deleted"),
        ("Dispose", "Disposed", "disposed"),
        ("Archive", "Archived", "archived"),
        ("Unlist", "Unlisted", "unlisted"),
    ],
)
def test_destroy_applies_on_delete(on_delete: str, expected: str | None, outcome: str) -> None:
    version = _published()
    revision = version.revision
    done = remove(_request(removal_policy="Destroy", on_delete=on_delete), version, owned=True)
    assert done == outcome
    assert version.status == expected
    if on_delete in ("Archive", "Unlist"):
        # optimistic locking on the status and revision that were read
        assert version.of("set_status") == [
            {"target": expected, "expected_status": "Published", "expected_revision": revision}
        ]


def test_archiving_an_archived_version_changes_nothing() -> None:
    version = _published("Archived")
    done = remove(_request(removal_policy="Destroy", on_delete="Archive"), version, owned=True)
    assert done == "archived"
    assert version.of("set_status") == []


def test_adopted_version_survives_destroy_unless_asked() -> None:
    version = _published()
    request = _request(removal_policy="Destroy")
    assert "existed before" in remove(request, version, owned=False)
    assert version.status == "Published"
    remove(dataclasses.replace(request, remove_adopted=True), version, owned=False)
    assert version.status is None


def test_removing_a_version_that_is_gone_succeeds() -> None:
    assert remove(_request(removal_policy="Destroy"), FakeVersion(), owned=True) == "already gone"


@pytest.mark.parametrize(
    ("offset", "owned"),
    [(timedelta(seconds=-5), True), (timedelta(0), True), (timedelta(seconds=5), False)],
)
def test_a_resource_owns_what_was_dated_at_or_after_its_creation(
    offset: timedelta, owned: bool
) -> None:
    # GIVEN a version CodeArtifact dates at publishedTime
    state = _published().describe()
    assert state is not None and state.published_time is not None
    # WHEN a resource created ``offset`` after that asks whether it owns the version
    resource = ResourceId("id", state.published_time + offset)
    # THEN it owns it only when the version is not older than the resource
    assert owned_by(state, resource) is owned


def test_an_undated_version_is_not_owned() -> None:
    undated = VersionState("Published", "rev")
    assert not owned_by(undated, ResourceId("id", datetime.now(UTC)))


@pytest.mark.parametrize(("adopted", "owned"), [(False, True), (True, False)])
def test_legacy_ids_keep_their_adoption_marker(adopted: bool, owned: bool) -> None:
    state = _published().describe()
    assert state is not None
    legacy = ResourceId.parse(
        "123456789012/d/r/generic/n/p/1.0.0" + ("#adopted" if adopted else "")
    )
    assert owned_by(state, legacy) is owned


@pytest.mark.parametrize("status", ["Unfinished", "Published"])
def test_discarding_deletes_what_was_created_since(status: str) -> None:
    # GIVEN a version created after the moment a failed operation began
    since = datetime.now(UTC) - timedelta(milliseconds=1)
    version = _published(status, age=timedelta(0))
    # WHEN what the operation created is discarded
    done = discard_created_since(_request(), version, since)
    # THEN the version goes, whatever its status (and only if it still has that status)
    assert done == f"deleted the {status} version"
    assert version.status is None
    assert version.of("delete") == [{"expected_status": status}]


def test_discarding_keeps_a_version_that_existed_before() -> None:
    # GIVEN a version published before the failed operation began
    version = _published()
    since = datetime.now(UTC) + timedelta(seconds=1)
    # WHEN the operation's leftovers are discarded
    done = discard_created_since(_request(), version, since)
    # THEN it is kept
    assert done.startswith("kept: the Published version existed before")
    assert version.status == "Published"


def test_discarding_keeps_a_version_holding_assets_not_declared() -> None:
    # GIVEN a new version holding a.bin, and a resource that declares only b.bin
    since = datetime.now(UTC) - timedelta(milliseconds=1)
    version = _published(age=timedelta(0))
    other = _request()
    other = dataclasses.replace(other, assets=(dataclasses.replace(other.assets[0], name="b.bin"),))
    # WHEN that resource discards what was created since
    done = discard_created_since(other, version, since)
    # THEN it is kept: someone else's assets
    assert done.startswith("kept: it holds assets this resource does not declare")
    assert version.status == "Published"


def test_discarding_keeps_a_version_that_changed_meanwhile() -> None:
    # GIVEN a new Unfinished version that someone publishes just before the delete
    since = datetime.now(UTC) - timedelta(milliseconds=1)
    version = _published("Unfinished", age=timedelta(0))

    def published_meanwhile() -> None:
        version.status = "Published"

    version.before_next("delete", published_meanwhile)
    # WHEN discarded
    done = discard_created_since(_request(), version, since)
    # THEN the conditional delete found another status and kept it
    assert done == "kept: it changed meanwhile"
    assert version.status == "Published"


def test_discarding_an_absent_version_does_nothing() -> None:
    done = discard_created_since(_request(), FakeVersion(), datetime.now(UTC))
    assert done == "nothing to discard"
