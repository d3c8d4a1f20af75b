"""The HTTPS ResponseURL server, fed by crhelper's own ``_send_response``."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from codeartifact_generic.testing._local_deploy.events import make_event
from codeartifact_generic.testing._local_deploy.response_server import (
    ResponseServer,
    ResponseViolation,
    check_response,
)

# crhelper's sender, run in a subprocess that trusts the test CA only through SSL_CERT_FILE
# (as the Lambda subprocess does); bounded by a timeout because crhelper retries forever.
SEND = """
import json, sys
from crhelper.utils import _send_response
_send_response(sys.argv[1], json.loads(sys.argv[2]))
"""


@pytest.fixture
def server() -> Iterator[ResponseServer]:
    with ResponseServer() as running:
        yield running


def _event(url: str) -> dict[str, Any]:
    return dict(
        make_event(
            "Create",
            response_url=url,
            stack_id="arn:aws:cloudformation:us-east-1:123456789012:stack/S/1",
            logical_resource_id="Res",
            resource_type="Custom::X",
            properties={"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f"},
        )
    )


def _crhelper_put(url: str, body: dict[str, Any], ca_file: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSL_CERT_FILE": ca_file}
    return subprocess.run(
        [sys.executable, "-c", SEND, url, json.dumps(body)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_receives_crhelper_put_over_tls(server: ResponseServer) -> None:
    # GIVEN a registered ResponseURL and the event it belongs to
    pending = server.expect("Res")
    event = _event(pending.url)
    response = {
        "Status": "SUCCESS",
        "PhysicalResourceId": "phys-1",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": "Res",
        "Reason": "",
        "Data": {"Answer": "42"},
        "NoEcho": False,
    }

    # WHEN crhelper sends the response over HTTPS, trusting our CA via SSL_CERT_FILE
    result = _crhelper_put(pending.url, response, str(server.ca_file))

    # THEN the body arrives and passes CloudFormation's checks
    assert result.returncode == 0, result.stderr
    body = pending.wait(5)
    assert body is not None
    checked = check_response(event, body)
    assert checked.succeeded
    assert checked.physical_resource_id == "phys-1"
    assert checked.data == {"Answer": "42"}
    assert "-----BEGIN CERTIFICATE-----" in server.ca_file.read_text()


def test_unknown_or_closed_paths_are_refused(server: ResponseServer) -> None:
    # GIVEN a closed ResponseURL
    pending = server.expect()
    pending.close()
    context = ssl.create_default_context(cafile=str(server.ca_file))

    # WHEN something PUTs to it
    request = urllib.request.Request(pending.url, data=b"{}", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=context, timeout=5)

    # THEN it gets 403, like an expired presigned URL, and nothing is delivered
    assert refused.value.code == 403
    assert pending.body is None
    # AND the answer is recorded as one that counted for nothing
    assert server.ignored_puts == [pending.path]


def test_a_second_answer_is_accepted_and_counts_for_nothing(server: ResponseServer) -> None:
    # GIVEN a ResponseURL that got its answer
    pending = server.expect()
    context = ssl.create_default_context(cafile=str(server.ca_file))

    def put(body: bytes) -> int:
        request = urllib.request.Request(pending.url, data=body, method="PUT")
        with urllib.request.urlopen(request, context=context, timeout=5) as answer:
            return int(answer.status)

    assert put(b'{"Status": "SUCCESS"}') == 200
    assert server.ignored_puts == []
    # WHEN a second answer is PUT while the URL is still open
    # THEN S3 accepts it, the first answer stands, and the second is recorded as ignored
    assert put(b'{"Status": "FAILED"}') == 200
    assert pending.body == b'{"Status": "SUCCESS"}'
    assert server.ignored_puts == [pending.path]


def test_a_client_without_the_ca_cannot_connect(server: ResponseServer) -> None:
    # GIVEN a client that trusts only the system store
    pending = server.expect()
    request = urllib.request.Request(pending.url, data=b"{}", method="PUT")

    # WHEN it PUTs THEN TLS verification fails (the CA really is private)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(request, context=ssl.create_default_context(cafile=None), timeout=5)


def _valid(event: dict[str, Any], **changes: Any) -> bytes:
    body = {
        "Status": "SUCCESS",
        "PhysicalResourceId": "p",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Status": "OK"}, "Status must be SUCCESS or FAILED"),
        ({"PhysicalResourceId": ...}, "Invalid PhysicalResourceId"),
        ({"PhysicalResourceId": ""}, "Invalid PhysicalResourceId"),
        ({"PhysicalResourceId": "x" * 1025}, "longer than 1 KB"),
        ({"RequestId": "other"}, "RequestId 'other' does not match"),
        ({"StackId": "arn:other"}, "StackId 'arn:other' does not match"),
        ({"LogicalResourceId": "Else"}, "LogicalResourceId 'Else' does not match"),
        ({"Data": ["not", "a", "map"]}, "Data must be a JSON object"),
        ({"Data": {"Big": "x" * 5000}}, "Response object is too long"),
    ],
)
def test_contract_violations_fail_the_resource(changes: dict[str, Any], reason: str) -> None:
    # GIVEN a response that breaks one rule of CloudFormation's contract
    event = _event("https://127.0.0.1:1/x")
    body = _valid(event, **changes)

    # WHEN it is checked THEN the violation is reported with a CloudFormation-like reason
    with pytest.raises(ResponseViolation, match=reason):
        check_response(event, body)


def test_failed_response_without_reason_is_still_valid() -> None:
    # GIVEN a FAILED response WHEN checked THEN it is accepted and reports failure
    event = _event("https://127.0.0.1:1/x")
    checked = check_response(event, _valid(event, Status="FAILED", Reason="boom"))
    assert not checked.succeeded
    assert checked.reason == "boom"
    with pytest.raises(ResponseViolation, match="not JSON"):
        check_response(event, b"{nope")
