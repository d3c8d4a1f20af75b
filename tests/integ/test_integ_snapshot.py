"""The integ test's committed snapshot, checked offline, and what drives it (tests/integ/driver.py).

``integ_generic_package_version.py`` is deployed only by ``make integ`` (credentials needed);
here its snapshot is compared with a fresh synthesis, so a change to what the construct
synthesizes fails ``make test`` until the snapshot is updated (``make integ-snapshot``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import driver
from .driver import (
    CDK_CLI,
    INTEG_RUNNER,
    UPDATE_COMMAND,
    IntegTestFile,
    asset_ids,
    compare,
    discover,
    read_cases,
    run_cases,
    stack_templates,
    synthesize,
)

HERE = Path(__file__).resolve().parent
TEST = IntegTestFile(HERE / "integ_generic_package_version.py")
TEST_STACK = "CodeArtifactGenericInteg"
INTEG_RUNNER_CLI = INTEG_RUNNER.parents[1] / ".bin" / "integ-runner"

pytestmark = pytest.mark.skipif(
    not (CDK_CLI.exists() and INTEG_RUNNER_CLI.exists()),
    reason="the CDK CLI and integ-runner are not installed: run `make setup`",
)


@pytest.fixture(scope="module")
def fresh_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The integ app synthesized now, as integ-runner synthesizes it."""
    out = tmp_path_factory.mktemp("integ") / "assembly"
    synthesize(TEST, out)
    return out


def _snapshot_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "snapshot"
    shutil.copytree(TEST.snapshot, copy)
    return copy


def _edit_template(assembly: Path, stack: str, edit: str, replacement: str) -> None:
    template = stack_templates(assembly)[stack]
    text = template.read_text()
    assert edit in text, f"{edit!r} is not in {template.name}"
    template.write_text(text.replace(edit, replacement))


def _integ_runner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(str(INTEG_RUNNER_CLI), "--directory", str(HERE), "--language", "python", *args),
            *("--app", f"{sys.executable} {{filePath}}", "--max-workers", "1"),
            *("--parallel-regions", "us-east-1"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"},
    )


def test_integ_runner_finds_the_test_by_its_naming_convention() -> None:
    # GIVEN tests/integ, WHEN integ-runner lists the Python tests it would run
    listed = _integ_runner("--list")
    # THEN it finds the integ app (integ_*.py) and nothing else; the driver finds the same
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["integ_generic_package_version.py"]
    assert discover() == [TEST]


def test_integ_runner_still_cannot_read_the_assembly() -> None:
    # GIVEN the committed snapshot (cloud assembly schema of the installed aws-cdk-lib)
    # WHEN integ-runner verifies it
    verified = _integ_runner()
    output = verified.stdout + verified.stderr
    # THEN it stops at the schema version, which is why tests/integ/driver.py exists
    assert verified.returncode != 0 and "schema version mismatch" in output, (
        "integ-runner no longer stops at the cloud assembly schema version: make it the snapshot "
        "check of this test (`integ-runner --directory tests/integ --language python`) and the "
        "runner of `make integ` (`--update-on-failed`), and retire tests/integ/driver.py. "
        f"It printed:\n{output[-3000:]}"
    )


def test_the_committed_snapshot_matches_the_integ_app(fresh_assembly: Path) -> None:
    # GIVEN the committed snapshot, WHEN compared with the integ app synthesized now
    differences = compare(TEST.snapshot, fresh_assembly)
    # THEN every stack template is the same, asset hashes aside
    assert not differences, (
        "The integ test's snapshot is out of date. If the change is intended, update it with "
        f"`{UPDATE_COMMAND}` and commit {TEST.snapshot.name}/ (and run `make integ` with AWS "
        "credentials to deploy it):\n\n" + "\n\n".join(differences)
    )


def test_a_changed_construct_template_fails_the_check(fresh_assembly: Path, tmp_path: Path) -> None:
    # GIVEN a snapshot whose package version resource differs from what the construct now
    # synthesizes (its version property), and one that lacks a resource
    changed = _snapshot_copy(tmp_path / "changed")
    _edit_template(changed, TEST_STACK, '"Version": "1.0.0"', '"Version": "0.9.0"')
    missing = _snapshot_copy(tmp_path / "missing")
    template = stack_templates(missing)[TEST_STACK]
    content = json.loads(template.read_text())
    del content["Resources"]["Repository"]
    template.write_text(json.dumps(content))
    # WHEN each is compared with the fresh synthesis
    # THEN the stack is reported with the changed lines
    [version_change] = compare(changed, fresh_assembly)
    assert version_change.startswith(f"{TEST_STACK}: template changed")
    assert '-    "Version": "0.9.0"' in version_change
    assert '+    "Version": "1.0.0"' in version_change
    [resource_change] = compare(missing, fresh_assembly)
    assert '+  "Repository": {' in resource_change


def test_a_new_expectation_fails_the_check(fresh_assembly: Path, tmp_path: Path) -> None:
    # GIVEN a snapshot whose assertion expected another SHA256 for tool.sh
    [case] = read_cases(TEST.snapshot)
    assert case.assertion_stack_name is not None
    snapshot = _snapshot_copy(tmp_path)
    tool_sha256 = "0d1cf35555c4b94640b39bc4c7cf5daec084a079e68efd12a2e4a3ccd699b491"
    _edit_template(snapshot, case.assertion_stack_name, tool_sha256, "0" * 64)
    # WHEN compared, THEN the assertion stack is reported (integ-runner would not look at it)
    [difference] = compare(snapshot, fresh_assembly)
    assert difference.startswith(f"{case.assertion_stack_name}: template changed")


def test_asset_hashes_alone_do_not_fail_the_check(fresh_assembly: Path, tmp_path: Path) -> None:
    # GIVEN a snapshot made with other handler code: every asset hash of the test stack differs
    snapshot = _snapshot_copy(tmp_path)
    for n, asset in enumerate(asset_ids(snapshot, TEST_STACK)):
        other = f"{n:064x}"
        for path in [stack_templates(snapshot)[TEST_STACK], snapshot / f"{TEST_STACK}.assets.json"]:
            path.write_text(path.read_text().replace(asset, other))
    # WHEN compared with the fresh synthesis, THEN nothing is reported (as integ-runner does,
    # unless a test case sets diffAssets)
    assert compare(snapshot, fresh_assembly) == []


def test_the_snapshot_is_the_same_on_every_machine() -> None:
    # GIVEN the committed snapshot
    files = sorted(p.name for p in TEST.snapshot.iterdir())
    text = "".join(p.read_text() for p in TEST.snapshot.iterdir())
    # THEN it has no staged asset copies and no stack traces through local paths,
    assert not [name for name in files if name.startswith("asset.")]
    assert '"trace"' not in text
    assert "/tmp/" not in text and str(Path.home()) not in text
    # and records the test case: its stack, its assertion stack, no update workflow
    [case] = read_cases(TEST.snapshot)
    assert case.stacks == (TEST_STACK,)
    assert case.assertion_stack == "GenericPackageVersion/DefaultTest/DeployAssert"
    integ = json.loads((TEST.snapshot / "integ.json").read_text())
    assert integ["testCases"][case.name]["stackUpdateWorkflow"] is False


FAKE_CDK = """\
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_CDK_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if "--outputs-file" in args:
    with open(args[args.index("--outputs-file") + 1], "w") as out:
        out.write(os.environ["FAKE_CDK_OUTPUTS"])
sys.exit(int(os.environ.get("FAKE_CDK_EXIT_" + args[0].upper(), "0")))
"""


@pytest.fixture
def fake_cdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CDK CLI that records its arguments and writes the outputs it is told to."""
    cli = tmp_path / "cdk"
    cli.write_text(f"#!{sys.executable}\n{FAKE_CDK}")
    cli.chmod(0o755)
    log = tmp_path / "cdk.log"
    monkeypatch.setattr(driver, "CDK_CLI", cli)
    monkeypatch.setenv("FAKE_CDK_LOG", str(log))
    return log


def _outputs(case_stack_name: str, **statuses: str) -> str:
    results = {
        f"AssertionResults{name}": json.dumps({"status": status, "message": f"{name} said no"})
        for name, status in statuses.items()
    }
    return json.dumps({case_stack_name: {**results, "Other": "ignored"}})


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_make_integ_deploys_asserts_then_destroys(
    fake_cdk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an assembly of the integ test whose assertions all pass once deployed
    assembly = _snapshot_copy(tmp_path)
    [case] = read_cases(assembly)
    assert case.assertion_stack and case.assertion_stack_name
    monkeypatch.setenv("FAKE_CDK_OUTPUTS", _outputs(case.assertion_stack_name, A="success"))
    # WHEN its test cases are run
    passed = run_cases(assembly, ["--profile", "p"])
    # THEN the test stack is deployed, then the assertion stack without rollback (every
    # assertion runs) and with its outputs kept, then both are destroyed
    assert passed is True
    deploy_stack, deploy_assertions, destroy = _calls(fake_cdk)
    app = ["--app", str(assembly), "--profile", "p"]
    assert deploy_stack == ["deploy", *app, "--require-approval", "never", TEST_STACK]
    assert deploy_assertions[: len(app) + 1] == ["deploy", *app]
    assert "--no-rollback" in deploy_assertions
    assert deploy_assertions[-1] == case.assertion_stack
    assert destroy == ["destroy", *app, "--force", TEST_STACK, case.assertion_stack]


def test_make_integ_fails_on_a_failed_assertion_and_still_destroys(
    fake_cdk: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an assertion that fails once deployed
    assembly = _snapshot_copy(tmp_path)
    [case] = read_cases(assembly)
    assert case.assertion_stack_name
    outputs = _outputs(case.assertion_stack_name, A="success", B="fail")
    monkeypatch.setenv("FAKE_CDK_OUTPUTS", outputs)
    # WHEN run, THEN the run fails naming the assertion, and the stacks are destroyed
    assert run_cases(assembly, []) is False
    assert "FAILED     GenericPackageVersion/DefaultTest AssertionResultsB: B said no" in (
        capsys.readouterr().out
    )
    assert _calls(fake_cdk)[-1][0] == "destroy"


def test_make_integ_destroys_what_it_deployed_when_a_deployment_fails(
    fake_cdk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a test stack whose deployment fails
    assembly = _snapshot_copy(tmp_path)
    monkeypatch.setenv("FAKE_CDK_EXIT_DEPLOY", "1")
    monkeypatch.setenv("FAKE_CDK_OUTPUTS", "{}")
    # WHEN run, THEN the failure propagates after the destroy
    with pytest.raises(subprocess.CalledProcessError):
        run_cases(assembly, [])
    assert [call[0] for call in _calls(fake_cdk)] == ["deploy", "destroy"]
