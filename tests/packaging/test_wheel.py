"""The built wheel works on its own: handler inside, synth from a fresh environment."""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_wheel_ships_handler_and_kit_without_tests(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "codeartifact_generic/__init__.py",
        "codeartifact_generic/py.typed",
        "codeartifact_generic/handler/index.py",
        "codeartifact_generic/handler/contract.py",
        "codeartifact_generic/testing/_emulator/server.py",
        "codeartifact_generic/testing/_local_deploy/engine.py",
    ):
        assert required in names, required
    assert not any(n.startswith(("tests/", "lambda/")) or "__pycache__" in n for n in names)


def test_fresh_environment_synthesizes_an_app_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    # GIVEN a fresh venv with only the wheel installed (dependencies come from this
    # environment's site-packages through a .pth line, which does not activate the editable
    # install of the working tree)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    fresh_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(fresh_site)
    (fresh_site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (tmp_path / "notes.txt").write_text("hello")
    app = tmp_path / "app.py"
    app.write_text(
        textwrap.dedent(
            """
            import aws_cdk as cdk, codeartifact_generic, json, pathlib
            from codeartifact_generic import GenericPackageVersion, PackageAsset
            app = cdk.App(outdir="cdk.out")
            stack = cdk.Stack(app, "S")
            GenericPackageVersion(stack, "V", domain="d1", repository="r1", namespace="n",
                package="p", version="1", assets=[PackageAsset.from_file("notes.txt")])
            app.synth()
            print(json.dumps({"module": codeartifact_generic.__file__}))
            """
        )
    )
    # WHEN an app is synthesized with it
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(python), str(app)], cwd=tmp_path, check=True, capture_output=True, text=True, env=env
    )
    # THEN the library came from the wheel and the handler bundle was built from it
    module = Path(json.loads(done.stdout.strip().splitlines()[-1])["module"])
    assert module.is_relative_to(fresh_site)
    bundles = list((tmp_path / "cdk.out").glob("asset.*/codeartifact_generic_handler/index.py"))
    assert len(bundles) == 1
    assert (bundles[0].parent.parent / "crhelper" / "__init__.py").is_file()
