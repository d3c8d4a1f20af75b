"""Fixtures: one moto S3 server for the session, a fresh bucket and state directory per test,
and a local CloudFormation printing into a buffer the test can read."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._s3 import MotoS3Server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3Server]:
    """moto in server mode on 127.0.0.1, shared by the tests of this package."""
    with MotoS3Server() as server:
        yield server


@pytest.fixture
def s3(s3_server: MotoS3Server) -> S3Client:
    """A boto3 client for the local S3."""
    return s3_server.client()


@pytest.fixture
def journal_bucket(s3: S3Client) -> str:
    """A fresh bucket the test handler writes one object per request into."""
    name = f"journal-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """Where the local CloudFormation keeps its state for this test."""
    return tmp_path / "state"


@pytest.fixture
def output() -> io.StringIO:
    """What the test's local CloudFormation printed (through :func:`console`)."""
    return io.StringIO()


@pytest.fixture
def console(output: io.StringIO) -> Console:
    """A console printing into :func:`output`, wide enough not to wrap the progress lines."""
    return Console(file=output, width=200, highlight=False)


@pytest.fixture
def start_cfn(
    state_dir: Path, s3_server: MotoS3Server, console: Console
) -> Iterator[Callable[..., LocalCloudFormation]]:
    """Starts a local CloudFormation on :func:`state_dir`, the session's S3 and :func:`console`,
    Lambda invocations not retried; keyword arguments add to or override these options. What it
    started is stopped when the test ends."""
    with contextlib.ExitStack() as started:

        def start(**options: Any) -> LocalCloudFormation:
            engine = LocalCloudFormation(
                state_dir,
                **{
                    "s3_endpoint": s3_server.endpoint_url,
                    "console": console,
                    "lambda_retries": 0,
                    **options,
                },
            )
            return started.enter_context(engine)

        yield start


@pytest.fixture
def cfn(start_cfn: Callable[..., LocalCloudFormation]) -> LocalCloudFormation:
    """The local CloudFormation for tests that pin CloudFormation's sequence of events: one
    operation at a time (parallel scheduling is tested in
    tests/lifecycle/test_cloudformation_behaviour.py), Lambda invocations not retried."""
    return start_cfn(max_parallel=1)
