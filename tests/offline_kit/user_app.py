"""A user's CDK app, written into a directory outside the repository.

It uses every asset source, a ``BucketDeployment`` whose ``deployed_bucket`` feeds
``PackageAsset.from_bucket``, an object pre-loaded into S3, and weak cross-stack references
(``cdk init``'s default, ``"@aws-cdk/core:defaultCrossStackReferences": "weak"``).
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

#: The bucket and key ``up --preload`` fills before the deployment.
PRELOADED = ("app-inputs", "data/input.csv")
#: The package the app publishes, as keyword arguments of CodeArtifact calls.
MODEL_PACKAGE: dict[str, Any] = {
    "domain": "my-domain",
    "repository": "releases",
    "format": "generic",
    "namespace": "ml",
    "package": "model",
}

APP = """
import aws_cdk as cdk
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from codeartifact_generic import GenericPackageVersion, PackageAsset


class Repo(cdk.Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.domain = codeartifact.CfnDomain(self, "Domain", domain_name="my-domain")
        self.repository = codeartifact.CfnRepository(
            self, "Repository", domain_name=self.domain.attr_name, repository_name="releases"
        )


class Packages(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, repo: Repo, version: str) -> None:
        super().__init__(scope, id)
        bucket = s3.Bucket(
            self, "Models", removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True
        )
        deployment = s3deploy.BucketDeployment(
            self,
            "DeployModels",
            sources=[s3deploy.Source.asset("models")],
            destination_bucket=bucket,
            destination_key_prefix="models/",
        )
        self.release = GenericPackageVersion(
            self,
            "Release",
            domain=repo.domain.attr_name,
            repository=repo.repository.attr_name,
            namespace="ml",
            package="model",
            version=version,
            assets=[
                PackageAsset.from_bucket(deployment.deployed_bucket, "models/model.bin"),
                PackageAsset.from_bucket("app-inputs", "data/input.csv", name="input.csv"),
                PackageAsset.from_file("dist/tool.tar.gz"),
                PackageAsset.from_directory("docs", name="docs.zip"),
                PackageAsset.from_data("NOTES.txt", "built offline\\n"),
            ],
        )


class Consumer(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, repo: Repo, packages: Packages) -> None:
        super().__init__(scope, id)
        release = packages.release
        value = cdk.Fn.join(
            "@", [repo.domain.attr_name, release.version, release.attr_version_revision]
        )
        ssm.StringParameter(self, "Release", parameter_name="/app/release", string_value=value)
        cdk.CfnOutput(self, "ReleaseValue", value=value)


app = cdk.App()
repo = Repo(app, "Repo")
version = app.node.try_get_context("version") or "1.0.0"
packages = Packages(app, "Packages", repo=repo, version=version)
Consumer(app, "Consumer", repo=repo, packages=packages)
app.synth()
"""


def write_app(directory: Path, *, model: bytes = b"model weights v1\n") -> dict[str, str]:
    """Write the app and its files into ``directory``; asset name → expected SHA256 (the
    directory zip's is only known after synth)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(textwrap.dedent(APP), encoding="utf-8")
    (directory / "cdk.json").write_text(
        json.dumps(
            {
                "app": "python3 app.py",
                "context": {"@aws-cdk/core:defaultCrossStackReferences": "weak"},
            }
        ),
        encoding="utf-8",
    )
    files = {
        "models/model.bin": model,
        "inputs/input.csv": b"id,value\n1,42\n",
        "dist/tool.tar.gz": b"not really a tarball\n",
        "docs/README.md": b"# docs\n",
        "docs/guide/intro.md": b"intro\n",
    }
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return {
        "model.bin": hashlib.sha256(files["models/model.bin"]).hexdigest(),
        "input.csv": hashlib.sha256(files["inputs/input.csv"]).hexdigest(),
        "tool.tar.gz": hashlib.sha256(files["dist/tool.tar.gz"]).hexdigest(),
        "NOTES.txt": hashlib.sha256(b"built offline\n").hexdigest(),
    }


def downloaded_sha256s(codeartifact: Any, version: str) -> dict[str, str]:
    """Asset name → SHA256 of the bytes downloaded, for each asset of version ``version`` of
    :data:`MODEL_PACKAGE` (``codeartifact``: a boto3 client of the emulator)."""
    coords = {**MODEL_PACKAGE, "packageVersion": version}
    names = [a["name"] for a in codeartifact.list_package_version_assets(**coords)["assets"]]
    return {
        name: hashlib.sha256(
            codeartifact.get_package_version_asset(**coords, asset=name)["asset"].read()
        ).hexdigest()
        for name in names
    }
