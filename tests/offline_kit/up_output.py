"""``up`` running in the background, as a user sees it: wait until it serves, then use the
endpoints it printed."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from codeartifact_generic.testing._s3 import DUMMY_CREDENTIALS


@dataclass(frozen=True)
class UpOutput:
    """What ``up`` printed up to "Running until Ctrl-C."."""

    text: str

    @property
    def exports(self) -> dict[str, str]:
        """The ``export AWS_...=value`` lines: variable → value."""
        return dict(re.findall(r"export (AWS_[A-Z_0-9]+)=(\S+)", self.text))

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` (``s3``, ``codeartifact``) at the printed endpoint."""
        return boto3.client(
            service,
            endpoint_url=self.exports[f"AWS_ENDPOINT_URL_{service.upper()}"],
            region_name=self.exports["AWS_REGION"],
            **DUMMY_CREDENTIALS,
        )


def wait_for_up(process: subprocess.Popen[Any], log: Path, *, seconds: float) -> UpOutput:
    """Wait until ``up`` (its output going to ``log``) serves; the test fails with the log when
    the process ends first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while "Running until Ctrl-C." not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    return UpOutput(log.read_text())


def stopped(process: subprocess.Popen[Any], seconds: float) -> int:
    """``process``'s exit code once it ended after a Ctrl-C; the test fails within ``seconds``
    with its signal state (/proc: pending, blocked, ignored, caught) if it did not end."""
    try:
        return process.wait(seconds)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{process.pid}/status").read_text()
        process.kill()
        signals = [line for line in status.splitlines() if line.startswith(("Sig", "Shd"))]
        raise AssertionError(f"up did not stop {seconds} s after Ctrl-C: {signals}") from None
