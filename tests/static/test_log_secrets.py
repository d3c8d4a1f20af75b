"""The handler's logs never carry credentials, authorization headers or presigned URLs.

The real bundled handler runs (as in ``tests/handler``) with distinctive dummy credentials in
its environment and a ResponseURL shaped like a real presigned S3 URL; successful, failing
and Delete events go through it, and neither its output nor the reasons it sends back contain
any of those values, in plain or URL-encoded form.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest

from codeartifact_generic.testing._emulator import CodeArtifactEmulator
from codeartifact_generic.testing._local_deploy.lambda_runner import LambdaFunction, LambdaRunner
from codeartifact_generic.testing._local_deploy.response_server import ResponseServer
from codeartifact_generic.testing._s3 import DUMMY_CREDENTIALS, MotoS3Server
from handler.harness import CustomResourceHarness, Outcome, dump, properties

REGION = "us-east-1"


def _token(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


#: Credentials shaped like real temporary ones, unique to this run.
ACCESS_KEY_ID = "ASIA" + _token(string.ascii_uppercase + string.digits, 16)
SECRET_ACCESS_KEY = _token(string.ascii_letters + string.digits + "/+", 40)
SESSION_TOKEN = "IQoJb3JpZ2luX2Vj" + _token(string.ascii_letters + string.digits + "/+=", 300)
#: The query of a presigned S3 PUT URL, as CloudFormation sends in ResponseURL.
SIGNATURE = _token("0123456789abcdef", 64)
CREDENTIAL_SCOPE = f"{ACCESS_KEY_ID}/20250101/{REGION}/s3/aws4_request"
PRESIGNED_QUERY = urlencode(
    {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
        "X-Amz-Credential": CREDENTIAL_SCOPE,
        "X-Amz-Date": "20250101T000000Z",
        "X-Amz-Expires": "7200",
        "X-Amz-Security-Token": SESSION_TOKEN,
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": SIGNATURE,
    }
)


class _SecretEnvRunner(LambdaRunner):
    """The harness's runner, with the credentials above instead of ``testing``."""

    def environment(self, function: LambdaFunction, run_dir: Path) -> dict[str, str]:
        env = super().environment(function, run_dir)
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            AWS_SESSION_TOKEN=SESSION_TOKEN,
        )
        return env


class _PresignedResponses:
    """The response server, handing out ResponseURLs with a presigned-looking query."""

    def __init__(self, inner: ResponseServer) -> None:
        self._inner = inner
        self.urls: list[str] = []

    def expect(self, label: str = "") -> Any:
        pending = self._inner.expect(label)
        pending.url = f"{pending.url}&{PRESIGNED_QUERY}"
        self.urls.append(pending.url)
        return pending


@dataclass
class Setup:
    harness: CustomResourceHarness
    responses: _PresignedResponses
    s3: Any
    codeartifact: Any


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with MotoS3Server() as s3, CodeArtifactEmulator() as emulator, ResponseServer() as server:
        harness = CustomResourceHarness(
            tmp_path_factory.mktemp("secrets"), s3.endpoint_url, emulator.endpoint_url, server
        )
        plain = harness.runner
        harness.runner = _SecretEnvRunner(
            work_dir=plain.work_dir,
            region=plain.region,
            account_id=plain.account_id,
            s3_endpoint=plain.s3_endpoint,
            codeartifact_endpoint=plain.codeartifact_endpoint,
            ca_files=plain.ca_files,
        )
        responses = _PresignedResponses(server)
        harness.responses = responses  # type: ignore[assignment]
        clients = {"region_name": REGION, **DUMMY_CREDENTIALS}
        yield Setup(
            harness,
            responses,
            boto3.client("s3", endpoint_url=s3.endpoint_url, **clients),
            boto3.client("codeartifact", endpoint_url=emulator.endpoint_url, **clients),
        )


def _secrets(response_url: str) -> dict[str, str]:
    """Every value that must never be logged, by what it is."""
    values = {
        "access key id": ACCESS_KEY_ID,
        "secret access key": SECRET_ACCESS_KEY,
        "session token": SESSION_TOKEN,
        "presigned URL signature": SIGNATURE,
        "presigned URL credential": CREDENTIAL_SCOPE,
        "presigned URL query": PRESIGNED_QUERY,
        "ResponseURL": response_url,
        # the path part is a capability too (it names the pending response)
        "ResponseURL path": response_url.split("?", 1)[0].rsplit("/", 1)[1],
    }
    encoded = {f"{name} (URL-encoded)": quote(value, safe="") for name, value in values.items()}
    return {**values, **encoded}


def _assert_clean(outcome: Outcome, response_url: str) -> None:
    log = outcome.log
    assert log.strip(), "the handler logged nothing: the check would be vacuous"
    texts = {"log": log, "response": (outcome.raw or b"").decode()}
    for where, text in texts.items():
        for name, value in _secrets(response_url).items():
            assert value not in text, f"{name} found in the {where}"
        # SigV4 Authorization header and security-token header
        assert "AWS4-HMAC-SHA256 Credential=" not in text, where
        assert "X-Amz-Security-Token" not in text, where
        assert "X-Amz-Signature" not in text, where


def test_logs_hold_no_credentials_tokens_or_presigned_urls(setup: Setup) -> None:
    # GIVEN a domain, a repository and an object, and a handler whose environment holds
    # the credentials above
    setup.codeartifact.create_domain(domain="secrets-domain")
    setup.codeartifact.create_repository(domain="secrets-domain", repository="secrets-repo")
    setup.s3.create_bucket(Bucket="secrets-assets")
    data = b"payload" * 1000
    setup.s3.put_object(Bucket="secrets-assets", Key="k/a.bin", Body=data)
    function = setup.harness.function
    env = setup.harness.runner.environment(function, setup.harness.bundle.parent / "probe")
    assert env["AWS_SECRET_ACCESS_KEY"] == SECRET_ACCESS_KEY
    asset = {
        "Name": "a.bin",
        "Bucket": "secrets-assets",
        "Key": "k/a.bin",
        "Sha256": hashlib.sha256(data).hexdigest(),
        "Size": str(len(data)),
    }
    good = properties(domain="secrets-domain", repository="secrets-repo", assets=[asset])
    scenarios: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
        ("Create", good, {}, True),
        # the same Create again (idempotent path)
        ("Create", good, {}, True),
        # an object that is missing (S3 error path)
        ("Create", {**good, "Version": "2.0.0", "Assets": [{**asset, "Key": "k/none"}]}, {}, False),
        # a domain that does not exist (CodeArtifact error path)
        ("Create", {**good, "Domain": "no-such-domain"}, {}, False),
        # a hash that does not match the bytes (integrity error path)
        (
            "Create",
            {**good, "Version": "3.0.0", "Assets": [{**asset, "Sha256": "0" * 64}]},
            {},
            False,
        ),
        # Delete (stack status lookup fails: no CloudFormation endpoint)
        (
            "Delete",
            good,
            {"physical_id": "123456789012/secrets-domain/secrets-repo/generic/tools/mycli/1.0.0"},
            True,
        ),
    ]
    for request_type, props, extra, succeeds in scenarios:
        # WHEN CloudFormation sends the event
        outcome = setup.harness.send(request_type, props, **extra)
        response_url = setup.responses.urls[-1]
        # THEN the handler answered as expected
        assert outcome.response is not None, dump(outcome)
        assert outcome.response.succeeded is succeeds, dump(outcome)
        # AND neither its output nor its answer holds a secret
        _assert_clean(outcome, response_url)
