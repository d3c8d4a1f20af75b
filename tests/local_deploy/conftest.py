"""Fixtures: one moto S3 server for the session, a fresh bucket and state directory per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

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
