"""The fault matrix's kit: moto S3 behind a fault proxy, the CodeArtifact emulator with its
fault plan, and the real bundled handler answering real CloudFormation events.

Every scenario gets a fresh domain, repository and bucket, and a clean fault plan.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from codeartifact_generic.testing._emulator import CodeArtifactEmulator, Limits
from codeartifact_generic.testing._emulator.faults import Call
from codeartifact_generic.testing._s3 import DUMMY_CREDENTIALS, MotoS3Server
from handler.harness import CustomResourceHarness, Outcome, properties, serving_harness
from scaffolding.s3_fault_proxy import S3FaultProxy

REGION = "us-east-1"
NAMESPACE = "tools"
PACKAGE = "mycli"
_names = itertools.count()


@dataclass
class Kit:
    """The running servers and the handler harness, shared by the whole matrix."""

    moto: MotoS3Server
    proxy: S3FaultProxy
    emulator: CodeArtifactEmulator
    harness: CustomResourceHarness


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    """One moto, proxy, emulator, response server and DescribeStacks endpoint for the
    session; the handler's S3 endpoint is the proxy, so S3 faults the proxy injects reach it."""
    with (
        MotoS3Server() as moto,
        S3FaultProxy(moto.endpoint_url) as proxy,
        CodeArtifactEmulator() as emulator,
        serving_harness(
            tmp_path_factory.mktemp("faults"), proxy.endpoint_url, emulator.endpoint_url
        ) as harness,
    ):
        yield Kit(moto, proxy, emulator, harness)


class World:
    """One scenario's domain, repository and bucket, with helpers to act and to look."""

    def __init__(self, kit: Kit) -> None:
        n = next(_names)
        self.kit = kit
        self.emulator = kit.emulator
        self.proxy = kit.proxy
        self.domain = f"faults-{n}"
        self.repository = f"repo-{n}"
        self.bucket = f"faults-assets-{n}"
        self.s3 = boto3.client(
            "s3", endpoint_url=kit.moto.endpoint_url, region_name=REGION, **DUMMY_CREDENTIALS
        )
        self.codeartifact = boto3.client(
            "codeartifact",
            endpoint_url=kit.emulator.endpoint_url,
            region_name=REGION,
            **DUMMY_CREDENTIALS,
        )
        self.codeartifact.create_domain(domain=self.domain)
        self.codeartifact.create_repository(domain=self.domain, repository=self.repository)
        self.s3.create_bucket(Bucket=self.bucket)
        self._mark = 0
        self._operation_begun = False

    @property
    def package(self) -> dict[str, str]:
        """The scenario's package, as CodeArtifact's package-level calls name it."""
        return {
            "domain": self.domain,
            "repository": self.repository,
            "format": "generic",
            "namespace": NAMESPACE,
            "package": PACKAGE,
        }

    # --------------------------------------------------------------------------- arranging

    def put(
        self,
        name: str,
        data: bytes,
        *,
        declare: bool = True,
        s3_checksum: bool = False,
        key: str | None = None,
    ) -> dict[str, str]:
        """Upload ``data`` to S3 and return the ``Assets`` entry (hash and size when declared)."""
        key = key or f"assets/{name}"
        extra: dict[str, Any] = {"ChecksumAlgorithm": "SHA256"} if s3_checksum else {}
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
        entry = {"Name": name, "Bucket": self.bucket, "Key": key}
        if declare:
            entry |= {"Sha256": sha256(data), "Size": str(len(data))}
        return entry

    def props(self, assets: list[dict[str, str]], **extra: str) -> dict[str, Any]:
        """ResourceProperties as the construct renders them."""
        return properties(domain=self.domain, repository=self.repository, assets=assets, **extra)

    def publish_directly(
        self, version: str, assets: dict[str, bytes], *, unfinished: bool = False
    ) -> str:
        """Publish a version outside the stack (another writer); returns its revision."""
        revision = ""
        names = list(assets)
        for name in names:
            data = assets[name]
            revision = self.codeartifact.publish_package_version(
                **self.package,
                packageVersion=version,
                assetName=name,
                assetContent=data,
                assetSHA256=sha256(data),
                unfinished=unfinished or name != names[-1],
            )["versionRevision"]
        return revision

    # ------------------------------------------------------------------------------ acting

    def send(self, request_type: str, props: dict[str, Any], **options: Any) -> Outcome:
        """Deliver one CloudFormation event to the real handler; calls are recorded from here.

        The first event of a scenario begins the stack operation (``DescribeStacks`` then
        answers ``CREATE_IN_PROGRESS``; a scenario moves on with
        ``harness.continue_stack_operation``, e.g. to a rollback).
        """
        if not self._operation_begun:
            self.kit.harness.begin_stack_operation()
            self._operation_begun = True
        self._mark = len(self.emulator.faults.calls)
        return self.kit.harness.send(request_type, props, **options)

    # ----------------------------------------------------------------------------- looking

    def calls(self, operation: str | None = None, **params: Any) -> list[Call]:
        """CodeArtifact calls made since the last :meth:`send` (of ``operation``)."""
        return [
            call
            for call in self.emulator.faults.calls[self._mark :]
            if operation in (None, call.operation)
            and all(call.params.get(k) == v for k, v in params.items())
        ]

    def version(self, version: str = "1.0.0") -> dict[str, Any] | None:
        """DescribePackageVersion's ``packageVersion``, or None when there is no such version."""
        try:
            described = self.codeartifact.describe_package_version(
                **self.package,
                packageVersion=version,
            )
        except self.codeartifact.exceptions.ResourceNotFoundException:
            return None
        found: dict[str, Any] = described["packageVersion"]
        return found

    def assets(self, version: str = "1.0.0") -> list[tuple[str, str]]:
        """``(name, sha256)`` of every asset of the version, as ListPackageVersionAssets says."""
        listed = self.codeartifact.list_package_version_assets(
            **self.package,
            packageVersion=version,
        )["assets"]
        return [(a["name"], a["hashes"]["SHA-256"]) for a in listed]

    def versions(self) -> list[str]:
        """Every version of the package (empty when the package does not exist)."""
        try:
            listed = self.codeartifact.list_package_versions(
                **self.package,
            )["versions"]
        except self.codeartifact.exceptions.ResourceNotFoundException:
            return []
        return sorted(v["version"] for v in listed)

    def blob_count(self) -> int:
        """Asset files on the emulator's disk (every stored asset has exactly one)."""
        return len(self.emulator.store.blob_files())

    def stored_asset_count(self) -> int:
        """Assets of every version in the emulator (to compare with :meth:`blob_count`)."""
        with self.emulator.store.lock:
            return sum(
                len(version.assets)
                for domain in self.emulator.store.domains.values()
                for repository in domain.repositories.values()
                for package in repository.packages.values()
                for version in package.versions.values()
            )


@pytest.fixture
def world(kit: Kit) -> Iterator[World]:
    """A fresh domain/repository/bucket, a clean fault plan and default limits."""
    kit.emulator.faults.clear()
    kit.proxy.clear()
    limits = kit.emulator.store.limits
    yield World(kit)
    kit.harness.end_stack_operation()
    kit.emulator.faults.clear()
    kit.proxy.clear()
    kit.emulator.store.limits = limits


def sha256(data: bytes) -> str:
    """Hex SHA256."""
    return hashlib.sha256(data).hexdigest()


def set_limits(kit: Kit, **limits: int) -> None:
    """Lower the emulator's quotas for one scenario (the ``world`` fixture restores them)."""
    kit.emulator.store.limits = Limits(**limits)
