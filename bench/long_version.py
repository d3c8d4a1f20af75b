"""A version longer than one invocation (issue 13, item 4), as one process:

``python -m bench.long_version --assets N --asset-mib M --timeout T --publish-seconds S
--minute-seconds X`` writes N random files of M MiB, synthesizes the app of
``tests/lifecycle/test_long_versions.py`` with that test's own ``synth`` (one version of those
files; the function's timeout set to T seconds, or left at the construct's own with
``--timeout 0``), starts a fresh ``LocalEnvironment`` (moto and the emulator in this process)
and a local CloudFormation whose EventBridge minute lasts X seconds, deploys the repository,
slows every PublishPackageVersion by S seconds (the test's ``deploy_version``: CodeArtifact made
slow, so that a few assets outlast a short function) and deploys the version, timed.

It checks what the test checks (the version Published with exactly the files' SHA-256, each
asset reaching PublishPackageVersion once, the final one last, crhelper's rules gone) and
prints one JSON line: the deploy's wall time, the handler's invocations (CloudFormation's one
plus every poll the schedule delivered), the publishes, and ``problem`` (null when all held).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

PUBLISH: Final = "PublishPackageVersion"
MIB: Final = 1024 * 1024
_TEST_MODULE: Final = "tests.lifecycle.test_long_versions"


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _function_timeout(template: Path) -> int:
    """The handler function's timeout as deployed (seconds)."""
    resources = json.loads(template.read_text())["Resources"].values()
    (function,) = (r for r in resources if r["Type"] == "AWS::Lambda::Function")
    return int(function["Properties"]["Timeout"])


def run(
    assets: int, asset_mib: int, timeout: int | None, publish_seconds: float, minute: float
) -> dict[str, Any]:
    """Deploy one version of ``assets`` × ``asset_mib`` MiB; check and describe it."""
    from rich.console import Console  # noqa: PLC0415

    from codeartifact_generic.testing import LocalEnvironment  # noqa: PLC0415
    from codeartifact_generic.testing._local_deploy.stack_update import (  # noqa: PLC0415
        DeploymentFailed,
    )

    test: Any = importlib.import_module(_TEST_MODULE)
    found: dict[str, Any] = {
        "assets": assets,
        "asset_mib": asset_mib,
        "timeout_s": timeout,
        "publish_delay_s": publish_seconds,
        "minute_s": minute,
        "problem": None,
    }
    with (
        tempfile.TemporaryDirectory(prefix="long-version-") as work,
        LocalEnvironment() as env,
    ):
        # Named so that the last one sorts last: the final asset.
        names = [f"part-{index:03d}.bin" for index in range(assets)]
        files = test.random_files(Path(work) / "files", names, asset_mib * MIB)
        outdir = test.synth(Path(work) / "out", files, timeout)
        found["timeout_s"] = _function_timeout(outdir / "LongPackages.template.json")
        cfn = env.cloudformation(
            Path(work) / "state", polling_minute_seconds=minute, console=Console(stderr=True)
        )
        try:
            test.deploy_repository(cfn, outdir)
            began = time.perf_counter()
            try:
                test.deploy_version(cfn, env, outdir, publish_seconds)
            except DeploymentFailed as failure:
                found["problem"] = f"deployment failed: {failure.reason}"
            found["deploy_s"] = round(time.perf_counter() - began, 3)
            scheduler = cfn.rule_scheduler
            deliveries = scheduler.deliveries if scheduler is not None else []
            rules_left = len(cfn.rules.rules())
            listed = cfn.codeartifact_client().list_package_version_assets(**test.coordinates())
            held = {a["name"]: a["hashes"]["SHA-256"] for a in listed["assets"]}
        except Exception as error:
            found["problem"] = found["problem"] or f"{type(error).__name__}: {error}"
            held, deliveries, rules_left = {}, [], 0
        finally:
            cfn.close()
        polls = sum(1 for d in deliveries if d.invoked)
        sent = [c.params["assetName"] for c in env.codeartifact.faults.calls_to(PUBLISH)]
        found.update(
            invocations=1 + polls,
            polls=polls,
            polls_not_delivered=len(deliveries) - polls,
            publishes=len(sent),
            final_last=bool(sent) and sent[-1] == max(files),
        )
        if found["problem"] is None:
            if held != {name: _sha256(path) for name, path in files.items()}:
                found["problem"] = "CodeArtifact does not hold exactly the files"
            elif sorted(sent) != sorted(files):
                found["problem"] = f"{len(sent)} publishes of {len(files)} assets (each once)"
            elif not found["final_last"]:
                found["problem"] = "the final asset was not published last"
            elif rules_left:
                found["problem"] = f"{rules_left} polling rule(s) left behind"
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Deploy and print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.long_version")
    parser.add_argument("--assets", type=int, required=True)
    parser.add_argument("--asset-mib", type=int, required=True)
    parser.add_argument(
        "--timeout", type=int, required=True, help="function timeout, s (0: the construct's)"
    )
    parser.add_argument("--publish-seconds", type=float, required=True)
    parser.add_argument("--minute-seconds", type=float, required=True)
    args = parser.parse_args(argv)
    result = run(
        args.assets,
        args.asset_mib,
        args.timeout or None,
        args.publish_seconds,
        args.minute_seconds,
    )
    print(json.dumps(result), flush=True)
    return 0 if result.get("problem") is None else 1


if __name__ == "__main__":
    sys.exit(main())
