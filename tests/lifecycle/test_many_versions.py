"""Many versions in one stack under CodeArtifact's publish quota (issue 13, item 5).

One stack declares 100 ``GenericPackageVersion``s with small inline assets. The local
CloudFormation creates them with its parallelism (``max_parallel=8``: eight handler processes
at once) while the emulator enforces CodeArtifact's quota of 10 ``PublishPackageVersion``
calls per second per account. The deployment must complete with every resource created, each
asset uploaded exactly once, and the throttled calls absorbed by the handler's retries (its
CodeArtifact client retries throttling in botocore's adaptive mode); how many there were is
printed and must be more than none, or the test would not show anything.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aws_cdk as cdk
import pytest

from codeartifact_generic import GenericPackageVersion, PackageAsset
from codeartifact_generic.testing import LocalEnvironment
from codeartifact_generic.testing._emulator import CodeArtifactEmulator, Limits

from .lifecycle_app import repository_then_packages

pytestmark = pytest.mark.slow

DOMAIN = "many-domain"
REPOSITORY = "many-repo"
NAMESPACE = "many"
VERSIONS = 100
#: Assets per version: one keeps the test short (synth and deploy time grow with the number
#: of file assets; two took 140 s on a busy 2-core machine, one about 75 s).
ASSETS = 1
#: CodeArtifact's quota (the emulator's default rate) ...
RATE = 10.0
#: ... with no burst: at most one publish per 100 ms. With the emulator's default bucket of
#: a second's worth (10), handlers that each start a Python process first overran the quota
#: only now and then (3 throttled calls in a run with two assets per version on a busy
#: 2-core machine); a bucket of one makes the eight parallel handlers meet it every run
#: (about 30 of 100 publishes throttled).
BURST = 1.0
MAX_PARALLEL = 8
PUBLISH = "PublishPackageVersion"


def asset_data(index: int, asset: int) -> str:
    """The inline content of one asset."""
    return f"version {index} asset {asset}\n"


#: Each version's status and its assets' (name, SHA-256), by (package, version).
Versions = dict[tuple[str, str], tuple[str, list[tuple[str, str]]]]


def declared_versions() -> Versions:
    """What the app declares: VERSIONS versions, each Published with its ASSETS assets."""
    return {
        (f"pkg{index:03d}", "1.0.0"): (
            "Published",
            [(f"a{asset}.txt", _sha256(asset_data(index, asset))) for asset in range(ASSETS)],
        )
        for index in range(VERSIONS)
    }


def held_versions(emulator: CodeArtifactEmulator) -> Versions:
    """What CodeArtifact holds in the repository, read in place (200 API calls cost 10 s)."""
    with emulator.store.lock:
        repository = emulator.store.get_repository(DOMAIN, None, REPOSITORY)
        return {
            (package.name, version.version): (
                version.status,
                [(a.name, a.sha256) for a in version.assets.values()],
            )
            for package in repository.packages.values()
            for version in package.versions.values()
        }


def synth(outdir: Path) -> Path:
    """An app: a repository stack, and a stack of VERSIONS package versions that needs it."""
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    repository, packages = repository_then_packages(app, "Many", DOMAIN, REPOSITORY)
    for index in range(VERSIONS):
        version = GenericPackageVersion(
            packages,
            f"V{index:03d}",
            domain=DOMAIN,
            repository=REPOSITORY,
            namespace=NAMESPACE,
            package=f"pkg{index:03d}",
            version="1.0.0",
            assets=[
                PackageAsset.from_data(f"a{asset}.txt", asset_data(index, asset))
                for asset in range(ASSETS)
            ],
        )
        version.node.add_dependency(repository)
    app.synth()
    return outdir


@pytest.fixture
def env() -> Iterator[LocalEnvironment]:
    """moto and the emulator with CodeArtifact's publish quota (10 per second, no burst)."""
    limits = Limits(publish_rate_per_second=RATE, publish_burst=BURST)
    with LocalEnvironment(emulator_options={"limits": limits}) as running:
        yield running


def test_one_hundred_versions_deploy_in_parallel_under_the_publish_quota(
    env: LocalEnvironment,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    """GIVEN a stack of 100 package versions of small inline assets, and an emulator that
    allows 10 PublishPackageVersion calls per second (one per 100 ms)
    WHEN the local CloudFormation deploys it running 8 resource operations at once
    THEN the stack is CREATE_COMPLETE with all 100 versions created and Published;
    CodeArtifact holds each version Published with exactly its assets and their SHA-256s;
    each asset reached the operation exactly once; and the quota throttled some calls, which
    the handlers' retries absorbed (the count is printed and recorded as a property)."""
    emulator: CodeArtifactEmulator = env.codeartifact
    began = time.monotonic()
    outdir = synth(tmp_path / "cdk.out")
    synth_seconds = time.monotonic() - began
    cfn = env.cloudformation(tmp_path / "state", max_parallel=MAX_PARALLEL)
    try:
        began = time.monotonic()
        summaries = cfn.deploy(outdir)
        seconds = time.monotonic() - began
        stack = cfn.stack("ManyPackages")
    finally:
        cfn.close()

    assert [(s.stack_name, s.status) for s in summaries] == [
        ("ManyRepo", "CREATE_COMPLETE"),
        ("ManyPackages", "CREATE_COMPLETE"),
    ]
    assert stack is not None
    versions = [
        r for r in stack.resources.values() if r.type == "Custom::CodeArtifactGenericPackageVersion"
    ]
    assert len(versions) == VERSIONS
    assert {r.attributes.get("Status") for r in versions} == {"Published"}

    assert held_versions(emulator) == declared_versions()

    published = emulator.faults.calls_to(PUBLISH)
    assert len(published) == VERSIONS * ASSETS, "every asset reached the operation once"
    assert len({(c.params["package"], c.params["assetName"]) for c in published}) == len(published)
    throttled = emulator.throttled_publishes
    record_property("throttled_publishes", throttled)
    record_property("deploy_seconds", round(seconds, 1))
    with capsys.disabled():
        print(
            f"\n{VERSIONS} versions x {ASSETS} asset(s), max_parallel={MAX_PARALLEL}, quota "
            f"{RATE:g}/s (burst {BURST:g}): synth {synth_seconds:.1f} s, deploy {seconds:.1f} s; "
            f"{len(published)} publishes admitted, {throttled} throttled and absorbed by retries"
        )
    assert throttled > 0, "the quota never bit: the test would show nothing"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
