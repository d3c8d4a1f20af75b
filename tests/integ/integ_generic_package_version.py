#!/usr/bin/env python3
"""Integration test of ``GenericPackageVersion`` on real AWS, in CDK's ``integ-runner`` form.

An app with an ``IntegTest`` of ``aws-cdk.integ-tests-alpha``, named as ``integ-runner`` finds
Python tests (``integ_*.py``), its snapshot committed beside it
(``integ_generic_package_version.py.snapshot/``). ``make integ`` (credentials and a
bootstrapped account needed) deploys the stack below, then the assertion stack ``IntegTest``
adds, reads the assertion results, destroys both and saves the snapshot; ``make test`` compares
the committed snapshot with a fresh synthesis, offline; ``make integ-snapshot`` rewrites it
after an intended change, without deploying. Both go through ``tests/integ/driver.py`` (the
same steps with the CDK CLI) because the newest ``integ-runner`` cannot read the cloud assembly
schema of this aws-cdk-lib yet (see the driver).

The stack publishes one version with one asset of every kind of source: a local file, a
directory zipped at synth, inline data, and an S3 object whose SHA256 is not known at synth (the
handler computes it at deploy). The assertions are AWS API calls made in the account after the
deployment:

- ``DescribePackageVersion``: the version is ``Published``;
- ``ListPackageVersionAssets``, once per asset: CodeArtifact holds an asset of that name and
  size whose ``SHA-256`` is the hash of the local bytes, computed here with ``hashlib``
  independently of the construct (for the directory: the hash of the zip the construct made at
  synth). That is the SHA256 CodeArtifact computed from the bytes it stores, i.e. of what a
  ``GetPackageVersionAsset`` download returns. The download itself cannot be hashed inside an
  assertion: integ-tests' ``AwsApiCall`` answers with the JSON of the SDK response, in which
  the asset's body is a stream, not bytes.

One call per asset because ``Match.array_with`` matches in order and CodeArtifact does not
document the order it lists assets in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import integ_tests_alpha as integ
from constructs import Construct

from codeartifact_generic import GenericPackageVersion, PackageAsset, VersionStatus

ASSETS = Path(__file__).resolve().parent / "assets"
#: Domain names are unique per account and region: one run of this test at a time.
DOMAIN = "cdk-codeartifact-generic-integ"
REPOSITORY = "integ-generic"
NAMESPACE = "integ"
PACKAGE = "tool"
VERSION = "1.0.0"
NOTES = "Published by the integ-runner test of cdk-codeartifact-generic.\n"


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class GenericPackageVersionStack(cdk.Stack):
    """A domain, a repository and one version with an asset of every source kind."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.domain = codeartifact.CfnDomain(self, "Domain", domain_name=DOMAIN)
        self.repository = codeartifact.CfnRepository(
            self, "Repository", domain_name=self.domain.attr_name, repository_name=REPOSITORY
        )
        # An object already in S3 whose SHA256 synth does not know: the handler learns it.
        model = s3_assets.Asset(self, "ModelObject", path=str(ASSETS / "model.bin"))
        self.version = GenericPackageVersion(
            self,
            "Version",
            domain=self.domain,
            repository=self.repository,
            namespace=NAMESPACE,
            package=PACKAGE,
            version=VERSION,
            assets=[
                PackageAsset.from_file(str(ASSETS / "tool.sh")),
                # stored, not deflated: the same zip bytes whatever zlib the machine has
                PackageAsset.from_directory(str(ASSETS / "docs"), compress=False),
                PackageAsset.from_data("NOTES.txt", NOTES),
                PackageAsset.from_bucket(model.bucket, model.s3_object_key, name="model.bin"),
            ],
            status=VersionStatus.PUBLISHED,
            # leave nothing behind when integ-runner destroys the stack
            removal_policy=cdk.RemovalPolicy.DESTROY,
            log_removal_policy=cdk.RemovalPolicy.DESTROY,
            log_retention=logs.RetentionDays.ONE_DAY,
        )

    def expected_assets(self) -> dict[str, tuple[int, str]]:
        """Asset name -> (size, SHA256) that CodeArtifact must report."""
        tool = (ASSETS / "tool.sh").read_bytes()
        model = (ASSETS / "model.bin").read_bytes()
        notes = NOTES.encode()
        docs_zip = next(bound for bound in self.version.assets if bound.name == "docs.zip")
        assert docs_zip.size is not None
        return {
            "tool.sh": (len(tool), sha256_of(tool)),
            "docs.zip": (docs_zip.size, self.version.asset_sha256("docs.zip")),
            "NOTES.txt": (len(notes), sha256_of(notes)),
            "model.bin": (len(model), sha256_of(model)),
        }


def add_assertions(test: integ.IntegTest, stack: GenericPackageVersionStack) -> None:
    """After the deployment: the version is Published and holds each asset with its SHA256."""
    coordinates = {
        # tokens of the test stack: the assertion stack depends on it, so it is deployed after
        # it and destroyed before it (strong references, see the App below)
        "domain": stack.domain.attr_name,
        "repository": stack.repository.attr_name,
        "format": "generic",
        "namespace": NAMESPACE,
        "package": PACKAGE,
        "packageVersion": VERSION,
    }
    test.assertions.aws_api_call("CodeArtifact", "describePackageVersion", coordinates).expect(
        integ.ExpectedResult.object_like(
            {"packageVersion": {"version": VERSION, "status": "Published"}}
        )
    )
    for name, (size, sha256) in stack.expected_assets().items():
        listed = test.assertions.aws_api_call(
            "CodeArtifact", "listPackageVersionAssets", coordinates
        )
        listed.expect(
            integ.ExpectedResult.object_like(
                {
                    # array elements are matched exactly unless object_like says otherwise;
                    # inside it, "hashes" may hold MD5, SHA-1 and SHA-512 too
                    "assets": integ.Match.array_with(
                        [
                            integ.Match.object_like(
                                {"name": name, "size": size, "hashes": {"SHA-256": sha256}}
                            )
                        ]
                    )
                }
            )
        )


app = cdk.App(context={"@aws-cdk/core:defaultCrossStackReferences": "strong"})
stack = GenericPackageVersionStack(app, "CodeArtifactGenericInteg")
test = integ.IntegTest(
    app,
    "GenericPackageVersion",
    test_cases=[stack],
    # no deploy of the previous snapshot first: the snapshot keeps templates, not asset copies
    stack_update_workflow=False,
)
add_assertions(test, stack)
app.synth()
