"""The example app, synthesized by the CDK CLI and deployed to the local emulators."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeartifact_generic.testing import LocalEnvironment
from codeartifact_generic.testing._demo import inspect, synthesize
from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from scaffolding.cdk_cli import REPO, needs_cdk_cli

pytestmark = [pytest.mark.slow, needs_cdk_cli]


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """app.py synthesized by the CDK CLI from ./node_modules."""
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        synthesize(f"{sys.executable} app.py", out, [])
    finally:
        os.chdir(cwd)
    return out


@pytest.fixture
def deployed(assembly: Path, tmp_path: Path) -> Iterator[LocalCloudFormation]:
    with (
        LocalEnvironment() as env,
        LocalCloudFormation(tmp_path / "state", env.s3_endpoint, env.codeartifact_endpoint) as cfn,
    ):
        cfn.deploy(assembly)
        yield cfn


def test_example_app_publishes_both_versions_with_matching_hashes(
    deployed: LocalCloudFormation,
) -> None:
    # WHEN app.py is deployed
    reports = {
        f"{r.namespace}/{r.package}": r for r in inspect(deployed, deployed.codeartifact_client())
    }
    # THEN the CLI and the model bundle are Published, with every downloaded asset's SHA256
    # equal to the one computed at synth
    assert set(reports) == {"tools/mycli", "ml/model-bundle"}
    cli, model = reports["tools/mycli"], reports["ml/model-bundle"]
    assert (cli.version, cli.status) == ("1.4.0", "Published")
    assert [a.name for a in model.assets] == ["model.bin", "docs.zip", "NOTES.txt"]
    expected = hashlib.sha256((REPO / "example" / "dist" / "model.bin").read_bytes()).hexdigest()
    assert model.assets[0].downloaded == expected
    assert all(a.matches and a.declared for r in reports.values() for a in r.assets)
    # AND the consumer stack received the revision from the other stack
    release = deployed.outputs("Consumer")["CliReleaseValue"]
    assert release == f"mycli@1.4.0@{cli.revision}"
    assert deployed.outputs("Packages")["CliRevision"] == cli.revision


def test_redeploy_is_a_no_op_and_destroy_retains_versions(
    deployed: LocalCloudFormation, assembly: Path
) -> None:
    # GIVEN the deployed app and its revisions
    client = deployed.codeartifact_client()
    before = {r.package: r.revision for r in inspect(deployed, client)}
    # WHEN it is deployed again unchanged, then the stacks holding versions are destroyed
    deployed.deploy(assembly)
    after = {r.package: r.revision for r in inspect(deployed, client)}
    deployed.destroy(assembly, ["Packages"])  # and its dependent, Consumer
    # THEN nothing was republished, and the versions outlive the stacks (retained)
    assert deployed.stack("Packages") is None
    assert deployed.stack("Consumer") is None
    assert after == before
    versions = client.list_package_versions(
        domain="demo-domain",
        repository="generic-releases",
        format="generic",
        namespace="tools",
        package="mycli",
    )["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [("1.4.0", "Published")]


def _run_kit(command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m codeartifact_generic.testing <command>`` on app.py, as ``make`` runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "codeartifact_generic.testing",
            command,
            "--app",
            f"{sys.executable} app.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_make_demo_entry_point_prints_the_table(tmp_path: Path) -> None:
    # WHEN the demo command runs as `make demo` runs it
    done = _run_kit("demo", timeout=300)
    # THEN it succeeds and shows both packages with matching hashes
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for text in (
        "tools/mycli",
        "ml/model-bundle",
        "docs.zip",
        "every downloaded asset matches its SHA256",
    ):
        assert text in done.stdout


def test_make_demo_lifecycle_entry_point_ends_every_step_as_expected() -> None:
    # WHEN the lifecycle demo runs as `make demo-lifecycle` runs it
    done = _run_kit("demo-lifecycle", timeout=600)
    # THEN every step (deploy, bump, rolled-back bump, cancelled Create, failing change,
    # destroy) ended as expected
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert "every step ended as expected" in done.stdout
    assert "differs from what CodeArtifact holds" in done.stdout
    # AND the nightly's Create was cancelled while it ran, and nothing of it was left
    assert "FAILED Resource creation cancelled" in done.stdout
    assert "the rollback ended while the cancelled Create was still running" in done.stdout
    assert "tools/mycli-nightly" not in done.stdout
    # AND the rolled-back bump left no 1.6.0
    assert "│ 1.6.0" not in done.stdout
