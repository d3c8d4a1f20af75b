"""The src layout must not shadow the `constructs` pip package."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import constructs
from codeartifact_generic.handler import contract


def test_constructs_resolves_to_site_packages() -> None:
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert Path(constructs.__file__).resolve().is_relative_to(site_packages)
    assert hasattr(constructs, "Construct")


def test_repository_constructs_dir_is_not_a_package() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert not (repo / "constructs" / "__init__.py").exists()


def test_handler_package_is_the_lambda_folder_or_its_installed_copy() -> None:
    assert Path(contract.__file__).name == "contract.py"
    assert contract.RESOURCE_TYPE == "Custom::CodeArtifactGenericPackageVersion"
