"""Matrix 15: malformed event properties (missing or wrong-typed fields).

The handler must always answer (FAILED with a reason naming each problem, or SUCCESS for a
Delete it cannot act on), never crash without a response, and never touch CodeArtifact.
"""

from __future__ import annotations

from typing import Any

import pytest

from handler.harness import dump

from .conftest import World

_VALID_ASSET = {"Name": "a.bin", "Bucket": "b-bucket", "Key": "k", "Sha256": "a" * 64, "Size": "1"}


def _valid(world: World) -> dict[str, Any]:
    return world.props([dict(_VALID_ASSET)])


def _without(*keys: str) -> Any:
    return lambda props: {k: v for k, v in props.items() if k not in keys}


def _with(**changes: Any) -> Any:
    return lambda props: {**props, **changes}


def _asset_with(**changes: Any) -> Any:
    return lambda props: {**props, "Assets": [{**_VALID_ASSET, **changes}]}


# (id, how to break valid properties, whether to bypass CloudFormation's stringification,
#  fragments the reason must contain)
CASES: list[tuple[str, Any, bool, tuple[str, ...]]] = [
    (
        "missing-fields",
        _without("Package", "Version"),
        False,
        ("Package is required", "Version is required"),
    ),
    ("assets-not-a-list", _with(Assets="a.bin"), False, ("Assets must be a non-empty list",)),
    ("asset-not-a-map", _with(Assets=["a.bin"]), False, ("Assets[0] must be a map, got str",)),
    (
        "asset-missing-location",
        _with(Assets=[{"Name": "a.bin"}]),
        False,
        ("Assets[0].Bucket is required", "Assets[0].Key is required"),
    ),
    (
        "asset-bad-numbers",
        _with(
            Assets=[
                {**_VALID_ASSET, "Size": "12kb", "Sha256": "XYZ"},
                {**_VALID_ASSET, "Name": "b.bin", "Size": "-1"},
            ]
        ),
        False,
        (
            "Assets[0].Size must be a whole number",
            "Assets[0].Sha256 must be 64 lowercase hex",
            "Assets[1].Size must not be negative",
        ),
    ),
    ("asset-bad-name", _asset_with(Name="dir/a.bin"), False, ("asset name 'dir/a.bin'",)),
    (
        "duplicate-asset-names",
        _with(Assets=[_VALID_ASSET, _VALID_ASSET]),
        False,
        ("'a.bin' is used twice",),
    ),
    (
        "bad-choices",
        _with(Status="Gone", ReplaceExisting="maybe", RemovalPolicy="Keep"),
        False,
        (
            "Status must be one of",
            "RemovalPolicy must be one of",
            "ReplaceExisting must be true or false",
        ),
    ),
    (
        "bad-names",
        _with(Domain="Bad_Domain", DomainOwner="12"),
        False,
        ("Domain: domain 'Bad_Domain'", "DomainOwner"),
    ),
    (
        "wrong-types",
        _with(Domain=["d"], Version=7, Assets=[{**_VALID_ASSET, "Name": 5}]),
        True,
        (
            "Domain must be a string, got list",
            "Version must be a string, got int",
            "Assets[0].Name must be a string, got int",
        ),
    ),
    ("no-properties", lambda props: None, True, ("no ResourceProperties",)),
]


@pytest.mark.parametrize(
    ("break_props", "raw", "fragments"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_15_malformed_create_fails_with_a_reason_and_touches_nothing(
    world: World, break_props: Any, raw: bool, fragments: tuple[str, ...]
) -> None:
    # GIVEN a Create whose properties are malformed (as CloudFormation would stringify them,
    # or, for wrong types, exactly as given)
    broken = break_props(_valid(world))
    options: dict[str, Any] = {}
    if raw:
        service_token = world.kit.harness.function.arn
        options["raw_event"] = {
            "ResourceProperties": (
                {"ServiceToken": service_token, **broken} if isinstance(broken, dict) else broken
            )
        }
        broken = _valid(world)
    # WHEN CloudFormation sends it
    outcome = world.send("Create", broken, **options)
    # THEN the handler answered (a response CloudFormation accepts), FAILED, without crashing
    assert outcome.response is not None, dump(outcome)
    assert not outcome.response.succeeded
    assert outcome.invocation.error is None, dump(outcome)
    # AND the reason names each problem, on one short line
    reason = outcome.response.reason
    for fragment in fragments:
        assert fragment in reason, reason
    assert "\n" not in reason and len(reason) <= 256 and "Traceback" not in reason
    # AND the physical id is a generated one, and CodeArtifact was not called at all
    assert "/" not in outcome.response.physical_resource_id
    assert world.calls() == []
    assert world.versions() == []


def test_15_malformed_update_fails_and_keeps_the_version(world: World) -> None:
    # GIVEN a created version
    props = world.props([world.put("a.bin", b"a")])
    created = world.send("Create", props)
    assert created.response is not None and created.response.succeeded, dump(created)
    physical_id = created.response.physical_resource_id
    revision = created.response.data["VersionRevision"]
    # WHEN an Update arrives whose new properties lost their Assets
    outcome = world.send(
        "Update", {**props, "Assets": ""}, old_properties=props, physical_id=physical_id
    )
    # THEN FAILED naming the field, keeping the physical id; the version is untouched
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    assert "Assets must be a non-empty list" in outcome.response.reason
    assert outcome.response.physical_resource_id == physical_id
    assert world.calls() == []
    version = world.version()
    assert version is not None and version["revision"] == revision


@pytest.mark.parametrize("properties", ["unparsable", "absent"])
def test_15_delete_with_malformed_properties_succeeds_and_deletes_nothing(
    world: World, properties: str
) -> None:
    # GIVEN a created version whose stack would destroy it
    props = world.props([world.put("a.bin", b"a")], RemovalPolicy="Destroy")
    created = world.send("Create", props)
    assert created.response is not None and created.response.succeeded, dump(created)
    physical_id = created.response.physical_resource_id
    # WHEN a Delete arrives whose properties cannot be parsed, or with no properties map
    if properties == "unparsable":
        broken = {**props, "Assets": "", "Domain": "Bad_Domain"}
        outcome = world.send("Delete", broken, physical_id=physical_id)
    else:
        raw = {"ResourceProperties": None}
        outcome = world.send("Delete", props, physical_id=physical_id, raw_event=raw)
    # THEN SUCCESS with the same id (a Delete that cannot act must not block the stack), and
    # nothing was deleted
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    assert outcome.response.physical_resource_id == physical_id
    assert world.calls() == []
    assert world.version() is not None
