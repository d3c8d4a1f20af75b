"""A CodeArtifact emulator for the property tests, and a boto3 client that skips botocore's
own parameter validation (so every value reaches the emulator's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from codeartifact_generic.testing._emulator import CodeArtifactEmulator
from codeartifact_generic.testing._s3 import DUMMY_CREDENTIALS


@pytest.fixture(scope="session")
def emulator_client() -> Iterator[Any]:
    with CodeArtifactEmulator() as emulator:
        yield boto3.client(
            "codeartifact",
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            config=Config(parameter_validation=False, retries={"max_attempts": 1}),
            **DUMMY_CREDENTIALS,
        )
