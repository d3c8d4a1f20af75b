"""Where a package version's assets come from: local files, directories, data, or S3.

A :class:`PackageAsset` is a description; binding it to a construct (done by
:class:`~codeartifact_generic.GenericPackageVersion`) stages local sources as CDK file assets and
computes their SHA256 at synth, so the deploy-time handler only streams and verifies.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aws_cdk import AssetHashType, Token
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from .deterministic_zip import file_sha256, write_zip
from .handler import contract
from .validation import ValidationError, name_problem


@dataclass(frozen=True)
class BoundAsset:
    """An asset bound to a construct: its S3 location and what synth knows about its bytes."""

    #: Asset name inside the package version.
    name: str
    #: The S3 bucket that holds the bytes (may be a token).
    bucket: s3.IBucket
    #: The object key (may be a token).
    key: str
    #: S3 object version to read, or None for the current one.
    object_version: str | None
    #: Lowercase hex SHA256, when known at synth.
    sha256: str | None
    #: Size in bytes, when known at synth.
    size: int | None

    @property
    def object_arn(self) -> str:
        """ARN of the S3 object (the IAM resource ``s3:GetObject`` applies to)."""
        return self.bucket.arn_for_objects(self.key)

    @property
    def read_actions(self) -> tuple[str, ...]:
        """S3 actions needed to read this object (and this version of it)."""
        return ("s3:GetObject",) + (("s3:GetObjectVersion",) if self.object_version else ())


class PackageAsset(ABC):
    """One file of a generic package version. Create with the ``from_*`` factories."""

    @staticmethod
    def from_file(path: str, *, name: str | None = None) -> PackageAsset:
        """A local file, uploaded as a CDK file asset; its SHA256 is computed at synth.

        :param path: path of the file.
        :param name: asset name in the package version. Default: the file's base name.
        """
        return _LocalFile(path, name)

    @staticmethod
    def from_directory(
        path: str, *, name: str | None = None, compress: bool = True
    ) -> PackageAsset:
        """A local directory, zipped deterministically at synth (same tree, same bytes).

        :param path: path of the directory.
        :param name: asset name. Default: the directory's base name plus ``.zip``.
        :param compress: deflate the entries (default); False stores them, which gives the
            same bytes on every machine whatever its zlib.
        """
        return _LocalDirectory(path, name, compress)

    @staticmethod
    def from_data(name: str, data: str | bytes) -> PackageAsset:
        """Inline content (a ``str`` is encoded as UTF-8), uploaded as a CDK file asset.

        :param name: asset name in the package version.
        :param data: the asset's bytes.
        """
        return _Data(name, data.encode() if isinstance(data, str) else bytes(data))

    @staticmethod
    def from_bucket(
        bucket: s3.IBucket | str,
        key: str,
        *,
        name: str | None = None,
        object_version: str | None = None,
        sha256: str | None = None,
    ) -> PackageAsset:
        """An object already in S3, read by the handler at deploy time.

        :param bucket: the bucket, or its name.
        :param key: the object key.
        :param name: asset name. Default: the key's last path segment (required when the key
            is a token).
        :param object_version: S3 version id to publish. Default: the current version.
        :param sha256: the object's SHA256 if known (lowercase hex). Default: the handler uses
            S3's stored full-object SHA256 checksum, or hashes the object while reading it.
        """
        return _BucketObject(bucket, key, name, object_version, sha256)

    @property
    @abstractmethod
    def name(self) -> str | None:
        """Asset name in the package version (None when it can only be known at deploy)."""

    def problems(self) -> list[str]:
        """What is wrong with this asset, checked without touching AWS."""
        found: list[str] = []
        if self.name is None:
            found.append("asset name is required when it cannot be derived (use name=)")
        elif (problem := name_problem(self.name, contract.ASSET_NAME)) is not None:
            found.append(problem)
        return found

    @abstractmethod
    def bind(self, scope: Construct, id: str) -> BoundAsset:
        """Stage the asset under ``scope``; call only after :meth:`problems` came back empty."""


class _StagedLocal(PackageAsset):
    """A local source staged as a CDK file asset whose S3 key is its SHA256."""

    def _stage(self, scope: Construct, id: str, path: Path, name: str) -> BoundAsset:
        sha256 = file_sha256(path)
        # The SHA256 we need anyway doubles as CDK's asset hash: the file is read once.
        asset = s3_assets.Asset(
            scope, id, path=str(path), asset_hash=sha256, asset_hash_type=AssetHashType.CUSTOM
        )
        return BoundAsset(
            name=name,
            bucket=asset.bucket,
            key=asset.s3_object_key,
            object_version=None,
            sha256=sha256,
            size=path.stat().st_size,
        )


class _LocalFile(_StagedLocal):
    def __init__(self, path: str, name: str | None) -> None:
        self._path = Path(path)
        self._name = name or self._path.name

    @property
    def name(self) -> str:
        return self._name

    def problems(self) -> list[str]:
        found = super().problems()
        if not self._path.is_file():
            found.append(f"file {str(self._path)!r} does not exist or is not a file")
        elif (size := self._path.stat().st_size) > contract.MAX_ASSET_SIZE_BYTES:
            found.append(_too_large(self._name, size))
        return found

    def bind(self, scope: Construct, id: str) -> BoundAsset:
        return self._stage(scope, id, self._path, self._name)


class _LocalDirectory(_StagedLocal):
    def __init__(self, path: str, name: str | None, compress: bool) -> None:
        self._path = Path(path)
        self._name = name or f"{self._path.resolve().name}.zip"
        self._compress = compress

    @property
    def name(self) -> str:
        return self._name

    def problems(self) -> list[str]:
        found = super().problems()
        if not self._path.is_dir():
            found.append(f"directory {str(self._path)!r} does not exist or is not a directory")
        return found

    def bind(self, scope: Construct, id: str) -> BoundAsset:
        handle, name = tempfile.mkstemp(suffix=".zip", dir=_scratch_dir())
        os.close(handle)
        archive = Path(name)
        write_zip(self._path, archive, compress=self._compress)
        if (size := archive.stat().st_size) > contract.MAX_ASSET_SIZE_BYTES:
            raise ValidationError(scope.node.path, [_too_large(self._name, size)])
        return self._stage(scope, id, archive, self._name)


class _Data(_StagedLocal):
    def __init__(self, name: str, data: bytes) -> None:
        self._name = name
        self._data = data

    @property
    def name(self) -> str:
        return self._name

    def bind(self, scope: Construct, id: str) -> BoundAsset:
        digest = hashlib.sha256(self._data).hexdigest()
        # CDK keeps the staged file's extension in the S3 key, so give it a real one.
        path = _scratch_dir() / f"{digest}{PurePosixPath(self._name).suffix or '.bin'}"
        path.write_bytes(self._data)
        return self._stage(scope, id, path, self._name)


class _BucketObject(PackageAsset):
    def __init__(
        self,
        bucket: s3.IBucket | str,
        key: str,
        name: str | None,
        object_version: str | None,
        sha256: str | None,
    ) -> None:
        self._bucket = bucket
        self._key = key
        self._object_version = object_version
        self._sha256 = sha256
        derived = None if Token.is_unresolved(key) else PurePosixPath(key).name or None
        self._name = name or derived

    @property
    def name(self) -> str | None:
        return self._name

    def problems(self) -> list[str]:
        found = super().problems()
        if not Token.is_unresolved(self._key) and not self._key:
            found.append("S3 key must not be empty")
        if self._sha256 is not None and (
            problem := name_problem(self._sha256, contract.SHA256_HEX)
        ):
            found.append(problem)
        return found

    def bind(self, scope: Construct, id: str) -> BoundAsset:
        bucket = (
            s3.Bucket.from_bucket_name(scope, id, self._bucket)
            if isinstance(self._bucket, str)
            else self._bucket
        )
        assert self._name is not None  # problems() reported a missing name
        return BoundAsset(
            name=self._name,
            bucket=bucket,
            key=self._key,
            object_version=self._object_version,
            sha256=self._sha256,
            size=None,
        )


def _too_large(name: str, size: int) -> str:
    return (
        f"asset {name!r} is {size} bytes; a generic package asset may be at most "
        f"{contract.MAX_ASSET_SIZE_BYTES} bytes (5 GB)"
    )


_SCRATCH: list[Path] = []


def _scratch_dir() -> Path:
    """A per-process directory for zips and data files before CDK stages them."""
    if not _SCRATCH:
        path = Path(tempfile.mkdtemp(prefix="codeartifact-generic-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _SCRATCH.append(path)
    return _SCRATCH[0]
