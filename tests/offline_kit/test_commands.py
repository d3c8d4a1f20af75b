"""The kit's command line as a user meets it: ``up``, ``demo``, ``deploy``, failures in one line.

Each command runs in a subprocess, as a user runs it, with ``TMPDIR`` pointing at a directory of
the test so that what the command leaves behind can be checked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from codeartifact_generic.testing import LocalEnvironment
from codeartifact_generic.testing._demo import KitError, Preload
from codeartifact_generic.testing._local_env import EndpointUnavailable, check_endpoints
from scaffolding.cdk_cli import CDK_BIN, needs_cdk_cli

from .up_output import stopped, wait_for_up

#: Exposes no [testing] module to the command: ``sys.modules[name] = None`` makes importing it
#: raise ModuleNotFoundError, as when the extra is not installed.
WITHOUT = "import sys, runpy; sys.modules[{name!r}] = None; sys.argv = {argv!r}; " + (
    "runpy.run_module('codeartifact_generic.testing', run_name='__main__')"
)


def _kit(*args: str, workdir: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the kit's command line in ``workdir``, with TMPDIR ``workdir/tmp`` and PATH ``path``."""
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "codeartifact_generic.testing", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=240,
        check=False,
    )


def _left_behind(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("codeartifact-generic-"))


def _one_line_error(stderr: str, prefix: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    errors = [line for line in lines if line.startswith(prefix)]
    assert len(errors) == 1, stderr
    return errors[0]


def _one_line_failure(
    result: subprocess.CompletedProcess[str], prefix: str, *, code: int, workdir: Path
) -> str:
    """The one line of stderr starting with ``prefix``, of a :func:`_kit` run in ``workdir``
    that exited ``code`` and left nothing behind in its TMPDIR."""
    line = _one_line_error(result.stderr, prefix)
    assert result.returncode == code
    assert _left_behind(workdir / "tmp") == []
    return line


def _assembly(directory: Path, resources: dict[str, object]) -> Path:
    """A cloud assembly of one stack ``App`` holding ``resources`` (no assets)."""
    directory.mkdir(parents=True)
    (directory / "App.template.json").write_text(json.dumps({"Resources": resources}))
    manifest = {
        "version": "55.0.0",
        "artifacts": {
            "App": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": "App.template.json"},
            }
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


# ---------------------------------------------------------------------------- missing extra


@pytest.mark.parametrize("module", ["moto", "flask", "trustme", "rich", "boto3"])
def test_the_command_line_says_to_install_the_testing_extra(tmp_path: Path, module: str) -> None:
    # GIVEN an installation without one module of the [testing] extra
    argv = ["codeartifact_generic.testing", "up", "--exit"]
    code = WITHOUT.format(name=module, argv=argv)

    # WHEN the kit's command line runs
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )

    # THEN it answers one line that says how to install the extra, and exits 2
    line = _one_line_error(result.stderr, "error:")
    assert "pip install 'cdk-codeartifact-generic[testing]'" in line
    assert f"missing module: {module}" in line
    assert result.returncode == 2


def test_importing_the_kit_says_to_install_the_testing_extra() -> None:
    # GIVEN an installation without moto
    code = (
        "import sys; sys.modules['moto'] = None\n"
        "try:\n"
        "    from codeartifact_generic.testing import LocalEnvironment\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(type(exc).__mro__[1].__name__, exc.name, exc, sep='|')\n"
    )

    # WHEN a user imports the public LocalEnvironment
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )

    # THEN the ModuleNotFoundError names the module and the extra
    base, name, message = result.stdout.strip().split("|")
    assert base == "ModuleNotFoundError"
    assert name.split(".")[0] == "moto"
    assert "pip install 'cdk-codeartifact-generic[testing]'" in message


# ---------------------------------------------------------------------------- failures: one line


def test_demo_without_the_cdk_cli_says_how_to_get_it(tmp_path: Path) -> None:
    # GIVEN no CDK CLI on PATH nor in ./node_modules
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])

    # WHEN demo is asked to synthesize an app
    result = _kit("demo", "--app", "python3 app.py", workdir=tmp_path, path=path)

    # THEN one line says how to install it or pass an assembly; nothing is left behind
    line = _one_line_failure(result, "error:", code=2, workdir=tmp_path)
    assert "the AWS CDK CLI is missing" in line
    assert "--app cdk.out" in line


@needs_cdk_cli
def test_a_failed_synthesis_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    # GIVEN an app that fails at synth
    path = os.pathsep.join([str(CDK_BIN), os.environ["PATH"]])

    app = f"{sys.executable} -c 'raise SystemExit(3)'"

    # WHEN demo runs it
    result = _kit("demo", "--app", app, workdir=tmp_path, path=path)

    # THEN one line names the failure and the temporary directories are gone
    line = _one_line_failure(result, "error:", code=2, workdir=tmp_path)
    assert "cdk synth" in line
    assert "failed" in line


def test_a_failed_deployment_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    # GIVEN an assembly whose custom resource has no function behind it
    assembly = _assembly(
        tmp_path / "cdk.out",
        {
            "Broken": {
                "Type": "Custom::Thing",
                "Properties": {
                    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:missing"
                },
            }
        },
    )

    # WHEN demo deploys it
    result = _kit("demo", "--app", str(assembly), workdir=tmp_path)

    # THEN "deployment failed" in one line (the reason of the resource), exit 1, nothing left
    line = _one_line_failure(result, "deployment failed:", code=1, workdir=tmp_path)
    assert "Broken" in line
    assert "Function not found" in line


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    # GIVEN a port someone listens on
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assembly = _assembly(tmp_path / "cdk.out", {})

        # WHEN up is asked to serve S3 there
        result = _kit(
            "up", "--exit", "--app", str(assembly), "--s3-port", str(port), workdir=tmp_path
        )

    # THEN one line says so, exit 2, nothing left
    line = _one_line_failure(result, "error:", code=2, workdir=tmp_path)
    assert f"127.0.0.1:{port}" in line


def test_deploy_checks_the_endpoints_before_deploying(tmp_path: Path) -> None:
    # GIVEN endpoints where nothing listens
    assembly = _assembly(tmp_path / "cdk.out", {"B": {"Type": "AWS::S3::Bucket"}})
    dead = "http://127.0.0.1:9"

    # WHEN deploy is pointed at them
    result = _kit(
        "deploy",
        str(assembly),
        "--s3-endpoint",
        dead,
        "--codeartifact-endpoint",
        dead,
        "--state-dir",
        str(tmp_path / "state"),
        workdir=tmp_path,
    )

    # THEN it names the endpoint that does not answer, in one line, before any work
    line = _one_line_error(result.stderr, "error:")
    assert f"S3 at {dead} does not answer" in line
    assert result.returncode == 2
    assert not (tmp_path / "state" / "state.json").exists()


def test_check_endpoints_names_the_first_that_does_not_answer() -> None:
    with pytest.raises(EndpointUnavailable, match=r"CodeArtifact at http://127\.0\.0\.1:9 "):
        check_endpoints({"codeartifact": "http://127.0.0.1:9", "s3": None}, "us-east-1", 2)


# ---------------------------------------------------------------------------- up


def test_up_deploys_prints_the_endpoints_and_serves_until_interrupted(tmp_path: Path) -> None:
    # GIVEN an app with a bucket, a file to pre-load, and up running in the background
    assembly = _assembly(tmp_path / "cdk.out", {"Data": {"Type": "AWS::S3::Bucket"}})
    seed = tmp_path / "seed.txt"
    seed.write_text("pre-loaded\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log = tmp_path / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "codeartifact_generic.testing",
                "up",
                "--app",
                str(assembly),
                "--preload",
                f"inputs/data/{seed.name}={seed}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TMPDIR": str(tmp)},
        )
    try:
        up = wait_for_up(process, log, seconds=120)

        # WHEN a user points boto3 at the S3 endpoint it printed
        s3 = up.client("s3")
        buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        seeded = s3.get_object(Bucket="inputs", Key="data/seed.txt")["Body"].read()
        assert up.exports.keys() >= {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_CODEARTIFACT"}
        check_endpoints(
            {"codeartifact": up.exports["AWS_ENDPOINT_URL_CODEARTIFACT"]}, "us-east-1", 5
        )
    finally:
        # AND interrupts it
        process.send_signal(signal.SIGINT)
        code = stopped(process, 30)

    # THEN the app was deployed there, S3 held the pre-loaded file, and up stopped cleanly
    assert any(name.startswith("app-data-") for name in buckets), buckets
    assert seeded == b"pre-loaded\n"
    assert "Pre-load S3" in up.text
    assert code == 0, log.read_text()
    assert _left_behind(tmp) == []


@pytest.mark.parametrize(
    ("text", "objects"),
    [
        ("b=f.txt", [("b", "f.txt")]),
        ("s3://b/k/=f.txt", [("b", "k/f.txt")]),
        ("b/k/name.bin=f.txt", [("b", "k/name.bin")]),
        ("b/pre=dir", [("b", "pre/a.txt"), ("b", "pre/sub/c.txt")]),
        ("b=dir", [("b", "a.txt"), ("b", "sub/c.txt")]),
    ],
)
def test_preload_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, objects: list[tuple[str, str]]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("f.txt").write_text("f")
    Path("dir/sub").mkdir(parents=True)
    Path("dir/a.txt").write_text("a")
    Path("dir/sub/c.txt").write_text("c")
    item = Preload.parse(text)
    assert [(item.bucket, key) for key, _ in item.objects()] == objects


@pytest.mark.parametrize("text", ["b", "=f.txt", "b=missing.txt"])
def test_preload_rejects_what_it_cannot_do(tmp_path: Path, text: str) -> None:
    with pytest.raises(KitError, match="--preload"):
        Preload.parse(text)


@pytest.mark.slow
@needs_cdk_cli
def test_demo_lifecycle_says_it_is_the_example_apps(tmp_path: Path) -> None:
    # GIVEN an app of the user's (not the project's example)
    (tmp_path / "app.py").write_text(
        "import aws_cdk as cdk\n"
        "from aws_cdk import aws_s3 as s3\n"
        "app = cdk.App()\n"
        "s3.Bucket(cdk.Stack(app, 'Mine'), 'Bucket')\n"
        "app.synth()\n"
    )
    path = os.pathsep.join([str(Path(sys.executable).parent), str(CDK_BIN), os.environ["PATH"]])
    app = f"{sys.executable} app.py"

    # WHEN demo-lifecycle is asked to play it
    result = _kit("demo-lifecycle", "--app", app, workdir=tmp_path, path=path)

    # THEN it refuses in one line that says whose lifecycle it plays and what to use instead
    line = _one_line_failure(result, "error:", code=2, workdir=tmp_path)
    assert "is not the project's example app" in line
    assert "`up`" in line


def test_a_failed_synthesis_in_local_environment_deploy_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no CDK CLI, and temporary files going to a directory of the test
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    monkeypatch.chdir(tmp_path)

    # WHEN LocalEnvironment.deploy is asked to synthesize an app
    with LocalEnvironment(codeartifact=False) as env, pytest.raises(KitError, match="CDK CLI"):
        env.deploy("python3 app.py")

    # THEN neither the synthesis directory nor the state directory is left behind
    assert _left_behind(tmp) == []
