"""File assets reach the local S3 the way ``cdk deploy`` uploads them, checksums included.

The CDK CLI uploads with ``ChecksumAlgorithm=SHA256``: one ``PutObject`` up to its part size
(5 MiB), a multipart upload above it. So S3 keeps a FULL_OBJECT SHA256 (the file's hash) for a
small file and a COMPOSITE one (a hash of the parts' hashes) for a large one, and the handler
must use the first and never mistake the second for the asset's hash.

What moto (5.2.5) does with these checksums, pinned by
``test_moto_keeps_sha256_checksums_of_puts_and_multipart_uploads``:

* PutObject with SHA256: HeadObject and GetObject (``ChecksumMode=ENABLED``) return the right
  ``ChecksumSHA256`` but no ``ChecksumType`` (S3 says FULL_OBJECT).
* Multipart upload with SHA256: GetObject returns ``<composite>-N`` and ``COMPOSITE``, as S3 does;
  HeadObject returns the bare ``<composite>`` and no ``ChecksumType`` (S3: ``<composite>-N``,
  ``COMPOSITE``). The ETag is ``"<md5 of md5s>-N"`` in both.

The handler reads the checksum with HeadObject, so the multipart ETag is what tells it, under
moto, that the stored SHA256 is not the object's (``lambda/s3_source.py``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from codeartifact_generic.testing import LocalEnvironment
from codeartifact_generic.testing._local_deploy.assembly import CloudAssembly
from codeartifact_generic.testing._local_deploy.assets import (
    MAX_PARTS,
    MIN_PART_SIZE,
    part_size,
    publish_assets,
    upload_like_cdk,
)
from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._s3 import DUMMY_CREDENTIALS, MotoS3Server
from scaffolding.cdk_cli import CDK_CLI, needs_cdk_cli

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCOUNT = "123456789012"
REGION = "us-east-1"
BOOTSTRAP_BUCKET = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
#: Just above the CLI's threshold: the smallest file it uploads in parts (two of them).
ABOVE = MIN_PART_SIZE + 1


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _composite_sha256(data: bytes, part: int) -> str:
    """S3's COMPOSITE SHA256: the SHA256 of the concatenated part digests (without ``-N``)."""
    digests = b"".join(
        hashlib.sha256(data[i : i + part]).digest() for i in range(0, len(data), part)
    )
    return base64.b64encode(hashlib.sha256(digests).digest()).decode()


def _checksums(s3: S3Client, bucket: str, key: str) -> dict[str, Any]:
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    got["Body"].close()
    return {
        "etag": head["ETag"],
        "size": head["ContentLength"],
        "content_type": head.get("ContentType"),
        "head": (head.get("ChecksumSHA256"), head.get("ChecksumType")),
        "get": (got.get("ChecksumSHA256"), got.get("ChecksumType")),
    }


def _ensure_bucket(s3: S3Client, bucket: str) -> None:
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)


def test_part_size_is_the_cli_uploaders_default() -> None:
    # lib-storage: max(5 MiB, ceil(size / 10000)); a file fits one PutObject up to that size
    assert part_size(0) == part_size(MIN_PART_SIZE) == MIN_PART_SIZE == 5 * 1024 * 1024
    assert part_size(MIN_PART_SIZE * MAX_PARTS) == MIN_PART_SIZE
    assert part_size(MIN_PART_SIZE * MAX_PARTS + 1) == MIN_PART_SIZE + 1
    assert part_size(5 * 1024**4) == -(-5 * 1024**4 // MAX_PARTS)


def test_moto_keeps_sha256_checksums_of_puts_and_multipart_uploads(
    s3: S3Client, tmp_path: Path
) -> None:
    # GIVEN files at, below and just above the CLI's threshold, uploaded like the CLI does
    bucket = f"sums-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    sizes = {"tiny": 1000, "at": MIN_PART_SIZE, "above": ABOVE}
    data = {name: os.urandom(size) for name, size in sizes.items()}
    parts = {}
    for name, content in data.items():
        (tmp_path / name).write_bytes(content)
        parts[name] = upload_like_cdk(s3, tmp_path / name, bucket, name)
    # THEN up to 5 MiB is one PutObject, above it two parts
    assert parts == {"tiny": 1, "at": 1, "above": 2}
    for name in ("tiny", "at"):
        found = _checksums(s3, bucket, name)
        # AND a PutObject's checksum is the file's SHA256 (moto gives no type; S3: FULL_OBJECT)
        full = _b64_sha256(data[name])
        assert found["get"][0] == found["head"][0] == full
        assert found["head"][1] in {None, "FULL_OBJECT"}, found
        assert found["get"][1] in {None, "FULL_OBJECT"}, found
        assert "-" not in found["etag"]
    # AND a multipart upload's checksum is COMPOSITE: GetObject says so like S3 ("…-2")
    found = _checksums(s3, bucket, "above")
    composite = _composite_sha256(data["above"], MIN_PART_SIZE)
    assert composite != _b64_sha256(data["above"])
    assert found["get"] == (f"{composite}-2", "COMPOSITE")
    assert found["etag"].endswith('-2"')
    # AND HeadObject is either S3's answer or moto 5.2.5's: the bare composite, no type
    assert found["head"] in {(f"{composite}-2", "COMPOSITE"), (composite, None)}, found


@pytest.mark.slow
@needs_cdk_cli
def test_publisher_leaves_what_the_cdk_cli_leaves(tmp_path: Path) -> None:
    """The real CLI (``cdk publish-assets``, its uploader, against moto through
    ``AWS_ENDPOINT_URL``) and :func:`publish_assets` store the same objects and checksums."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3_assets as s3_assets

    # GIVEN an assembly with file assets below, at and just above the threshold
    sizes = {"tiny.bin": 1000, "at.bin": MIN_PART_SIZE, "above.bin": ABOVE, "notes.txt": 10}
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), analytics_reporting=False)
    stack = cdk.Stack(app, "Sums")
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(os.urandom(size))
        s3_assets.Asset(stack, name.replace(".", ""), path=str(tmp_path / name))
    app.synth()
    assembly = CloudAssembly.load(tmp_path / "cdk.out")
    manifests = assembly.find("Sums").asset_manifests
    with MotoS3Server() as server:
        s3 = server.client()
        # WHEN the CDK CLI publishes them to the bootstrap bucket of account 123456789012
        # (moto's default account; moto serves STS and SSM on the same endpoint)
        _ensure_bucket(s3, BOOTSTRAP_BUCKET)
        boto3.client(
            "ssm", endpoint_url=server.endpoint_url, region_name=REGION, **DUMMY_CREDENTIALS
        ).put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String", Overwrite=True
        )
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": server.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": DUMMY_CREDENTIALS["aws_session_token"],
            "CDK_HOME": str(tmp_path / "cdk-home"),
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "CDK_CONTEXT_JSON", "CDK_OUTDIR"):
            env.pop(name, None)
        command = [str(CDK_CLI), "publish-assets", "--app", str(tmp_path / "cdk.out"), "--all"]
        done = subprocess.run(
            [*command, "--unstable=publish-assets", "--no-notices", "--ci"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        # AND the kit publishes the same manifest to another account's bootstrap bucket
        other = "210987654321"
        ours = publish_assets(manifests, s3, account_id=other, region=REGION)
        # THEN every object has the same size, ETag, content type and checksums both ways
        assert len(ours) == len(sizes) + 1  # and the template
        for published in ours:
            cli = _checksums(s3, BOOTSTRAP_BUCKET, published.key)
            kit = _checksums(s3, published.bucket, published.key)
            assert kit == cli, published.key
        # AND the kit counted one PutObject per file up to 5 MiB and two parts above it
        by_size = {
            _checksums(s3, p.bucket, p.key)["size"]: p.parts for p in ours if p.key.endswith(".bin")
        }
        assert by_size == {1000: 1, MIN_PART_SIZE: 1, ABOVE: 2}
        # AND a second run finds every key and uploads nothing (the CLI's existence check)
        again = publish_assets(manifests, s3, account_id=other, region=REGION)
        assert [(p.uploaded, p.parts) for p in again] == [(False, 0)] * len(ours)


# ------------------------------------------------------------------------------ offline deploy

DOMAIN = "sums-domain"
REPOSITORY = "sums-repo"


def _synth(out: Path, small: Path, big: Path) -> Path:
    """One stack: a domain, a repository and a version with four assets: the two files as
    ``from_file`` (SHA256 known at synth) and the same two files as CDK file assets read back
    with ``from_bucket`` (SHA256 unknown at synth)."""
    import aws_cdk as cdk
    from aws_cdk import aws_codeartifact as codeartifact
    from aws_cdk import aws_s3_assets as s3_assets

    from codeartifact_generic import GenericPackageVersion, PackageAsset

    app = cdk.App(outdir=str(out), analytics_reporting=False)
    stack = cdk.Stack(app, "Sums")
    domain = codeartifact.CfnDomain(stack, "Domain", domain_name=DOMAIN)
    repository = codeartifact.CfnRepository(
        stack, "Repository", domain_name=domain.attr_name, repository_name=REPOSITORY
    )
    small_object = s3_assets.Asset(stack, "SmallObject", path=str(small))
    big_object = s3_assets.Asset(stack, "BigObject", path=str(big))
    version = GenericPackageVersion(
        stack,
        "Version",
        domain=DOMAIN,
        repository=REPOSITORY,
        namespace="sums",
        package="files",
        version="1.0.0",
        assets=[
            PackageAsset.from_file(str(small), name="small.bin"),
            PackageAsset.from_file(str(big), name="big.bin"),
            PackageAsset.from_bucket(
                small_object.bucket, small_object.s3_object_key, name="small-object.bin"
            ),
            PackageAsset.from_bucket(
                big_object.bucket, big_object.s3_object_key, name="big-object.bin"
            ),
        ],
    )
    version.node.add_dependency(repository)
    app.synth()
    return out


def _object_keys(out: Path) -> dict[str, bytes]:
    """The S3 keys of the assembly's ``.bin`` file assets, with the bytes of their sources."""
    stack = CloudAssembly.load(out).find("Sums")
    found: dict[str, bytes] = {}
    for manifest in stack.asset_manifests:
        for asset in manifest.files:
            for destination in asset.destinations:
                if destination.object_key.endswith(".bin"):
                    found[destination.object_key] = asset.source_path.read_bytes()
    return found


def _published_lines(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The handler's ``asset_published`` log lines, by asset name."""
    found: dict[str, dict[str, Any]] = {}
    for log in sorted((state_dir / "logs").rglob("*.log")):
        for line in log.read_text().splitlines():
            start = line.find('{"event": "asset_published"')
            if start >= 0:
                entry = json.loads(line[start:])
                found[entry["asset"]] = entry
    return found


@pytest.mark.slow
def test_offline_deploy_uploads_like_the_cli_and_the_handler_picks_the_right_hash(
    tmp_path: Path,
) -> None:
    # GIVEN a file below the CLI's multipart threshold and one just above it
    small_data, big_data = os.urandom(1000), os.urandom(ABOVE)
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(small_data)
    big.write_bytes(big_data)
    out = _synth(tmp_path / "cdk.out", small, big)
    state = tmp_path / "state"
    # WHEN the app is deployed offline
    with (
        LocalEnvironment() as env,
        LocalCloudFormation(state, env.s3_endpoint, env.codeartifact_endpoint) as cfn,
    ):
        cfn.deploy(out)
        s3 = env.s3.client()
        # THEN S3 holds the small file with its FULL_OBJECT SHA256 and the big one COMPOSITE
        keys = _object_keys(out)
        assert set(keys.values()) == {small_data, big_data}  # each file staged twice
        for key, data in keys.items():
            found = _checksums(s3, BOOTSTRAP_BUCKET, key)
            if data == small_data:
                assert found["get"][0] == found["head"][0] == _b64_sha256(small_data)
                assert "-" not in found["etag"]
            else:
                composite = _composite_sha256(big_data, MIN_PART_SIZE)
                assert found["get"] == (f"{composite}-2", "COMPOSITE")
                assert found["etag"].endswith('-2"')
        # AND CodeArtifact holds all four assets with the files' SHA256
        listed = cfn.codeartifact_client().list_package_version_assets(
            domain=DOMAIN,
            repository=REPOSITORY,
            format="generic",
            namespace="sums",
            package="files",
            packageVersion="1.0.0",
        )
        hashes = {a["name"]: a["hashes"]["SHA-256"] for a in listed["assets"]}
    assert hashes == {
        "small.bin": hashlib.sha256(small_data).hexdigest(),
        "big.bin": hashlib.sha256(big_data).hexdigest(),
        "small-object.bin": hashlib.sha256(small_data).hexdigest(),
        "big-object.bin": hashlib.sha256(big_data).hexdigest(),
    }
    # AND the handler streamed the synth-time hashes, used S3's FULL_OBJECT SHA256 for the
    # small object, and hashed the big one (its stored SHA256 is COMPOSITE) while spooling
    paths = {name: line["path"] for name, line in _published_lines(state).items()}
    assert paths == {
        "small.bin": "stream-declared-sha256",
        "big.bin": "stream-declared-sha256",
        "small-object.bin": "stream-s3-checksum",
        "big-object.bin": "spool-tmp",
    }
