"""Cross-stack references that survive a version bump, through the local CloudFormation.

The revision changes with every bump. A consumer reading it directly gets a weak reference
(``Fn::GetStackOutput``) whatever the app's ``@aws-cdk/core:defaultCrossStackReferences``, so
the producer bumps freely; a strong export of the revision, asked for explicitly, still blocks
the bump as CloudFormation would. The example app (``app.py``, synthesized by the CDK CLI with
``-c version=…``) and the lifecycle app are deployed with either default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeartifact_generic.testing import LocalEnvironment
from codeartifact_generic.testing._lifecycle import LifecycleDriver, Step
from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from scaffolding.cdk_cli import REPO, needs_cdk_cli

from .conftest import Lifecycle
from .lifecycle_app import DEFAULT_STRENGTH, Knobs

pytestmark = pytest.mark.slow

TOOL = "life/tool"
STRENGTHS = ["strong", "weak"]


def _strength(value: str) -> dict[str, str]:
    return {DEFAULT_STRENGTH: value}


# ---------------------------------------------------------------------- the example app


@pytest.fixture
def example(tmp_path: Path) -> Iterator[tuple[LifecycleDriver, LocalCloudFormation]]:
    """app.py, synthesized by the CDK CLI in the repository (its cdk.json) step by step."""
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        with (
            LocalEnvironment() as env,
            LocalCloudFormation(
                tmp_path / "state", env.s3_endpoint, env.codeartifact_endpoint
            ) as cfn,
        ):
            driver = LifecycleDriver(
                f"{sys.executable} app.py",
                cfn,
                tmp_path,
                domain="demo-domain",
                repository="generic-releases",
            )
            yield driver, cfn
    finally:
        os.chdir(cwd)


@needs_cdk_cli
@pytest.mark.parametrize("strength", STRENGTHS)
def test_example_consumer_reads_the_revision_directly_across_a_version_bump(
    example: tuple[LifecycleDriver, LocalCloudFormation], strength: str
) -> None:
    driver, cfn = example
    # GIVEN app.py deployed with the app's default strength set to `strength`
    first = driver.run(Step("deploy 1.4.0", {"version": "1.4.0", DEFAULT_STRENGTH: strength}))
    assert first.succeeded, first.reason
    revisions = {(r.package, r.version): r.revision for r in first.versions}
    assert cfn.outputs("Consumer")["CliReleaseValue"] == (
        f"mycli@1.4.0@{revisions[('tools/mycli', '1.4.0')]}"
    )
    # AND the revision reaches Consumer through no export (it imports nothing of Packages)
    packages, consumer = cfn.stack("Packages"), cfn.stack("Consumer")
    assert packages is not None and consumer is not None
    assert packages.exports == {}
    assert consumer.imports == []

    # WHEN the CLI's version is bumped (`-c version=1.5.0`) and the app deployed again
    bumped = driver.run(Step("bump to 1.5.0", {"version": "1.5.0", DEFAULT_STRENGTH: strength}))

    # THEN the bump succeeds, 1.4.0 is retained, and Consumer uses 1.5.0's revision
    assert bumped.succeeded, bumped.reason
    rows = {(r.package, r.version): r for r in bumped.versions}
    assert {v for p, v in rows if p == "tools/mycli"} == {"1.4.0", "1.5.0"}
    new_revision = rows[("tools/mycli", "1.5.0")].revision
    assert new_revision != revisions[("tools/mycli", "1.4.0")]
    assert cfn.outputs("Consumer")["CliReleaseValue"] == f"mycli@1.5.0@{new_revision}"


# ---------------------------------------------------------------------- the lifecycle app


@pytest.mark.parametrize("strength", STRENGTHS)
def test_direct_reference_survives_a_version_bump(life: Lifecycle, strength: str) -> None:
    # GIVEN a consumer using tool.attr_version_revision directly
    knobs = Knobs(consumer="direct", context=_strength(strength))
    first = life.deploy(knobs)
    assert first.succeeded, first.reason
    assert life.output("LifeConsumer", "UsedRevision") == first.versions[(TOOL, "1.0.0")].revision
    # WHEN the producer bumps its version
    bumped = life.deploy(Knobs(version="1.1.0", consumer="direct", context=_strength(strength)))
    # THEN both stacks update, and the consumer now uses the new revision
    assert bumped.succeeded, bumped.reason
    assert life.output("LifeConsumer", "UsedRevision") == bumped.versions[(TOOL, "1.1.0")].revision


def test_ssm_reference_survives_a_version_bump(life: Lifecycle) -> None:
    # GIVEN a consumer reading the revision through SSM
    first = life.deploy(Knobs())
    assert life.output("LifeConsumer", "UsedRevision") == first.versions[(TOOL, "1.0.0")].revision
    # WHEN the producer bumps its version
    bumped = life.deploy(Knobs(version="1.1.0"))
    # THEN both stacks update, and the consumer now uses the new revision
    assert bumped.succeeded, bumped.reason
    assert life.output("LifeConsumer", "UsedRevision") == bumped.versions[(TOOL, "1.1.0")].revision


@pytest.mark.parametrize("strength", STRENGTHS)
def test_strong_reference_blocks_a_version_bump(life: Lifecycle, strength: str) -> None:
    # GIVEN a consumer that insists on a strong reference to the revision (an export it imports)
    first = life.deploy(Knobs(consumer="strong", context=_strength(strength)))
    assert first.succeeded, first.reason
    # WHEN the producer bumps its version
    bumped = life.deploy(Knobs(version="1.1.0", consumer="strong", context=_strength(strength)))
    # THEN CloudFormation refuses to change an export in use, and the bump is rolled back
    assert not bumped.succeeded
    assert "Cannot update export LifePackages:" in bumped.reason
    assert "in use by LifeConsumer" in bumped.reason
    assert bumped.versions == first.versions
