"""The project's CDK CLI, which ``make setup`` installs into ./node_modules, for the tests that
run it."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The repository's root directory.
REPO = Path(__file__).resolve().parents[2]
#: The directory of the CDK CLI (to put on PATH).
CDK_BIN = REPO / "node_modules" / ".bin"
#: The CDK CLI.
CDK_CLI = CDK_BIN / "cdk"
#: Skips a test when the CDK CLI is not installed.
needs_cdk_cli = pytest.mark.skipif(
    not CDK_CLI.exists(), reason="the CDK CLI is not installed: run `make setup`"
)
