"""Fixtures for lifecycle tests: local servers, a local CloudFormation, a deploy helper."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from codeartifact_generic.testing import LocalEnvironment
from codeartifact_generic.testing._lifecycle import VersionRow, repository_versions
from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed

from .lifecycle_app import DOMAIN, REPOSITORY, Knobs, coordinates, synth


@dataclass
class Outcome:
    """How a deployment ended and what the repository holds afterwards."""

    succeeded: bool
    reason: str
    versions: dict[tuple[str, str], VersionRow]


@dataclass
class Lifecycle:
    """Deploys :class:`Knobs` of the lifecycle app and reads CodeArtifact back."""

    env: LocalEnvironment
    cfn: LocalCloudFormation
    #: Where each deployment's app is synthesized (``out0``, ``out1``, ...).
    workdir: Path
    _steps: Iterator[int] = field(default_factory=itertools.count, init=False)

    def deploy(self, knobs: Knobs) -> Outcome:
        outdir = synth(self.workdir / f"out{next(self._steps)}", knobs)
        try:
            self.cfn.deploy(outdir)
        except DeploymentFailed as failure:
            return Outcome(False, failure.reason, self.versions())
        return Outcome(True, "", self.versions())

    def destroy(self, knobs: Knobs, stacks: list[str]) -> None:
        self.cfn.destroy(synth(self.workdir / f"out{next(self._steps)}", knobs), stacks)

    def versions(self) -> dict[tuple[str, str], VersionRow]:
        rows = repository_versions(self.cfn.codeartifact_client(), DOMAIN, REPOSITORY)
        return {(row.package, row.version): row for row in rows}

    def assets(self, version: str, package: str = "tool") -> dict[str, str]:
        client = self.cfn.codeartifact_client()
        listed = client.list_package_version_assets(**coordinates(package), packageVersion=version)
        return {a["name"]: a["hashes"]["SHA-256"] for a in listed["assets"]}

    def output(self, stack: str, name: str) -> str:
        return self.cfn.outputs(stack)[name]

    def count_calls(self, operation: str) -> list[dict[str, Any]]:
        """Start recording the emulator's ``operation`` calls (their parameters)."""
        calls: list[dict[str, Any]] = []

        def record(name: str, request: Any) -> None:
            if name == operation:
                calls.append({k: v for k, v in request.params.items() if k != "assetContent"})

        self.env.codeartifact.before_dispatch.append(record)
        return calls


@pytest.fixture
def env() -> Iterator[LocalEnvironment]:
    """moto S3 and the CodeArtifact emulator, for one test."""
    with LocalEnvironment() as servers:
        yield servers


@pytest.fixture
def life(tmp_path: Path) -> Iterator[Lifecycle]:
    """Fresh servers and state for one lifecycle."""
    with (
        LocalEnvironment() as env,
        LocalCloudFormation(tmp_path / "state", env.s3_endpoint, env.codeartifact_endpoint) as cfn,
    ):
        yield Lifecycle(env, cfn, tmp_path)
