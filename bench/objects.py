"""The benchmark's S3 objects: random bytes written once to a local file and uploaded once.

The plain object is uploaded without any checksum (multipart, 64 MiB parts, as ``aws s3 cp``
would for a large file), so a handler without a declared SHA256 has to hash it itself. The
``-sha256`` twin is one PUT with a full-object ``ChecksumSHA256``, so the handler can take the
stored-checksum path.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB: Final = 1024 * 1024
BUCKET: Final = "bench-assets"
#: Largest object uploaded in a single PUT (the stored-checksum twin needs one).
SINGLE_PUT_LIMIT: Final = 1024 * MIB
#: Credentials for the local servers (never checked).
CREDENTIALS: Final = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


@dataclass(frozen=True)
class BenchObject:
    """One object of ``size`` bytes: its local copy, S3 keys and SHA256."""

    size_mib: int
    path: Path
    key: str
    #: Key of the twin uploaded with a stored full-object SHA256 checksum (None: not uploaded).
    checksum_key: str | None
    sha256: str

    @property
    def size(self) -> int:
        """Bytes."""
        return self.size_mib * MIB


def s3_client(endpoint: str) -> S3Client:
    """A client that adds no checksums of its own (``when_required``)."""
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    return client


def write_random_file(path: Path, size: int) -> tuple[str, bytes]:
    """Write ``size`` random bytes to ``path``; return the hex and raw SHA256."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * MIB))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest(), digest.digest()


def _bucket_client(endpoint: str) -> S3Client:
    """A client of the S3 at ``endpoint``, ``BUCKET`` created there if it was not yet."""
    client = s3_client(endpoint)
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if BUCKET not in existing:
        client.create_bucket(Bucket=BUCKET)
    return client


def _upload(client: S3Client, path: Path, key: str) -> None:
    """Upload ``path`` to ``key`` of ``BUCKET`` without a checksum, in 64 MiB parts."""
    client.upload_file(
        str(path),
        BUCKET,
        key,
        Config=TransferConfig(multipart_threshold=64 * MIB, multipart_chunksize=64 * MIB),
    )


def prepare(
    endpoint: str, directory: Path, size_mib: int, *, with_checksum_twin: bool
) -> BenchObject:
    """Create the local file and upload the object(s) to ``BUCKET``."""
    client = _bucket_client(endpoint)
    path = directory / f"object-{size_mib}mib.bin"
    hex_digest, raw_digest = write_random_file(path, size_mib * MIB)
    key = f"plain/object-{size_mib}mib.bin"
    _upload(client, path, key)
    checksum_key: str | None = None
    if with_checksum_twin and size_mib * MIB <= SINGLE_PUT_LIMIT:
        checksum_key = f"sha256/object-{size_mib}mib.bin"
        with path.open("rb") as body:
            client.put_object(
                Bucket=BUCKET,
                Key=checksum_key,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(raw_digest).decode(),
            )
    return BenchObject(size_mib, path, key, checksum_key, hex_digest)


def stored_checksum(endpoint: str, key: str) -> tuple[str | None, str | None]:
    """(ChecksumSHA256, ChecksumType) S3 reports for ``key``."""
    head = s3_client(endpoint).head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    return head.get("ChecksumSHA256"), head.get("ChecksumType")


def prepare_set(endpoint: str, directory: Path, size_mib: int, count: int) -> list[BenchObject]:
    """``count`` objects of ``size_mib`` MiB, each its own random bytes (so no two assets of
    the version share a body), uploaded without a checksum as :func:`prepare` does; no twins.
    The assets of one version in the parallel-assets workload; the local copies are removed
    once uploaded (nothing reads them)."""
    client = _bucket_client(endpoint)
    objects = []
    for index in range(count):
        name = f"asset{index}-{size_mib}mib.bin"
        path = directory / "set" / name
        hex_digest, _raw = write_random_file(path, size_mib * MIB)
        key = f"set/{name}"
        _upload(client, path, key)
        path.unlink()
        objects.append(BenchObject(size_mib, path, key, None, hex_digest))
    return objects
