"""The package repository port: one generic package version in CodeArtifact."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from . import contract
from .errors import client_error_code
from .properties import VersionRequest

if TYPE_CHECKING:
    from mypy_boto3_codeartifact import CodeArtifactClient

    from .streams import HashingBody


@dataclass(frozen=True)
class VersionState:
    """Status and revision of a package version as CodeArtifact reports them."""

    status: str
    revision: str
    #: ``publishedTime`` (DescribePackageVersion only; None where the API does not say).
    published_time: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StoredAsset:
    """An asset CodeArtifact holds: its size and SHA256."""

    name: str
    size: int
    sha256: str


class PackageVersionRepository:
    """CodeArtifact calls about the one package version ``request`` identifies."""

    def __init__(self, client: CodeArtifactClient, request: VersionRequest) -> None:
        self._client = client
        self._request = request
        self._package: dict[str, Any] = {
            "domain": request.domain,
            "domainOwner": request.domain_owner,
            "repository": request.repository,
            "format": contract.PACKAGE_FORMAT,
            "namespace": request.namespace,
            "package": request.package,
        }

    def describe(self) -> VersionState | None:
        """The version's state, or None when it does not exist (or was deleted)."""
        try:
            response = self._client.describe_package_version(
                **self._package, packageVersion=self._request.version
            )
        except ClientError as error:
            if client_error_code(error) == "ResourceNotFoundException" and self._repo_exists():
                return None
            raise
        version = response["packageVersion"]
        return VersionState(
            status=version["status"],
            revision=version.get("revision", ""),
            published_time=version.get("publishedTime"),
        )

    def _repo_exists(self) -> bool:
        # DescribePackageVersion answers ResourceNotFound for a missing domain or repository
        # too; those must fail the deployment instead of reading as "version not there yet".
        self._client.describe_repository(
            domain=self._request.domain,
            domainOwner=self._request.domain_owner,
            repository=self._request.repository,
        )
        return True

    def assets(self) -> dict[str, StoredAsset]:
        """Every asset the version holds, by name."""
        stored: dict[str, StoredAsset] = {}
        paginator = self._client.get_paginator("list_package_version_assets")
        for page in paginator.paginate(**self._package, packageVersion=self._request.version):
            for summary in page.get("assets", []):
                hashes = summary.get("hashes", {})
                stored[summary["name"]] = StoredAsset(
                    name=summary["name"],
                    size=int(summary.get("size", 0)),
                    sha256=hashes.get("SHA-256", ""),
                )
        return stored

    def publish(
        self, name: str, body: HashingBody | IO[bytes], sha256: str, *, unfinished: bool
    ) -> VersionState:
        """Publish one asset; ``unfinished`` keeps the version Unfinished."""
        response = self._client.publish_package_version(
            **self._package,
            packageVersion=self._request.version,
            assetName=name,
            assetContent=body,  # type: ignore[arg-type]  # streamed, sized by __len__
            assetSHA256=sha256,
            unfinished=unfinished,
        )
        return VersionState(status=response["status"], revision=response["versionRevision"])

    def set_status(self, target: str, *, expected: VersionState) -> VersionState:
        """Move the version from ``expected`` to ``target``, failing if it changed meanwhile."""
        version = self._request.version
        response = self._client.update_package_versions_status(
            **self._package,
            versions=[version],
            versionRevisions={version: expected.revision},
            expectedStatus=expected.status,  # type: ignore[arg-type]
            targetStatus=target,  # type: ignore[arg-type]
        )
        failed = response.get("failedVersions", {}).get(version)
        if failed:
            raise StatusChangeRejected(
                f"cannot set {self._request.label} to {target}: "
                f"{failed.get('errorCode')}: {failed.get('errorMessage', '')}"
            )
        state = response["successfulVersions"][version]
        return VersionState(status=state["status"], revision=state["revision"])

    def delete(self, *, expected_status: str | None = None) -> bool:
        """Delete the version (if it still has ``expected_status``); True when it was deleted."""
        condition = {"expectedStatus": expected_status} if expected_status else {}
        response = self._client.delete_package_versions(
            **self._package,
            versions=[self._request.version],
            **condition,  # type: ignore[arg-type]
        )
        return self._request.version in response.get("successfulVersions", {})

    def dispose(self) -> bool:
        """Dispose of the version (its assets are deleted, the record stays as Disposed)."""
        response = self._client.dispose_package_versions(
            **self._package, versions=[self._request.version]
        )
        return self._request.version in response.get("successfulVersions", {})


class StatusChangeRejected(Exception):
    """UpdatePackageVersionsStatus refused the change (the version moved on meanwhile)."""
