"""Test scaffolding to force CloudFormation interleavings: a sibling resource that fails on cue,
and a small app with a package version beside it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk

from codeartifact_generic import GenericPackageVersion, PackageAsset
from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.providers import (
    ProviderContext,
    ProviderError,
    ProvisionResult,
    ResourceProvider,
    ResourceRequest,
)
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed

from .lifecycle_app import DOMAIN, REPOSITORY, repository_then_packages

#: The resource type of :class:`FailOnCue`.
CUE_TYPE = "Test::FailOnCue"
#: Asset names of the version the app declares; the last one carries the final status.
ASSETS = ("a.bin", "b.bin", "c.bin")


class FailOnCue(ResourceProvider):
    """A resource whose Create waits until the test says "fail now", then fails."""

    emulated = True

    def __init__(self) -> None:
        self.started = threading.Event()
        self._fail = threading.Event()

    def fail_now(self) -> None:
        self._fail.set()

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        self.started.set()
        self._fail.wait(120)
        raise ProviderError("the sibling failed on cue")


@dataclass(frozen=True)
class App:
    """What one deployment declares."""

    version: str = "1.0.0"
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY
    sibling: bool = True
    #: Versions declared next to each other (packages tool0, tool1, …).
    versions: int = 1
    data: dict[str, str] = field(
        default_factory=lambda: {n: f"{n} bytes: 0123456789" for n in ASSETS}
    )


def synth(outdir: Path, app_spec: App) -> Path:
    """A repository stack, and a stack with package versions and (optionally) the sibling."""
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    _, packages = repository_then_packages(app, "Cue", DOMAIN, REPOSITORY)
    for index in range(app_spec.versions):
        GenericPackageVersion(
            packages,
            f"Tool{index}",
            domain=DOMAIN,
            repository=REPOSITORY,
            namespace="cue",
            package=f"tool{index}",
            version=app_spec.version,
            assets=[PackageAsset.from_data(n, d) for n, d in app_spec.data.items()],
            removal_policy=app_spec.removal_policy,
        )
    if app_spec.sibling:
        cdk.CfnResource(packages, "Sibling", type=CUE_TYPE)
    app.synth()
    return outdir


class Deployment(threading.Thread):
    """``cfn.deploy(outdir)`` in a thread, so the test can act while it runs."""

    def __init__(self, cfn: LocalCloudFormation, outdir: Path) -> None:
        super().__init__(daemon=True)
        self.cfn = cfn
        self.outdir = outdir
        self.failure: DeploymentFailed | None = None

    def run(self) -> None:
        try:
            self.cfn.deploy(self.outdir)
        except DeploymentFailed as failure:
            self.failure = failure

    def outcome(self, timeout: float = 180) -> DeploymentFailed | None:
        self.join(timeout)
        assert not self.is_alive(), "the deployment did not end"
        return self.failure
