"""Publish a stack's file assets to (local) S3, as ``cdk deploy`` does before the stack update.

For each destination: create the bootstrap bucket if it is missing (the local stand-in for
``cdk bootstrap``), skip the upload when the key already exists (asset keys are content hashes),
otherwise upload the file, or a zip of the directory for ``packaging: zip``, the way the CDK CLI
uploads it, so that S3 keeps the checksums a real deployment leaves:

* aws-cdk CLI 2.1148.1, ``packages/@aws-cdk/cdk-assets-lib/lib/private/handlers/files.ts``
  (``FileAssetHandler.publish``): skip when ``ListObjectsV2(Prefix=key, MaxKeys=1)`` lists the
  key; read the bucket's default encryption and pass it on; ``ContentType`` from the file name
  (``application/zip`` for a zipped directory); upload through the SDK wrapper's ``upload``.
* ``packages/@aws-cdk/toolkit-lib/lib/api/aws-auth/sdk.ts`` (``s3().upload``):
  ``new Upload({client, params: {...input, ChecksumAlgorithm: "SHA256"}})`` from
  ``@aws-sdk/lib-storage`` (3.1154.0 in that CLI) with its defaults: part size
  ``max(5 MiB, ceil(size / 10000))``, 4 parts in flight; a file that fits in one part
  (``size <= part size``) goes up as one ``PutObject``, a larger one as a multipart upload whose
  parts each carry their SHA256.

So a file of at most 5 MiB is stored with a FULL_OBJECT SHA256 checksum (the file's SHA256),
a larger one with a COMPOSITE SHA256 (a hash of the parts' hashes, ``…-N``), which is not the
file's SHA256. ``tests/local_deploy/test_local_deploy_asset_checksums.py`` compares what this
module leaves in S3 with what the real CLI (``cdk publish-assets``) leaves.

Why not run the CLI's own publisher here: ``cdk publish-assets`` does publish to moto (with
``AWS_ENDPOINT_URL``, moto's STS and the bootstrap version SSM parameter), but it is an unstable
command (``--unstable=publish-assets``), costs about two seconds of Node start per deployment,
and users of this kit installed from PyPI need not have a CDK CLI that has it.

One deliberate difference: the CLI also treats an existing object of at most 22 bytes (the size
of an empty zip) as missing and uploads it again; re-writing identical bytes changes nothing
here, so a listed key is always "already present".
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from .assembly import AssemblyError, AssetManifest, FileAsset

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "MAX_PARTS",
    "MIN_PART_SIZE",
    "PublishedAsset",
    "part_size",
    "publish_assets",
    "upload_like_cdk",
    "zip_directory",
]

#: ``@aws-sdk/lib-storage`` ``Upload.MIN_PART_SIZE``: the smallest part, and the largest file
#: that is uploaded with one ``PutObject``.
MIN_PART_SIZE: Final = 5 * 1024 * 1024
#: ``Upload.MAX_PARTS``: the part size grows so that no upload needs more parts.
MAX_PARTS: Final = 10_000
#: ``Upload.queueSize``: parts uploaded at the same time.
QUEUE_SIZE: Final = 4
#: What the CLI's ``mime.getType`` answers for the compressions Python calls encodings.
_COMPRESSED_TYPES: Final = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}

# Zip entries get this timestamp so that zipping the same tree twice gives the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PublishedAsset:
    """One asset destination after publishing; ``uploaded`` is False when the key existed."""

    asset_id: str
    bucket: str
    key: str
    uploaded: bool
    #: S3 requests that carried the bytes: 1 for a ``PutObject``, the part count of a multipart
    #: upload, 0 when the key already existed.
    parts: int = 0


def part_size(size: int) -> int:
    """The part size the CDK CLI's uploader picks for ``size`` bytes (lib-storage's default).

    A file of at most this many bytes goes up as a single ``PutObject``.
    """
    return max(MIN_PART_SIZE, -(-size // MAX_PARTS))


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
    # files.ts objectExists(): a listing, not a HEAD (works with s3:ListBucket alone).
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(item.get("Key") == key for item in listed.get("Contents", []))


def _encryption(s3: S3Client, bucket: str) -> dict[str, str]:
    """The ``ServerSideEncryption`` arguments the CLI adds from the bucket's default encryption."""
    try:
        found = s3.get_bucket_encryption(Bucket=bucket)
    except ClientError:
        return {}  # no configuration, or not allowed to read it: upload with S3's defaults
    rules = found.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default: Any = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    if default.get("SSEAlgorithm") == "AES256":
        return {"ServerSideEncryption": "AES256"}
    if default.get("SSEAlgorithm") == "aws:kms":
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": default.get("KMSMasterKeyID")}
    return {}


def _content_type(path: Path) -> str:
    """The CLI's ``mime.getType(path) ?? "application/octet-stream"``, from the last suffix."""
    kind, encoding = mimetypes.guess_type(f"file{path.suffix}")
    if encoding is not None:
        return _COMPRESSED_TYPES.get(encoding, "application/octet-stream")
    return kind or "application/octet-stream"


def upload_like_cdk(
    s3: S3Client,
    path: Path,
    bucket: str,
    key: str,
    *,
    content_type: str | None = None,
    extra: dict[str, str] | None = None,
) -> int:
    """Upload ``path`` the way the CDK CLI does; returns the number of parts (1 = ``PutObject``).

    ``ChecksumAlgorithm=SHA256`` on every request; a single ``PutObject`` up to
    :func:`part_size`, above it a multipart upload in parts of that size, :data:`QUEUE_SIZE` at a
    time, completed with each part's SHA256 (so S3 stores a COMPOSITE checksum).
    """
    size = path.stat().st_size
    chunk = part_size(size)
    params: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "ContentType": content_type or _content_type(path),
        "ChecksumAlgorithm": "SHA256",
        **(extra or {}),
    }
    if size <= chunk:
        s3.put_object(Body=path.read_bytes(), **params)
        return 1
    upload_id = s3.create_multipart_upload(**params)["UploadId"]
    count = -(-size // chunk)

    def send(number: int) -> dict[str, Any]:
        with path.open("rb") as source:
            source.seek((number - 1) * chunk)
            data = source.read(chunk)
        sent = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
        )
        part: dict[str, Any] = {"PartNumber": number, "ETag": sent["ETag"]}
        if sent.get("ChecksumSHA256"):  # lib-storage passes each part's checksum it got back
            part["ChecksumSHA256"] = sent["ChecksumSHA256"]
        return part

    try:
        with ThreadPoolExecutor(QUEUE_SIZE, thread_name_prefix="asset-part") as pool:
            parts = list(pool.map(send, range(1, count + 1)))
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return count


def _upload(s3: S3Client, asset: FileAsset, bucket: str, key: str) -> int:
    source = asset.source_path
    if not source.exists():
        raise AssemblyError(f"asset {asset.asset_id}: source {source} does not exist")
    encryption = _encryption(s3, bucket)
    if asset.packaging == "zip" and source.is_dir():
        with tempfile.TemporaryDirectory(prefix="local-deploy-asset-") as tmp:
            archive = Path(tmp, "asset.zip")
            zip_directory(source, archive)
            return upload_like_cdk(
                s3, archive, bucket, key, content_type="application/zip", extra=encryption
            )
    if source.is_dir():
        raise AssemblyError(
            f"asset {asset.asset_id}: {source} is a directory but packaging is file"
        )
    return upload_like_cdk(s3, source, bucket, key, extra=encryption)


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
                parts = 0 if exists else _upload(s3, asset, bucket, key)
                published.append(
                    PublishedAsset(asset.asset_id, bucket, key, uploaded=not exists, parts=parts)
                )
    return published
