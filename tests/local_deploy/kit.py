"""Helpers for the engine tests: a crhelper test handler and a tiny hand-written cloud assembly."""

from __future__ import annotations

import hashlib
import json
import string
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: The CDK bootstrap bucket, with placeholders as in asset manifests.
ASSET_BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"


_CRHELPER_MODULE = string.Template(
    """
import json
import os
import time

import boto3
from crhelper import CfnResource

helper = CfnResource(
    json_logging=False, log_level="$log_level", boto_level="CRITICAL", sleep_on_delete=0
)
$functions

def handler(event, context):
    helper(event, context)
"""
)


def crhelper_module(functions: str, *, log_level: str = "WARNING") -> str:
    """The source of a crhelper custom resource handler module: ``helper`` (a ``CfnResource``),
    ``functions`` (its ``@helper.create``/``update``/``delete`` functions, which may use
    ``json``, ``os``, ``time`` and ``boto3``), and the ``handler`` entry point."""
    return _CRHELPER_MODULE.substitute(log_level=log_level, functions=textwrap.dedent(functions))


_JOURNALING_FUNCTIONS = """
def _journal(event, context):
    record = {
        "RequestType": event["RequestType"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "ResourceType": event["ResourceType"],
        "StackId": event["StackId"],
        "ResponseURL": event["ResponseURL"],
        "PhysicalResourceId": event.get("PhysicalResourceId"),
        "ResourceProperties": event["ResourceProperties"],
        "OldResourceProperties": event.get("OldResourceProperties"),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "region": os.environ.get("AWS_REGION"),
        "ssl_cert_file": os.environ.get("SSL_CERT_FILE"),
        **_more_to_journal(event),
    }
    key = f"journal/{time.time_ns():020d}-{event['LogicalResourceId']}-{event['RequestType']}"
    boto3.client("s3").put_object(
        Bucket=os.environ["JOURNAL_BUCKET"], Key=key, Body=json.dumps(record).encode()
    )


@helper.create
@helper.update
def upsert(event, context):
    _journal(event, context)
    props = event["ResourceProperties"]
    if props.get("Fail") == "true":
        raise RuntimeError(f"asked to fail {event['RequestType']} of {props.get('Name')}")
    helper.Data["Echo"] = props.get("Name", "")
    helper.Data["Weak"] = props.get("Weak", "")
    return f"thing-{props.get('Name')}"


@helper.delete
def delete(event, context):
    _journal(event, context)
    if event["ResourceProperties"].get("FailDelete") == "true":
        raise RuntimeError("asked to fail delete")
"""


_NOTHING_MORE_TO_JOURNAL = """
def _more_to_journal(event):
    return {}
"""


def journaling_handler(more_to_journal: str = _NOTHING_MORE_TO_JOURNAL) -> str:
    """A crhelper-based custom resource handler. Every request is journaled to S3 through
    ``AWS_ENDPOINT_URL_S3`` (proving the environment wiring), with the fields the function
    ``_more_to_journal(event)`` (the source ``more_to_journal``) returns; ``Fail``/``FailDelete``
    make it answer FAILED; the physical id is ``thing-<Name>``, so a new Name means
    replacement."""
    functions = _JOURNALING_FUNCTIONS + textwrap.dedent(more_to_journal)
    return crhelper_module(functions, log_level="INFO")


#: :func:`journaling_handler` with the request's fields only.
HANDLER_SOURCE = journaling_handler()


def journal(s3: S3Client, bucket: str) -> list[dict[str, Any]]:
    """The requests the test handler received, oldest first."""
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="journal/")
    keys = sorted(o["Key"] for o in listing.get("Contents", []))
    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """``(RequestType, LogicalResourceId, PhysicalResourceId)`` per journal entry."""
    return [(e["RequestType"], e["LogicalResourceId"], e["PhysicalResourceId"]) for e in entries]


def bootstrap_parameter_and_rule() -> dict[str, Any]:
    """The ``BootstrapVersion`` parameter and rule every CDK template carries."""
    return {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            }
        },
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {
                        "Assert": {
                            "Fn::Not": [
                                {
                                    "Fn::Contains": [
                                        ["1", "2", "3", "4", "5"],
                                        {"Ref": "BootstrapVersion"},
                                    ]
                                }
                            ]
                        },
                        "AssertDescription": "CDK bootstrap stack version 6 required.",
                    }
                ]
            }
        },
    }


@dataclass
class AssemblyWriter:
    """Writes ``manifest.json``, templates, asset manifests and one handler asset."""

    directory: Path
    handler_source: str = HANDLER_SOURCE
    stacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def asset_hash(self) -> str:
        """Content hash of the handler (the asset id and S3 key, as in CDK)."""
        return hashlib.sha256(self.handler_source.encode()).hexdigest()

    def function(self, env: dict[str, Any], *, timeout: int = 20) -> dict[str, Any]:
        """An ``AWS::Lambda::Function`` whose code is the handler asset."""
        return {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {
                    "S3Bucket": {
                        "Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"
                    },
                    "S3Key": f"{self.asset_hash}.zip",
                },
                "Handler": "index.handler",
                "Runtime": "python3.12",
                "Timeout": timeout,
                "Role": {"Fn::GetAtt": ["FnRole", "Arn"]},
                "Environment": {"Variables": env},
            },
            "DependsOn": ["FnRole"],
        }

    @staticmethod
    def role() -> dict[str, Any]:
        """An ``AWS::IAM::Role`` for the function (recorded only)."""
        return {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Action": "sts:AssumeRole",
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                        }
                    ],
                    "Version": "2012-10-17",
                },
                "ManagedPolicyArns": [
                    {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                            ],
                        ]
                    }
                ],
            },
        }

    def write(self) -> Path:
        """Write the assembly; returns its directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        asset_dir = self.directory / f"asset.{self.asset_hash}"
        asset_dir.mkdir(exist_ok=True)
        (asset_dir / "index.py").write_text(self.handler_source, encoding="utf-8")
        artifacts: dict[str, Any] = {}
        for name, template in self.stacks.items():
            (self.directory / f"{name}.template.json").write_text(json.dumps(template, indent=1))
            assets = {
                "version": "55.0.0",
                "files": {
                    self.asset_hash: {
                        "displayName": "Fn/Code",
                        "source": {"path": asset_dir.name, "packaging": "zip"},
                        "destinations": {
                            "current_account-current_region": {
                                "bucketName": ASSET_BUCKET,
                                "objectKey": f"{self.asset_hash}.zip",
                            }
                        },
                    }
                },
                "dockerImages": {},
            }
            (self.directory / f"{name}.assets.json").write_text(json.dumps(assets, indent=1))
            artifacts[f"{name}.assets"] = {
                "type": "cdk:asset-manifest",
                "properties": {"file": f"{name}.assets.json"},
            }
            artifacts[name] = {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": f"{name}.template.json"},
                "dependencies": [*self.dependencies.get(name, []), f"{name}.assets"],
                "displayName": name,
            }
        manifest = {"version": "55.0.0", "artifacts": artifacts}
        (self.directory / "manifest.json").write_text(json.dumps(manifest, indent=1))
        return self.directory


class Assemblies:
    """Hands out a fresh :class:`AssemblyWriter` per synthesis (``<root>/cdk.out.<n>``) for
    an app whose handler journals to ``bucket``."""

    def __init__(self, root: Path, bucket: str) -> None:
        self.root = root
        self.bucket = bucket
        self.count = 0

    def writer(self, **options: Any) -> AssemblyWriter:
        """The writer of the next assembly directory."""
        self.count += 1
        return AssemblyWriter(self.root / f"cdk.out.{self.count}", **options)


_App = TypeVar("_App", bound=Assemblies)


def app_fixture(cls: type[_App]) -> Any:
    """A test module's ``app`` fixture (``app = app_fixture(App)``): ``cls`` writing its
    assemblies under the test's ``tmp_path``, its handler journaling to ``journal_bucket``."""

    @pytest.fixture(name="app")
    def app(tmp_path: Path, journal_bucket: str) -> _App:
        return cls(tmp_path, journal_bucket)

    return app
