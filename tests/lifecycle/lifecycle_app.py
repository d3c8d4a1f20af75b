"""A small app whose knobs exercise every row of the lifecycle semantics table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aws_cdk as cdk
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_ssm as ssm

from codeartifact_generic import (
    DeleteBehavior,
    GenericPackageVersion,
    PackageAsset,
    PackageVersionReference,
    VersionStatus,
)

DOMAIN = "life-domain"
REPOSITORY = "life-repo"
NAMESPACE = "life"
REFERENCE = "/life/tool"
#: The context key of the app's default cross-stack reference strength.
DEFAULT_STRENGTH = "@aws-cdk/core:defaultCrossStackReferences"


@dataclass(frozen=True)
class Knobs:
    """What one deployment of the app declares."""

    version: str = "1.0.0"
    data: str = "tool v1"
    status: VersionStatus = VersionStatus.PUBLISHED
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
    on_delete: DeleteBehavior | None = None
    replace_existing: bool = False
    extra_asset: bool = False
    #: Add a second version whose S3 object does not exist, deployed after the first.
    broken_sibling: bool = False
    #: How the consumer reads the revision: ``ssm`` through the SSM parameters, ``direct`` as
    #: ``tool.attr_version_revision`` (weak, whatever the app's default), ``strong`` as
    #: ``Stack.consume_reference(tool.attr_version_revision, STRONG)`` (an export it imports).
    consumer: Literal["ssm", "direct", "strong"] = "ssm"
    context: dict[str, str] = field(default_factory=dict)


def coordinates(package: str) -> dict[str, str]:
    """The app's ``package`` (in :data:`NAMESPACE`) as CodeArtifact's package calls name it."""
    return {
        "domain": DOMAIN,
        "repository": REPOSITORY,
        "format": "generic",
        "namespace": NAMESPACE,
        "package": package,
    }


def repository_then_packages(
    app: cdk.App, prefix: str, domain: str, repository: str
) -> tuple[codeartifact.CfnRepository, cdk.Stack]:
    """A stack ``<prefix>Repo`` with the CodeArtifact ``domain`` and ``repository``, and the
    stack ``<prefix>Packages`` deployed after it: (the repository, the packages stack)."""
    repo_stack = cdk.Stack(app, f"{prefix}Repo")
    created_domain = codeartifact.CfnDomain(repo_stack, "Domain", domain_name=domain)
    created_repository = codeartifact.CfnRepository(
        repo_stack, "Repository", domain_name=created_domain.attr_name, repository_name=repository
    )
    packages = cdk.Stack(app, f"{prefix}Packages")
    packages.add_stack_dependency(repo_stack)
    return created_repository, packages


def synth(outdir: Path, knobs: Knobs) -> Path:
    """Synthesize the app into ``outdir`` (handler bundled locally) and return it."""
    app = cdk.App(outdir=str(outdir), analytics_reporting=False, context=knobs.context)
    repository, packages = repository_then_packages(app, "Life", DOMAIN, REPOSITORY)
    assets = [PackageAsset.from_data("tool.bin", knobs.data)]
    if knobs.extra_asset:
        assets.append(PackageAsset.from_data("extra.txt", "more"))
    tool = GenericPackageVersion(
        packages,
        "Tool",
        domain=DOMAIN,
        repository=REPOSITORY,
        namespace=NAMESPACE,
        package="tool",
        version=knobs.version,
        assets=assets,
        status=knobs.status,
        removal_policy=knobs.removal_policy,
        on_delete=knobs.on_delete,
        replace_existing=knobs.replace_existing,
        reference_parameter_prefix=REFERENCE,
    )
    tool.node.add_dependency(repository)
    if knobs.broken_sibling:
        broken = GenericPackageVersion(
            packages,
            "Broken",
            domain=DOMAIN,
            repository=REPOSITORY,
            namespace=NAMESPACE,
            package="broken",
            version="0.0.1",
            assets=[PackageAsset.from_bucket("no-such-bucket-here", "missing/object.bin")],
        )
        broken.node.add_dependency(tool)
    consumer = cdk.Stack(app, "LifeConsumer")
    consumer.add_stack_dependency(packages)
    if knobs.consumer == "direct":
        revision = tool.attr_version_revision
    elif knobs.consumer == "strong":
        revision = cdk.Stack.consume_reference(
            tool.attr_version_revision, cdk.ReferenceStrength.STRONG
        )
    else:
        revision = PackageVersionReference.from_parameters(
            consumer, "ToolReference", parameter_prefix=REFERENCE
        ).version_revision
    ssm.StringParameter(
        consumer, "Uses", parameter_name="/life/consumer/uses", string_value=revision
    )
    cdk.CfnOutput(consumer, "UsedRevision", value=revision)
    # A plain value that changes with every bump, as a consumer that names the version it uses
    # has: its template changes, so it is updated (and reads the revision again) on a bump.
    cdk.CfnOutput(consumer, "UsedVersion", value=tool.version)
    app.synth()
    return outdir
