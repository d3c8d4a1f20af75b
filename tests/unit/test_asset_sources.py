"""Asset sources users expect from CDK: directory excludes and modes, existing CDK assets."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk.assertions import Match, Template
from codeartifact_generic.handler import contract

from codeartifact_generic import GenericPackageVersion, PackageAsset, ValidationError


def _version(stack: cdk.Stack, *assets: PackageAsset, id: str = "V") -> GenericPackageVersion:
    return GenericPackageVersion(
        stack,
        id,
        domain="d1",
        repository="r1",
        namespace="n",
        package="p",
        version="1",
        assets=list(assets),
    )


def _zip_modes(version: GenericPackageVersion, index: int = 0) -> dict[str, int]:
    """Entry name -> Unix mode of the zip staged for the version's asset ``index``."""
    staged = version.node.find_child(f"Asset{index}")
    assert isinstance(staged, s3_assets.Asset)
    path = Path(cdk.Stage.of(version).outdir) / staged.asset_path  # type: ignore[union-attr]
    with zipfile.ZipFile(path) as archive:
        return {info.filename: info.external_attr >> 16 for info in archive.infolist()}


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


CLUTTERED = {
    "bin/tool": b"#!/bin/sh\necho tool\n",
    "lib/core.py": b"print('core')\n",
    "lib/__pycache__/core.cpython-312.pyc": b"\x00bytecode",
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".git/objects/ab/cdef": b"blob",
    "lib/.DS_Store": b"\x00\x00\x00\x01Bud1",
    "docs/Thumbs.db": b"thumbs",
    "README.md": b"# tool\n",
    "build.log": b"log\n",
}


def test_a_directory_leaves_vcs_and_os_clutter_out_and_keeps_executables(
    stack: cdk.Stack, tmp_path: Path
) -> None:
    # GIVEN a checked-out tree with a git directory, bytecode, Finder files and a script
    root = _tree(tmp_path / "tool", CLUTTERED)
    (root / "bin" / "tool").chmod(0o755)
    # WHEN it is published as a directory
    version = _version(stack, PackageAsset.from_directory(str(root)))
    # THEN only the tree's own files are in the zip, and the script is still executable
    assert _zip_modes(version) == {
        "README.md": 0o100644,
        "bin/tool": 0o100755,
        "build.log": 0o100644,
        "lib/core.py": 0o100644,
    }


def test_clutter_may_be_kept(stack: cdk.Stack, tmp_path: Path) -> None:
    root = _tree(tmp_path / "tool", CLUTTERED)
    version = _version(stack, PackageAsset.from_directory(str(root), exclude_clutter=False))
    assert set(_zip_modes(version)) == set(CLUTTERED)


def test_exclude_takes_cdk_glob_patterns_with_negation(stack: cdk.Stack, tmp_path: Path) -> None:
    # GIVEN logs, a build directory and one log to keep
    root = _tree(
        tmp_path / "site",
        {
            "index.html": b"<html>",
            "app.log": b"x",
            "keep.log": b"x",
            "nested/deep.log": b"x",
            "build/out.js": b"x",
            "src/build/gen.js": b"x",
        },
    )
    # WHEN excluded with glob patterns, as aws_s3_assets.Asset(exclude=...) reads them
    version = _version(
        stack, PackageAsset.from_directory(str(root), exclude=["*.log", "!keep.log", "build"])
    )
    # THEN the same files are left out as CDK leaves out of its own assets
    assert set(_zip_modes(version)) == {"index.html", "keep.log"}


def test_exclude_in_git_mode_reads_gitignore_syntax(stack: cdk.Stack, tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "site",
        {"dist/a.js": b"x", "src/dist/b.js": b"x", "notes.tmp": b"x", "src/c.tmp": b"x"},
    )
    version = _version(
        stack,
        PackageAsset.from_directory(
            str(root), exclude=["/dist/", "*.tmp"], ignore_mode=cdk.IgnoreMode.GIT
        ),
    )
    # "/dist/" is anchored at the root: src/dist stays
    assert set(_zip_modes(version)) == {"src/dist/b.js"}


def test_excluded_files_do_not_change_the_bytes(stack: cdk.Stack, tmp_path: Path) -> None:
    # GIVEN the same tree twice, one of them with clutter and a log next to it
    clean = _tree(tmp_path / "a" / "tool", {"lib/core.py": b"x", "README.md": b"y"})
    messy = _tree(
        tmp_path / "b" / "tool",
        {
            **{"lib/core.py": b"x", "README.md": b"y"},
            **{".git/HEAD": b"ref", "lib/.DS_Store": b"ds", "debug.log": b"z"},
        },
    )
    # WHEN both are published
    first = _version(stack, PackageAsset.from_directory(str(clean)), id="A")
    second = _version(stack, PackageAsset.from_directory(str(messy), exclude=["*.log"]), id="B")
    # THEN the zips, and so the published bytes, are identical
    assert first.assets[0].sha256 == second.assets[0].sha256


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"exclude": "*.log"}, "exclude must be a list of patterns (str), got '*.log'"),
        ({"exclude": [3]}, "exclude must be a list of patterns (str), got [3]"),
        ({"ignore_mode": "git"}, "ignore_mode must be IgnoreMode.GLOB, IgnoreMode.GIT or"),
    ],
)
def test_bad_exclude_options_are_validation_errors(
    stack: cdk.Stack, tmp_path: Path, kwargs: dict[str, object], problem: str
) -> None:
    root = _tree(tmp_path / "d", {"a": b"a"})
    with pytest.raises(ValidationError) as caught:
        _version(stack, PackageAsset.from_directory(str(root), **kwargs))  # type: ignore[arg-type]
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_an_existing_file_asset_is_published_with_its_synth_time_hash(
    stack: cdk.Stack, tmp_path: Path
) -> None:
    # GIVEN a CDK file asset the app already has (e.g. also used by a Lambda function)
    data = b"release bytes" * 100
    (tmp_path / "tool.tar.gz").write_bytes(data)
    asset = s3_assets.Asset(stack, "Existing", path=str(tmp_path / "tool.tar.gz"))
    # WHEN it is a source of a version
    version = _version(stack, PackageAsset.from_asset(asset, name="tool.tar.gz"))
    # THEN the version reads the object CDK uploads, with its SHA256 and size known at synth
    template = Template.from_stack(stack)
    template.has_resource_properties(
        contract.RESOURCE_TYPE,
        {
            "Assets": [
                {
                    "Name": "tool.tar.gz",
                    "Bucket": stack.resolve(asset.s3_bucket_name),
                    "Key": asset.s3_object_key,
                    "Sha256": hashlib.sha256(data).hexdigest(),
                    "Size": str(len(data)),
                }
            ]
        },
    )
    # AND the handler may read that object, and no second copy is staged
    assert asset.s3_object_key in json.dumps(template.to_json())
    assert version.node.try_find_child("Asset0") is None
    assert version.asset_sha256("tool.tar.gz") == hashlib.sha256(data).hexdigest()


def test_an_existing_directory_asset_is_hashed_by_the_handler(
    stack: cdk.Stack, tmp_path: Path
) -> None:
    # GIVEN a directory asset (the CDK CLI zips it at publish time: no synth-time SHA256)
    _tree(tmp_path / "site", {"index.html": b"<html>"})
    asset = s3_assets.Asset(stack, "Site", path=str(tmp_path / "site"))
    # WHEN it is a source of a version
    _version(stack, PackageAsset.from_asset(asset, name="site.zip"))
    # THEN the handler learns the hash while reading it (and gets /tmp to spool it)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        contract.RESOURCE_TYPE,
        {
            "Assets": [
                Match.object_equals(
                    {"Name": "site.zip", "Bucket": Match.any_value(), "Key": asset.s3_object_key}
                )
            ]
        },
    )
    template.has_resource_properties("AWS::Lambda::Function", {"EphemeralStorage": {"Size": 10240}})


def test_from_asset_needs_an_asset(stack: cdk.Stack, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"from_asset takes an aws_s3_assets\.Asset, got str"):
        _version(stack, PackageAsset.from_asset(str(tmp_path), name="x.zip"))  # type: ignore[arg-type]
