"""The package version store over boto3: one generic package version in CodeArtifact.

Every call waits on a socket, so each runs under the invocation's deadline
(:meth:`.deadline.Deadline.run`): a call still stuck at the margin is abandoned and the
workflow gets :class:`.deadline.OutOfTime` in time to clean up.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from . import contract
from .deadline import NO_DEADLINE, Deadline
from .errors import client_error_code
from .ports import StoredAsset, VersionState
from .properties import VersionRequest
from .streams import HashingBody

if TYPE_CHECKING:
    from mypy_boto3_codeartifact import CodeArtifactClient


class StatusChangeRejected(Exception):
    """UpdatePackageVersionsStatus refused the change (the version moved on meanwhile)."""


class CodeArtifactVersion:
    """The :class:`.ports.PackageVersionStore` of the version ``request`` names."""

    def __init__(
        self,
        client: CodeArtifactClient,
        request: VersionRequest,
        deadline: Deadline = NO_DEADLINE,
    ) -> None:
        self._client = client
        self._request = request
        self._deadline = deadline
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
        return self._deadline.run(self._describe)

    def _describe(self) -> VersionState | None:
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
        return self._deadline.run(self._assets)

    def _assets(self) -> dict[str, StoredAsset]:
        stored: dict[str, StoredAsset] = {}
        paginator = self._client.get_paginator("list_package_version_assets")
        for page in paginator.paginate(**self._package, packageVersion=self._request.version):
            for summary in page.get("assets", []):
                name = summary["name"]
                stored[name] = StoredAsset(name, summary.get("hashes", {}).get("SHA-256", ""))
        return stored

    def publish(
        self, name: str, body: HashingBody | IO[bytes], sha256: str, *, unfinished: bool
    ) -> VersionState:
        """Publish one asset; ``unfinished`` keeps the version Unfinished.

        A :class:`HashingBody` is sent a chunk per read (:class:`.streams.RequestBody`)."""
        content = body.request_body() if isinstance(body, HashingBody) else body

        def call() -> VersionState:
            response = self._client.publish_package_version(
                **self._package,
                packageVersion=self._request.version,
                assetName=name,
                assetContent=content,  # type: ignore[arg-type]  # streamed, sized by __len__
                assetSHA256=sha256,
                unfinished=unfinished,
            )
            return VersionState(status=response["status"], revision=response["versionRevision"])

        return self._deadline.run(call)

    def set_status(self, target: str, *, expected: VersionState) -> VersionState:
        """Move the version from ``expected`` to ``target``, failing if it changed meanwhile."""
        version = self._request.version
        response = self._deadline.run(
            lambda: self._client.update_package_versions_status(
                **self._package,
                versions=[version],
                versionRevisions={version: expected.revision},
                expectedStatus=expected.status,  # type: ignore[arg-type]
                targetStatus=target,  # type: ignore[arg-type]
            )
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
        response = self._deadline.run(
            lambda: self._client.delete_package_versions(
                **self._package,
                versions=[self._request.version],
                **condition,  # type: ignore[arg-type]
            )
        )
        return self._request.version in response.get("successfulVersions", {})

    def dispose(self) -> bool:
        """Dispose of the version (its assets are deleted, the record stays as Disposed)."""
        response = self._deadline.run(
            lambda: self._client.dispose_package_versions(
                **self._package, versions=[self._request.version]
            )
        )
        return self._request.version in response.get("successfulVersions", {})
