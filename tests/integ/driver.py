#!/usr/bin/env python3
"""Run this folder's integ tests the way ``integ-runner`` does, with the CDK CLI.

The tests (``integ_*.py``, ``integ-runner``'s Python naming convention) are CDK apps with an
``IntegTest`` of ``aws-cdk.integ-tests-alpha``; each has a committed snapshot,
``<file>.snapshot/``, in ``integ-runner``'s layout. ``integ-runner`` itself (2.197.10 in
package.json, the newest release on npm) cannot run them yet: it reads cloud assemblies up to
schema 53 and the aws-cdk-lib of the [dev] extra writes 55, so it stops at
``AssemblyVersionMismatch`` before comparing or deploying anything
(``tests/integ/test_integ_snapshot.py`` notices the day it no longer does). Until then this
driver does the same steps with the CDK CLI of ./node_modules:

``snapshot``
    synthesize each test as ``integ-runner`` does (its recommended feature flags as context,
    its placeholder ``CDK_INTEG_*`` environment, no version reporting, path or asset metadata)
    and write ``<file>.snapshot/``: templates, manifests and ``integ.json``, without the staged
    asset copies, and without stack traces (they name temporary paths).
``check``
    synthesize again and compare every stack template with the snapshot's, asset hashes
    replaced by placeholders first, as ``integ-runner`` does unless ``diffAssets`` is set. It
    compares the assertion stacks too, but for the ``salt`` of each assertion (a timestamp);
    ``integ-runner`` compares the test-case stacks only. So a changed expectation is a changed
    snapshot too. No AWS call.
``deploy``
    needs credentials and a bootstrapped account: deploy the test-case stacks, then the
    assertion stack (no rollback, so every assertion runs), read the assertion results from its
    outputs, destroy everything, and write the snapshot when every assertion passed. Region and
    account come from the usual AWS variables or ``--profile``.

``python tests/integ/driver.py check`` (or ``make integ-snapshot`` / ``make integ``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CDK_CLI = REPO / "node_modules" / ".bin" / "cdk"
INTEG_RUNNER = REPO / "node_modules" / "@aws-cdk" / "integ-runner"
#: The flags ``integ-runner`` synthesizes every test with (``currentlyRecommendedAwsCdkLibFlags``).
RECOMMENDED_FLAGS = INTEG_RUNNER / "lib" / "recommended-feature-flags.json"
#: ``integ-runner``'s ``DEFAULT_SYNTH_OPTIONS.env``: placeholders, so no snapshot depends on
#: the account or region of whoever synthesized it.
SYNTH_ENV: Mapping[str, str] = {
    "CDK_INTEG_ACCOUNT": "12345678",
    "CDK_INTEG_REGION": "test-region",
    "CDK_INTEG_HOSTED_ZONE_ID": "Z23ABC4XYZL05B",
    "CDK_INTEG_HOSTED_ZONE_NAME": "example.com",
    "CDK_INTEG_DOMAIN_NAME": "*.example.com",
    "CDK_INTEG_CERT_ARN": (
        "arn:aws:acm:test-region:12345678:certificate/86468209-a272-595d-b831-0efb6421265z"
    ),
    "CDK_INTEG_SUBNET_ID": "subnet-0dff1a399d8f6f92c",
}
#: ``integ-runner``'s file pattern for Python tests (its ``python`` language preset).
TEST_FILE = re.compile(r"^integ_.*\.py$")
#: Resource types of integ-tests' assertions (``Custom::DeployAssert@SdkCall...``).
ASSERTION_TYPE_PREFIX = "Custom::DeployAssert@"
#: What a developer runs after an intended change.
UPDATE_COMMAND = "make integ-snapshot"
#: Bound on one CDK CLI call that deploys or destroys (CodeArtifact and Lambda are quick).
DEPLOY_TIMEOUT_SECONDS = 3600
SYNTH_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class IntegTestFile:
    """One ``integ_*.py`` app and where its snapshot lives."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def snapshot(self) -> Path:
        return self.path.with_name(f"{self.path.name}.snapshot")


@dataclass(frozen=True)
class IntegCase:
    """A test case of ``integ.json``: the stacks it deploys and its assertion stack."""

    name: str
    stacks: tuple[str, ...]
    assertion_stack: str | None
    assertion_stack_name: str | None


def discover(directory: Path = HERE) -> list[IntegTestFile]:
    """The integ tests under ``directory``, as ``integ-runner --language python`` finds them."""
    return [
        IntegTestFile(path)
        for path in sorted(directory.rglob("*.py"))
        if TEST_FILE.match(path.name) and ".snapshot" not in path.parent.name
    ]


def _cdk(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: int
) -> None:
    if not CDK_CLI.exists():
        raise SystemExit(f"{CDK_CLI} is missing: run `make setup` (npm ci)")
    environment = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", **(env or {})}
    subprocess.run([str(CDK_CLI), *args], cwd=cwd, env=environment, check=True, timeout=timeout)


def synth_context() -> dict[str, object]:
    """The context ``integ-runner`` passes to every synthesis of a test."""
    if not RECOMMENDED_FLAGS.exists():
        raise SystemExit(f"{RECOMMENDED_FLAGS} is missing: run `make setup` (npm ci)")
    flags: dict[str, object] = json.loads(RECOMMENDED_FLAGS.read_text())
    return flags


def synthesize(test: IntegTestFile, output: Path, *, python: str = sys.executable) -> None:
    """``cdk synth`` of ``test`` into ``output`` with ``integ-runner``'s context and environment.

    The CDK CLI takes ``-c`` values as strings, so the context goes through a ``cdk.json`` of a
    scratch directory (JSON keeps ``true`` a boolean); the app runs from the test's folder.
    """
    with tempfile.TemporaryDirectory(prefix="integ-synth-") as work:
        config = {
            "app": f"{python} {test.path}",
            "context": synth_context(),
            "versionReporting": False,
            "pathMetadata": False,
            "assetMetadata": False,
        }
        Path(work, "cdk.json").write_text(json.dumps(config))
        _cdk(
            ["synth", "--quiet", "--output", str(output.resolve())],
            cwd=Path(work),
            env=SYNTH_ENV,
            timeout=SYNTH_TIMEOUT_SECONDS,
        )


def _strip_traces(entries: object) -> object:
    """Metadata without ``trace`` (stack traces through temporary jsii paths)."""
    if isinstance(entries, dict):
        return {k: _strip_traces(v) for k, v in entries.items() if k != "trace"}
    if isinstance(entries, list):
        return [_strip_traces(entry) for entry in entries]
    return entries


def clean_snapshot(assembly: Path) -> None:
    """What ``integ-runner`` leaves out of a snapshot, and what would tie it to one machine.

    Staged asset copies (``asset.*``; ``integ-runner`` drops those of stacks without the update
    workflow, and the assertion provider's 6 MB bundle is not worth committing either), the
    ``.cache`` of zipped assets, and the ``trace`` of every metadata entry.
    """
    for entry in assembly.iterdir():
        if entry.name.startswith("asset.") or entry.name == ".cache":
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    for metadata in [assembly / "manifest.json", *assembly.glob("*.metadata.json")]:
        content = json.loads(metadata.read_text())
        metadata.write_text(json.dumps(_strip_traces(content), indent=2) + "\n")


def write_snapshot(test: IntegTestFile) -> Path:
    """Synthesize ``test`` and replace its committed snapshot with the result."""
    with tempfile.TemporaryDirectory(prefix="integ-snapshot-") as scratch:
        fresh = Path(scratch, "assembly")
        synthesize(test, fresh)
        clean_snapshot(fresh)
        if test.snapshot.exists():
            shutil.rmtree(test.snapshot)
        shutil.copytree(fresh, test.snapshot)
    return test.snapshot


def read_cases(assembly: Path) -> list[IntegCase]:
    """The test cases recorded in an assembly's ``integ.json``."""
    manifest = json.loads((assembly / "integ.json").read_text())
    return [
        IntegCase(
            name=name,
            stacks=tuple(case["stacks"]),
            assertion_stack=case.get("assertionStack"),
            assertion_stack_name=case.get("assertionStackName"),
        )
        for name, case in manifest["testCases"].items()
    ]


def stack_templates(assembly: Path) -> dict[str, Path]:
    """Stack artifact id -> its template file, from the assembly's manifest."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    return {
        artifact_id: assembly / artifact["properties"]["templateFile"]
        for artifact_id, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }


def asset_ids(assembly: Path, stack: str) -> list[str]:
    """The ids (hashes) of the assets of ``stack``, in the order of its asset manifest."""
    manifest_file = assembly / f"{stack}.assets.json"
    if not manifest_file.exists():
        return []
    manifest = json.loads(manifest_file.read_text())
    return [*manifest.get("files", {}), *manifest.get("dockerImages", {})]


def canonical_template(assembly: Path, stack: str) -> object:
    """The template of ``stack`` with its asset hashes replaced by ``Asset1``, ``Asset2``, ...

    ``integ-runner``'s ``canonicalizeTemplate``: a template that differs only in the hashes of
    its assets (the handler's code, a file's bytes) is the same snapshot.
    """
    substitutions = [(asset, f"Asset{n}") for n, asset in enumerate(asset_ids(assembly, stack), 1)]

    def substitute(value: object) -> object:
        if isinstance(value, dict):
            return {substitute(k): substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, str):
            for asset, placeholder in substitutions:
                value = value.replace(asset, placeholder)
        return value

    template = json.loads(stack_templates(assembly)[stack].read_text())
    for resource in template.get("Resources", {}).values():
        # integ-tests' assertion calls carry Date.now() as "salt", so that every deployment
        # runs them again: a new value on every synthesis, not a change
        properties = resource.get("Properties", {})
        if str(resource.get("Type", "")).startswith(ASSERTION_TYPE_PREFIX) and "salt" in properties:
            properties["salt"] = "Salt"
    return substitute(template)


def compare(expected: Path, actual: Path, *, max_lines: int = 80) -> list[str]:
    """How the stacks of assembly ``actual`` differ from snapshot ``expected`` (empty: none)."""
    if not (expected / "manifest.json").exists():
        return [f"no snapshot at {expected}"]
    old, new = stack_templates(expected), stack_templates(actual)
    differences = [
        f"{stack}: in the snapshot, not synthesized" for stack in sorted(old.keys() - new)
    ]
    differences += [
        f"{stack}: synthesized, not in the snapshot" for stack in sorted(new.keys() - old)
    ]
    for stack in sorted(old.keys() & new.keys()):
        before = json.dumps(canonical_template(expected, stack), indent=1, sort_keys=True)
        after = json.dumps(canonical_template(actual, stack), indent=1, sort_keys=True)
        if before != after:
            diff = list(
                difflib.unified_diff(
                    before.splitlines(), after.splitlines(), "snapshot", "synthesized", lineterm=""
                )
            )
            shown = diff[:max_lines] + (
                [f"... {len(diff) - max_lines} more lines"] * (len(diff) > max_lines)
            )
            differences.append(f"{stack}: template changed\n" + "\n".join(shown))
    return differences


def check(test: IntegTestFile) -> list[str]:
    """Synthesize ``test`` and compare it with its committed snapshot (offline)."""
    with tempfile.TemporaryDirectory(prefix="integ-check-") as scratch:
        fresh = Path(scratch, "assembly")
        synthesize(test, fresh)
        return compare(test.snapshot, fresh)


def assertion_results(outputs_file: Path, assertion_stack_name: str) -> dict[str, dict[str, str]]:
    """``integ-runner``'s ``processAssertionResults``: the ``AssertionResults*`` outputs."""
    if not outputs_file.exists():
        return {}
    outputs = json.loads(outputs_file.read_text()).get(assertion_stack_name, {})
    results: dict[str, dict[str, str]] = {}
    for key, value in outputs.items():
        if key.startswith("AssertionResults"):
            result = json.loads(value.replace("\n", "\\n"))
            if result.get("status") in ("success", "fail"):
                results[key] = result
    return results


@contextmanager
def _deployed(
    assembly: Path, case: IntegCase, cli_args: Sequence[str]
) -> Iterator[dict[str, dict[str, str]]]:
    """Deploy a test case and its assertions; destroy them on the way out, whatever happened."""
    app = ["--app", str(assembly), *cli_args]
    every_stack = [*case.stacks, *([case.assertion_stack] if case.assertion_stack else [])]
    try:
        _cdk(
            ["deploy", *app, "--require-approval", "never", *case.stacks],
            cwd=assembly.parent,
            timeout=DEPLOY_TIMEOUT_SECONDS,
        )
        results: dict[str, dict[str, str]] = {}
        if case.assertion_stack and case.assertion_stack_name:
            outputs = assembly / "assertion-results.json"
            _cdk(
                [
                    *("deploy", *app, "--require-approval", "never", "--no-rollback"),
                    *("--outputs-file", str(outputs), case.assertion_stack),
                ],
                cwd=assembly.parent,
                timeout=DEPLOY_TIMEOUT_SECONDS,
            )
            results = assertion_results(outputs, case.assertion_stack_name)
        yield results
    finally:
        _cdk(
            ["destroy", *app, "--force", *every_stack],
            cwd=assembly.parent,
            timeout=DEPLOY_TIMEOUT_SECONDS,
        )


def run_cases(assembly: Path, cli_args: Sequence[str] = ()) -> bool:
    """Deploy, assert and destroy every test case of a synthesized ``assembly``; True if OK."""
    passed = True
    for case in read_cases(assembly):
        with _deployed(assembly, case, cli_args) as results:
            if not results and case.assertion_stack:
                print(f"  FAILED     {case.name}: no assertion results")
                passed = False
            for key, result in sorted(results.items()):
                ok = result["status"] == "success"
                passed &= ok
                detail = "" if ok else f": {result.get('message', '')}"
                print(f"  {'SUCCESS' if ok else 'FAILED':<10} {case.name} {key}{detail}")
    return passed


def deploy(test: IntegTestFile, cli_args: Sequence[str] = ()) -> bool:
    """Deploy, assert and destroy ``test`` in the account of the environment; snapshot if OK."""
    with tempfile.TemporaryDirectory(prefix="integ-deploy-") as scratch:
        assembly = Path(scratch, "assembly")
        synthesize(test, assembly)
        if not run_cases(assembly, cli_args):
            return False
    write_snapshot(test)
    print(f"  snapshot   {test.snapshot.relative_to(REPO)} updated")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=["snapshot", "check", "deploy"])
    parser.add_argument("tests", nargs="*", help="integ_*.py files (default: all of tests/integ)")
    parser.add_argument("--profile", help="AWS profile for deploy (default: the environment's)")
    args = parser.parse_args(argv)
    tests = [IntegTestFile(Path(t).resolve()) for t in args.tests] or discover()
    status = 0
    for test in tests:
        if args.command == "snapshot":
            print(f"  snapshot   {write_snapshot(test).relative_to(REPO)}")
        elif args.command == "check":
            differences = check(test)
            print(f"  {'CHANGED' if differences else 'UNCHANGED':<10} {test.name}")
            for difference in differences:
                print(difference)
            if differences:
                print(f"Intended? Update the snapshot with: {UPDATE_COMMAND}")
                status = 1
        else:
            cli_args = ["--profile", args.profile] if args.profile else []
            status |= 0 if deploy(test, cli_args) else 1
    return status


if __name__ == "__main__":
    sys.exit(main())
