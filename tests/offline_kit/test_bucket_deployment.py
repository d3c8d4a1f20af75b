"""A user's app with a ``BucketDeployment`` feeding ``PackageAsset.from_bucket``, deployed with
``LocalEnvironment``: create, update (new content, a pruned file, a version bump), destroy.

The ``BucketDeployment`` handler is CDK's own (aws-cdk
``packages/aws-cdk-lib/aws-s3-deployment/lib/lambda/index.py``, shipped in aws-cdk-lib's
``custom-resource-handlers``): it runs ``/opt/awscli/aws s3 cp`` and ``s3 sync --delete`` from
the ``AwsCliLayer``, which the kit unpacks as the function's ``/opt``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from codeartifact_generic.testing import LocalEnvironment
from scaffolding.cdk_cli import CDK_BIN, needs_cdk_cli

from .user_app import PRELOADED, downloaded_sha256s, write_app

pytestmark = pytest.mark.slow


def _assets(env: LocalEnvironment, version: str) -> dict[str, str]:
    """Asset name → SHA256 of the bytes downloaded from the emulator."""
    return downloaded_sha256s(env.client("codeartifact"), version)


@needs_cdk_cli
def test_bucket_deployment_feeds_a_package_version_through_create_update_and_destroy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a user's app directory (models/ deployed by a BucketDeployment) and the CDK CLI
    app = tmp_path / "app"
    expected = write_app(app)
    (app / "models" / "old.txt").write_text("pruned by the next deployment\n")
    monkeypatch.chdir(app)
    # `python3 app.py` is this environment's Python, as in an activated venv
    path = [str(Path(sys.executable).parent), str(CDK_BIN), os.environ["PATH"]]
    monkeypatch.setenv("PATH", os.pathsep.join(path))

    with LocalEnvironment() as env:
        s3 = env.client("s3")
        # moto's state is per process: other tests of this worker may have left buckets
        existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        s3.create_bucket(Bucket=PRELOADED[0])
        s3.put_object(Bucket=PRELOADED[0], Key=PRELOADED[1], Body=b"id,value\n1,42\n")

        # WHEN the app is deployed
        outputs = env.deploy("python3 app.py")
        first = _assets(env, "1.0.0")
        bucket = _bucket(env, existing)
        keys_v1 = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])

        # THEN the deployed object was published with its SHA256, beside the other sources
        assert {k: first[k] for k in expected} == expected
        assert set(first) == {*expected, "docs.zip"}
        assert keys_v1 == ["models/model.bin", "models/old.txt"]
        # AND the consumer read the revision and the domain through weak references
        assert outputs["Consumer"]["ReleaseValue"].startswith("my-domain@1.0.0@")

        # WHEN the model changes, a file goes away, and the version is bumped
        (app / "models" / "model.bin").write_bytes(b"model weights v2\n")
        (app / "models" / "old.txt").unlink()
        env.deploy("python3 app.py", context={"version": "1.1.0"})
        second = _assets(env, "1.1.0")
        keys_v2 = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])

        # THEN the BucketDeployment's Update synced the bucket (pruning), the new version has the
        # new bytes, and 1.0.0 is still there (retained)
        assert second["model.bin"] == hashlib.sha256(b"model weights v2\n").hexdigest()
        assert keys_v2 == ["models/model.bin"]
        assert _assets(env, "1.0.0") == first

        # WHEN everything is destroyed
        destroyed = env.destroy()

        # THEN the auto-deleted bucket was emptied and deleted with its stack
        assert sorted(destroyed) == ["Consumer", "Packages", "Repo"]
        assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def _bucket(env: LocalEnvironment, existing: set[str]) -> str:
    """The bucket the BucketDeployment wrote to (the only one besides the asset bucket and the
    pre-loaded one)."""
    names = {b["Name"] for b in env.client("s3").list_buckets()["Buckets"]}
    (bucket,) = {
        n
        for n in names - existing
        if not n.startswith("cdk-hnb659fds-assets-") and n != PRELOADED[0]
    }
    return bucket


def test_the_app_is_written_as_the_user_writes_it(tmp_path: Path) -> None:
    write_app(tmp_path)
    assert json.loads((tmp_path / "cdk.json").read_text())["context"] == {
        "@aws-cdk/core:defaultCrossStackReferences": "weak"
    }
