"""Publish a stack's file assets to (local) S3, as ``cdk deploy`` does before the stack update.

For each destination: create the bootstrap bucket if it is missing, skip the upload when the
key already exists (asset keys are content hashes), otherwise upload the file, or a zip of the
directory for ``packaging: zip``.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from .assembly import AssemblyError, AssetManifest, FileAsset

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["PublishedAsset", "publish_assets", "zip_directory"]

# Zip entries get this timestamp so that zipping the same tree twice gives the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PublishedAsset:
    """One asset destination after publishing; ``uploaded`` is False when the key existed."""

    asset_id: str
    bucket: str
    key: str
    uploaded: bool


def zip_directory(source: Path, target: Path) -> None:
    """Write a deterministic zip of the tree ``source`` to ``target``.

    Entries are sorted, timestamps fixed, and the executable bit kept, so equal trees give
    equal bytes. Symlinks are followed, like ``cdk-assets``.
    """
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(source, followlinks=True):
            dirs.sort()
            for name in sorted(files):
                path = Path(root, name)
                arcname = path.relative_to(source).as_posix()
                info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
                mode = 0o755 if os.access(path, os.X_OK) else 0o644
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with path.open("rb") as src, archive.open(info, "w") as dst:
                    while chunk := src.read(1024 * 1024):
                        dst.write(chunk)


def _ensure_bucket(s3: S3Client, bucket: str, region: str, known: set[str]) -> None:
    if bucket in known:
        return
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )
    known.add(bucket)


def _key_exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _upload(s3: S3Client, asset: FileAsset, bucket: str, key: str) -> None:
    source = asset.source_path
    if not source.exists():
        raise AssemblyError(f"asset {asset.asset_id}: source {source} does not exist")
    if asset.packaging == "zip" and source.is_dir():
        with tempfile.TemporaryDirectory(prefix="local-deploy-asset-") as tmp:
            archive = Path(tmp, "asset.zip")
            zip_directory(source, archive)
            s3.upload_file(str(archive), bucket, key)
        return
    if source.is_dir():
        raise AssemblyError(
            f"asset {asset.asset_id}: {source} is a directory but packaging is file"
        )
    s3.upload_file(str(source), bucket, key)


def publish_assets(
    manifests: Iterable[AssetManifest],
    s3: S3Client,
    *,
    account_id: str,
    region: str,
    partition: str = "aws",
) -> list[PublishedAsset]:
    """Upload every file asset of ``manifests`` to its destinations in ``s3``.

    Docker image assets raise :class:`AssemblyError`: they cannot be built or run locally.
    """
    published: list[PublishedAsset] = []
    buckets: set[str] = set()
    for manifest in manifests:
        if manifest.docker_image_ids:
            ids = ", ".join(manifest.docker_image_ids)
            raise AssemblyError(
                f"{manifest.path.name}: docker image assets are not supported ({ids})"
            )
        for asset in manifest.files:
            for destination in asset.destinations:
                bucket, key = destination.resolve(
                    account_id=account_id, region=region, partition=partition
                )
                _ensure_bucket(s3, bucket, region, buckets)
                exists = _key_exists(s3, bucket, key)
                if not exists:
                    _upload(s3, asset, bucket, key)
                published.append(PublishedAsset(asset.asset_id, bucket, key, uploaded=not exists))
    return published
