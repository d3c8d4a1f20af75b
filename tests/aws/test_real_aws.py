"""Real AWS: `cdk deploy` / `cdk destroy` of app.py in an account. Skipped without credentials.

Opt in by exporting credentials (``AWS_ACCESS_KEY_ID`` or ``AWS_PROFILE``) and a bootstrapped
account/region. Only environment variables are looked at, so no instance-metadata request is
made when they are absent.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid

import pytest

from scaffolding.cdk_cli import CDK_CLI, REPO

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(
        not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")),
        reason="no AWS credentials in the environment (real-AWS tests are opt-in)",
    ),
]


def _cdk(*args: str) -> None:
    subprocess.run(
        [str(CDK_CLI), *args, "--require-approval", "never"], cwd=REPO, check=True, timeout=3600
    )


def test_cdk_deploy_publishes_and_destroy_retains() -> None:
    import boto3

    domain = f"cag-it-{uuid.uuid4().hex[:8]}"
    context = ["-c", f"domain={domain}", "-c", "version=1.4.0"]
    client = boto3.client("codeartifact")
    try:
        _cdk("deploy", "--all", *context)
        coords = {
            "domain": domain,
            "repository": "generic-releases",
            "format": "generic",
            "namespace": "tools",
            "package": "mycli",
            "packageVersion": "1.4.0",
        }
        described = client.describe_package_version(**coords)["packageVersion"]
        assert described["status"] == "Published"
        body = client.get_package_version_asset(**coords, asset="mycli.tar.gz")["asset"].read()
        assert (
            hashlib.sha256(body).hexdigest()
            == hashlib.sha256((REPO / "example" / "dist" / "mycli.tar.gz").read_bytes()).hexdigest()
        )
        # a bump: the consumer reads the new revision through SSM (no export blocks it)
        bumped = ["-c", f"domain={domain}", "-c", "version=1.5.0"]
        _cdk("deploy", "--all", *bumped)
        new = client.describe_package_version(**{**coords, "packageVersion": "1.5.0"})
        assert new["packageVersion"]["status"] == "Published"
        # a changed file without a bump fails and rolls back, leaving 1.5.0 as it was
        changed = REPO / "build" / "changed-mycli.tar.gz"
        changed.parent.mkdir(exist_ok=True)
        changed.write_bytes(b"other bytes")
        failed = subprocess.run(
            [
                str(CDK_CLI),
                "deploy",
                "Packages",
                "--require-approval",
                "never",
                *bumped,
                "-c",
                f"cli_artifact={changed}",
            ],
            cwd=REPO,
            check=False,
            timeout=3600,
        )
        assert failed.returncode != 0
        again = client.describe_package_version(**{**coords, "packageVersion": "1.5.0"})
        assert again["packageVersion"]["revision"] == new["packageVersion"]["revision"]
        _cdk("destroy", "Packages", "Consumer", "--force", *bumped)
        assert client.describe_package_version(**coords)["packageVersion"]["status"] == "Published"
    finally:
        subprocess.run(
            [str(CDK_CLI), "destroy", "--all", "--force", *context], cwd=REPO, check=False
        )
