"""Many versions in one stack under the publish quota (issue 13, item 5), as processes:

- ``python -m bench.many_versions synth --count N --outdir DIR`` synthesizes the app of
  ``tests/lifecycle/test_many_versions.py`` with that test's own ``synth`` (a ``ManyRepo``
  stack with the domain and repository, then a ``ManyPackages`` stack of ``VERSIONS``
  versions of ``ASSETS`` small inline assets each), ``VERSIONS`` set to N in this process;
- ``python -m bench.many_versions deploy --assembly DIR --count N --max-parallel P`` starts a
  fresh ``LocalEnvironment`` (moto and the emulator in this process) whose emulator enforces
  the publish quota (``--rate`` per second, a bucket of ``--burst``: the test's 10/s and 1 by
  default), deploys the assembly with the local CloudFormation running P resource operations
  at once, and checks what the test checks: both stacks CREATE_COMPLETE, every version created
  and Published, CodeArtifact holding each with exactly its assets, each asset reaching
  PublishPackageVersion once. It prints one JSON line: the deploy's wall time (around
  ``deploy`` only: the servers start before, the check runs after), the PublishPackageVersion
  calls admitted and throttled (the emulator's own counter: when the deploy completed, every
  throttled call was absorbed by a retry), and ``problem`` (null when all held).

The test module is imported as ``tests.lifecycle.test_many_versions`` (the repository root is
on ``PYTHONPATH``), so the benchmark deploys exactly the app the test deploys.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

PUBLISH: Final = "PublishPackageVersion"
VERSION_TYPE: Final = "Custom::CodeArtifactGenericPackageVersion"
#: The test's quota: CodeArtifact's 10 publishes per second with a bucket of one (no burst),
#: and its width (bench.run passes them explicitly; these are what it defaults to).
DEFAULT_RATE: Final = 10.0
DEFAULT_BURST: Final = 1.0
DEFAULT_MAX_PARALLEL: Final = 8
_TEST_MODULE: Final = "tests.lifecycle.test_many_versions"


def _test_app(count: int) -> Any:
    """The test module, its ``VERSIONS`` set to ``count`` (this process only)."""
    module: Any = importlib.import_module(_TEST_MODULE)
    module.VERSIONS = count
    return module


def synth(count: int, outdir: Path) -> dict[str, Any]:
    """The app of the many-versions lifecycle test with ``count`` versions, into ``outdir``."""
    began = time.perf_counter()
    _test_app(count).synth(outdir)
    return {"count": count, "seconds": round(time.perf_counter() - began, 3)}


def deploy(
    assembly: Path, count: int, max_parallel: int, rate: float, burst: float
) -> dict[str, Any]:
    """Deploy ``assembly`` (``count`` versions) into a fresh environment; check and describe."""
    from rich.console import Console  # noqa: PLC0415

    from codeartifact_generic.testing import LocalEnvironment  # noqa: PLC0415
    from codeartifact_generic.testing._emulator import Limits  # noqa: PLC0415
    from codeartifact_generic.testing._local_deploy.stack_update import (  # noqa: PLC0415
        DeploymentFailed,
    )

    app = _test_app(count)
    limits = Limits(publish_rate_per_second=rate, publish_burst=burst)
    found: dict[str, Any] = {
        "count": count,
        "max_parallel": max_parallel,
        "rate_per_s": rate,
        "burst": burst,
        "assets_per_version": app.ASSETS,
        "problem": None,
    }
    with (
        tempfile.TemporaryDirectory(prefix="many-versions-") as state,
        LocalEnvironment(emulator_options={"limits": limits}) as env,
    ):
        emulator = env.codeartifact
        cfn = env.cloudformation(
            Path(state) / "state", max_parallel=max_parallel, console=Console(stderr=True)
        )
        try:
            began = time.perf_counter()
            try:
                summaries = cfn.deploy(assembly)
            except DeploymentFailed as failure:
                found["problem"] = f"deployment failed: {failure.reason}"
                summaries = []
            found["deploy_s"] = round(time.perf_counter() - began, 3)
            stack = cfn.stack("ManyPackages")
        finally:
            cfn.close()
        published = emulator.faults.calls_to(PUBLISH)
        found["publishes_admitted"] = len(published)
        found["throttled"] = emulator.throttled_publishes
        found["stacks"] = {s.stack_name: s.status for s in summaries}
        versions = [r for r in stack.resources.values() if r.type == VERSION_TYPE] if stack else []
        found["versions_created"] = len(versions)
        found["versions_published"] = sum(
            1 for r in versions if r.attributes.get("Status") == "Published"
        )
        try:  # the test's own reading, in place (the API would cost seconds)
            held = app.held_versions(emulator)
        except Exception as error:
            held = {}
            found["problem"] = found["problem"] or f"no repository: {error}"
        expected = app.declared_versions()
        assets = count * app.ASSETS
        distinct = {(c.params["package"], c.params["assetName"]) for c in published}
        if found["problem"] is None:
            if found["stacks"] != {
                "ManyRepo": "CREATE_COMPLETE",
                "ManyPackages": "CREATE_COMPLETE",
            }:
                found["problem"] = f"stacks ended {found['stacks']}"
            elif found["versions_published"] != count:
                found["problem"] = f"{found['versions_published']} of {count} versions Published"
            elif held != expected:
                found["problem"] = "CodeArtifact does not hold exactly the declared versions"
            elif len(published) != assets or len(distinct) != assets:
                found["problem"] = (
                    f"{len(published)} publishes of {len(distinct)} assets (expected {assets} once)"
                )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Synthesize, or deploy and print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.many_versions")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("synth")
    make.add_argument("--count", type=int, required=True)
    make.add_argument("--outdir", required=True)
    run = commands.add_parser("deploy")
    run.add_argument("--assembly", required=True)
    run.add_argument("--count", type=int, required=True, help="versions the assembly declares")
    run.add_argument("--max-parallel", type=int, required=True)
    run.add_argument("--rate", type=float, default=DEFAULT_RATE)
    run.add_argument("--burst", type=float, default=DEFAULT_BURST)
    args = parser.parse_args(argv)
    if args.command == "synth":
        result = synth(args.count, Path(args.outdir))
    else:
        result = deploy(Path(args.assembly), args.count, args.max_parallel, args.rate, args.burst)
    print(json.dumps(result), flush=True)
    return 0 if result.get("problem") is None else 1


if __name__ == "__main__":
    sys.exit(main())
