"""Synth-time validation: clear messages, all at once, tokens skipped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from codeartifact_generic.handler import contract

from codeartifact_generic import GenericPackageVersion, PackageAsset, ValidationError


def _declare(
    stack: cdk.Stack, construct_id: str, assets: list[PackageAsset], **overrides: str
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
        "domain_owner '12345' must be 12 to 12 characters long",
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


def test_bad_declared_sha256_is_rejected(stack: cdk.Stack) -> None:
    with pytest.raises(ValidationError, match="sha256 'ABC' must be 64 to 64 characters"):
        _declare(stack, "V", [PackageAsset.from_bucket("my-bucket", "k/a.bin", sha256="ABC")])


@pytest.mark.parametrize("name", ["notes.txt", "ünïcode-名前.bin", "a~!@^&()-`_+[]{};,.z", "1"])
def test_asset_names_the_cli_reference_allows_pass(stack: cdk.Stack, name: str) -> None:
    _declare(stack, "V", [PackageAsset.from_data(name, "x")])


@pytest.mark.parametrize("name", ["a b", "a/b", "a#b", "a$b", "a*b", "a\tb", "x" * 256])
def test_asset_names_outside_the_documented_set_fail(stack: cdk.Stack, name: str) -> None:
    with pytest.raises(ValidationError, match="asset name"):
        _declare(stack, "V", [PackageAsset.from_data(name, "x")])
