"""Issue 11's "done when", as a user does it: outside the repository, a fresh venv with the wheel,
its ``[testing]`` extra and ``aws-cdk-lib`` from the package index; an app with a
``BucketDeployment``-fed ``from_bucket`` source, a pre-loaded S3 object and weak cross-stack
references deploys offline with the one documented command, and every asset downloads back
with its SHA256 from the endpoints the command printed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from scaffolding.cdk_cli import CDK_BIN, REPO, needs_cdk_cli

from .up_output import stopped, wait_for_up
from .user_app import MODEL_PACKAGE, PRELOADED, downloaded_sha256s, write_app

pytestmark = [pytest.mark.slow, needs_cdk_cli]


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the repository: the wheel built from the working tree, with ``[testing]``,
    and ``aws-cdk-lib`` (the version of this environment, so pip's cache serves it)."""
    root = tmp_path_factory.mktemp("fresh")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(root / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (root / "dist").glob("cdk_codeartifact_generic-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    cdk_lib = importlib.metadata.version("aws-cdk-lib")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-compile", f"{wheel}[testing]", f"aws-cdk-lib=={cdk_lib}"),
        ],
        check=True,
        capture_output=True,
        env=_clean_env(),
    )
    return env_dir


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that lets the fresh venv see this one's packages."""
    env = {**os.environ, "PYTHONNOUSERSITE": "1", **extra}
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "CDK_CONTEXT_JSON", "CDK_OUTDIR"):
        env.pop(name, None)
    return env


def test_a_users_app_deploys_offline_from_a_fresh_install(fresh_venv: Path, tmp_path: Path) -> None:
    # GIVEN the user's app in a directory of its own, and the venv on PATH (as if activated)
    app = tmp_path / "my-app"
    expected = write_app(app)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _clean_env(
        PATH=os.pathsep.join([str(fresh_venv / "bin"), str(CDK_BIN), os.environ["PATH"]]),
        VIRTUAL_ENV=str(fresh_venv),
        TMPDIR=str(tmp),
    )
    log = tmp_path / "up.log"

    # WHEN the one documented command runs there
    command = [
        str(fresh_venv / "bin" / "python"),
        "-m",
        "codeartifact_generic.testing",
        "up",
        "--app",
        "python3 app.py",
        "--output",
        "cdk.out",
        "--preload",
        f"{PRELOADED[0]}/{PRELOADED[1]}=inputs/input.csv",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        up = wait_for_up(process, log, seconds=600)

        # AND the user points boto3 at the endpoints it printed
        codeartifact = up.client("codeartifact")
        coords = {**MODEL_PACKAGE, "packageVersion": "1.0.0"}
        listed = {
            a["name"]: a["hashes"]["SHA-256"]
            for a in codeartifact.list_package_version_assets(**coords)["assets"]
        }
        downloaded = downloaded_sha256s(codeartifact, "1.0.0")
        revision = codeartifact.describe_package_version(**coords)["packageVersion"]["revision"]
    finally:
        process.send_signal(signal.SIGINT)
        code = stopped(process, 60)

    # THEN every asset downloads back with its SHA256: the BucketDeployment's object, the
    # pre-loaded one, the file, the data, and the directory zip (as listed)
    assert {name: downloaded[name] for name in expected} == expected
    assert downloaded == listed
    assert set(listed) == {*expected, "docs.zip"}
    assert "every downloaded asset matches its SHA256" in up.text
    # AND the consumer read the producer's values through weak references (no exports)
    consumer = (app / "cdk.out" / "Consumer.template.json").read_text()
    assert "Fn::GetStackOutput" in consumer
    assert "Fn::ImportValue" not in consumer
    assert f"ReleaseValue = my-domain@1.0.0@{revision}" in up.text
    # AND the command stopped cleanly on Ctrl-C and left no temporary directory
    assert code == 0, up.text
    assert [p.name for p in tmp.iterdir() if p.name.startswith("codeartifact-generic-")] == []
    assert json.loads((app / "cdk.json").read_text())["app"] == "python3 app.py"
