"""Each app is synthesized once per session, with cdk-nag's AwsSolutions pack registered.

A failing nag validation does not stop the other gates: CDK writes the templates before it
runs validation plugins, so the templates are read from the output directory either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from .apps import FAST_CONTEXT, LibraryApp, build_example_app, build_library_app


@dataclass
class Synthesized:
    """An app after synthesis."""

    app: cdk.App
    outdir: Path
    #: The text of CDK's validation report when the nag plugin failed the synthesis.
    nag_failure: str | None

    def templates(self) -> dict[str, dict[str, Any]]:
        """Stack name -> template, for every stack of the app."""
        return {
            path.name.removesuffix(".template.json"): json.loads(path.read_text())
            for path in sorted(self.outdir.glob("*.template.json"))
        }

    def template(self, stack_name: str) -> dict[str, Any]:
        return self.templates()[stack_name]


def synthesize(app: cdk.App, outdir: Path) -> Synthesized:
    """Synthesize ``app`` with AwsSolutionsChecks as a validation plugin (cdk-nag 3)."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as error:
        report = outdir / "validation-report.json"
        text = report.read_text() if report.exists() else ""
        return Synthesized(app, outdir, f"{error}\n{text}")
    return Synthesized(app, outdir, None)


def _new_app(outdir: Path) -> cdk.App:
    return cdk.App(outdir=str(outdir), context=FAST_CONTEXT)


@pytest.fixture(scope="session")
def example_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """``app.py``'s app, synthesized."""
    outdir = tmp_path_factory.mktemp("example") / "cdk.out"
    return synthesize(build_example_app(_new_app(outdir)), outdir)


@dataclass
class SynthesizedLibrary(Synthesized):
    stacks: LibraryApp | None = None


@pytest.fixture(scope="session")
def library_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedLibrary:
    """The library stacks (many versions, S3 objects, KMS, another account), synthesized."""
    root = tmp_path_factory.mktemp("library")
    outdir = root / "cdk.out"
    stacks = build_library_app(_new_app(outdir), root / "files")
    done = synthesize(stacks.app, outdir)
    return SynthesizedLibrary(done.app, done.outdir, done.nag_failure, stacks)


@pytest.fixture(scope="session")
def all_templates(
    example_app: Synthesized, library_app: SynthesizedLibrary
) -> Callable[[], dict[str, dict[str, Any]]]:
    """Every synthesized template of both apps, by stack name."""
    return lambda: {**example_app.templates(), **library_app.templates()}
