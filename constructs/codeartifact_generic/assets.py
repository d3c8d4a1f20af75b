"""Where a package version's assets come from: local files, directories, data, S3, CDK assets.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

from aws_cdk import AssetHashType, IgnoreMode, IgnoreStrategy, Stage, Token
from aws_cdk import CopyOptions as _CopyOptions
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


#: What ``from_directory`` leaves out unless ``exclude_clutter=False``: version control
#: metadata, Python bytecode caches and the files operating systems drop into folders. (CDK's
#: own ``exclude`` has no defaults; these never belong in a published archive and would make
#: its bytes depend on the machine that zipped it.)
CLUTTER_DIRECTORIES: Final = frozenset({".git", ".hg", ".svn", "__pycache__"})
CLUTTER_FILES: Final = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


class PackageAsset(ABC):
    """One file of a generic package version. Create with the ``from_*`` factories."""

    @staticmethod
    def from_file(path: str, *, name: str | None = None) -> PackageAsset:
        """A local file, uploaded as a CDK file asset; its SHA256 is computed at synth.

        :param path: path of the file (a directory: use :meth:`from_directory`).
        :param name: asset name in the package version. Default: the file's base name.
        """
        return _LocalFile(path, name)

    @staticmethod
    def from_directory(
        path: str,
        *,
        name: str | None = None,
        compress: bool = True,
        exclude: Sequence[str] | None = None,
        ignore_mode: IgnoreMode | None = None,
        exclude_clutter: bool = True,
    ) -> PackageAsset:
        """A local directory, zipped deterministically at synth (same tree, same bytes).

        Entries are sorted, dated 1980-01-01 and keep whether they are executable (mode 0755,
        else 0644), so a script stays runnable after unzipping.

        :param path: path of the directory.
        :param name: asset name. Default: the directory's base name plus ``.zip``.
        :param compress: deflate the entries (default); False stores them, which gives the
            same bytes on every machine whatever its zlib.
        :param exclude: files and directories to leave out, as patterns relative to ``path``,
            exactly as ``aws_s3_assets.Asset``'s ``exclude`` (CDK's ``IgnoreStrategy``).
            Default: nothing but the clutter below.
        :param ignore_mode: how ``exclude`` patterns are read: ``IgnoreMode.GLOB`` (default),
            ``GIT`` (``.gitignore`` syntax) or ``DOCKER`` (``.dockerignore`` syntax).
        :param exclude_clutter: leave out ``.git/``, ``.hg/``, ``.svn/``, ``__pycache__/``,
            ``.DS_Store``, ``Thumbs.db`` and ``desktop.ini`` wherever they are. Default: True.
        """
        return _LocalDirectory(
            path,
            name,
            compress=compress,
            exclude=exclude,
            ignore_mode=ignore_mode,
            exclude_clutter=exclude_clutter,
        )

    @staticmethod
    def from_data(name: str, data: str | bytes) -> PackageAsset:
        """Inline content (a ``str`` is encoded as UTF-8), uploaded as a CDK file asset.

        :param name: asset name in the package version.
        :param data: the asset's text or bytes (anything else is refused at synth).
        """
        return _Data(name, data)

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
        :param key: the object key (one object; a key ending in ``/`` is refused).
        :param name: asset name. Default: the key's last path segment (required when the key
            is a token).
        :param object_version: S3 version id to publish. Default: the current version.
        :param sha256: the object's SHA256 if known (hex, either case). Default: the handler
            uses S3's stored full-object SHA256 checksum, or hashes the object while reading it.
        """
        return _BucketObject(bucket, key, name, object_version, sha256)

    @staticmethod
    def from_asset(asset: s3_assets.Asset, *, name: str) -> PackageAsset:
        """An ``aws_s3_assets.Asset`` the app already has, published as it is uploaded.

        A file asset's SHA256 is computed at synth from its staged copy; a directory asset is
        the zip the CDK CLI makes of it, whose SHA256 the handler learns while reading it.

        :param asset: the asset (any stack of the app).
        :param name: asset name in the package version.
        """
        return _ExistingAsset(asset, name)

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
    """A local source, named at synth, staged as a CDK file asset whose S3 key is its SHA256."""

    _name: str

    @property
    def name(self) -> str:
        return self._name

    def _stage(self, scope: Construct, id: str, path: Path) -> BoundAsset:
        sha256 = file_sha256(path)
        # The SHA256 we need anyway doubles as CDK's asset hash: the file is read once.
        asset = s3_assets.Asset(
            scope, id, path=str(path), asset_hash=sha256, asset_hash_type=AssetHashType.CUSTOM
        )
        return BoundAsset(
            name=self._name,
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

    def problems(self) -> list[str]:
        found = super().problems()
        if self._path.is_dir():
            found.append(
                f"{str(self._path)!r} is a directory: publish it as a zip with "
                f"PackageAsset.from_directory({str(self._path)!r})"
            )
        elif not self._path.is_file():
            found.append(f"file {str(self._path)!r} does not exist or is not a file")
        elif (size := self._path.stat().st_size) > contract.MAX_ASSET_SIZE_BYTES:
            found.append(_too_large(self._name, size))
        return found

    def bind(self, scope: Construct, id: str) -> BoundAsset:
        return self._stage(scope, id, self._path)


class _LocalDirectory(_StagedLocal):
    def __init__(
        self,
        path: str,
        name: str | None,
        *,
        compress: bool,
        exclude: Sequence[str] | None,
        ignore_mode: IgnoreMode | None,
        exclude_clutter: bool,
    ) -> None:
        self._path = Path(path)
        self._name = name or f"{self._path.resolve().name}.zip"
        self._compress = compress
        self._exclude = exclude
        self._ignore_mode = ignore_mode
        self._exclude_clutter = exclude_clutter

    def problems(self) -> list[str]:
        found = super().problems()
        if not self._path.is_dir():
            found.append(f"directory {str(self._path)!r} does not exist or is not a directory")
        if isinstance(self._exclude, str) or not all(
            isinstance(pattern, str) for pattern in self._exclude or ()
        ):
            found.append(f"exclude must be a list of patterns (str), got {self._exclude!r}")
        if self._ignore_mode is not None and not isinstance(self._ignore_mode, IgnoreMode):
            found.append(
                "ignore_mode must be IgnoreMode.GLOB, IgnoreMode.GIT or IgnoreMode.DOCKER, "
                f"got {self._ignore_mode!r}"
            )
        return found

    def _ignored(self, root: Path) -> Callable[[Path, bool], bool]:
        """What to leave out: the clutter, then CDK's own reading of ``exclude``."""
        strategy = (
            IgnoreStrategy.from_copy_options(
                _CopyOptions(exclude=list(self._exclude), ignore_mode=self._ignore_mode),
                str(root),
            )
            if self._exclude
            else None
        )

        def ignored(path: Path, is_directory: bool) -> bool:
            if self._exclude_clutter and path.name in (
                CLUTTER_DIRECTORIES if is_directory else CLUTTER_FILES
            ):
                return True
            if strategy is None:
                return False
            if is_directory:
                return strategy.completely_ignores(str(path))
            return strategy.ignores(str(path))

        return ignored

    def bind(self, scope: Construct, id: str) -> BoundAsset:
        handle, name = tempfile.mkstemp(suffix=".zip", dir=_scratch_dir())
        os.close(handle)
        archive = Path(name)
        root = Path(os.path.abspath(self._path))
        write_zip(root, archive, compress=self._compress, ignored=self._ignored(root))
        if (size := archive.stat().st_size) > contract.MAX_ASSET_SIZE_BYTES:
            raise ValidationError(scope.node.path, [_too_large(self._name, size)])
        return self._stage(scope, id, archive)


class _Data(_StagedLocal):
    def __init__(self, name: str, data: object) -> None:
        self._name = name
        self._data = data

    def problems(self) -> list[str]:
        found = super().problems()
        if not isinstance(self._data, str | bytes | bytearray | memoryview):
            found.append(
                f"data of {self._name!r} must be str or bytes, got {type(self._data).__name__} "
                f"{self._data!r:.40}; write a number or an object as text first, e.g. "
                "str(value) or json.dumps(value)"
            )
        return found

    def bind(self, scope: Construct, id: str) -> BoundAsset:
        data = self._data
        assert isinstance(data, str | bytes | bytearray | memoryview)  # problems() said so
        content = data.encode() if isinstance(data, str) else bytes(data)
        digest = hashlib.sha256(content).hexdigest()
        # CDK keeps the staged file's extension in the S3 key, so give it a real one.
        path = _scratch_dir() / f"{digest}{PurePosixPath(self._name).suffix or '.bin'}"
        path.write_bytes(content)
        return self._stage(scope, id, path)


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
        self._declared_sha256 = sha256
        # Accepted in either case; CodeArtifact and the handler use lowercase.
        literal = isinstance(sha256, str) and not Token.is_unresolved(sha256)
        self._sha256 = sha256.lower() if isinstance(sha256, str) and literal else sha256
        derived = (
            None
            if not isinstance(key, str) or Token.is_unresolved(key) or key.endswith("/")
            else PurePosixPath(key).name or None
        )
        self._name = name or derived

    @property
    def name(self) -> str | None:
        return self._name

    def problems(self) -> list[str]:
        key = self._key
        folder = isinstance(key, str) and not Token.is_unresolved(key) and key.endswith("/")
        # a folder key derives no name: say what is wrong with the key, not that a name is missing
        found = [] if folder and self._name is None else super().problems()
        if folder:
            found.append(
                f"S3 key {key!r} ends in '/': a folder, not an object; name one object per "
                "asset (or zip a local folder with PackageAsset.from_directory)"
            )
        elif not isinstance(key, str):
            found.append(f"S3 key must be a string, got {type(key).__name__}")
        elif not Token.is_unresolved(key) and not key:
            found.append("S3 key must not be empty")
        declared = self._declared_sha256
        if declared is not None and name_problem(self._sha256, contract.SHA256_HEX) is not None:
            # the value as written, not as lowercased
            found.append(contract.SHA256_HEX.problem(declared) or "")
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


class _ExistingAsset(PackageAsset):
    def __init__(self, asset: s3_assets.Asset, name: str) -> None:
        self._asset = asset
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def problems(self) -> list[str]:
        found = super().problems()
        if not isinstance(self._asset, s3_assets.Asset):
            found.append(
                "from_asset takes an aws_s3_assets.Asset, got "
                f"{type(self._asset).__name__}; for a path use from_file or from_directory"
            )
        return found

    def bind(self, scope: Construct, id: str) -> BoundAsset:
        asset = self._asset
        # a directory is zipped by the CDK CLI at publish time: its bytes are unknown here
        staged = self._staged_file() if asset.is_file else None
        return BoundAsset(
            name=self._name,
            bucket=asset.bucket,
            key=asset.s3_object_key,
            object_version=None,
            sha256=file_sha256(staged) if staged else None,
            size=staged.stat().st_size if staged else None,
        )

    def _staged_file(self) -> Path | None:
        """The file CDK uploads for a file asset (its copy in the cloud assembly)."""
        stage = Stage.of(self._asset)
        path = Path(self._asset.asset_path)
        if not path.is_absolute() and stage is not None:
            path = Path(stage.outdir) / path
        return path if path.is_file() else None


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
