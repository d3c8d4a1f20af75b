"""Reading cloud assemblies, publishing assets, and building CloudFormation events."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from codeartifact_generic.testing._local_deploy.assembly import AssemblyError, CloudAssembly
from codeartifact_generic.testing._local_deploy.assets import publish_assets, zip_directory
from codeartifact_generic.testing._local_deploy.events import make_event, stringify_properties

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PLACEHOLDER_BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _stack(template: str, deps: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "aws:cloudformation:stack",
        "environment": "aws://unknown-account/unknown-region",
        "properties": {"templateFile": template, **props},
        "dependencies": deps,
        "displayName": props.get("stackName", template.split(".", maxsplit=1)[0]),
    }


@pytest.fixture
def assembly_dir(tmp_path: Path) -> Path:
    """An assembly shaped like `cdk synth` output: two stacks, asset manifests, a stage."""
    root = tmp_path / "cdk.out"
    asset = root / "asset.abc"
    (asset / "pkg").mkdir(parents=True)
    (asset / "index.py").write_text("def handler(e, c):\n    return 1\n")
    (asset / "pkg" / "data.txt").write_text("data")
    _write(
        root / "Consumer.assets.json",
        {
            "version": "55.0.0",
            "files": {
                "abc": {
                    "displayName": "Fn/Code",
                    "source": {"path": "asset.abc", "packaging": "zip"},
                    "destinations": {
                        "current": {"bucketName": PLACEHOLDER_BUCKET, "objectKey": "abc.zip"}
                    },
                },
                "tpl": {
                    "source": {"path": "Consumer.template.json", "packaging": "file"},
                    "destinations": {
                        "current": {
                            "bucketName": PLACEHOLDER_BUCKET,
                            "objectKey": "${AWS::Partition}/tpl.json",
                        }
                    },
                },
            },
            "dockerImages": {},
        },
    )
    _write(root / "Consumer.template.json", {"Resources": {}})
    _write(root / "Producer.template.json", {"Resources": {}})
    _write(
        root / "manifest.json",
        {
            "version": "55.0.0",
            "artifacts": {
                "Consumer.assets": {
                    "type": "cdk:asset-manifest",
                    "properties": {"file": "Consumer.assets.json"},
                },
                # listed before its dependency on purpose
                "Consumer": _stack("Consumer.template.json", ["Producer", "Consumer.assets"]),
                "Producer": _stack("Producer.template.json", [], stackName="prod-stack"),
                "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
                "assembly-Stage": {
                    "type": "cdk:cloud-assembly",
                    "properties": {"directoryName": "assembly-Stage"},
                },
            },
        },
    )
    stage = root / "assembly-Stage"
    _write(stage / "StageStack.template.json", {"Resources": {}})
    _write(
        stage / "manifest.json",
        {
            "version": "55.0.0",
            "artifacts": {
                "StageStack": {
                    **_stack("StageStack.template.json", [], stackName="Stage-Stack"),
                    "displayName": "Stage/Stack",
                }
            },
        },
    )
    return root


def test_stacks_are_read_and_ordered_by_dependencies(assembly_dir: Path) -> None:
    # GIVEN an assembly whose manifest lists a stack before its dependency
    # WHEN it is loaded
    assembly = CloudAssembly.load(assembly_dir)

    # THEN stacks come dependencies first, with stack names, display names, templates, assets
    names = [s.stack_name for s in assembly.stacks]
    assert names.index("prod-stack") < names.index("Consumer")
    assert set(names) == {"prod-stack", "Consumer", "Stage-Stack"}
    consumer = assembly.find("Consumer")
    assert consumer.dependencies == ("Producer",)
    assert consumer.template_path == assembly_dir / "Consumer.template.json"
    (manifest,) = consumer.asset_manifests
    zipped = next(f for f in manifest.files if f.asset_id == "abc")
    assert zipped.packaging == "zip"
    assert zipped.source_path == assembly_dir / "asset.abc"
    assert zipped.destinations[0].resolve(account_id="111", region="eu-west-1") == (
        "cdk-hnb659fds-assets-111-eu-west-1",
        "abc.zip",
    )
    assert assembly.find("Stage/Stack").stack_name == "Stage-Stack"


def test_selecting_a_stack_brings_its_dependencies_unless_exclusively(assembly_dir: Path) -> None:
    # GIVEN the assembly WHEN selecting Consumer THEN Producer comes along (like cdk deploy)
    assembly = CloudAssembly.load(assembly_dir)
    assert [s.stack_name for s in assembly.select(["Consumer"])] == ["prod-stack", "Consumer"]
    assert [s.stack_name for s in assembly.select(["Consumer"], exclusively=True)] == ["Consumer"]
    # AND for destroy, selecting Producer brings the stacks that depend on it
    dependents = assembly.select(["prod-stack"], extend="dependents")
    assert [s.stack_name for s in dependents] == ["prod-stack", "Consumer"]
    with pytest.raises(AssemblyError, match="no stack named 'Nope'"):
        assembly.select(["Nope"])


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    # GIVEN a directory that is not an assembly WHEN loaded THEN the error says so
    with pytest.raises(AssemblyError, match=r"is this a cloud assembly \(cdk.out\)"):
        CloudAssembly.load(tmp_path)


def test_zip_directory_is_deterministic(tmp_path: Path, assembly_dir: Path) -> None:
    # GIVEN a directory zipped twice
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    zip_directory(assembly_dir / "asset.abc", first)
    zip_directory(assembly_dir / "asset.abc", second)

    # THEN the bytes are equal and the tree is inside
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["index.py", "pkg/data.txt"]


def test_publish_creates_the_bucket_and_skips_existing_keys(
    assembly_dir: Path, s3: S3Client
) -> None:
    # GIVEN an asset manifest and an account whose bootstrap bucket does not exist yet
    account = uuid.uuid4().int % 10**12
    account_id = f"{account:012d}"
    manifests = CloudAssembly.load(assembly_dir).find("Consumer").asset_manifests

    # WHEN assets are published twice
    first = publish_assets(manifests, s3, account_id=account_id, region="us-east-1")
    second = publish_assets(manifests, s3, account_id=account_id, region="us-east-1")

    # THEN the first run uploaded both (directory zipped), the second skipped them
    bucket = f"cdk-hnb659fds-assets-{account_id}-us-east-1"
    assert {(p.bucket, p.key, p.uploaded) for p in first} == {
        (bucket, "abc.zip", True),
        (bucket, "aws/tpl.json", True),
    }
    assert not any(p.uploaded for p in second)
    body = s3.get_object(Bucket=bucket, Key="abc.zip")["Body"].read()
    assert body[:2] == b"PK"


def test_events_stringify_scalars_like_cloudformation() -> None:
    # GIVEN properties with numbers and booleans, nested
    properties = {
        "ServiceToken": "arn:aws:lambda:r:1:function:f",
        "N": 1,
        "F": 1.5,
        "B": False,
        "L": [True, {"X": 2}],
        "S": "s",
    }

    # WHEN an Update event is built
    event = make_event(
        "Update",
        response_url="https://127.0.0.1/x",
        stack_id="arn:aws:cloudformation:r:1:stack/S/u",
        logical_resource_id="R",
        resource_type="Custom::R",
        properties=properties,
        old_properties={"ServiceToken": "t", "N": 0},
        physical_resource_id="p",
    )

    # THEN every scalar is a string, and the Update fields are there
    assert event["ResourceProperties"] == {
        "ServiceToken": "arn:aws:lambda:r:1:function:f",
        "N": "1",
        "F": "1.5",
        "B": "false",
        "L": ["true", {"X": "2"}],
        "S": "s",
    }
    assert event["OldResourceProperties"] == {"ServiceToken": "t", "N": "0"}
    assert event["PhysicalResourceId"] == "p"
    assert event["ServiceToken"] == "arn:aws:lambda:r:1:function:f"
    assert len(event["RequestId"]) == 36
    assert stringify_properties(None) is None
    with pytest.raises(ValueError, match="physical_resource_id"):
        make_event(
            "Delete",
            response_url="u",
            stack_id="s",
            logical_resource_id="R",
            resource_type="Custom::R",
            properties={"ServiceToken": "t"},
        )


def test_moto_server_binds_a_free_loopback_port() -> None:
    # GIVEN/WHEN two servers are started on port 0
    from codeartifact_generic.testing._s3 import MotoS3Server

    with MotoS3Server() as first, MotoS3Server() as second:
        # THEN each has its own concrete port on 127.0.0.1 and answers S3 calls
        assert first.port != second.port
        assert first.endpoint_url.startswith("http://127.0.0.1:")
        first.client().create_bucket(Bucket="only-in-first")
        assert [b["Name"] for b in first.client().list_buckets()["Buckets"]].count(
            "only-in-first"
        ) == 1
    # AND stopping releases them
    assert not first.running
