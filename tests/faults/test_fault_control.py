"""The fault injection kit itself: the emulator's fault plan and the S3 fault proxy.

Fast checks (no handler): each kind answers the way botocore's model says, rules are consumed
per call, and the HTTP control and the CLI option plan the same faults.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from codeartifact_generic.testing.__main__ import build_parser
from codeartifact_generic.testing._emulator import CodeArtifactEmulator, FaultControl
from codeartifact_generic.testing._s3 import DUMMY_CREDENTIALS

from .conftest import Kit, sha256

PUBLISH = "PublishPackageVersion"


@pytest.fixture
def emulator() -> Iterator[CodeArtifactEmulator]:
    with CodeArtifactEmulator() as running:
        client = _client(running)
        client.create_domain(domain="d1")
        client.create_repository(domain="d1", repository="r1")
        yield running


def _client(emulator: CodeArtifactEmulator, attempts: int = 1) -> Any:
    return boto3.client(
        "codeartifact",
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
        **DUMMY_CREDENTIALS,
    )


#: The one package version these checks write, as CodeArtifact's API names it.
VERSION: dict[str, Any] = {
    "domain": "d1",
    "repository": "r1",
    "format": "generic",
    "namespace": "n",
    "package": "p",
    "packageVersion": "1",
}


def _publish(client: Any, name: str, data: bytes, sha: str | None = None) -> Any:
    return client.publish_package_version(
        **VERSION,
        assetName=name,
        assetContent=data,
        assetSHA256=sha or sha256(data),
        unfinished=True,
    )


def _stored(emulator: CodeArtifactEmulator) -> dict[str, str]:
    listed = _client(emulator).list_package_version_assets(**VERSION)["assets"]
    return {a["name"]: a["hashes"]["SHA-256"] for a in listed}


@pytest.mark.parametrize(
    ("kind", "code", "status", "retried"),
    [
        ("throttling", "ThrottlingException", 429, True),
        ("internal", "InternalServerException", 500, True),
        ("quota", "ServiceQuotaExceededException", 402, False),
    ],
)
def test_error_kinds_match_the_model_and_botocore_classifies_them(
    emulator: CodeArtifactEmulator, kind: str, code: str, status: int, retried: bool
) -> None:
    # GIVEN every publish failing with the kind
    emulator.faults.next(PUBLISH, kind, times=None)
    # WHEN botocore's standard retry mode (2 attempts) publishes
    with pytest.raises(ClientError) as raised:
        _publish(_client(emulator, attempts=2), "a", b"x")
    # THEN the code and status are the model's, and botocore retried exactly the retryable ones
    error = raised.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(emulator.faults.calls_to(PUBLISH)) == (2 if retried else 1)
    if kind == "throttling":
        assert error["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    if kind == "quota":
        assert (error["resourceType"], error["resourceId"]) == ("asset", "a")


def test_rules_apply_after_n_to_matching_calls_and_are_consumed(
    emulator: CodeArtifactEmulator,
) -> None:
    client = _client(emulator)
    rule = emulator.faults.next(PUBLISH, "internal", times=2, after=1, match={"assetName": "b"})
    _publish(client, "a", b"a")  # does not match
    _publish(client, "b", b"b")  # let through (after=1)
    for _ in range(2):
        with pytest.raises(ClientError):
            _publish(client, "b", b"b")
    _publish(client, "b", b"b")  # used up
    assert (rule.hits, rule.passed, emulator.faults.rules) == (2, 1, [])
    faults = [c.fault for c in emulator.faults.calls_to(PUBLISH, assetName="b")]
    assert faults == [None, "internal", "internal", None]


def test_concurrent_calls_consume_a_rule_exactly_times_times(
    emulator: CodeArtifactEmulator,
) -> None:
    emulator.faults.next("DescribeDomain", "internal", times=5)
    failures: list[str] = []

    def call() -> None:
        try:
            _client(emulator).describe_domain(domain="d1")
        except ClientError as error:
            failures.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == ["InternalServerException"] * 5


def test_reset_mid_body_closes_without_an_answer_and_stores_nothing(
    emulator: CodeArtifactEmulator,
) -> None:
    # GIVEN a reset planned for the next publish
    emulator.faults.next(PUBLISH, "reset_mid_body")
    body = b"z" * (256 * 1024)
    path = (
        "/v1/package/version/publish?domain=d1&repository=r1&format=generic&namespace=n"
        "&package=p&version=1&asset=a&unfinished=true"
    )
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)

    def upload() -> bytes:
        connection.request("POST", path, body=body, headers={"x-amz-content-sha256": sha256(body)})
        return connection.getresponse().read()

    # WHEN a client uploads
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        upload()
    connection.close()
    # THEN it got no answer, and nothing was stored
    assert emulator.faults.calls_to(PUBLISH)[0].fault == "reset_mid_body"
    assert emulator.store.blob_files() == []


def test_accept_wrong_hash_stores_the_body_with_its_real_hashes(
    emulator: CodeArtifactEmulator,
) -> None:
    emulator.faults.next(PUBLISH, "accept_wrong_hash")
    answer = _publish(_client(emulator), "a", b"real bytes", sha="0" * 64)
    assert answer["asset"]["hashes"]["SHA-256"] == sha256(b"real bytes")
    assert _stored(emulator) == {"a": sha256(b"real bytes")}


def test_slow_after_bytes_pauses_mid_body_and_keeps_every_byte(
    emulator: CodeArtifactEmulator,
) -> None:
    emulator.faults.next(PUBLISH, "slow", seconds=0.5, after_bytes=1000)
    data = bytes(range(256)) * 40
    began = time.monotonic()
    _publish(_client(emulator), "a", data)
    assert time.monotonic() - began >= 0.5
    assert _stored(emulator) == {"a": sha256(data)}


def test_bad_rules_are_refused(emulator: CodeArtifactEmulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        emulator.faults.next(PUBLISH, "explode")
    with pytest.raises(ValueError, match="takes no option"):
        emulator.faults.next(PUBLISH, "internal", retry_after=3)
    with pytest.raises(ValueError, match="times"):
        emulator.faults.next(PUBLISH, "internal", times=0)


def test_http_control_plans_lists_and_clears(emulator: CodeArtifactEmulator) -> None:
    control = FaultControl(emulator.endpoint_url)
    rule_id = control.next(
        PUBLISH, "throttling", times=None, match={"assetName": "a"}, retry_after=7
    )
    with pytest.raises(ClientError) as raised:
        _publish(_client(emulator), "a", b"x")
    assert raised.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "7"
    state = control.state()
    assert [(r["id"], r["kind"], r["hits"]) for r in state["rules"]] == [(rule_id, "throttling", 1)]
    assert state["calls"][-1]["fault"] == "throttling"
    control.clear()
    assert control.state() == {"rules": [], "calls": []}
    with pytest.raises(Exception, match="400"):
        control.next(PUBLISH, "explode")


def test_serve_plans_faults_given_on_the_command_line() -> None:
    args = build_parser().parse_args(
        ["serve", "--fault", f"{PUBLISH}:internal:2", "--fault", "DescribeDomain:throttling:*"]
    )
    assert args.fault == [(PUBLISH, "internal", 2), ("DescribeDomain", "throttling", None)]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--fault", f"{PUBLISH}:explode"])


def test_s3_proxy_forwards_and_injects(kit: Kit) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=kit.proxy.endpoint_url, region_name="us-east-1", **DUMMY_CREDENTIALS
    )
    s3.create_bucket(Bucket="proxy-check")
    s3.put_object(Bucket="proxy-check", Key="dir/a b", Body=b"q" * 100_000)
    assert s3.get_object(Bucket="proxy-check", Key="dir/a b")["Body"].read() == b"q" * 100_000
    kit.proxy.deny("proxy-check", "dir/a b", times=2)
    for call, code in ((s3.head_object, "403"), (s3.get_object, "AccessDenied")):
        with pytest.raises(ClientError) as raised:
            call(Bucket="proxy-check", Key="dir/a b")
        assert raised.value.response["Error"]["Code"] == code
    kit.proxy.reset_mid_body("proxy-check", "dir/a b")
    with pytest.raises(Exception, match=r"reset|broken|Connection"):
        s3.get_object(Bucket="proxy-check", Key="dir/a b")["Body"].read()
    kit.proxy.stall_mid_body("proxy-check", "dir/a b", seconds=0.3)
    began = time.monotonic()
    assert len(s3.get_object(Bucket="proxy-check", Key="dir/a b")["Body"].read()) == 100_000
    assert time.monotonic() - began >= 0.3
    faults = [r.fault for r in kit.proxy.requests_for("proxy-check", "dir/a b")]
    assert faults[-4:] == ["deny", "deny", "reset_mid_body", "stall_mid_body"]
    kit.proxy.clear()
