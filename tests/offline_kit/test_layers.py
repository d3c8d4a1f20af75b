"""Lambda layers and the S3 resources ``BucketDeployment`` stacks hold, without the CDK.

Lambda extracts a function's layers into ``/opt``; the kit keeps each layer in the state
directory and redirects what a handler starts by an absolute ``/opt/...`` path (what the
``BucketDeployment`` handler does with ``/opt/awscli/aws``). ``Custom::S3AutoDeleteObjects``
(a Node.js handler in CDK) is emulated.
"""

from __future__ import annotations

import hashlib
import io
import json
import textwrap
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.lambda_runner import LambdaFunction, LambdaRunner
from codeartifact_generic.testing._local_deploy.providers import layer_content_dir
from codeartifact_generic.testing._s3 import MotoS3Server

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_s3 import S3Client

#: A program in a layer, started by the handler as ``/opt/tool/run``; its shebang is the
#: Lambda runtime's interpreter, as in CDK's AWS CLI layer (``#!/var/lang/bin/python``).
TOOL = "#!/var/lang/bin/python\nimport sys\nprint('{label}', *sys.argv[1:])\n"

HANDLER = """
import subprocess

import helper


def handler(event, context):
    out = subprocess.check_output(["/opt/tool/run", "hello"], text=True).strip()
    return {"tool": out, "helper": helper.NAME}
"""


def _layer(root: Path, label: str, *, helper: bool = False) -> Path:
    (root / "tool").mkdir(parents=True)
    (root / "tool" / "run").write_text(TOOL.format(label=label), encoding="utf-8")
    if helper:
        (root / "python").mkdir()
        (root / "python" / "helper.py").write_text(f"NAME = {label!r}\n", encoding="utf-8")
    return root


def _runner(tmp_path: Path) -> LambdaRunner:
    return LambdaRunner(work_dir=tmp_path / "runs", region="us-east-1", account_id="123456789012")


def _function(tmp_path: Path, *layers: Path, **options: Any) -> LambdaFunction:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "index.py").write_text(textwrap.dedent(HANDLER), encoding="utf-8")
    return LambdaFunction(
        function_name="fn",
        handler="index.handler",
        code_dir=code,
        timeout_seconds=20,
        layers=layers,
        **options,
    )


def test_a_program_started_from_opt_runs_from_the_functions_layer(tmp_path: Path) -> None:
    # GIVEN a function with one layer holding a Python module and a program with a Lambda
    # shebang, and a handler that imports the module and runs /opt/tool/run
    layer = _layer(tmp_path / "layer", "one", helper=True)

    # WHEN it is invoked
    invocation = _runner(tmp_path).invoke(_function(tmp_path, layer), {})

    # THEN /opt/python was on sys.path and /opt/tool/run ran from the layer's directory
    assert invocation.error is None, invocation.log_path.read_text()
    assert invocation.result == {"tool": "one hello", "helper": "one"}


def test_layers_merge_into_one_opt_the_later_layer_winning(tmp_path: Path) -> None:
    # GIVEN two layers with the same program, the first also with a module
    first = _layer(tmp_path / "first", "first", helper=True)
    second = _layer(tmp_path / "second", "second")

    # WHEN the function runs with both, in that order
    invocation = _runner(tmp_path).invoke(_function(tmp_path, first, second), {})

    # THEN the program is the second layer's, the module still the first's
    assert invocation.error is None, invocation.log_path.read_text()
    assert invocation.result == {"tool": "second hello", "helper": "first"}


def test_a_function_without_layers_gets_no_opt_redirection(tmp_path: Path) -> None:
    # GIVEN a function without layers (the handler's imports fail before anything runs)
    runner = _runner(tmp_path)
    function = _function(tmp_path)

    # WHEN its environment is built
    env = runner.environment(function, tmp_path / "run")

    # THEN nothing of /opt is there
    assert "_LOCAL_LAMBDA_OPT" not in env
    assert env["PYTHONPATH"] == str(function.code_dir)


@pytest.mark.parametrize("exists", [True, False])
def test_a_lambda_image_ca_bundle_that_does_not_exist_here_is_dropped(
    tmp_path: Path, exists: bool
) -> None:
    # GIVEN a function whose environment names a CA bundle (BucketDeployment names Amazon
    # Linux's /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem)
    bundle = tmp_path / "bundle.pem"
    if exists:
        bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    function = _function(tmp_path, environment={"AWS_CA_BUNDLE": str(bundle)})

    # WHEN the runner builds its environment
    env = _runner(tmp_path).environment(function, tmp_path / "run")

    # THEN an existing bundle is kept and a missing one dropped (botocore would fail with it)
    assert env.get("AWS_CA_BUNDLE") == (str(bundle) if exists else None)


# ---------------------------------------------------------------------------- through the engine

ASSET_BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _assembly(directory: Path, *, label: str, bucket_tags: bool = True) -> Path:
    """A stack with a layer, a function using it, a custom resource answered by that function,
    a tagged bucket and its ``Custom::S3AutoDeleteObjects``."""
    handler = textwrap.dedent(
        """
        import json, subprocess, urllib.request

        def handler(event, context):
            out = subprocess.check_output(["/opt/tool/run"], text=True).strip()
            body = json.dumps({
                "Status": "SUCCESS", "PhysicalResourceId": "tool-resource",
                "StackId": event["StackId"], "RequestId": event["RequestId"],
                "LogicalResourceId": event["LogicalResourceId"], "Data": {"Tool": out},
            }).encode()
            request = urllib.request.Request(
                event["ResponseURL"], data=body, method="PUT", headers={"content-type": ""})
            urllib.request.urlopen(request).close()
        """
    )
    assets = {
        "code": _zip({"index.py": handler}),
        "layer": _zip({"tool/run": TOOL.format(label=label)}),
    }
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in assets.items()}
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, data in assets.items():
        (directory / f"asset.{hashes[name]}.zip").write_bytes(data)
        files[hashes[name]] = {
            "source": {"path": f"asset.{hashes[name]}.zip", "packaging": "file"},
            "destinations": {
                "current": {"bucketName": ASSET_BUCKET, "objectKey": f"{hashes[name]}.zip"}
            },
        }
    sub = {"Fn::Sub": ASSET_BUCKET}
    tags = [{"Key": "aws-cdk:auto-delete-objects", "Value": "true"}] if bucket_tags else []
    template = {
        "Resources": {
            "Layer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {"Content": {"S3Bucket": sub, "S3Key": f"{hashes['layer']}.zip"}},
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": sub, "S3Key": f"{hashes['code']}.zip"},
                    "Handler": "index.handler",
                    "Runtime": "python3.12",
                    "Timeout": 30,
                    "Role": "arn:aws:iam::123456789012:role/fn",
                    "Layers": [{"Ref": "Layer"}],
                },
            },
            "Tool": {
                "Type": "Custom::Tool",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}},
            },
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"Tags": tags},
                "DeletionPolicy": "Delete",
            },
            "AutoDeleteFn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"ZipFile": "exports.handler = async () => {}"},
                    "Handler": "index.handler",
                    "Runtime": "nodejs22.x",
                    "Role": "arn:aws:iam::123456789012:role/fn",
                },
            },
            "AutoDelete": {
                "Type": "Custom::S3AutoDeleteObjects",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["AutoDeleteFn", "Arn"]},
                    "BucketName": {"Ref": "Bucket"},
                },
                "DependsOn": ["Bucket"],
            },
        },
        "Outputs": {
            "ToolSaid": {"Value": {"Fn::GetAtt": ["Tool", "Tool"]}},
            "LayerArn": {"Value": {"Ref": "Layer"}},
            "BucketName": {"Value": {"Ref": "Bucket"}},
        },
    }
    (directory / "Layered.template.json").write_text(json.dumps(template), encoding="utf-8")
    (directory / "Layered.assets.json").write_text(
        json.dumps({"version": "55.0.0", "files": files, "dockerImages": {}}), encoding="utf-8"
    )
    manifest = {
        "version": "55.0.0",
        "artifacts": {
            "Layered.assets": {
                "type": "cdk:asset-manifest",
                "properties": {"file": "Layered.assets.json"},
            },
            "Layered": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": "Layered.template.json"},
                "dependencies": ["Layered.assets"],
            },
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def s3_server() -> Iterator[MotoS3Server]:
    """moto for this module."""
    with MotoS3Server() as server:
        yield server


@pytest.fixture
def cfn(s3_server: MotoS3Server, tmp_path: Path) -> Iterator[LocalCloudFormation]:
    """A local CloudFormation without CodeArtifact."""
    with LocalCloudFormation(
        tmp_path / "state", s3_server.endpoint_url, console=Console(file=io.StringIO())
    ) as engine:
        yield engine


def test_a_layer_version_is_unpacked_versioned_and_removed(
    cfn: LocalCloudFormation, s3_server: MotoS3Server, tmp_path: Path
) -> None:
    # GIVEN a stack whose custom resource's function runs a program of its layer
    first = _assembly(tmp_path / "v1", label="first layer")

    # WHEN it is deployed, then deployed with other layer content
    (created,) = cfn.deploy(first)
    outputs_v1 = cfn.outputs("Layered")
    (updated,) = cfn.deploy(_assembly(tmp_path / "v2", label="second layer"))
    outputs_v2 = cfn.outputs("Layered")

    # THEN the program ran from the layer, the new content is a new layer version, the
    # function runs the new one, and the replaced version's content is gone
    assert outputs_v1["ToolSaid"] == "first layer"
    assert outputs_v1["LayerArn"].endswith(":1")
    assert outputs_v2["LayerArn"].endswith(":2")
    old = layer_content_dir(cfn.state_dir, outputs_v1["LayerArn"])
    new = layer_content_dir(cfn.state_dir, outputs_v2["LayerArn"])
    assert old is not None
    assert new is not None
    assert not old.exists()
    assert (new / "tool" / "run").is_file()

    # AND destroying the stack removes the layer's content too
    cfn.destroy(None, ["Layered"])
    assert not new.exists()
    assert created.stack_name == updated.stack_name == "Layered"


def test_tagged_buckets_are_emptied_by_auto_delete_objects_on_destroy(
    cfn: LocalCloudFormation, s3_server: MotoS3Server, tmp_path: Path
) -> None:
    # GIVEN a deployed bucket tagged by CDK for automatic deletion, holding objects
    cfn.deploy(_assembly(tmp_path / "app", label="x"))
    bucket = cfn.outputs("Layered")["BucketName"]
    s3: S3Client = s3_server.client()
    tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="dir/b.txt", Body=b"b")

    # WHEN the stack is destroyed
    cfn.destroy(None, ["Layered"])

    # THEN the bucket carried its template tags, and was emptied and deleted
    assert tags == [{"Key": "aws-cdk:auto-delete-objects", "Value": "true"}]
    assert bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}


def test_an_untagged_bucket_is_left_alone_by_auto_delete_objects(
    cfn: LocalCloudFormation, s3_server: MotoS3Server, tmp_path: Path
) -> None:
    # GIVEN the same stack without the tag (someone removed it), holding an object
    cfn.deploy(_assembly(tmp_path / "app", label="x", bucket_tags=False))
    bucket = cfn.outputs("Layered")["BucketName"]
    s3: S3Client = s3_server.client()
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"keep")

    # WHEN the stack is destroyed
    with pytest.raises(Exception, match=r"not empty|BucketNotEmpty"):
        cfn.destroy(None, ["Layered"])

    # THEN the object is still there (the bucket could not be deleted, as in AWS)
    assert s3.get_object(Bucket=bucket, Key="keep.txt")["Body"].read() == b"keep"
