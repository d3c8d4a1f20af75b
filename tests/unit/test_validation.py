"""Synth-time validation: clear messages, all at once, tokens skipped."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from codeartifact_generic.handler import contract

from codeartifact_generic import GenericPackageVersion, PackageAsset, ValidationError, VersionStatus


def _declare(
    stack: cdk.Stack, construct_id: str, assets: list[PackageAsset], **overrides: Any
) -> GenericPackageVersion:
    """A version with valid names (``overrides`` replaces some) holding ``assets``."""
    names = {
        "domain": "d1",
        "repository": "r1",
        "namespace": "n",
        "package": "p",
        "version": "1",
        **overrides,
    }
    return GenericPackageVersion(stack, construct_id, assets=assets, **names)


def test_every_problem_is_reported_at_once(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path], tmp_path: Path
) -> None:
    # GIVEN a version with a bad domain, repository, version, asset name, a duplicate and a
    # missing file
    good = make_file("a.bin", b"a")
    # WHEN it is declared
    with pytest.raises(ValidationError) as caught:
        GenericPackageVersion(
            stack,
            "Bad",
            domain="My_Domain",
            repository="-repo",
            namespace="tools",
            package="my cli",
            version="1.0/2",
            domain_owner="12345",
            assets=[
                PackageAsset.from_file(str(good)),
                PackageAsset.from_file(str(good)),
                PackageAsset.from_file(str(tmp_path / "missing.tgz")),
                PackageAsset.from_data("bad name?.txt", "x"),
            ],
        )
    # THEN one error lists every problem, each naming the field, the value and the rule
    problems = caught.value.problems
    message = str(caught.value)
    assert "TestStack/Bad" in message
    expected = [
        "domain 'My_Domain' is invalid: lowercase letters",
        "repository '-repo' is invalid",
        "package 'my cli' is invalid: no '#', '/' or whitespace",
        "version '1.0/2' is invalid",
        "domain_owner '12345' must be 12 digits, got 5 characters",
        "assets[1]: asset name 'a.bin' is used more than once",
        "missing.tgz' does not exist",
        "asset name 'bad name?.txt' is invalid: Unicode letters and numbers",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(expected)


def test_too_many_assets_and_empty_assets_are_rejected(stack: cdk.Stack) -> None:
    # GIVEN more assets than a version may hold
    too_many = [
        PackageAsset.from_data(f"f{i}.txt", "x") for i in range(contract.MAX_ASSETS_PER_VERSION + 1)
    ]
    # WHEN / THEN the count is named
    with pytest.raises(
        ValidationError, match="151 assets; a generic package version holds at most 150"
    ):
        _declare(stack, "Many", too_many)
    with pytest.raises(ValidationError, match="at least one asset is required"):
        _declare(stack, "None", [])


def test_name_lengths_are_checked(stack: cdk.Stack) -> None:
    # GIVEN a package name of 256 characters and a domain of 51
    with pytest.raises(ValidationError) as caught:
        _declare(
            stack,
            "Long",
            [PackageAsset.from_data("a.txt", "x")],
            domain="d" * 51,
            package="p" * 256,
        )
    # THEN both lengths are named with their bounds
    text = str(caught.value)
    assert "must be 2 to 50 characters long, got 51" in text
    assert "must be 1 to 255 characters long, got 256" in text


def test_bucket_asset_needs_a_name_when_the_key_is_a_token(stack: cdk.Stack) -> None:
    # GIVEN an S3 key known only at deploy time and no asset name
    key = cdk.CfnParameter(stack, "Key").value_as_string
    # WHEN / THEN the missing name is reported
    with pytest.raises(ValidationError, match="asset name is required"):
        _declare(stack, "V", [PackageAsset.from_bucket("my-bucket", key)])


@pytest.mark.parametrize(
    ("sha256", "message"),
    [
        ("ABC", "sha256 'ABC' must be 64 hex characters, got 3 characters"),
        ("g" * 64, f"sha256 '{'g' * 64}' must be 64 hex characters"),
        ("a" * 65, "must be 64 hex characters, got 65 characters"),
    ],
)
def test_a_bad_declared_sha256_says_it_must_be_64_hex_characters(
    stack: cdk.Stack, sha256: str, message: str
) -> None:
    # GIVEN an S3 object declared with a SHA256 that cannot be one
    with pytest.raises(ValidationError) as caught:
        _declare(stack, "V", [PackageAsset.from_bucket("my-bucket", "k/a.bin", sha256=sha256)])
    # THEN the message says what a SHA256 is, with the value as written
    (problem,) = caught.value.problems
    assert problem.startswith("assets[0]: ")
    assert message in problem
    assert " to 64 " not in problem


def test_an_uppercase_sha256_is_accepted_and_passed_on_in_lowercase(stack: cdk.Stack) -> None:
    # GIVEN a SHA256 copied in uppercase (as some tools print it)
    digest = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
    version = _declare(
        stack, "V", [PackageAsset.from_bucket("my-bucket", "k/a.bin", sha256=digest)]
    )
    # THEN the handler gets it in lowercase, and so does a reader of the attribute
    Template.from_stack(stack).has_resource_properties(
        contract.RESOURCE_TYPE, {"Assets": [Match.object_like({"Sha256": digest.lower()})]}
    )
    assert version.asset_sha256("a.bin") == digest.lower()


@pytest.mark.parametrize("status", ["Published", "published", "UNLISTED", VersionStatus.ARCHIVED])
def test_status_may_be_given_as_codeartifact_spells_it(stack: cdk.Stack, status: object) -> None:
    # GIVEN a status given as a string (any case) or as the enumeration
    _declare(stack, "V", [PackageAsset.from_data("a.txt", "x")], status=status)
    # THEN the handler gets CodeArtifact's spelling
    expected = {"published": "Published", "unlisted": "Unlisted", "archived": "Archived"}
    wanted = expected[str(getattr(status, "value", status)).lower()]
    Template.from_stack(stack).has_resource_properties(contract.RESOURCE_TYPE, {"Status": wanted})


@pytest.mark.parametrize("status", ["Done", 3, None])
def test_an_unknown_status_is_a_validation_error_naming_the_choices(
    stack: cdk.Stack, status: object
) -> None:
    # WHEN a status is neither a VersionStatus nor the name of one
    with pytest.raises(ValidationError) as caught:
        _declare(stack, "V", [PackageAsset.from_data("a.txt", "x")], status=status)
    # THEN the error (not an AttributeError) names the field, the value and the choices
    (problem,) = caught.value.problems
    assert problem.startswith("status must be one of VersionStatus.PUBLISHED")
    assert "'Published'" in problem
    assert repr(status) in problem


def test_on_delete_may_be_a_string_and_a_bad_one_names_the_choices(stack: cdk.Stack) -> None:
    # GIVEN versions that are destroyed with the stack
    assets = [PackageAsset.from_data("a.txt", "x")]
    destroyed = cdk.RemovalPolicy.DESTROY
    # WHEN one says on_delete="archive" THEN the handler gets CodeArtifact's spelling
    _declare(stack, "V", assets, removal_policy=destroyed, on_delete="archive")
    Template.from_stack(stack).has_resource_properties(
        contract.RESOURCE_TYPE, {"OnDelete": "Archive"}
    )
    # WHEN another says on_delete="shred" THEN the error names the choices
    with pytest.raises(ValidationError, match=r"on_delete must be one of DeleteBehavior\.DELETE"):
        _declare(stack, "W", assets, removal_policy=destroyed, on_delete="shred")


def test_a_removal_policy_that_is_not_one_is_named(stack: cdk.Stack) -> None:
    with pytest.raises(ValidationError, match="removal_policy must be RETAIN or DESTROY, got 'x'"):
        _declare(stack, "V", [PackageAsset.from_data("a.txt", "x")], removal_policy="x")


def test_from_file_on_a_directory_points_to_from_directory(
    stack: cdk.Stack, tmp_path: Path
) -> None:
    # GIVEN a directory given to from_file
    (tmp_path / "dist").mkdir()
    with pytest.raises(ValidationError) as caught:
        _declare(stack, "V", [PackageAsset.from_file(str(tmp_path / "dist"))])
    # THEN the message says it is a directory and what to call instead
    (problem,) = caught.value.problems
    assert "is a directory" in problem
    assert f"PackageAsset.from_directory({str(tmp_path / 'dist')!r})" in problem


@pytest.mark.parametrize("data", [42, 4.2, None, ["a"], {"k": "v"}])
def test_from_data_refuses_what_is_not_text_or_bytes(stack: cdk.Stack, data: object) -> None:
    # GIVEN inline data that is neither str nor bytes (42 used to publish 42 zero bytes)
    with pytest.raises(ValidationError) as caught:
        _declare(stack, "V", [PackageAsset.from_data("n.txt", data)])  # type: ignore[arg-type]
    # THEN the problem names the asset, the type and how to write it
    (problem,) = caught.value.problems
    assert f"data of 'n.txt' must be str or bytes, got {type(data).__name__}" in problem
    assert "str(value)" in problem


@pytest.mark.parametrize("data", ["é", b"\x00\xff", bytearray(b"ab"), memoryview(b"cd")])
def test_from_data_takes_text_and_bytes(stack: cdk.Stack, data: str | bytes) -> None:
    version = _declare(stack, "V", [PackageAsset.from_data("d.bin", data)])
    content = data.encode() if isinstance(data, str) else bytes(data)
    assert version.assets[0].size == len(content)
    assert version.assets[0].sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("name", [None, "models.bin"])
def test_from_bucket_with_a_folder_key_is_an_error(stack: cdk.Stack, name: str | None) -> None:
    # GIVEN an S3 key that names a folder (with or without an asset name)
    with pytest.raises(ValidationError) as caught:
        _declare(stack, "V", [PackageAsset.from_bucket("my-bucket", "models/", name=name)])
    # THEN the key is the problem (not a missing name, not an asset named after the folder)
    (problem,) = caught.value.problems
    assert "S3 key 'models/' ends in '/': a folder, not an object" in problem


@pytest.mark.parametrize("name", ["notes.txt", "ünïcode-名前.bin", "a~!@^&()-`_+[]{};,.z", "1"])
def test_asset_names_the_cli_reference_allows_pass(stack: cdk.Stack, name: str) -> None:
    _declare(stack, "V", [PackageAsset.from_data(name, "x")])


@pytest.mark.parametrize("name", ["a b", "a/b", "a#b", "a$b", "a*b", "a\tb", "x" * 256])
def test_asset_names_outside_the_documented_set_fail(stack: cdk.Stack, name: str) -> None:
    with pytest.raises(ValidationError, match="asset name"):
        _declare(stack, "V", [PackageAsset.from_data(name, "x")])
