"""Fixtures shared by the packaging tests: one wheel built from the working tree per session.

The wheel is built from a copy of the working tree's files (tracked, and untracked but not
ignored, as ``git ls-files`` lists them): setuptools writes ``build/`` and ``*.egg-info`` next to
the sources, which must not be shared by concurrent builds (pytest-xdist workers, or another
``make test`` in the same checkout).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Left out when the tree is not a git checkout (the build's own outputs, caches, environments).
_NOT_SOURCES = (".git", ".venv", "node_modules", "build", "dist", "cdk.out", "*.egg-info")
_NOT_SOURCES += (".local-deploy", "__pycache__", ".*_cache", ".hypothesis")


def _source_copy(into: Path) -> Path:
    """The working tree's files, as a fresh clone plus uncommitted work would hold them."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=False,
        capture_output=True,
    )
    if listing.returncode != 0:  # not a git checkout: everything but what the build makes
        ignore = shutil.ignore_patterns(*_NOT_SOURCES)
        shutil.copytree(REPO, into, ignore=ignore, symlinks=True, dirs_exist_ok=True)
        return into
    listed = listing.stdout
    for name in {n for n in listed.decode().split("\0") if n}:
        source = REPO / name
        if source.is_file():  # deleted in the working tree but still in the index: skip
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from the working tree."""
    source = _source_copy(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("cdk_codeartifact_generic-*.whl")
    return built
