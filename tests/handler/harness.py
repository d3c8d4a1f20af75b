"""Run the real bundled handler as Lambda would, with real CloudFormation events.

The handler runs in a subprocess from a bundle written by the library's own bundler; its
response goes over HTTPS to a local server at the event's ``ResponseURL``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from codeartifact_generic.handler import contract

from codeartifact_generic.bundling import HANDLER, write_bundle
from codeartifact_generic.testing._local_deploy.cloudformation_api import (
    CloudFormationEndpoint,
    StackDirectory,
    format_timestamp,
)
from codeartifact_generic.testing._local_deploy.events import make_event, make_stack_id
from codeartifact_generic.testing._local_deploy.lambda_runner import (
    Invocation,
    LambdaFunction,
    LambdaRunner,
)
from codeartifact_generic.testing._local_deploy.response_server import (
    CustomResourceResponse,
    ResponseServer,
    ResponseViolation,
    check_response,
)
from codeartifact_generic.testing._local_deploy.state import StackState

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "HandlerTest"


@dataclass
class Outcome:
    """What CloudFormation received, and how the handler process ended."""

    response: CustomResourceResponse | None
    invocation: Invocation
    raw: bytes | None

    @property
    def log(self) -> str:
        """Everything the handler printed."""
        return self.invocation.log_path.read_text()


#: The logical id of the custom resource the harness plays.
LOGICAL_ID = "Version"


class CustomResourceHarness:
    """Sends Create/Update/Delete events to the bundled handler and collects the responses."""

    def __init__(
        self,
        work_dir: Path,
        s3_endpoint: str,
        codeartifact_endpoint: str,
        responses: ResponseServer,
        *,
        cloudformation: tuple[str, StackDirectory] | None = None,
    ):
        """``cloudformation``: a local ``DescribeStacks`` endpoint and the stacks it serves
        (see :meth:`begin_stack_operation`); without it the handler cannot describe its stack.
        """
        self.bundle = work_dir / "bundle"
        write_bundle(self.bundle)
        self.responses = responses
        endpoint, self.stacks = cloudformation or (None, None)
        self._stack: StackState | None = None
        self.runner = LambdaRunner(
            work_dir=work_dir / "runs",
            region=REGION,
            account_id=ACCOUNT,
            s3_endpoint=s3_endpoint,
            codeartifact_endpoint=codeartifact_endpoint,
            cloudformation_endpoint=endpoint,
            ca_files=(responses.ca_file,),
        )
        self.function = LambdaFunction(
            function_name="handler",
            handler=HANDLER,
            code_dir=self.bundle,
            timeout_seconds=60,
            memory_mb=1024,
            arn=self.runner.function_arn("handler"),
        )
        self.stack_id = make_stack_id(region=REGION, account_id=ACCOUNT, stack_name=STACK_NAME)

    def begin_stack_operation(self, status: str = "CREATE_IN_PROGRESS") -> None:
        """The handler's stack starts an operation now: ``DescribeStacks`` says ``status``,
        created now (``CREATE_*``) or last updated now (otherwise)."""
        now = format_timestamp(datetime.now(UTC))
        creating = status.startswith("CREATE_")
        self._publish_stack(
            StackState(
                stack_name=STACK_NAME,
                stack_id=self.stack_id,
                status=status,
                creation_time=now if creating else "2020-01-01T00:00:00.000Z",
                last_updated_time="" if creating else now,
            )
        )

    def continue_stack_operation(self, status: str) -> None:
        """The operation goes on in another phase (a rollback): the status changes, its start
        time does not."""
        if self._stack is None:
            raise RuntimeError("no stack operation was begun")
        self._publish_stack(dataclasses.replace(self._stack, status=status))

    @contextmanager
    def stack_operation(self, status: str = "CREATE_IN_PROGRESS") -> Iterator[None]:
        """:meth:`begin_stack_operation`, and forget the stack afterwards (the harness is
        shared: the next test must not see this one's rollback)."""
        self.begin_stack_operation(status)
        try:
            yield
        finally:
            self.end_stack_operation()

    def end_stack_operation(self) -> None:
        """Forget the stack; the next operation is on a new stack (no events of this one)."""
        if self.stacks is not None:
            self.stacks.remove(STACK_NAME)
        self._stack = None
        self.stack_id = make_stack_id(region=REGION, account_id=ACCOUNT, stack_name=STACK_NAME)

    def _publish_stack(self, stack: StackState) -> None:
        if self.stacks is None:
            raise RuntimeError("the harness has no CloudFormation endpoint")
        self._stack = stack
        self.stacks.publish(stack)

    def send(
        self,
        request_type: str,
        properties: dict[str, Any],
        *,
        old_properties: dict[str, Any] | None = None,
        physical_id: str | None = None,
        request_id: str | None = None,
        raw_event: dict[str, Any] | None = None,
        timeout_seconds: float | None = None,
        redelivery: bool = False,
    ) -> Outcome:
        """Deliver one event and wait (bounded) for the handler's response.

        Like CloudFormation, the harness records a Create's ``CREATE_IN_PROGRESS`` event first
        (when a stack operation is under way), unless the Create is a ``redelivery`` of the
        previous one.
        """
        action = request_type.upper()
        recording = not redelivery and self._stack is not None
        if recording:
            self._record(f"{action}_IN_PROGRESS", physical_id or "")
        pending = self.responses.expect(request_type)
        try:
            event: dict[str, Any] = dict(
                make_event(
                    request_type,  # type: ignore[arg-type]
                    response_url=pending.url,
                    stack_id=self.stack_id,
                    logical_resource_id=LOGICAL_ID,
                    resource_type=contract.RESOURCE_TYPE,
                    properties={"ServiceToken": self.function.arn, **properties},
                    old_properties=(
                        {"ServiceToken": self.function.arn, **old_properties}
                        if old_properties is not None
                        else None
                    ),
                    physical_resource_id=physical_id,
                    request_id=request_id,
                )
            )
            event.update(raw_event or {})
            function = self.function
            if timeout_seconds is not None:
                function = LambdaFunction(
                    **{**function.__dict__, "timeout_seconds": timeout_seconds}
                )
            invocation = self.runner.invoke(function, event, done=lambda: pending.received)
            raw = pending.wait(timeout=5)
        finally:
            pending.close()
        try:
            response = check_response(event, raw) if raw is not None else None
        except ResponseViolation:
            response = None  # the raw body is still there for the test to inspect
        if recording:
            ended = "COMPLETE" if response is not None and response.succeeded else "FAILED"
            answered = response.physical_resource_id if response is not None else ""
            self._record(f"{action}_{ended}", answered)
        return Outcome(response, invocation, raw)

    def _record(self, status: str, physical_id: str) -> None:
        """The resource's event, as CloudFormation records it around each request."""
        assert self.stacks is not None
        self.stacks.record(
            self.stack_id,
            STACK_NAME,
            LOGICAL_ID,
            contract.RESOURCE_TYPE,
            status,
            physical_id=physical_id,
        )


@contextmanager
def serving_harness(
    work_dir: Path, s3_endpoint: str, codeartifact_endpoint: str
) -> Iterator[CustomResourceHarness]:
    """A harness with a response server and a ``DescribeStacks`` endpoint of its own (which
    knows no stack until a test begins a stack operation), both stopped afterwards."""
    stacks = StackDirectory()
    with ResponseServer() as responses, CloudFormationEndpoint(stacks) as cloudformation:
        yield CustomResourceHarness(
            work_dir,
            s3_endpoint,
            codeartifact_endpoint,
            responses,
            cloudformation=(cloudformation.url, stacks),
        )


def properties(
    *,
    domain: str,
    repository: str,
    assets: list[dict[str, str]],
    version: str = "1.0.0",
    **extra: str,
) -> dict[str, Any]:
    """ResourceProperties as the construct renders them."""
    return {
        contract.Prop.DOMAIN: domain,
        contract.Prop.DOMAIN_OWNER: ACCOUNT,
        contract.Prop.REPOSITORY: repository,
        contract.Prop.NAMESPACE: "tools",
        contract.Prop.PACKAGE: "mycli",
        contract.Prop.VERSION: version,
        contract.Prop.STATUS: "Published",
        contract.Prop.ASSETS: assets,
        **extra,
    }


class InRepository(Protocol):
    """Names a domain and a repository (a test's ``Repo``)."""

    @property
    def domain(self) -> str: ...
    @property
    def repository(self) -> str: ...


def repo_properties(
    repo: InRepository, assets: list[dict[str, str]], **extra: str
) -> dict[str, Any]:
    """:func:`properties` of tools/mycli in ``repo``'s domain and repository."""
    return properties(domain=repo.domain, repository=repo.repository, assets=assets, **extra)


def asset_entry(bucket: str, name: str, declared: bytes | None = None) -> dict[str, str]:
    """An ``Assets`` entry for the object ``k/<name>``, with the SHA256 and size of
    ``declared`` when given (as synth knows them for a local file)."""
    entry = {"Name": name, "Bucket": bucket, "Key": f"k/{name}"}
    if declared is not None:
        entry |= {"Sha256": hashlib.sha256(declared).hexdigest(), "Size": str(len(declared))}
    return entry


def dump(outcome: Outcome) -> str:
    """For assertion messages."""
    return json.dumps({"raw": (outcome.raw or b"").decode(), "error": outcome.invocation.error})
