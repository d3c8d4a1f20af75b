"""The floor workloads, each run as its own process: ``python -m bench.workloads …``.

- ``get``: one streaming S3 GetObject with boto3, 1 MiB reads, bytes discarded (to /dev/null);
- ``hash``: raw ``hashlib.sha256`` over a local file, 1 MiB reads;
- ``publish``: one boto3 PublishPackageVersion of a local file with its SHA256 given (what the
  CodeArtifact side alone costs: the emulator's ingest, no S3 involved);
- ``ingest``: the emulator's own ingest rate, the ceiling every publishing workload runs under:
  raw HTTP PublishPackageVersion requests (one keep-alive connection, no SDK, no signing, the
  SHA256 computed beforehand) of one random body held in memory, ``--count`` times, each a new
  version; the rate is body bytes over the summed request times (MB = 10^6 bytes), after one
  untimed warm-up publish. The versions are deleted afterwards (not timed).

Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode, urlsplit

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


def ingest(args: argparse.Namespace) -> dict[str, object]:
    """Publish ``--mib`` MiB from memory ``--count`` times over raw HTTP (after ``--warmup``
    untimed publishes); the ingest rate."""
    body = os.urandom(int(args.mib) * CHUNK)
    sha256 = hashlib.sha256(body).hexdigest()
    endpoint = urlsplit(args.endpoint)
    connection = http.client.HTTPConnection(endpoint.hostname or "127.0.0.1", endpoint.port)
    prefix = f"ingest-{uuid.uuid4().hex[:8]}"
    versions: list[str] = []
    seconds = 0.0
    throttled = 0
    warmup = max(0, int(args.warmup))
    try:
        for index in range(warmup + int(args.count)):
            version = f"{prefix}-{index}"
            query = urlencode(
                {
                    "domain": args.domain,
                    "repository": args.repository,
                    "format": "generic",
                    "namespace": args.namespace,
                    "package": args.package,
                    "version": version,
                    "asset": "ingest.bin",
                }
            )
            while True:
                began = time.perf_counter()
                connection.request(
                    "POST",
                    f"/v1/package/version/publish?{query}",
                    body=body,
                    headers={
                        "x-amz-content-sha256": sha256,
                        "Content-Type": "application/octet-stream",
                    },
                )
                response = connection.getresponse()
                answer = response.read()
                elapsed = time.perf_counter() - began
                if response.status != 429:
                    break
                throttled += 1  # the emulator's publish rate limit: wait, then try again
                time.sleep(float(response.getheader("Retry-After") or 1))
            if response.status != 200:
                raise RuntimeError(f"publish answered {response.status}: {answer[:300]!r}")
            versions.append(version)
            if index >= warmup:
                seconds += elapsed
    finally:
        connection.close()
        _delete_versions(args, versions)
    timed = len(versions) - warmup
    total = len(body) * timed
    return {
        "bytes": total,
        "publishes": timed,
        "body_mib": int(args.mib),
        "seconds": round(seconds, 4),
        "mb_per_s": round(total / seconds / 1e6, 1) if seconds else None,
        "throttled": throttled,
    }


def _delete_versions(args: argparse.Namespace, versions: list[str]) -> None:
    if not versions:
        return
    import boto3  # noqa: PLC0415 - cleanup only, not timed

    client = boto3.client("codeartifact", endpoint_url=args.endpoint, region_name="us-east-1")
    client.delete_package_versions(
        domain=args.domain,
        repository=args.repository,
        format="generic",
        namespace=args.namespace,
        package=args.package,
        versions=versions,
    )


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
    rate = commands.add_parser("ingest")
    for option in ("endpoint", "domain", "repository", "namespace", "package"):
        rate.add_argument(f"--{option}", required=True)
    rate.add_argument("--mib", type=int, default=64, help="body size (%(default)s MiB)")
    rate.add_argument("--count", type=int, default=4, help="timed publishes (%(default)s)")
    rate.add_argument("--warmup", type=int, default=1, help="untimed publishes first (%(default)s)")
    args = parser.parse_args(argv)
    if args.command == "get":
        result = get_object(args.endpoint, args.bucket, args.key)
    elif args.command == "hash":
        result = hash_file(args.file)
    elif args.command == "ingest":
        result = ingest(args)
    else:
        result = publish(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
