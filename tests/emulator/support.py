"""Helpers for emulator tests: constants, the AWS CLI runner, a boto3 client factory and the
``serve`` command in a subprocess."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
DOMAIN = "test-domain"
REPOSITORY = "test-repo"
NAMESPACE = "my-ns"
PACKAGE = "my-package"
#: The AWS CLI v1 installed next to the interpreter running the tests.
AWS_CLI = str(Path(sys.executable).parent / "aws")


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def aws_env(tmp_path: Path) -> dict[str, str]:
    """Environment for AWS clients: dummy credentials, a region, no user configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key == "AWS_CA_BUNDLE"
    }
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )
    return env


@dataclass
class CliResult:
    """Outcome of one AWS CLI run."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The parsed ``--output json`` document."""
        return json.loads(self.stdout) if self.stdout.strip() else None


@dataclass
class Cli:
    """Runs ``aws codeartifact ...`` (AWS CLI v1) against one emulator."""

    endpoint_url: str
    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str, check: bool = True, endpoint: bool = True) -> CliResult:
        """Run ``aws codeartifact <args>``; with ``check`` a non-zero exit fails the test."""
        command = [AWS_CLI, "--output", "json"]
        if endpoint:
            command += ["--endpoint-url", self.endpoint_url]
        command += ["codeartifact", *args]
        done = subprocess.run(
            command,
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        result = CliResult(done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            pytest.fail(f"aws {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return result

    def ok(self, *args: str, endpoint: bool = True) -> Any:
        """Run and return the parsed JSON output."""
        return self(*args, endpoint=endpoint).json()

    def fails(self, *args: str) -> str:
        """Run, expect a non-zero exit, and return stderr."""
        result = self(*args, check=False)
        assert result.returncode != 0, f"expected aws {' '.join(args)} to fail: {result.stdout}"
        return result.stderr


def make_client(endpoint_url: str, **kwargs: Any) -> Any:
    """A boto3 CodeArtifact client for an emulator, with dummy credentials."""
    return boto3.client(
        "codeartifact",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **kwargs,
    )


PKG = {
    "domain": DOMAIN,
    "repository": REPOSITORY,
    "format": "generic",
    "namespace": NAMESPACE,
    "package": PACKAGE,
}


def publish(client: Any, version: str, name: str, data: bytes, *, unfinished: bool = False) -> Any:
    """Publish one asset with boto3."""
    return client.publish_package_version(
        **PKG,
        packageVersion=version,
        assetName=name,
        assetContent=data,
        assetSHA256=sha256(data),
        unfinished=unfinished,
    )


#: The same package as AWS CLI arguments.
PKG_ARGS = [
    "--domain",
    DOMAIN,
    "--repository",
    REPOSITORY,
    "--format",
    "generic",
    "--namespace",
    NAMESPACE,
    "--package",
    PACKAGE,
]


@contextlib.contextmanager
def serve_in_subprocess(
    data_dir: Path, *options: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m codeartifact_generic.testing serve --port 0 --data-dir DATA_DIR OPTIONS`` in a
    subprocess: (the process, the endpoint URL it printed); stopped with SIGTERM after."""
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "codeartifact_generic.testing", "serve", "--port", "0"),
            *("--data-dir", str(data_dir), *options),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        timer = threading.Timer(60, process.kill)
        timer.start()
        url = process.stdout.readline().strip()
        timer.cancel()
        assert url.startswith("http://127.0.0.1:"), url
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
