"""A plain ``pip install cdk-codeartifact-generic`` (no extras, so no boto3) synthesizes an app.

The wheel is installed with its real dependency set, resolved by pip, into a fresh venv; only the
``[testing]`` extra brings boto3, and the handler bundle must not need it at synth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from scaffolding.cdk_cli import CDK_CLI, needs_cdk_cli

pytestmark = [pytest.mark.slow, needs_cdk_cli]

APP = """
import importlib.util, json
import aws_cdk as cdk
import codeartifact_generic
from codeartifact_generic import GenericPackageVersion, PackageAsset

app = cdk.App()
stack = cdk.Stack(app, "Plain")
GenericPackageVersion(stack, "V", domain="d1", repository="r1", namespace="n", package="p",
    version="1", assets=[PackageAsset.from_file("notes.txt"), PackageAsset.from_data("a.txt", "a")])
app.synth()
print(json.dumps({"module": codeartifact_generic.__file__,
                  "boto3": importlib.util.find_spec("boto3") is not None}))
"""


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would let the fresh venv see this one's packages."""
    env = {**os.environ, "PYTHONNOUSERSITE": "1", **extra}
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "CDK_CONTEXT_JSON", "CDK_OUTDIR"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def plain_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and the dependencies pip resolves for it (no extras)."""
    env_dir = tmp_path_factory.mktemp("plain") / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # This environment's pip drives the install into the fresh venv (`--python`): no pip bootstrap.
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run(
        [*pip, "install", "--quiet", "--no-compile", str(wheel)],
        check=True,
        capture_output=True,
        env=_clean_env(),
    )
    return python


def _installed(python: Path) -> dict[str, str]:
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "list", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
        env=_clean_env(),
    ).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(listed)}


def test_plain_install_has_no_boto3_but_has_crhelper(plain_venv: Path) -> None:
    installed = _installed(plain_venv)
    assert "cdk-codeartifact-generic" in installed
    assert "crhelper" in installed
    assert "aws-cdk-lib" in installed
    assert not {"boto3", "botocore"} & installed.keys(), installed


def test_cdk_synth_from_a_plain_install_bundles_the_handler_and_crhelper(
    plain_venv: Path, tmp_path: Path
) -> None:
    # GIVEN an app using the construct, in a directory of its own
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    out = tmp_path / "cdk.out"
    # WHEN `cdk synth` runs it with the plain install's Python
    done = subprocess.run(
        [str(CDK_CLI), "synth", "--quiet", "--app", f"{plain_venv} app.py", "--output", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_clean_env(JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1"),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # THEN the app ran on the fresh venv's library, boto3 was not importable there
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith('{"module"')]
    facts = json.loads(line)
    assert Path(facts["module"]).is_relative_to(plain_venv.parent.parent)
    assert facts["boto3"] is False
    # AND the Lambda's code asset holds the handler package and crhelper
    template = json.loads((out / "Plain.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 1
    handler = functions[0]["Properties"]["Handler"]
    assert handler == "codeartifact_generic_handler.index.handler"
    asset_path = functions[0]["Metadata"]["aws:asset:path"]
    bundle = out / asset_path
    for required in (
        "codeartifact_generic_handler/index.py",
        "codeartifact_generic_handler/contract.py",
        "crhelper/__init__.py",
        "crhelper/resource_helper.py",
    ):
        assert (bundle / required).is_file(), required
    assert not list(bundle.rglob("__pycache__"))
