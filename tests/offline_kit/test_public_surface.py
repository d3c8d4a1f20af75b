"""The kit's public surface: three names, listed in the README; everything else is internal."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import codeartifact_generic.testing as kit
from codeartifact_generic.testing import _local_deploy as local_deploy

REPO = Path(__file__).resolve().parents[2]
PUBLIC = ["CodeArtifactEmulator", "LocalDeployError", "LocalEnvironment"]


def test_the_kit_exports_exactly_the_public_names() -> None:
    assert kit.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(kit, name).__name__ == name


def test_every_module_of_the_kit_is_private() -> None:
    modules = {m.name for m in pkgutil.iter_modules(kit.__path__)}
    public = {name for name in modules if not name.startswith("_")}
    assert public == set()
    assert local_deploy.__all__ == []
    names = {
        name
        for name, value in vars(local_deploy).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)  # submodules
    }
    assert names == set()


def test_test_scaffolding_is_not_in_the_kit() -> None:
    for gone in ("s3_proxy", "lifecycle", "demo", "local_env", "s3"):
        try:
            importlib.import_module(f"codeartifact_generic.testing.{gone}")
        except ModuleNotFoundError:
            continue
        raise AssertionError(f"codeartifact_generic.testing.{gone} is importable")


def test_the_readme_lists_the_public_names() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The offline kit", 1)[1].split("\n## ", 1)[0]
    listed = re.search(r"Public names[^\n]*\n\n?((?:(?:- |  ).*\n)+)", section)
    assert listed is not None, "the offline kit section lists its public names"
    names = re.findall(r"^- `(\w+)`", listed.group(1), flags=re.M)
    assert sorted(names) == PUBLIC
