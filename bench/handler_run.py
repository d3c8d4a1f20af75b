"""Invoke the bundled handler once, as the Lambda service would, and measure the process.

The process is the offline kit's Lambda runtime stand-in (``_bootstrap.py`` run with
``python -c``), with the environment :class:`LambdaRunner` builds (``AWS_ENDPOINT_URL_S3`` →
the counting proxy, ``AWS_ENDPOINT_URL_CODEARTIFACT`` → the emulator, ``SSL_CERT_FILE`` → the
ResponseURL server's CA, ``TMPDIR`` → a fresh directory whose peak size is sampled). It
handles one CloudFormation Create event and answers over HTTPS to a local
:class:`ResponseServer`. Like CloudFormation, a local ``DescribeStacks`` endpoint
(``AWS_ENDPOINT_URL_CLOUDFORMATION``) shows the handler its stack creating and the resource's
``CREATE_IN_PROGRESS`` event, a new stack per invocation: the handler asks (ownership and
cancellation checks), and without an answer it would spend seconds retrying an unreachable
endpoint on every run. The runner is ours (not :meth:`LambdaRunner.invoke`) because the
measurement needs the child's own rusage from ``os.wait4``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from codeartifact_generic.handler import contract

from bench.measure import ProcessStats, run_process
from codeartifact_generic.bundling import HANDLER
from codeartifact_generic.testing._local_deploy import lambda_runner
from codeartifact_generic.testing._local_deploy.cloudformation_api import (
    StackDirectory,
    format_timestamp,
)
from codeartifact_generic.testing._local_deploy.events import make_event, make_stack_id
from codeartifact_generic.testing._local_deploy.lambda_runner import LambdaFunction, LambdaRunner
from codeartifact_generic.testing._local_deploy.response_server import (
    CustomResourceResponse,
    ResponseServer,
    ResponseViolation,
    check_response,
)
from codeartifact_generic.testing._local_deploy.state import StackState

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
STACK_NAME: Final = "Bench"
LOGICAL_ID: Final = "Version"
#: The Lambda runtime stand-in of the offline kit (standard library only).
BOOTSTRAP_SOURCE: Final = (
    Path(lambda_runner.__file__).with_name("_bootstrap.py").read_text(encoding="utf-8")
)
#: Lambda timeout of the measured function (the Lambda maximum).
TIMEOUT_SECONDS: Final = 900
_ASSET_LINE = re.compile(r'\{"event": "asset_published".*\}')
#: The runtime stand-in's log prefix: ``[INFO]\t2026-11-30T05:12:38.123Z\t<request id>\t``.
_TIMED_ASSET_LINE = re.compile(
    r"^\[\w+\]\t(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z\t\S*\t"
    r'(?P<line>\{"event": "asset_published".*\})$',
    re.MULTILINE,
)
#: Two assets count as in flight together only when their spans overlap by more than this
#: (the log's timestamps have millisecond resolution, the ``seconds`` field too).
OVERLAP_SLACK_S: Final = 0.005


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

    @property
    def asset_spans(self) -> list[AssetSpan]:
        """When each asset was published (from the log line's time and its ``seconds``), in
        the order the lines were logged."""
        spans = []
        for match in _TIMED_ASSET_LINE.finditer(self.log):
            line = json.loads(match.group("line"))
            ended = datetime.datetime.fromisoformat(match.group("at") + "+00:00").timestamp()
            spans.append(AssetSpan(str(line["asset"]), ended - float(line["seconds"]), ended))
        return spans


@dataclass(frozen=True)
class AssetSpan:
    """One asset's publish, from the handler's log: start and end, epoch seconds."""

    asset: str
    started: float
    ended: float


def peak_in_flight(spans: Sequence[AssetSpan]) -> int:
    """The most assets whose spans overlap (by more than :data:`OVERLAP_SLACK_S`) at once."""
    edges = sorted(
        [(s.started + OVERLAP_SLACK_S, 1) for s in spans] + [(s.ended, -1) for s in spans]
    )
    peak = current = 0
    for _at, step in edges:  # an end sorts before a start at the same instant
        current += step
        peak = max(peak, current)
    return peak


def final_last(spans: Sequence[AssetSpan], final: str) -> bool:
    """Whether ``final`` was published after every other asset had ended."""
    finals = [s for s in spans if s.asset == final]
    others = [s for s in spans if s.asset != final]
    return len(finals) == 1 and all(o.ended <= finals[0].started + OVERLAP_SLACK_S for o in others)


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
        cloudformation: tuple[str, StackDirectory],
        memory_mb: int = 1024,
    ) -> None:
        """``cloudformation``: a local ``DescribeStacks`` endpoint and the stacks it serves."""
        self.work_dir = work_dir
        self.responses = responses
        cloudformation_endpoint, self.stacks = cloudformation
        self.runner = LambdaRunner(
            work_dir=work_dir,
            region=REGION,
            account_id=ACCOUNT,
            s3_endpoint=s3_endpoint,
            codeartifact_endpoint=codeartifact_endpoint,
            cloudformation_endpoint=cloudformation_endpoint,
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

    def _begin_stack(self) -> str:
        """A new stack, creating now, and the resource's ``CREATE_IN_PROGRESS`` event (as
        CloudFormation records it before invoking the provider); the stack's id."""
        stack_id = make_stack_id(region=REGION, account_id=ACCOUNT, stack_name=STACK_NAME)
        now = format_timestamp(datetime.datetime.now(datetime.UTC))
        self.stacks.publish(
            StackState(
                stack_name=STACK_NAME,
                stack_id=stack_id,
                status="CREATE_IN_PROGRESS",
                creation_time=now,
            )
        )
        self._record(stack_id, "CREATE_IN_PROGRESS")
        return stack_id

    def _record(self, stack_id: str, status: str, physical_id: str = "") -> None:
        self.stacks.record(
            stack_id,
            STACK_NAME,
            LOGICAL_ID,
            contract.RESOURCE_TYPE,
            status,
            physical_id=physical_id,
        )

    def create(
        self,
        properties: Mapping[str, Any],
        *,
        services: Mapping[str, int] | None = None,
        on_start: Callable[[int], None] | None = None,
        memory_mb: int | None = None,
    ) -> HandlerRun:
        """Handle one Create event with ``properties`` in a fresh process; wait for it.
        ``memory_mb`` overrides the function's memory (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``,
        from which the handler sizes its parallelism; the stand-in enforces no limit)."""
        function = self.function
        if memory_mb is not None:
            function = dataclasses.replace(function, memory_mb=memory_mb)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="create-", dir=self.work_dir))
        stack_id = self._begin_stack()
        pending = self.responses.expect("Create")
        try:
            event = dict(
                make_event(
                    "Create",
                    response_url=pending.url,
                    stack_id=stack_id,
                    logical_resource_id=LOGICAL_ID,
                    resource_type=contract.RESOURCE_TYPE,
                    properties={"ServiceToken": function.arn, **properties},
                )
            )
            invocation = run_dir / "invocation.json"
            invocation.write_text(
                json.dumps(
                    {
                        "event": event,
                        "function_name": function.function_name,
                        "invoked_function_arn": function.arn,
                        "memory_limit_in_mb": function.memory_mb,
                        "aws_request_id": str(uuid.uuid4()),
                        "log_group_name": f"/aws/lambda/{function.function_name}",
                        "log_stream_name": f"local/{run_dir.name}",
                        "timeout_seconds": function.timeout_seconds,
                    }
                ),
                encoding="utf-8",
            )
            env = self.runner.environment(function, run_dir)  # creates run_dir/tmp
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
                cwd=function.code_dir,
                timeout_s=TIMEOUT_SECONDS + 60,
                watch_dir=Path(env["TMPDIR"]),
                services=services,
                on_start=on_start,
            )
            raw = pending.wait(timeout=10)
        finally:
            pending.close()
            self.stacks.remove(STACK_NAME)
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


def asset_entry(
    *, name: str, bucket: str, key: str, sha256: str | None, size: int | None
) -> dict[str, str]:
    """One entry of the Assets property (Sha256 and Size only when known)."""
    asset: dict[str, str] = {
        contract.AssetProp.NAME: name,
        contract.AssetProp.BUCKET: bucket,
        contract.AssetProp.KEY: key,
    }
    if sha256 is not None:
        asset[contract.AssetProp.SHA256] = sha256
    if size is not None:
        asset[contract.AssetProp.SIZE] = str(size)
    return asset


def version_properties(
    *,
    domain: str,
    repository: str,
    namespace: str,
    package: str,
    version: str,
    assets: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    """ResourceProperties of a Published version with ``assets`` (the last is the final one)."""
    return {
        contract.Prop.DOMAIN: domain,
        contract.Prop.DOMAIN_OWNER: ACCOUNT,
        contract.Prop.REPOSITORY: repository,
        contract.Prop.NAMESPACE: namespace,
        contract.Prop.PACKAGE: package,
        contract.Prop.VERSION: version,
        contract.Prop.STATUS: contract.Status.PUBLISHED,
        contract.Prop.ASSETS: [dict(a) for a in assets],
    }


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
    """ResourceProperties as the construct renders them for a version of one asset."""
    return version_properties(
        domain=domain,
        repository=repository,
        namespace=namespace,
        package=package,
        version=version,
        assets=[asset_entry(name=asset_name, bucket=bucket, key=key, sha256=sha256, size=size)],
    )
