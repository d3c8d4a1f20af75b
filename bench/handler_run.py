"""Invoke the bundled handler once, as the Lambda service would, and measure the process.

The process is the offline kit's Lambda runtime stand-in (``_bootstrap.py`` run with
``python -c``), with the environment :class:`LambdaRunner` builds (``AWS_ENDPOINT_URL_S3`` →
the counting proxy, ``AWS_ENDPOINT_URL_CODEARTIFACT`` → the emulator, ``SSL_CERT_FILE`` → the
ResponseURL server's CA, ``TMPDIR`` → a fresh directory whose peak size is sampled). It
handles one CloudFormation Create event and answers over HTTPS to a local
:class:`ResponseServer`. The runner is ours (not :meth:`LambdaRunner.invoke`) because the
measurement needs the child's own rusage from ``os.wait4``.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from codeartifact_generic.handler import contract

from bench.measure import ProcessStats, run_process
from codeartifact_generic.bundling import HANDLER
from codeartifact_generic.testing._local_deploy import lambda_runner
from codeartifact_generic.testing._local_deploy.events import make_event, make_stack_id
from codeartifact_generic.testing._local_deploy.lambda_runner import LambdaFunction, LambdaRunner
from codeartifact_generic.testing._local_deploy.response_server import (
    CustomResourceResponse,
    ResponseServer,
    ResponseViolation,
    check_response,
)

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
#: The Lambda runtime stand-in of the offline kit (standard library only).
BOOTSTRAP_SOURCE: Final = (
    Path(lambda_runner.__file__).with_name("_bootstrap.py").read_text(encoding="utf-8")
)
#: Lambda timeout of the measured function (the Lambda maximum).
TIMEOUT_SECONDS: Final = 900
_ASSET_LINE = re.compile(r'\{"event": "asset_published".*\}')


@dataclass(frozen=True)
class HandlerRun:
    """One invocation: the process's cost, CloudFormation's answer and the handler's log."""

    stats: ProcessStats
    response: CustomResourceResponse | None
    problem: str | None
    log: str

    @property
    def succeeded(self) -> bool:
        """The handler answered SUCCESS."""
        return self.response is not None and self.response.succeeded

    @property
    def asset_lines(self) -> list[dict[str, Any]]:
        """The handler's ``asset_published`` log lines, parsed."""
        return [json.loads(m.group(0)) for m in _ASSET_LINE.finditer(self.log)]


class HandlerInvoker:
    """Runs the bundle in ``bundle_dir`` against the given endpoints."""

    def __init__(
        self,
        *,
        work_dir: Path,
        bundle_dir: Path,
        s3_endpoint: str,
        codeartifact_endpoint: str,
        responses: ResponseServer,
        memory_mb: int = 1024,
    ) -> None:
        self.work_dir = work_dir
        self.responses = responses
        self.runner = LambdaRunner(
            work_dir=work_dir,
            region=REGION,
            account_id=ACCOUNT,
            s3_endpoint=s3_endpoint,
            codeartifact_endpoint=codeartifact_endpoint,
            ca_files=(responses.ca_file,),
        )
        self.function = LambdaFunction(
            function_name="bench-handler",
            handler=HANDLER,
            code_dir=bundle_dir,
            timeout_seconds=TIMEOUT_SECONDS,
            memory_mb=memory_mb,
            arn=self.runner.function_arn("bench-handler"),
        )
        self.stack_id = make_stack_id(region=REGION, account_id=ACCOUNT, stack_name="Bench")

    def create(
        self,
        properties: Mapping[str, Any],
        *,
        services: Mapping[str, int] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> HandlerRun:
        """Handle one Create event with ``properties`` in a fresh process; wait for it."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="create-", dir=self.work_dir))
        pending = self.responses.expect("Create")
        try:
            event = dict(
                make_event(
                    "Create",
                    response_url=pending.url,
                    stack_id=self.stack_id,
                    logical_resource_id="Version",
                    resource_type=contract.RESOURCE_TYPE,
                    properties={"ServiceToken": self.function.arn, **properties},
                )
            )
            invocation = run_dir / "invocation.json"
            invocation.write_text(
                json.dumps(
                    {
                        "event": event,
                        "function_name": self.function.function_name,
                        "invoked_function_arn": self.function.arn,
                        "memory_limit_in_mb": self.function.memory_mb,
                        "aws_request_id": str(uuid.uuid4()),
                        "log_group_name": f"/aws/lambda/{self.function.function_name}",
                        "log_stream_name": f"local/{run_dir.name}",
                        "timeout_seconds": self.function.timeout_seconds,
                    }
                ),
                encoding="utf-8",
            )
            env = self.runner.environment(self.function, run_dir)  # creates run_dir/tmp
            log_path = run_dir / "output.log"
            stats = run_process(
                [
                    sys.executable,
                    "-c",
                    BOOTSTRAP_SOURCE,
                    str(invocation),
                    str(run_dir / "result.json"),
                    str(run_dir / "started"),
                ],
                log_path=log_path,
                env=env,
                cwd=self.function.code_dir,
                timeout_s=TIMEOUT_SECONDS + 60,
                watch_dir=Path(env["TMPDIR"]),
                services=services,
                on_start=on_start,
            )
            raw = pending.wait(timeout=10)
        finally:
            pending.close()
        response: CustomResourceResponse | None = None
        problem: str | None = None
        if raw is None:
            problem = f"no response (exit code {stats.exit_code}, timed out: {stats.timed_out})"
        else:
            try:
                response = check_response(event, raw)
            except ResponseViolation as violation:
                problem = f"invalid response: {violation}"
            else:
                if not response.succeeded:
                    problem = f"FAILED: {response.reason}"
        return HandlerRun(stats, response, problem, log_path.read_text(errors="replace"))


def asset_properties(
    *,
    domain: str,
    repository: str,
    namespace: str,
    package: str,
    version: str,
    asset_name: str,
    bucket: str,
    key: str,
    sha256: str | None,
    size: int | None,
) -> dict[str, Any]:
    """ResourceProperties as the construct renders them (Sha256 and Size only when known)."""
    asset: dict[str, str] = {
        contract.AssetProp.NAME: asset_name,
        contract.AssetProp.BUCKET: bucket,
        contract.AssetProp.KEY: key,
    }
    if sha256 is not None:
        asset[contract.AssetProp.SHA256] = sha256
    if size is not None:
        asset[contract.AssetProp.SIZE] = str(size)
    return {
        contract.Prop.DOMAIN: domain,
        contract.Prop.DOMAIN_OWNER: ACCOUNT,
        contract.Prop.REPOSITORY: repository,
        contract.Prop.NAMESPACE: namespace,
        contract.Prop.PACKAGE: package,
        contract.Prop.VERSION: version,
        contract.Prop.STATUS: contract.Status.PUBLISHED,
        contract.Prop.ASSETS: [asset],
    }
