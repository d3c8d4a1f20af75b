"""The repository layout must not shadow the `constructs` pip package.

The library's sources live in ``constructs/`` (``package-dir = {"" = "constructs"}``), a folder
named like the ``constructs`` package aws-cdk-lib depends on. ``python -m pytest``, ``python
app.py`` and ``cdk synth`` all put the working directory first on ``sys.path``: a
``constructs/__init__.py`` there would make ``import constructs`` find this folder instead of
the pip package. These tests ask Python's import system what it finds, from the repository
root, and show on a copy of the layout that the same question catches a shadowing file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import constructs
from codeartifact_generic.handler import contract

REPO = Path(__file__).resolve().parents[2]
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()

#: Run with the working directory first on sys.path, as `python -m pytest` and `python app.py`.
_FIND = (
    "import importlib.util, json;"
    "spec = importlib.util.find_spec('constructs');"
    "print(json.dumps({'origin': spec.origin,"
    " 'locations': list(spec.submodule_search_locations or [])}))"
)


def _constructs_seen_from(root: Path) -> dict[str, object]:
    """What ``import constructs`` resolves to for a Python started in ``root``."""
    done = subprocess.run(
        [sys.executable, "-c", _FIND], cwd=root, capture_output=True, text=True, check=True
    )
    found: dict[str, object] = json.loads(done.stdout)
    return found


def _is_the_pip_package(found: dict[str, object]) -> bool:
    origin = found["origin"]
    return isinstance(origin, str) and Path(origin).resolve().is_relative_to(SITE_PACKAGES)


def test_constructs_imported_here_is_the_pip_package() -> None:
    assert Path(constructs.__file__).resolve().is_relative_to(SITE_PACKAGES)
    assert hasattr(constructs, "Construct")


def test_constructs_seen_from_the_repository_root_is_the_pip_package() -> None:
    found = _constructs_seen_from(REPO)
    assert _is_the_pip_package(found), found


def test_a_constructs_init_in_the_layout_would_be_caught(tmp_path: Path) -> None:
    # GIVEN a copy of the layout where constructs/ became a regular package
    (tmp_path / "constructs" / "codeartifact_generic").mkdir(parents=True)
    shadow = tmp_path / "constructs" / "__init__.py"
    shadow.write_text("")
    # WHEN the same question is asked from its root
    found = _constructs_seen_from(tmp_path)
    # THEN the check sees the shadow (so the test above would fail on such a file)
    assert not _is_the_pip_package(found)
    assert Path(str(found["origin"])).resolve() == shadow.resolve()


def test_handler_package_is_the_lambda_folder_or_its_installed_copy() -> None:
    # The handler is installed as codeartifact_generic.handler from lambda/ (package-dir):
    # an editable install maps it to the folder, a wheel install copies it into site-packages.
    here = Path(contract.__file__).resolve().parent
    assert here == (REPO / "lambda").resolve() or here == (
        SITE_PACKAGES / "codeartifact_generic" / "handler"
    ), here
