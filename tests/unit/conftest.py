"""Fixtures for synth-time tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest


@pytest.fixture
def stack(tmp_path: Path) -> cdk.Stack:
    """An env-agnostic stack in a fresh app writing to a temporary cloud assembly."""
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    return cdk.Stack(app, "TestStack")


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    """Write ``data`` to ``tmp_path/name`` and return the path."""

    def make(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return make
