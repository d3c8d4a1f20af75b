"""Local (docker-free) bundling of the handler asset: the handler package plus crhelper.

The bundle holds ``codeartifact_generic_handler/`` (this library's ``handler`` package, without
bytecode caches) and the installed pure-Python ``crhelper``. boto3 comes from the Lambda runtime.

crhelper is located and versioned from its installed files, never imported: importing it imports
boto3, which a plain install of this library (no ``[testing]`` extra) does not have.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

#: Top-level package name of the handler inside the bundle.
BUNDLE_PACKAGE = "codeartifact_generic_handler"
#: Lambda handler string.
HANDLER = f"{BUNDLE_PACKAGE}.index.handler"

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "py.typed")


def handler_source_dir() -> Path:
    """The directory of the installed handler package (``lambda/`` in an editable install)."""
    return Path(str(importlib.resources.files("codeartifact_generic.handler")))


def _crhelper_dir() -> Path:
    """The installed ``crhelper`` package directory, found without importing it (no boto3)."""
    spec = importlib.util.find_spec("crhelper")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise RuntimeError(
            "crhelper is not installed: the handler bundle needs it "
            "(pip install cdk-codeartifact-generic installs it)"
        )
    return Path(next(iter(locations)))


def bundle_hash() -> str:
    """Hash of what goes into the bundle: handler sources and the crhelper version."""
    digest = hashlib.sha256()
    root = handler_source_dir()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(f"crhelper=={importlib.metadata.version('crhelper')}".encode())
    return digest.hexdigest()


def write_bundle(output_dir: Path) -> None:
    """Copy the handler package and crhelper into ``output_dir``."""
    shutil.copytree(
        handler_source_dir(), output_dir / BUNDLE_PACKAGE, ignore=_IGNORE, dirs_exist_ok=True
    )
    shutil.copytree(_crhelper_dir(), output_dir / "crhelper", ignore=_IGNORE, dirs_exist_ok=True)


@jsii.implements(ILocalBundling)
class LocalHandlerBundling:
    """CDK local bundling that never needs docker."""

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        """Write the bundle into ``output_dir``; always succeeds (returns True)."""
        write_bundle(Path(output_dir))
        return True
