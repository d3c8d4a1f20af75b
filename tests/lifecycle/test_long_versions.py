"""A version that outlasts one invocation, deployed offline end to end: the real construct and
handler, crhelper's polling through the local EventBridge rules, CodeArtifact made slow.

The handler function gets a 12-second timeout (the construct gives it 15 minutes) and every
publish is slowed by 2.5 s, so three 48 MiB assets cannot go in one invocation; a minute of the
local EventBridge lasts 3 s (polls every 15 s, longer than an invocation: never two at once).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from codeartifact_generic import GenericPackageVersion, PackageAsset
from codeartifact_generic.testing import LocalEnvironment
from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed

from .lifecycle_app import DOMAIN, REPOSITORY, repository_then_packages

pytestmark = pytest.mark.slow

ASSET_BYTES = 64 * 1024 * 1024
NAMES = ("a.bin", "b.bin", "c.bin")
FUNCTION_TIMEOUT_SECONDS = 12
PUBLISH_SECONDS = 2.5
_WRITE_BYTES = 16 * 1024 * 1024


def synth(outdir: Path, files: dict[str, Path], timeout_seconds: int | None) -> Path:
    """The app: a repository stack, then ``LongPackages`` with one version of ``files``; its
    function's timeout set to ``timeout_seconds`` (None: the construct's own)."""
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    _, packages = repository_then_packages(app, "Long", DOMAIN, REPOSITORY)
    GenericPackageVersion(
        packages,
        "Model",
        domain=DOMAIN,
        repository=REPOSITORY,
        namespace="ml",
        package="model",
        version="1.0.0",
        assets=[PackageAsset.from_file(path, name=name) for name, path in files.items()],
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    app.synth()
    if timeout_seconds is not None:
        _set_function_timeout(outdir / "LongPackages.template.json", timeout_seconds)
    return outdir


def _set_function_timeout(template_path: Path, seconds: int) -> None:
    template = json.loads(template_path.read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 1
    functions[0]["Properties"]["Timeout"] = seconds
    template_path.write_text(json.dumps(template))


def coordinates() -> dict[str, Any]:
    return {
        "domain": DOMAIN,
        "repository": REPOSITORY,
        "format": "generic",
        "namespace": "ml",
        "package": "model",
        "packageVersion": "1.0.0",
    }


def random_files(directory: Path, names: Sequence[str], size: int) -> dict[str, Path]:
    """A file of ``size`` random bytes per name in ``directory`` (written 16 MiB at a time)."""
    directory.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in names:
        path = directory / name
        with path.open("wb") as out:
            for offset in range(0, size, _WRITE_BYTES):
                out.write(os.urandom(min(_WRITE_BYTES, size - offset)))
        made[name] = path
    return made


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return random_files(tmp_path / "files", NAMES, ASSET_BYTES)


@pytest.fixture
def cfn(env: LocalEnvironment, tmp_path: Path) -> Iterator[LocalCloudFormation]:
    engine = LocalCloudFormation(
        tmp_path / "state",
        env.s3_endpoint,
        env.codeartifact_endpoint,
        polling_minute_seconds=3.0,
    )
    try:
        yield engine
    finally:
        engine.close()


def deploy_repository(cfn: LocalCloudFormation, outdir: Path) -> None:
    """Deploy the domain and repository stack."""
    cfn.deploy(outdir, ["LongRepo"], exclusively=True)


def deploy_version(
    cfn: LocalCloudFormation,
    env: LocalEnvironment,
    outdir: Path,
    publish_seconds: float = PUBLISH_SECONDS,
) -> None:
    """Slow every publish by ``publish_seconds``, then deploy the version's stack."""
    env.codeartifact.faults.next(
        "PublishPackageVersion", "slow", times=None, seconds=publish_seconds
    )
    cfn.deploy(outdir, ["LongPackages"], exclusively=True)


def _deploy(cfn: LocalCloudFormation, env: LocalEnvironment, outdir: Path) -> None:
    deploy_repository(cfn, outdir)
    deploy_version(cfn, env, outdir)


def test_a_version_longer_than_one_invocation_is_published_across_polls(
    env: LocalEnvironment, cfn: LocalCloudFormation, files: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN three 64 MiB assets that cannot be published in one 12 s invocation
    outdir = synth(tmp_path / "out", files, FUNCTION_TIMEOUT_SECONDS)
    # WHEN the stack is deployed
    _deploy(cfn, env, outdir)
    # THEN the version is Published with exactly the three files' bytes
    client = cfn.codeartifact_client()
    described = client.describe_package_version(**coordinates())["packageVersion"]
    assert described["status"] == "Published"
    listed = client.list_package_version_assets(**coordinates())["assets"]
    assert {a["name"]: a["hashes"]["SHA-256"] for a in listed} == {
        name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()
    }
    # AND it took crhelper's polls: the function was invoked again by the schedule
    scheduler = cfn.rule_scheduler
    assert scheduler is not None
    polls = [d for d in scheduler.deliveries if d.invoked]
    assert len(polls) >= 1, scheduler.deliveries
    # AND no asset was sent twice, the final one last
    publishes = env.codeartifact.faults.calls_to("PublishPackageVersion")
    sent = [call.params["assetName"] for call in publishes]
    assert sorted(sent) == sorted(NAMES)
    assert sent[-1] == "c.bin"
    # AND crhelper removed its rule, target and permission
    assert cfn.rules.rules() == {}


def test_a_poll_that_fails_fails_the_deployment_and_leaves_nothing(
    env: LocalEnvironment, cfn: LocalCloudFormation, files: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN the same version, and CodeArtifact refusing its final asset (sent by a poll)
    outdir = synth(tmp_path / "out", files, FUNCTION_TIMEOUT_SECONDS)
    env.codeartifact.faults.next(
        "PublishPackageVersion", "quota", times=None, match={"assetName": "c.bin"}
    )
    # WHEN the stack is deployed
    with pytest.raises(DeploymentFailed) as failure:
        _deploy(cfn, env, outdir)
    # THEN the deployment fails naming the asset, and no part of the version is left (the
    # failing poll removes what its operation created; so would the rollback's Delete)
    assert "c.bin" in str(failure.value)
    client = cfn.codeartifact_client()
    versions = client.list_package_versions(
        **{k: v for k, v in coordinates().items() if k != "packageVersion"}
    )["versions"]
    assert versions == []
    assert cfn.rules.rules() == {}


def _published_with(cfn: LocalCloudFormation, files: dict[str, Path]) -> bool:
    client = cfn.codeartifact_client()
    described = client.describe_package_version(**coordinates())["packageVersion"]
    listed = client.list_package_version_assets(**coordinates())["assets"]
    return described["status"] == "Published" and {
        a["name"]: a["hashes"]["SHA-256"] for a in listed
    } == {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()}


def test_a_poll_delivered_again_after_the_answer_does_nothing(
    env: LocalEnvironment, cfn: LocalCloudFormation, files: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN the version published across polls, the stack complete
    outdir = synth(tmp_path / "out", files, FUNCTION_TIMEOUT_SECONDS)
    _deploy(cfn, env, outdir)
    scheduler = cfn.rule_scheduler
    assert scheduler is not None
    last_poll = [d for d in scheduler.deliveries if d.invoked][-1].firing
    calls_before = len(env.codeartifact.faults.calls)
    # WHEN Lambda's asynchronous queue delivers the last poll's event once more
    invocation: Any = scheduler.deliver_again(last_poll)
    # THEN the handler finds crhelper's rule gone and does nothing: no call to CodeArtifact,
    # no answer (crhelper alone would PUT FAILED: its RemoveTargets of the gone rule raises),
    # no rule put again
    assert invocation.error is None, invocation.log_path.read_text()
    assert cfn.response_server().ignored_puts == []
    assert env.codeartifact.faults.calls[calls_before:] == []
    assert "poll_already_answered" in invocation.log_path.read_text()
    assert cfn.rules.rules() == {}
    assert _published_with(cfn, files)


#: The twin test's function: longer, so that the first delivery, held after its final publish,
#: has 10 s or more to spare while the twin starts; its assets larger, so that the version
#: still goes through polling (more than 14 s at 25 MB/s).
TWIN_TIMEOUT_SECONDS = 20
TWIN_ASSET_BYTES = 128 * 1024 * 1024


@pytest.fixture
def large_files(tmp_path: Path) -> dict[str, Path]:
    return random_files(tmp_path / "large", NAMES, TWIN_ASSET_BYTES)


def test_a_poll_delivered_twice_at_once_answers_once(
    env: LocalEnvironment, cfn: LocalCloudFormation, large_files: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN only the first asset slow (9 s): the Create's invocation publishes it and pauses, and
    # a poll sends the other two at once, the final one committed early in that poll
    outdir = synth(tmp_path / "out", large_files, TWIN_TIMEOUT_SECONDS)
    deploy_repository(cfn, outdir)
    faults = env.codeartifact.faults
    # AND the final asset's publish held once CodeArtifact committed it
    final = faults.next(
        "PublishPackageVersion", "hold", phase="after", match={"assetName": "c.bin"}
    )
    faults.next("PublishPackageVersion", "slow", match={"assetName": "a.bin"}, seconds=9.0)
    with ThreadPoolExecutor(2) as pool:
        deploying = pool.submit(cfn.deploy, outdir, ["LongPackages"], exclusively=True)
        assert final.reached.wait(120), "the final asset was never published"
        scheduler = cfn.rule_scheduler
        assert scheduler is not None, "the final asset was not published by a poll"
        poll = [d for d in scheduler.deliveries if d.invoked][-1].firing
        assert poll.request_id is not None and scheduler.running_for(poll.request_id)
        # WHEN Lambda delivers that poll's event a second time meanwhile, and the twin gets as
        # far as reading the version (still polled then)
        survey = faults.next("DescribePackageVersion", "hold")
        twin = pool.submit(scheduler.deliver_again, poll)
        assert survey.reached.wait(60), "the second delivery never read the version"
        # AND the first delivery goes on and answers, then the twin goes on
        final.release()
        deploying.result(timeout=120)
        survey.release()
        invocation: Any = twin.result(timeout=60)
    # THEN the stack completed with the first answer, and the twin, finding the request
    # answered, sent none (crhelper alone would have PUT FAILED after it)
    stack = cfn.stack("LongPackages")
    assert stack is not None and stack.status == "CREATE_COMPLETE"
    assert cfn.response_server().ignored_puts == []
    assert "poll_already_answered" in invocation.log_path.read_text()
    assert cfn.rules.rules() == {}
    # AND the version holds exactly the files, each sent once
    assert _published_with(cfn, large_files)
    sent = [c.params["assetName"] for c in faults.calls_to("PublishPackageVersion")]
    assert sorted(sent) == sorted(NAMES)
