#!/usr/bin/env python3
"""Example app: a CodeArtifact domain and repository, published versions, and a consumer.

- ``CodeArtifactRepo``: the domain ``demo-domain`` and repository ``generic-releases``.
- ``Packages``: ``tools/mycli`` (one file) and ``ml/model-bundle`` (a file, a directory zipped at
  synth, and inline data).
- ``Consumer``: uses the CLI version's revision from ``Packages`` directly. The construct makes
  that reference weak (``Fn::GetStackOutput``, read when ``Consumer`` deploys) whatever the
  app's ``@aws-cdk/core:defaultCrossStackReferences``, so it survives version bumps (a strong
  export would block them). The version itself is a plain string in ``Consumer``'s template, so
  every bump changes that template and ``cdk deploy`` updates ``Consumer`` (it skips a stack
  whose template did not change, and a new output value is not a template change).

Context: ``-c version=1.4.0`` sets the CLI's version, ``-c cli_artifact=PATH`` its file and
``-c domain=demo-domain`` the domain name. Two knobs show how failed deployments roll back
(``make demo-lifecycle`` uses them): ``-c nightly=VERSION`` adds a nightly build of the CLI, and
``-c broken_release=true`` adds a release whose S3 object does not exist, so the deployment fails.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from codeartifact_generic import GenericPackageVersion, PackageAsset

HERE = Path(__file__).parent / "example"
#: Where the CLI version's attributes are also published, for readers outside this app (a
#: stack of another account or region, scripts): ``PackageVersionReference.from_parameters``.
CLI_REFERENCE = "/demo/packages/mycli"


class CodeArtifactRepoStack(cdk.Stack):
    """The domain and the repository the versions are published to."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        domain_name = str(self.node.try_get_context("domain") or "demo-domain")
        self.domain = codeartifact.CfnDomain(self, "Domain", domain_name=domain_name)
        self.repository = codeartifact.CfnRepository(
            self,
            "Repository",
            domain_name=self.domain.attr_name,
            repository_name="generic-releases",
            description="Build artifacts published by cdk deploy",
        )


class PackagesStack(cdk.Stack):
    """Package versions declared next to the infrastructure that uses them."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        repo: CodeArtifactRepoStack,
        cli_version: str,
        cli_artifact: str,
        nightly: str | None = None,
        broken_release: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        domain, repository = repo.domain.attr_name, repo.repository.attr_name
        self.cli = GenericPackageVersion(
            self,
            "Cli",
            domain=domain,
            repository=repository,
            namespace="tools",
            package="mycli",
            version=cli_version,
            assets=[PackageAsset.from_file(cli_artifact, name="mycli.tar.gz")],
            reference_parameter_prefix=CLI_REFERENCE,
        )
        self.model = GenericPackageVersion(
            self,
            "ModelBundle",
            domain=domain,
            repository=repository,
            namespace="ml",
            package="model-bundle",
            version="2024.06.1",
            assets=[
                PackageAsset.from_file(str(HERE / "dist" / "model.bin")),
                PackageAsset.from_directory(str(HERE / "docs"), name="docs.zip"),
                PackageAsset.from_data("NOTES.txt", "Trained on the demo data set.\n"),
            ],
            # A bundle rebuilt on every release: removed with the stack (the CLI is retained).
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        if nightly:
            GenericPackageVersion(
                self,
                "Nightly",
                domain=domain,
                repository=repository,
                namespace="tools",
                package="mycli-nightly",
                version=nightly,
                assets=[
                    PackageAsset.from_file(cli_artifact, name="mycli.tar.gz"),
                    PackageAsset.from_data("BUILD.txt", f"nightly {nightly}\n"),
                ],
                removal_policy=cdk.RemovalPolicy.DESTROY,
            )
        if broken_release:
            GenericPackageVersion(
                self,
                "BrokenRelease",
                domain=domain,
                repository=repository,
                namespace="tools",
                package="broken",
                version="0.0.1",
                assets=[PackageAsset.from_bucket(f"no-such-bucket-{self.account}", "missing.bin")],
            )
        cdk.CfnOutput(self, "CliRevision", value=self.cli.attr_version_revision)
        cdk.CfnOutput(self, "ModelRevision", value=self.model.attr_version_revision)


class ConsumerStack(cdk.Stack):
    """Infrastructure that consumes a published version from another stack."""

    def __init__(
        self, scope: Construct, id: str, *, packages: PackagesStack, **kwargs: object
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        cli = packages.cli
        parameter = ssm.StringParameter(
            self,
            "CliRelease",
            parameter_name="/demo/mycli/release",
            # Package name and version are plain strings here (a bump changes this template);
            # the revision is read from the Packages stack's output when this stack deploys
            # (Fn::GetStackOutput: no export pins it, so Packages can bump freely).
            string_value=cdk.Fn.join("@", [cli.package, cli.version, cli.attr_version_revision]),
        )
        cdk.CfnOutput(self, "CliReleaseValue", value=parameter.string_value)


def build_app(app: cdk.App) -> cdk.App:
    """Add the example stacks to ``app``."""
    cli_version = str(app.node.try_get_context("version") or "1.4.0")
    repo = CodeArtifactRepoStack(app, "CodeArtifactRepo")
    cli_artifact = str(app.node.try_get_context("cli_artifact") or HERE / "dist" / "mycli.tar.gz")
    packages = PackagesStack(
        app,
        "Packages",
        repo=repo,
        cli_version=cli_version,
        cli_artifact=cli_artifact,
        nightly=app.node.try_get_context("nightly"),
        broken_release=str(app.node.try_get_context("broken_release")).lower() == "true",
    )
    ConsumerStack(app, "Consumer", packages=packages)
    return app


if __name__ == "__main__":
    build_app(cdk.App()).synth()
