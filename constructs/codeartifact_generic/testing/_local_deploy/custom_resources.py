"""Lambda-backed custom resources (``Custom::*``, ``AWS::CloudFormation::CustomResource``).

For every Create/Update/Delete the provider builds a real request event with a fresh
``ResponseURL`` on the local HTTPS response server, runs the function behind ``ServiceToken``
(a Lambda function deployed earlier, found by its ARN) through the
:class:`~.lambda_runner.LambdaRunner`, and waits for the response:

* ``SUCCESS`` → the ``PhysicalResourceId`` and ``Data`` (``Fn::GetAtt`` reads its keys);
* ``FAILED`` → the resource fails with the response's ``Reason``;
* a response that breaks the contract → the resource fails as CloudFormation would;
* no response → like CloudFormation after ``ServiceTimeout``, but without the wait: when the
  function errored (exception, timeout), Lambda's asynchronous retries are replayed first
  (same event, ``lambda_retries`` times), then the resource fails;
* no response, but crhelper is polling for the request (an EventBridge rule's target carries
  the event, see :mod:`.scheduled_rules`, or a scheduled invocation of it still runs) → the
  wait goes on, as CloudFormation's does, until the response arrives or ``ServiceTimeout``
  passes; then the resource fails with CloudFormation's timeout reason ("CloudFormation did not
  receive a response from your Custom Resource. Please check your logs for requestId [...]").
"""

from __future__ import annotations

import re
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, ClassVar, Final

from .events import CustomResourceEvent, RequestType, make_event
from .lambda_runner import Invocation
from .providers import (
    ProviderContext,
    ProviderError,
    ProvisionResult,
    ResourceProvider,
    ResourceRequest,
    lambda_function_from_state,
)
from .response_server import (
    CustomResourceResponse,
    PendingResponse,
    ResponseViolation,
    check_response,
)
from .state import ResourceState

__all__ = ["CustomResourceProvider", "function_name_from_service_token", "is_custom_resource"]

_LAMBDA_ARN: Final = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$")
#: CloudFormation's default for ``ServiceTimeout``.
DEFAULT_SERVICE_TIMEOUT: Final = 3600


def is_custom_resource(resource_type: str) -> bool:
    """``Custom::*`` or ``AWS::CloudFormation::CustomResource``."""
    return (
        resource_type.startswith("Custom::")
        or resource_type == "AWS::CloudFormation::CustomResource"
    )


def function_name_from_service_token(service_token: str) -> str:
    """The function name in a Lambda ARN; SNS topics and other targets are refused."""
    match = _LAMBDA_ARN.match(service_token)
    if match:
        return match.group(1)
    if service_token.startswith("arn:") and ":sns:" in service_token:
        raise ProviderError(
            "SNS-backed custom resources cannot run locally (ServiceToken is an SNS topic)"
        )
    raise ProviderError(f"Invalid service token {service_token!r}: not a Lambda function ARN")


def _tail(path: Path, lines: int = 12) -> list[str]:
    try:
        with path.open(encoding="utf-8", errors="replace") as log:
            return list(deque((line.rstrip("\n") for line in log), maxlen=lines))
    except OSError:
        return []


class CustomResourceProvider(ResourceProvider):
    """Runs the custom resource protocol against the function behind ``ServiceToken``."""

    rolls_back_by_update: ClassVar[bool] = True
    long_running: ClassVar[bool] = True
    failed_create_leaves_resource: ClassVar[bool] = True

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """Send Create."""
        response = self._call(
            ctx,
            "Create",
            request.stack_name,
            request.stack_id,
            request.logical_id,
            request.resource_type,
            request.properties,
        )
        return ProvisionResult(
            response.physical_resource_id, dict(response.data), {"no_echo": response.no_echo}
        )

    def update(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """Send Update with ``OldResourceProperties``; a new physical id means replacement."""
        if current.properties.get("ServiceToken") != request.properties.get("ServiceToken"):
            # CloudFormation refuses to change the provider of a custom resource.
            raise ProviderError("Modifying service token is not allowed.")
        response = self._call(
            ctx,
            "Update",
            request.stack_name,
            request.stack_id,
            request.logical_id,
            request.resource_type,
            request.properties,
            old_properties=current.properties,
            physical_id=current.physical_id,
        )
        return ProvisionResult(
            response.physical_resource_id, dict(response.data), {"no_echo": response.no_echo}
        )

    def delete(
        self, ctx: ProviderContext, resource: ResourceState, stack_name: str, stack_id: str
    ) -> None:
        """Send Delete for ``resource.physical_id``."""
        self._call(
            ctx,
            "Delete",
            stack_name,
            stack_id,
            resource.logical_id,
            resource.type,
            resource.properties,
            physical_id=resource.physical_id,
        )

    # ``get_att`` (the base's) reads a key of the response ``Data``, kept as the attributes.

    def _no_attribute(self, resource: ResourceState, attribute: str) -> str:
        """The response ``Data`` has no such key."""
        return (
            f"CustomResource attribute error: Vendor response doesn't contain {attribute} key "
            f"in object {resource.logical_id} (physical id {resource.physical_id})"
        )

    # ------------------------------------------------------------------ protocol

    def _call(
        self,
        ctx: ProviderContext,
        request_type: RequestType,
        stack_name: str,
        stack_id: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        *,
        old_properties: dict[str, Any] | None = None,
        physical_id: str | None = None,
    ) -> CustomResourceResponse:
        token = properties.get("ServiceToken")
        if not token:
            raise ProviderError(
                "Properties validation failed: required key [ServiceToken] not found"
            )
        function_name = function_name_from_service_token(str(token))
        record = ctx.find_function(function_name)
        if record is None:
            raise ProviderError(
                f"Received response status [FAILED] from custom resource. Message returned: "
                f"Function not found: {token}"
            )
        function = lambda_function_from_state(record)
        service_timeout = _service_timeout(properties)
        server = ctx.response_server()
        runner = ctx.lambda_runner()
        pending = server.expect(logical_id)
        try:
            event: CustomResourceEvent = make_event(
                request_type,
                response_url=pending.url,
                stack_id=stack_id,
                logical_resource_id=logical_id,
                resource_type=resource_type,
                properties=properties,
                old_properties=old_properties,
                physical_resource_id=physical_id,
            )
            stamp = time.strftime("%Y%m%dT%H%M%S")
            log_path = (
                ctx.log_dir
                / stack_name
                / logical_id
                / f"{stamp}-{request_type}-{event['RequestId'][:8]}.log"
            )
            started = time.monotonic()
            invocation: Invocation | None = None

            def done() -> bool:
                return pending.received or time.monotonic() - started > service_timeout

            for attempt in range(ctx.lambda_retries + 1):
                if attempt:
                    ctx.reporter.warn(
                        f"{stack_name}/{logical_id}: the function failed without responding "
                        f"({invocation.error if invocation else '?'}); Lambda retry "
                        f"{attempt}/{ctx.lambda_retries} of the asynchronous invocation"
                    )
                invocation = runner.invoke(
                    function,
                    event,
                    log_path=log_path,
                    done=done,
                    grace_seconds=0.5,
                    request_id=str(uuid.uuid4()),
                )
                if pending.received or pending.wait(0.2) is not None:
                    break
                if time.monotonic() - started > service_timeout or invocation.error is None:
                    break
            polled = False
            if not pending.received and invocation is not None and invocation.error is None:
                # crhelper's polling: the scheduled invocations answer, CloudFormation waits.
                polled = _wait_while_polled(
                    ctx, pending, event["RequestId"], started + service_timeout
                )
            body = pending.body
        finally:
            pending.close()
        if body is None and polled and time.monotonic() - started >= service_timeout:
            raise ProviderError(
                "CloudFormation did not receive a response from your Custom Resource. Please "
                f"check your logs for requestId [{event['RequestId']}]. If you are using the "
                "Python cfn-response module, you may need to update your Lambda function code "
                "so that CloudFormation can attach the updated version. "
                f"(ServiceTimeout={service_timeout:.0f}s passed while the function was polling; "
                f"logs: {log_path.parent})"
            )
        if body is None:
            raise ProviderError(self._no_response_reason(invocation, service_timeout, log_path))
        try:
            response = check_response(event, body)
        except ResponseViolation as exc:
            raise ProviderError(str(exc)) from None
        if not response.succeeded:
            reason = response.reason or f"See the details in the function log: {log_path}"
            raise ProviderError(
                "Received response status [FAILED] from custom resource. Message returned: "
                + reason,
                physical_id=response.physical_resource_id,
            )
        return response

    @staticmethod
    def _no_response_reason(
        invocation: Invocation | None, service_timeout: float, log_path: Path
    ) -> str:
        what = "the function returned without sending a response"
        if invocation is not None and invocation.error:
            what = f"the function failed: {invocation.error}"
        tail = " | ".join(_tail(log_path, 3))
        return (
            "CloudFormation did not receive a response from your Custom Resource "
            f"({what}; CloudFormation would wait up to ServiceTimeout={service_timeout:.0f}s). "
            f"Log: {log_path}" + (f" … {tail}" if tail else "")
        )


def _wait_while_polled(
    ctx: ProviderContext, pending: PendingResponse, request_id: str, deadline: float
) -> bool:
    """Wait for the response while crhelper polls for ``request_id`` (monotonic ``deadline``);
    whether it was polling at all."""
    polled = False
    while not pending.received and ctx.polling_for(request_id):
        polled = True
        left = deadline - time.monotonic()
        if left <= 0:
            break
        pending.wait(min(0.2, left))
    return polled


def _service_timeout(properties: dict[str, Any]) -> float:
    raw = properties.get("ServiceTimeout")
    if raw is None:
        return float(DEFAULT_SERVICE_TIMEOUT)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ProviderError(f"ServiceTimeout must be a number of seconds, got {raw!r}") from None
    if not 1 <= value <= DEFAULT_SERVICE_TIMEOUT:
        raise ProviderError("ServiceTimeout must be between 1 and 3600 seconds")
    return value
