"""The two ports of the publishing and removal workflows, and the values that cross them.

* :class:`ObjectSource`: where the assets' bytes are (S3, :class:`.s3_source.S3ObjectSource`);
* :class:`PackageVersionStore`: the one package version a request names (CodeArtifact,
  :class:`.codeartifact.CodeArtifactVersion`).

The workflows (:mod:`.publishing`, :mod:`.removal`) know nothing else of AWS, so their rules are
tested over in-memory fakes (``tests/handler/fakes.py``). A store reports what the service
refused as botocore's ``ClientError`` (the workflows read its error code, e.g.
``ConflictException``), and other failures as :class:`.errors.PublishFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .properties import AssetSpec
    from .streams import HashingBody, Readable


@dataclass(frozen=True)
class VersionState:
    """Status and revision of a package version as CodeArtifact reports them."""

    status: str
    revision: str
    #: ``publishedTime`` (DescribePackageVersion only; None where the API does not say).
    published_time: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StoredAsset:
    """An asset CodeArtifact holds, and its SHA256."""

    name: str
    sha256: str


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD of the asset's object tells."""

    size: int
    etag: str
    #: Hex SHA256 of the whole object when S3 stores a full-object SHA256 checksum.
    stored_sha256: str | None


class ObjectSource(Protocol):
    """The objects that hold the assets' bytes."""

    def head(self, asset: AssetSpec) -> ObjectInfo:
        """Size, ETag and any stored full-object SHA256 of ``asset``'s object; raises
        :class:`.errors.PublishFailed` naming the asset when it cannot be read."""
        ...  # pragma: no cover - protocol

    def open(self, asset: AssetSpec, info: ObjectInfo) -> Readable:
        """Stream the object's bytes; fails if it no longer is the object ``info`` describes."""
        ...  # pragma: no cover - protocol


class PackageVersionStore(Protocol):
    """The one generic package version a request names."""

    def describe(self) -> VersionState | None:
        """The version's state, or None when it does not exist (a missing domain or
        repository is an error, not an absent version)."""
        ...  # pragma: no cover - protocol

    def assets(self) -> dict[str, StoredAsset]:
        """Every asset the version holds, by name."""
        ...  # pragma: no cover - protocol

    def publish(
        self, name: str, body: HashingBody | IO[bytes], sha256: str, *, unfinished: bool
    ) -> VersionState:
        """Publish one asset (read from ``body`` to its end); ``unfinished`` keeps the version
        Unfinished, otherwise it becomes Published."""
        ...  # pragma: no cover - protocol

    def set_status(self, target: str, *, expected: VersionState) -> VersionState:
        """Move the version from ``expected`` (status and revision) to ``target``, failing if
        it changed meanwhile."""
        ...  # pragma: no cover - protocol

    def delete(self, *, expected_status: str | None = None) -> bool:
        """Delete the version (if it still has ``expected_status``); True when it was deleted."""
        ...  # pragma: no cover - protocol

    def dispose(self) -> bool:
        """Dispose of the version (its assets are deleted, the record stays as Disposed)."""
        ...  # pragma: no cover - protocol
