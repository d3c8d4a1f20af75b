"""Apps the static gates synthesize: the example app and stacks that exercise the library.

``build_library_app`` covers what the example app does not: many versions in one stack, S3
objects that exist before deployment (one in a KMS-encrypted bucket, one pinned to an object
version), a domain encrypted with a customer managed key, a domain owned by another account,
and ``grant_read`` to roles (twice to the same role).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from codeartifact_generic import GenericPackageVersion, PackageAsset

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
OTHER_ACCOUNT = "111122223333"
ENV = cdk.Environment(account=ACCOUNT, region=REGION)
#: Skips docker-free bundling too: the templates are the same, synth is faster.
FAST_CONTEXT = {"aws:cdk:bundling-stacks": []}

#: A KMS key of the account, imported (its bucket is imported too).
IMPORTED_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@dataclass
class Expected:
    """What a stack's handler role must be allowed, computed from the inputs (not the output)."""

    package_arns: set[str] = field(default_factory=set)
    repository_arns: set[str] = field(default_factory=set)
    #: S3 object ARNs of objects that exist before deployment (file assets are checked apart).
    bucket_object_arns: set[str] = field(default_factory=set)
    pinned_object_arns: set[str] = field(default_factory=set)
    #: Number of distinct staged objects (file, directory, data assets; same bytes, same object).
    staged_objects: int = 0
    decrypt_key_arns: set[str] = field(default_factory=set)


def _arn(service: str, resource: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{REGION}:{account}:{resource}"


def package_arn(domain: str, repo: str, namespace: str, package: str, owner: str = ACCOUNT) -> str:
    return _arn("codeartifact", f"package/{domain}/{repo}/generic/{namespace}/{package}", owner)


def repository_arn(domain: str, repo: str, owner: str = ACCOUNT) -> str:
    return _arn("codeartifact", f"repository/{domain}/{repo}", owner)


def domain_arn(domain: str, owner: str = ACCOUNT) -> str:
    return _arn("codeartifact", f"domain/{domain}", owner)


class ManyVersionsStack(cdk.Stack):
    """30 versions of 6 packages, local files, directories and inline data."""

    def __init__(self, scope: cdk.App, id: str, *, work_dir: Path) -> None:
        super().__init__(scope, id, env=ENV)
        self.expected = Expected()
        domain = codeartifact.CfnDomain(self, "Domain", domain_name="lib-domain")
        repo = codeartifact.CfnRepository(
            self, "Repo", domain_name=domain.attr_name, repository_name="lib-repo"
        )
        docs = work_dir / "docs"
        (docs / "sub").mkdir(parents=True, exist_ok=True)
        (docs / "sub" / "page.md").write_text("# docs\n")
        for p in range(6):
            for v in range(5):
                artifact = work_dir / f"pkg{p}-{v}.bin"
                artifact.write_bytes(f"{p}.{v}".encode() * 100)
                version = GenericPackageVersion(
                    self,
                    f"P{p}V{v}",
                    domain="lib-domain",
                    repository="lib-repo",
                    namespace=f"ns{p % 2}",
                    package=f"pkg{p}",
                    version=f"1.{v}.0",
                    assets=[
                        PackageAsset.from_file(str(artifact)),
                        PackageAsset.from_directory(str(docs), name="docs.zip"),
                        PackageAsset.from_data("VERSION", f"1.{v}.0\n"),
                    ],
                )
                version.node.add_dependency(repo)
                self.expected.package_arns.add(
                    package_arn("lib-domain", "lib-repo", f"ns{p % 2}", f"pkg{p}")
                )
        self.expected.repository_arns.add(repository_arn("lib-domain", "lib-repo"))
        # 30 distinct files, one docs.zip, 5 distinct VERSION contents
        self.expected.staged_objects = 30 + 1 + 5


class BucketAssetsStack(cdk.Stack):
    """Objects already in S3 (a KMS bucket, a pinned version) into a KMS-encrypted domain."""

    def __init__(self, scope: cdk.App, id: str) -> None:
        super().__init__(scope, id, env=ENV)
        self.expected = Expected()
        self.domain_key = kms.Key(self, "DomainKey", enable_key_rotation=True)
        domain = codeartifact.CfnDomain(
            self, "Domain", domain_name="secure-domain", encryption_key=self.domain_key.key_arn
        )
        repo = codeartifact.CfnRepository(
            self, "Repo", domain_name=domain.attr_name, repository_name="secure-repo"
        )
        bucket_key = kms.Key(self, "BucketKey", enable_key_rotation=True)
        encrypted = s3.Bucket.from_bucket_attributes(
            self, "Models", bucket_name="model-store", encryption_key=bucket_key
        )
        imported_key = kms.Key.from_key_arn(self, "ArchiveKey", IMPORTED_KEY_ARN)
        archive = s3.Bucket.from_bucket_attributes(
            self, "Archive", bucket_name="archive-store", encryption_key=imported_key
        )
        version = GenericPackageVersion(
            self,
            "Model",
            domain="secure-domain",
            repository="secure-repo",
            namespace="ml",
            package="model",
            version="2024.06.1",
            assets=[
                PackageAsset.from_bucket(encrypted, "models/2024/model.bin"),
                PackageAsset.from_bucket(archive, "old/weights.bin", sha256="a" * 64),
                PackageAsset.from_bucket("plain-store", "pinned/notes.txt", object_version="v7"),
            ],
        )
        version.node.add_dependency(repo)
        self.expected.package_arns.add(package_arn("secure-domain", "secure-repo", "ml", "model"))
        self.expected.repository_arns.add(repository_arn("secure-domain", "secure-repo"))
        self.expected.bucket_object_arns |= {
            "arn:aws:s3:::model-store/models/2024/model.bin",
            "arn:aws:s3:::archive-store/old/weights.bin",
        }
        self.expected.pinned_object_arns.add("arn:aws:s3:::plain-store/pinned/notes.txt")
        self.bucket_key = bucket_key
        self.expected.decrypt_key_arns.add(IMPORTED_KEY_ARN)


def cross_account_version(scope: cdk.Stack, n: int, asset: PackageAsset) -> GenericPackageVersion:
    """tools/tool<n> 3.0.0, holding ``asset``, in repository ``releases`` of the domain
    ``shared-domain`` that OTHER_ACCOUNT owns."""
    return GenericPackageVersion(
        scope,
        f"Tool{n}",
        domain="shared-domain",
        domain_owner=OTHER_ACCOUNT,
        repository="releases",
        namespace="tools",
        package=f"tool{n}",
        version="3.0.0",
        assets=[asset],
    )


class CrossAccountStack(cdk.Stack):
    """Versions in a domain owned by another account, read by roles of this one."""

    def __init__(self, scope: cdk.App, id: str, *, work_dir: Path) -> None:
        super().__init__(scope, id, env=ENV)
        self.expected = Expected()
        artifact = work_dir / "tool.tar.gz"
        artifact.write_bytes(b"tool")
        self.versions = [
            cross_account_version(self, n, PackageAsset.from_file(str(artifact))) for n in range(2)
        ]
        self.reader = iam.Role(
            self, "Reader", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com")
        )
        for version in self.versions:
            # twice: one bearer-token policy
            version.grant_read(self.reader, package_manager_access=True)
        self.other_reader = iam.Role(
            self, "OtherReader", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com")
        )
        self.versions[0].grant_read(self.other_reader, package_manager_access=True)
        for n in range(2):
            self.expected.package_arns.add(
                package_arn("shared-domain", "releases", "tools", f"tool{n}", OTHER_ACCOUNT)
            )
        self.expected.repository_arns.add(
            repository_arn("shared-domain", "releases", OTHER_ACCOUNT)
        )
        self.expected.staged_objects = 1  # the same file twice


@dataclass
class LibraryApp:
    app: cdk.App
    many: ManyVersionsStack
    buckets: BucketAssetsStack
    cross: CrossAccountStack


def build_library_app(app: cdk.App, work_dir: Path) -> LibraryApp:
    """Add the library stacks to ``app``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    return LibraryApp(
        app=app,
        many=ManyVersionsStack(app, "ManyVersions", work_dir=work_dir),
        buckets=BucketAssetsStack(app, "BucketAssets"),
        cross=CrossAccountStack(app, "CrossAccount", work_dir=work_dir),
    )


def build_example_app(app: cdk.App) -> cdk.App:
    """The example app of the repository (``app.py``), added to ``app``."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app import build_app  # app.py lives at the repository root

    return build_app(app)
