"""Local servers for handler tests: moto S3 and the CodeArtifact emulator, on 127.0.0.1."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from codeartifact_generic.testing._emulator import CodeArtifactEmulator
from codeartifact_generic.testing._s3 import DUMMY_CREDENTIALS, MotoS3Server

from .harness import CustomResourceHarness, serving_harness

REGION = "us-east-1"
ACCOUNT = "123456789012"
_names = itertools.count()


@dataclass
class Servers:
    """Running local servers and clients pointed at them."""

    s3: MotoS3Server
    emulator: CodeArtifactEmulator

    def s3_client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3", endpoint_url=self.s3.endpoint_url, region_name=REGION, **DUMMY_CREDENTIALS
        )

    def codeartifact_client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "codeartifact",
            endpoint_url=self.emulator.endpoint_url,
            region_name=REGION,
            **DUMMY_CREDENTIALS,
        )


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """moto S3 and the CodeArtifact emulator for the whole session."""
    with MotoS3Server() as s3, CodeArtifactEmulator() as emulator:
        yield Servers(s3=s3, emulator=emulator)


@dataclass
class Repo:
    """A fresh domain, repository and bucket for one test."""

    domain: str
    repository: str
    bucket: str


@pytest.fixture
def repo(servers: Servers) -> Repo:
    """A new domain + repository in the emulator and a new bucket in moto."""
    n = next(_names)
    found = Repo(domain=f"domain-{n}", repository=f"repo-{n}", bucket=f"assets-{n}")
    codeartifact = servers.codeartifact_client()
    codeartifact.create_domain(domain=found.domain)
    codeartifact.create_repository(domain=found.domain, repository=found.repository)
    servers.s3_client().create_bucket(Bucket=found.bucket)
    return found


@pytest.fixture(scope="session")
def harness(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CustomResourceHarness]:
    """The bundled handler behind a local ResponseURL server, with a DescribeStacks endpoint
    (which knows no stack until a test begins a stack operation)."""
    with serving_harness(
        tmp_path_factory.mktemp("handler"), servers.s3.endpoint_url, servers.emulator.endpoint_url
    ) as harness:
        yield harness
