"""The Lambda runner: environment, context, timeouts; and handlers that never answer."""

from __future__ import annotations

import io
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.lambda_runner import LambdaFunction, LambdaRunner
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed
from codeartifact_generic.testing._s3 import MotoS3Server

from .kit import AssemblyWriter, journal

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _function(
    tmp_path: Path, source: str, handler: str = "index.handler", **options: object
) -> LambdaFunction:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "index.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return LambdaFunction(function_name="fn", handler=handler, code_dir=code, **options)  # type: ignore[arg-type]


def _runner(tmp_path: Path, **options: object) -> LambdaRunner:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nRESPONSE\n-----END CERTIFICATE-----\n")
    return LambdaRunner(
        work_dir=tmp_path / "runs",
        region="eu-central-1",
        account_id="111122223333",
        s3_endpoint="http://127.0.0.1:9",
        codeartifact_endpoint="https://127.0.0.1:10",
        cloudformation_endpoint="http://127.0.0.1:11",
        ca_files=(ca,),
        **options,  # type: ignore[arg-type]
    )


def test_handler_sees_lambda_environment_and_context(tmp_path: Path) -> None:
    # GIVEN a handler that reports what it sees, and a runner wired to local endpoints
    function = _function(
        tmp_path,
        """
        import os
        def handler(event, context):
            return {
                "event": event,
                "env": {k: os.environ.get(k) for k in (
                    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3",
                    "AWS_ENDPOINT_URL_CODEARTIFACT", "AWS_ENDPOINT_URL_CLOUDFORMATION",
                    "SSL_CERT_FILE", "AWS_CA_BUNDLE",
                    "MY_SETTING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ACCESS_KEY_ID", "HOME",
                    "AWS_ENDPOINT_URL")},
                "cwd": os.getcwd(),
                "name": context.function_name,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "request": context.aws_request_id,
                "group": context.log_group_name,
                "remaining": context.get_remaining_time_in_millis(),
            }
        """,
        timeout_seconds=7,
        memory_mb=256,
        environment={"MY_SETTING": "on", "AWS_REGION": "should-be-ignored"},
    )
    ca_bundle = tmp_path / "codeartifact-ca.pem"
    ca_bundle.write_text("-----BEGIN CERTIFICATE-----\nCODEARTIFACT\n-----END CERTIFICATE-----\n")
    runner = _runner(tmp_path, codeartifact_ca_bundle=ca_bundle)

    # WHEN it is invoked
    invocation = runner.invoke(function, {"hello": "world"}, request_id="req-1")

    # THEN the event, the Lambda variables, the endpoints and the CAs reached it
    assert invocation.error is None, invocation.log_path.read_text()
    seen = invocation.result
    env = seen["env"]
    assert seen["event"] == {"hello": "world"}
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9"
    assert env["AWS_ENDPOINT_URL_CODEARTIFACT"] == "https://127.0.0.1:10"
    assert env["AWS_ENDPOINT_URL_CLOUDFORMATION"] == "http://127.0.0.1:11"
    assert env["MY_SETTING"] == "on"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"  # nothing reaches the real AWS
    assert env["SSL_CERT_FILE"] == env["AWS_CA_BUNDLE"]
    bundle = Path(env["SSL_CERT_FILE"]).read_text()
    assert "RESPONSE" in bundle
    assert "CODEARTIFACT" in bundle
    assert env["HOME"] != str(Path.home())
    assert Path(seen["cwd"]) == function.code_dir
    assert seen["name"] == "fn"
    assert seen["arn"] == "arn:aws:lambda:eu-central-1:111122223333:function:fn"
    assert seen["memory"] == "256"
    assert seen["request"] == "req-1"
    assert seen["group"] == "/aws/lambda/fn"
    assert 5_000 < seen["remaining"] <= 7_000
    log = invocation.log_path.read_text()
    assert "START RequestId: req-1" in log
    assert "REPORT RequestId: req-1" in log


def test_overrunning_handler_is_killed(tmp_path: Path) -> None:
    # GIVEN a handler that ignores its 1 s timeout
    function = _function(
        tmp_path,
        """
        import time
        def handler(event, context):
            print("sleeping", flush=True)
            time.sleep(60)
        """,
        timeout_seconds=1,
    )
    lines: list[str] = []
    runner = _runner(tmp_path, kill_margin_seconds=0.5, echo=lines.append)

    # WHEN it is invoked
    started = time.monotonic()
    invocation = runner.invoke(function, {})

    # THEN it is killed shortly after timeout + margin, and its output was streamed
    assert invocation.timed_out
    assert time.monotonic() - started < 8
    assert invocation.error is not None
    assert invocation.error.startswith("Task timed out")
    assert "sleeping" in lines


@pytest.mark.parametrize(
    ("source", "handler", "error_type"),
    [
        (
            "def handler(event, context):\n    raise ValueError('bad input')\n",
            "index.handler",
            "ValueError",
        ),
        ("x = 1\n", "index.handler", "Runtime.HandlerNotFound"),
        ("x = 1\n", "missing_module.handler", "Runtime.ImportModuleError"),
        ("x = 1\n", "nodot", "Runtime.MalformedHandlerName"),
    ],
)
def test_handler_errors_are_reported_like_lambda(
    tmp_path: Path, source: str, handler: str, error_type: str
) -> None:
    # GIVEN a broken function WHEN invoked THEN the error type is Lambda's
    invocation = _runner(tmp_path).invoke(_function(tmp_path, source, handler), {})
    assert invocation.error_type == error_type
    assert invocation.error is not None


def test_done_condition_ends_a_lingering_process(tmp_path: Path) -> None:
    # GIVEN a handler that keeps running after the caller has what it needs
    function = _function(
        tmp_path, "import time\ndef handler(e, c):\n    time.sleep(60)\n", timeout_seconds=60
    )

    # WHEN the caller's done() holds
    started = time.monotonic()
    invocation = _runner(tmp_path).invoke(function, {}, done=lambda: True, grace_seconds=0.2)

    # THEN the process is stopped after the grace period, not after the timeout
    assert invocation.stopped
    assert time.monotonic() - started < 10


def test_handler_that_never_answers_is_retried_then_fails_the_stack(
    tmp_path: Path,
    s3_server: MotoS3Server,
    s3: S3Client,
    journal_bucket: str,
    console: Console,
    output: io.StringIO,
) -> None:
    # GIVEN a custom resource whose handler raises without sending any response
    source = textwrap.dedent(
        """
        import json, os, time
        import boto3
        def handler(event, context):
            boto3.client("s3").put_object(
                Bucket=os.environ["JOURNAL_BUCKET"],
                Key=f"journal/{time.time_ns():020d}",
                Body=json.dumps({"RequestType": event["RequestType"],
                                 "RequestId": event["RequestId"]}).encode())
            raise RuntimeError("no response from me")
        """
    )
    writer = AssemblyWriter(tmp_path / "cdk.out", handler_source=source)
    writer.stacks["Silent"] = {
        "Resources": {
            "FnRole": writer.role(),
            "Fn": writer.function({"JOURNAL_BUCKET": journal_bucket}),
            "Quiet": {
                "Type": "Custom::Quiet",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}},
            },
        }
    }
    with LocalCloudFormation(
        tmp_path / "state", s3_endpoint=s3_server.endpoint_url, console=console, lambda_retries=1
    ) as cfn:
        # WHEN the stack is deployed
        with pytest.raises(DeploymentFailed) as failure:
            cfn.deploy(writer.write())

        # THEN the Create ran twice with the same event (Lambda's async retry), the resource
        # failed without waiting for CloudFormation's hour, and the rollback Delete (which
        # also never answers) leaves the stack ROLLBACK_FAILED, as in AWS
        requests = journal(s3, journal_bucket)
        assert [r["RequestType"] for r in requests] == ["Create", "Create", "Delete", "Delete"]
        assert requests[0]["RequestId"] == requests[1]["RequestId"]
        assert "did not receive a response" in failure.value.reason
        assert "RuntimeError: no response from me" in failure.value.reason
        assert failure.value.status == "ROLLBACK_FAILED"
        stack = cfn.stack("Silent")
        assert stack is not None
        assert stack.status == "ROLLBACK_FAILED"
        # AND the resource whose Delete failed stays recorded, so a destroy retries it, with
        # the function and role it depends on (CloudFormation does not delete those either)
        assert sorted(stack.resources) == ["Fn", "FnRole", "Quiet"]
        assert "Lambda retry 1/1" in output.getvalue()


def test_service_timeout_bounds_the_wait(
    tmp_path: Path, s3_server: MotoS3Server, console: Console
) -> None:
    # GIVEN a custom resource with ServiceTimeout 1 s whose handler sleeps without answering
    writer = AssemblyWriter(
        tmp_path / "cdk.out",
        handler_source="import time\ndef handler(event, context):\n    time.sleep(30)\n",
    )
    writer.stacks["Slow"] = {
        "Resources": {
            "FnRole": writer.role(),
            "Fn": writer.function({}, timeout=60),
            "Waiting": {
                "Type": "Custom::Waiting",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "ServiceTimeout": 1},
            },
        }
    }
    with LocalCloudFormation(
        tmp_path / "state", s3_endpoint=s3_server.endpoint_url, console=console, lambda_retries=0
    ) as cfn:
        # WHEN deployed
        started = time.monotonic()
        with pytest.raises(DeploymentFailed) as failure:
            cfn.deploy(writer.write())

        # THEN the create fails after about ServiceTimeout, not the function's 60 s
        assert failure.value.logical_id == "Waiting"
        assert "ServiceTimeout=1s" in failure.value.reason
        assert time.monotonic() - started < 20
