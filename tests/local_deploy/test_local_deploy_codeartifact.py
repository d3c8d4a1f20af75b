"""CodeArtifact domain and repository resources against the emulator (both servers local)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from rich.console import Console

from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation

from .kit import AssemblyWriter, crhelper_module

try:
    from codeartifact_generic.testing import LocalEnvironment
    from codeartifact_generic.testing._emulator import CodeArtifactEmulator  # noqa: F401
except ImportError as missing:  # pragma: no cover - the emulator is developed in parallel
    pytest.skip(f"CodeArtifact emulator not importable: {missing}", allow_module_level=True)

# A custom resource that reads the repository through AWS_ENDPOINT_URL_CODEARTIFACT.
DESCRIBE_HANDLER = crhelper_module(
    """
@helper.create
@helper.update
def describe(event, context):
    props = event["ResourceProperties"]
    repository = boto3.client("codeartifact").describe_repository(
        domain=props["Domain"], repository=props["Repository"]
    )["repository"]
    helper.Data["Arn"] = repository["arn"]
    return "described-" + repository["name"]


@helper.delete
def delete(event, context):
    return None
"""
)


@pytest.fixture
def env() -> Iterator[LocalEnvironment]:
    with LocalEnvironment() as running:
        yield running


def _template(
    writer: AssemblyWriter, domain: str, repository: str, description: str
) -> dict[str, Any]:
    return {
        "Resources": {
            "Domain": {"Type": "AWS::CodeArtifact::Domain", "Properties": {"DomainName": domain}},
            "Repo": {
                "Type": "AWS::CodeArtifact::Repository",
                "Properties": {
                    "DomainName": {"Fn::GetAtt": ["Domain", "Name"]},
                    "RepositoryName": repository,
                    "Description": description,
                },
            },
            "FnRole": writer.role(),
            "Fn": writer.function({}),
            "Describe": {
                "Type": "Custom::Describe",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]},
                    "Domain": {"Fn::GetAtt": ["Repo", "DomainName"]},
                    "Repository": {"Fn::GetAtt": ["Repo", "Name"]},
                },
            },
        },
        "Outputs": {
            "DomainArn": {"Value": {"Ref": "Domain"}},
            "DomainOwner": {"Value": {"Fn::GetAtt": ["Domain", "Owner"]}},
            "EncryptionKey": {"Value": {"Fn::GetAtt": ["Domain", "EncryptionKey"]}},
            "RepoArn": {"Value": {"Ref": "Repo"}},
            "RepoDomainOwner": {"Value": {"Fn::GetAtt": ["Repo", "DomainOwner"]}},
            "SeenByHandler": {"Value": {"Fn::GetAtt": ["Describe", "Arn"]}},
        },
    }


def test_domain_and_repository_lifecycle(
    env: LocalEnvironment, tmp_path: Path, console: Console, output: io.StringIO
) -> None:
    # GIVEN a stack with a domain, a repository and a custom resource reading the repository
    domain = f"d-{uuid.uuid4().hex[:10]}"
    client = boto3.client(
        "codeartifact",
        endpoint_url=env.codeartifact_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def synth(name: str, repository: str, description: str) -> Path:
        writer = AssemblyWriter(tmp_path / name, handler_source=DESCRIBE_HANDLER)
        writer.stacks["Repos"] = _template(writer, domain, repository, description)
        return writer.write()

    cfn: LocalCloudFormation
    with env.cloudformation(tmp_path / "state", console=console, lambda_retries=0) as cfn:
        # WHEN it is deployed
        (created,) = cfn.deploy(synth("v1", "r1", "one"))

        # THEN the emulator has them, and Ref/GetAtt give CloudFormation's values
        arn = f"arn:aws:codeartifact:us-east-1:123456789012:repository/{domain}/r1"
        assert (
            created.outputs["DomainArn"]
            == f"arn:aws:codeartifact:us-east-1:123456789012:domain/{domain}"
        )
        assert created.outputs["DomainOwner"] == "123456789012"
        assert created.outputs["RepoArn"] == arn
        assert created.outputs["RepoDomainOwner"] == "123456789012"
        assert created.outputs["EncryptionKey"]
        # AND the handler reached the emulator through AWS_ENDPOINT_URL_CODEARTIFACT
        assert created.outputs["SeenByHandler"] == arn

        # WHEN the repository is renamed (replacement)
        (renamed,) = cfn.deploy(synth("v2", "r2", "two"))

        # THEN the new repository exists and the old one was deleted after the update
        names = [
            r["name"] for r in client.list_repositories_in_domain(domain=domain)["repositories"]
        ]
        assert names == ["r2"]
        assert renamed.outputs["SeenByHandler"].endswith(f"/{domain}/r2")
        assert (
            "DELETE (cleanup, replaced) Repo (AWS::CodeArtifact::Repository) ... OK"
            in output.getvalue()
        )

        # WHEN everything is destroyed
        cfn.destroy()

        # THEN the domain is gone too
        domains = [d["name"] for d in client.list_domains()["domains"]]
        assert domain not in domains


def test_replacing_a_custom_named_resource_in_place_is_refused(
    env: LocalEnvironment, tmp_path: Path, console: Console
) -> None:
    # GIVEN a deployed domain
    domain = f"d-{uuid.uuid4().hex[:10]}"

    def synth(name: str, key: str | None) -> Path:
        writer = AssemblyWriter(tmp_path / name)
        props: dict[str, Any] = {"DomainName": domain}
        if key:
            props["EncryptionKey"] = key
        writer.stacks["Dom"] = {
            "Resources": {"Domain": {"Type": "AWS::CodeArtifact::Domain", "Properties": props}}
        }
        return writer.write()

    with env.cloudformation(tmp_path / "state", console=console) as cfn:
        cfn.deploy(synth("v1", None))

        # WHEN a replacement-only property changes while the name stays
        from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed

        with pytest.raises(DeploymentFailed) as failure:
            cfn.deploy(synth("v2", "arn:aws:kms:us-east-1:123456789012:key/other"))

        # THEN CloudFormation's custom-name rule stops it and the domain is untouched
        assert "custom-named resource requires replacing" in failure.value.reason
        stack = cfn.stack("Dom")
        assert stack is not None
        assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
        cfn.destroy()
