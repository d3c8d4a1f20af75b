"""The floor workloads, each run as its own process: ``python -m bench.workloads …``.

- ``get``: one streaming S3 GetObject with boto3, 1 MiB reads, bytes discarded (to /dev/null);
- ``hash``: raw ``hashlib.sha256`` over a local file, 1 MiB reads;
- ``publish``: one boto3 PublishPackageVersion of a local file with its SHA256 given (what the
  CodeArtifact side alone costs: the emulator's ingest, no S3 involved).

Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Final

CHUNK: Final = 1024 * 1024


def get_object(endpoint: str, bucket: str, key: str) -> dict[str, object]:
    """Stream the object to /dev/null."""
    import boto3  # noqa: PLC0415 - the import is part of what a real GET process costs

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    total = 0
    with open(os.devnull, "wb") as sink:
        for chunk in body.iter_chunks(CHUNK):
            sink.write(chunk)
            total += len(chunk)
    return {"bytes": total}


def hash_file(path: str) -> dict[str, object]:
    """SHA256 of a local file."""
    digest = hashlib.sha256()
    total = 0
    with open(path, "rb", buffering=0) as source:
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while read := source.readinto(buffer):
            digest.update(view[:read])
            total += read
    return {"bytes": total, "sha256": digest.hexdigest()}


def publish(args: argparse.Namespace) -> dict[str, object]:
    """Publish a local file (streamed by botocore from the open file) as a new version."""
    import boto3  # noqa: PLC0415 - the import is part of what a real publish process costs

    client = boto3.client("codeartifact", endpoint_url=args.endpoint, region_name="us-east-1")
    with open(args.file, "rb") as body:
        response = client.publish_package_version(
            domain=args.domain,
            repository=args.repository,
            format="generic",
            namespace=args.namespace,
            package=args.package,
            packageVersion=args.version,
            assetName=args.asset_name,
            assetContent=body,
            assetSHA256=args.sha256,
        )
    return {"status": response["status"], "sha256": response["asset"]["hashes"]["SHA-256"]}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one floor workload."""
    parser = argparse.ArgumentParser(prog="python -m bench.workloads")
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("get")
    get.add_argument("--endpoint", required=True)
    get.add_argument("--bucket", required=True)
    get.add_argument("--key", required=True)
    digest = commands.add_parser("hash")
    digest.add_argument("--file", required=True)
    put = commands.add_parser("publish")
    for option in ("endpoint", "file", "sha256", "domain", "repository", "namespace", "package"):
        put.add_argument(f"--{option}", required=True)
    put.add_argument("--version", required=True)
    put.add_argument("--asset-name", required=True)
    args = parser.parse_args(argv)
    if args.command == "get":
        result = get_object(args.endpoint, args.bucket, args.key)
    elif args.command == "hash":
        result = hash_file(args.file)
    else:
        result = publish(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
