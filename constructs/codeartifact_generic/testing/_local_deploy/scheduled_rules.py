"""Scheduled EventBridge rules and Lambda resource policies: what crhelper's polling needs.

A crhelper handler with ``@helper.poll_create``/``poll_update`` does not answer CloudFormation
in its first invocation. It creates an EventBridge rule (``PutRule`` with
``ScheduleExpression="rate(N minutes)"``), lets EventBridge invoke the function
(Lambda ``AddPermission``, principal ``events.amazonaws.com``, ``SourceArn`` = the rule) and
makes the function the rule's target with the request event as ``Input`` (``PutTargets``).
Each scheduled invocation runs the poll function; once it returns an id, crhelper calls
``RemoveTargets``, ``RemovePermission``, ``DeleteRule`` and answers the ResponseURL.
(crhelper ``resource_helper.py``: ``_setup_polling``, ``_remove_polling``.)

This module emulates exactly that much:

* :class:`RuleStore`: the rules of the default event bus (name → ARN
  ``arn:<partition>:events:<region>:<account>:rule/<name>``, schedule, state, targets by
  ``Id``) and each function's resource policy (statements by ``StatementId``).
* :class:`ScheduledRulesEndpoint`: one local HTTP endpoint answering both APIs the way
  botocore's service models expect them (``events/2015-10-07`` and ``lambda/2015-03-31``
  ``service-2.json``); the engine gives it to handlers as ``AWS_ENDPOINT_URL_EVENTBRIDGE``
  and ``AWS_ENDPOINT_URL_LAMBDA``. (botocore names the variable after the *service id*:
  the ``events`` client is ``eventbridge``, see
  ``CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES`` in ``botocore/utils.py``;
  ``AWS_ENDPOINT_URL_EVENTS`` is not read.)

  - EventBridge, JSON 1.1 protocol (``POST /`` with ``X-Amz-Target: AWSEvents.<Operation>``):
    ``PutRule`` → ``{"RuleArn"}``; ``PutTargets``/``RemoveTargets`` →
    ``{"FailedEntryCount", "FailedEntries"}``; ``DeleteRule`` → ``{}``;
    ``ListTargetsByRule`` → ``{"Targets"}`` (one page: a rule has at most 5). Errors: HTTP 400
    with ``{"__type": code, "message": text}``.
  - Lambda, REST-JSON: ``AddPermission`` (``POST /2015-03-31/functions/{FunctionName}/policy``
    → 201 ``{"Statement": "<statement JSON>"}``), ``RemovePermission``
    (``DELETE /2015-03-31/functions/{FunctionName}/policy/{StatementId}`` → 204). Errors carry
    ``x-amzn-ErrorType`` and a ``{"Type": "User", "message"|"Message": text}`` body, with the
    HTTP status the model gives the error shape (409 ``ResourceConflictException``, 404
    ``ResourceNotFoundException``, 400 otherwise).
  - Any other operation: HTTP 400 ``UnknownOperationException``.

* :class:`RuleScheduler`: a thread that fires the enabled rate rules and invokes their Lambda
  targets, asynchronously, through a callback (the engine's ``LambdaRunner``).

Behaviour, with its source:

* ``PutRule`` creates or replaces a rule; rules are ``ENABLED`` by default; a rule needs an
  ``EventPattern`` or a ``ScheduleExpression`` (``PutRule`` in the EventBridge API reference;
  the error text is the service's, as moto reproduces it). The targets of a replaced rule stay.
* Rate expressions (EventBridge user guide, "Rate expressions reference",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html):
  ``rate(value unit)``, value a positive number, unit ``minute | minutes | hour | hours |
  day | days``, singular exactly when the value is 1 (``rate(1 hours)`` and ``rate(5 hour)``
  are not valid); "A rate expression starts when you create the scheduled event rule, and then
  it runs on a defined schedule": the first run is one period after ``PutRule``, then one every
  period. Other expressions get ``ValidationException`` "Parameter ScheduleExpression is not
  valid." (what EventBridge answers to an invalid one; a valid ``cron(...)`` expression is
  refused too, with a note that cron is not emulated). A rule whose expression changes, or
  that is enabled again, starts over from that ``PutRule``.
* ``PutTargets`` on an unknown rule: ``ResourceNotFoundException`` "Rule <name> does not exist
  on EventBus default."; a target with the same ``Id`` is replaced (API reference: "Adds the
  specified targets to the specified rule, or updates the targets if they are already
  associated with the rule"); at most 5 targets a rule (API reference note) — a target beyond
  that is a failed entry (``LimitExceededException``). ``RemoveTargets`` of an unknown ``Id``
  does nothing.
* ``ListTargetsByRule`` of an unknown rule: ``ResourceNotFoundException`` "Rule <name> does
  not exist on EventBus default." (as ``PutTargets``); the targets as they were put.
* ``DeleteRule``: "Before you can delete the rule, you must remove all targets, using
  RemoveTargets" (``DeleteRule`` in the API reference,
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DeleteRule.html); the service
  answers ``ValidationException`` "Rule can't be deleted since it has targets." (the text
  EventBridge returns, as reported in getmoto/moto#5056 from a live account). "If you call
  delete rule multiple times for the same rule, all calls will succeed": deleting an absent
  rule succeeds.
* Member constraints of the models (``RuleName``/``TargetId`` 1–64 characters of
  ``[.\\-_A-Za-z0-9]``, ``TargetInput`` at most 8192 characters, ``ScheduleExpression`` at
  most 256, Lambda ``StatementId`` ``[a-zA-Z0-9-_]`` 1–100) are checked as the services do,
  with ``ValidationException`` "1 validation error detected: Value '…' at '…' failed to
  satisfy constraint: …".
* ``AddPermission`` builds the statement Lambda stores (``Sid``, ``Effect: Allow``,
  ``Principal: {"Service": …}`` for a service principal, ``Action``, ``Resource`` the function
  ARN, ``Condition: {"ArnLike": {"AWS:SourceArn": …}}`` and
  ``{"StringEquals": {"AWS:SourceAccount": …}}``; Lambda developer guide, "Using
  resource-based policies"). A statement id in use: 409 ``ResourceConflictException`` "The
  statement id (<sid>) provided already exists. Please provide a new statement id, or remove
  the existing statement."; an unknown function: 404 ``ResourceNotFoundException``
  "Function not found: <arn>". ``RemovePermission`` of an absent statement: 404
  ``ResourceNotFoundException``.
* EventBridge invokes a Lambda target only if the function's resource policy lets it: a
  statement allowing ``lambda:InvokeFunction`` (or ``lambda:*``, ``*``) to
  ``events.amazonaws.com`` (or ``*``) whose ``AWS:SourceArn`` condition matches the rule ARN
  (``ArnLike``: ``*`` and ``?`` wildcards) and whose ``AWS:SourceAccount``, if any, is the
  account (EventBridge user guide, "Using resource-based policies for Amazon EventBridge":
  Lambda targets rely on the function's resource-based policy). Without it the invocation
  fails: the scheduler records it (:attr:`RuleScheduler.deliveries`), logs a warning and does
  not invoke.
* The target's ``Input`` is the event; a target without ``Input`` gets the scheduled event
  (``"detail-type": "Scheduled Event"``, ``"source": "aws.events"``, the rule ARN in
  ``resources``; user guide, "Creating a scheduled rule").

Departures (local emulation only):

* Time compression: ``minute_seconds`` is how long a minute of the schedule lasts
  (60.0 = real time; tests use e.g. 1.0). Nothing else is scaled: the function runs as long
  as it runs.
* One invocation at a time per target: EventBridge invokes Lambda asynchronously every period,
  whether or not the previous invocation still runs, so AWS would invoke again. Here a rule
  does not fire at a target whose previous invocation still runs (that period is skipped).
  With time compressed, overlaps would be artifacts of the compression, and one at a time keeps
  the emulation deterministic.
* Lambda's asynchronous queue "is eventually consistent": a function may "receive the same
  event from Lambda multiple times" even without an error (Lambda developer guide, "How Lambda
  handles errors and retries with asynchronous invocation",
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). The
  scheduler delivers each firing once; :meth:`RuleScheduler.deliver_again` lets a test force
  a duplicate, at the moment it chooses (after the answer, or beside the first delivery).
* Only ``rate(...)`` schedules fire; event patterns are stored but no event ever matches; the
  default event bus only; ``InputPath``/``InputTransformer`` are stored, not applied (the event
  is the scheduled event); targets other than Lambda functions are recorded as not delivered;
  failed invocations are neither retried by EventBridge nor by Lambda's asynchronous retries.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, ClassVar, Final
from urllib.parse import unquote

from .._serving import ApiError, EntryPointHandler, LocalEndpoint, LocalHTTPServer, Managed

__all__ = [
    "DEFAULT_MINUTE_SECONDS",
    "ApiError",
    "Delivery",
    "Firing",
    "RuleScheduler",
    "RuleStore",
    "ScheduledRulesEndpoint",
    "parse_rate",
]

_log = logging.getLogger(__name__)

#: Real time: a minute of the schedule lasts 60 seconds.
DEFAULT_MINUTE_SECONDS: Final = 60.0
EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
_EVENTS_TARGET_PREFIX: Final = "AWSEvents."  # ``metadata.targetPrefix`` of the events model
_JSON_11: Final = "application/x-amz-json-1.1"
_LAMBDA_POLICY: Final = re.compile(r"^/2015-03-31/functions/([^/]+)/policy(?:/([^/]+))?/?$")
_RATE: Final = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_MINUTES: Final = {"minute": 1, "hour": 60, "day": 24 * 60}
#: "Each rule can have up to five (5) targets associated with it at one time." (PutTargets)
MAX_TARGETS: Final = 5
_MAX_BODY: Final = 1024 * 1024
_LAMBDA_TARGET: Final = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$")
#: ``FunctionName`` as a name, a partial ARN or an ARN (with an optional qualifier).
_FUNCTION_NAME: Final = re.compile(
    r"^(?:arn:[^:]+:lambda:[^:]*:)?(?:\d{12}:)?(?:function:)?([a-zA-Z0-9\-_.]+)(?::[^:]+)?$"
)


def _constraint(value: str, path: str, *, low: int, high: int, pattern: str | None) -> None:
    """A model member constraint, refused the way AWS's request validation words it."""
    problem = None
    if len(value) > high:
        problem = f"Member must have length less than or equal to {high}"
    elif len(value) < low:
        problem = f"Member must have length greater than or equal to {low}"
    elif pattern is not None and re.fullmatch(pattern, value) is None:
        problem = f"Member must satisfy regular expression pattern: {pattern}"
    if problem is not None:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
            f"constraint: {problem}",
        )


def _rule_name(value: Any, path: str) -> str:
    # ``RuleName`` and ``TargetId``: min 1, max 64, pattern ``[\.\-_A-Za-z0-9]+``.
    if not isinstance(value, str):
        raise ApiError("ValidationException", f"Parameter {path} must be a string.")
    _constraint(value, path, low=1, high=64, pattern=r"[\.\-_A-Za-z0-9]+")
    return value


def parse_rate(expression: str) -> int:
    """Minutes between runs of ``rate(value unit)``; :class:`ApiError` if it is not valid."""
    match = _RATE.match(expression)
    if match is None:
        detail = (
            " (cron expressions are valid in EventBridge but not emulated locally)"
            if expression.startswith("cron(")
            else ""
        )
        raise ApiError("ValidationException", "Parameter ScheduleExpression is not valid." + detail)
    value, unit = int(match.group(1)), match.group(2)
    singular = unit in _UNIT_MINUTES
    if value < 1 or (value == 1) != singular:
        raise ApiError("ValidationException", "Parameter ScheduleExpression is not valid.")
    return value * _UNIT_MINUTES[unit.rstrip("s")]


def function_name(name_or_arn: str) -> str:
    """The bare function name in a ``FunctionName`` (name, partial ARN or ARN)."""
    match = _FUNCTION_NAME.match(name_or_arn)
    return match.group(1) if match else name_or_arn


@dataclass
class Rule:
    """One rule of the default event bus."""

    name: str
    arn: str
    schedule_expression: str | None
    period_minutes: int | None
    event_pattern: str | None
    state: str
    description: str | None
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: When it runs next (``clock`` seconds), for an enabled rate rule.
    next_run: float | None = None

    @property
    def enabled(self) -> bool:
        """``ENABLED`` (or enabled with CloudTrail management events)."""
        return self.state != "DISABLED"


@dataclass(frozen=True)
class Firing:
    """A rule ran: one target to invoke with ``event``."""

    rule_name: str
    rule_arn: str
    target_id: str
    target_arn: str
    event: Any
    #: How many times this rule has run (1 for the first run).
    run: int

    @property
    def function_name(self) -> str | None:
        """The function a Lambda target names (``None`` for other targets)."""
        match = _LAMBDA_TARGET.match(self.target_arn)
        return match.group(1) if match else None

    @property
    def request_id(self) -> str | None:
        """The ``RequestId`` of a custom resource event in the input (crhelper's polling)."""
        return self.event.get("RequestId") if isinstance(self.event, dict) else None


@dataclass(frozen=True)
class Delivery:
    """What became of one firing: ``invoked``, or why not (``reason``)."""

    firing: Firing
    invoked: bool
    reason: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class RuleStore:
    """Rules and function policies, shared by the endpoint and the scheduler (thread-safe).

    Args:
        account_id: the account of rule and function ARNs.
        region: the region of rule and function ARNs.
        partition: the partition of the ARNs.
        minute_seconds: how long a minute of the schedules lasts (time compression).
        function_exists: whether a function (bare name) is deployed; ``AddPermission`` for
            another one is ``ResourceNotFoundException`` (default: every function exists).
        clock: seconds, monotonic (tests may replace it).
    """

    def __init__(
        self,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        partition: str = "aws",
        *,
        minute_seconds: float = DEFAULT_MINUTE_SECONDS,
        function_exists: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if minute_seconds <= 0:
            raise ValueError("minute_seconds must be positive")
        self.account_id = account_id
        self.region = region
        self.partition = partition
        self.minute_seconds = minute_seconds
        self._function_exists = function_exists
        self._clock = clock
        self._lock = threading.Lock()
        self._rules: dict[str, Rule] = {}
        self._runs: dict[str, int] = {}
        #: function name → statement id → statement (as Lambda stores it).
        self._policies: dict[str, dict[str, dict[str, Any]]] = {}

    # ------------------------------------------------------------------ ARNs

    def rule_arn(self, name: str) -> str:
        """``arn:<partition>:events:<region>:<account>:rule/<name>``."""
        return f"arn:{self.partition}:events:{self.region}:{self.account_id}:rule/{name}"

    def function_arn(self, name: str) -> str:
        """``arn:<partition>:lambda:<region>:<account>:function:<name>``."""
        return f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{name}"

    # ------------------------------------------------------------------ EventBridge

    def put_rule(
        self,
        name: str,
        *,
        schedule_expression: str | None = None,
        event_pattern: str | None = None,
        state: str | None = None,
        description: str | None = None,
    ) -> str:
        """Create or replace a rule; returns its ARN."""
        _rule_name(name, "name")
        if not schedule_expression and not event_pattern:
            raise ApiError(
                "ValidationException",
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            )
        period = None
        if schedule_expression:
            _constraint(schedule_expression, "scheduleExpression", low=0, high=256, pattern=None)
            period = parse_rate(schedule_expression)
        state = state or "ENABLED"
        if state not in ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"):
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value '{state}' at 'state' failed to satisfy "
                "constraint: Member must satisfy enum value set: "
                "[ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]",
            )
        with self._lock:
            previous = self._rules.get(name)
            rule = Rule(
                name=name,
                arn=self.rule_arn(name),
                schedule_expression=schedule_expression or None,
                period_minutes=period,
                event_pattern=event_pattern,
                state=state,
                description=description,
                targets=previous.targets if previous is not None else {},
            )
            if rule.enabled and period is not None:
                unchanged = (
                    previous is not None
                    and previous.enabled
                    and previous.schedule_expression == rule.schedule_expression
                )
                rule.next_run = (
                    previous.next_run
                    if unchanged and previous is not None
                    else self._clock() + period * self.minute_seconds
                )
            if previous is None:
                self._runs[name] = 0
            self._rules[name] = rule
            return rule.arn

    def put_targets(self, rule_name: str, targets: Iterable[Mapping[str, Any]]) -> list[Any]:
        """Add or replace targets; returns the failed entries."""
        checked: list[dict[str, Any]] = []
        for index, target in enumerate(targets, start=1):
            where = f"targets.{index}.member"
            _rule_name(target.get("Id"), f"{where}.id")
            arn = target.get("Arn")
            if not isinstance(arn, str) or not arn:
                raise ApiError("ValidationException", f"Parameter {where}.arn must be specified.")
            given = target.get("Input")
            if given is not None:
                _constraint(str(given), f"{where}.input", low=0, high=8192, pattern=None)
                try:
                    json.loads(str(given))
                except ValueError:
                    raise ApiError(
                        "ValidationException",
                        f"Parameter Input is not valid for target {target['Id']}: "
                        "the input must be valid JSON text.",
                    ) from None
            checked.append(dict(target))
        failed: list[Any] = []
        with self._lock:
            rule = self._existing_rule(rule_name)
            for target in checked:
                target_id = target["Id"]
                if target_id not in rule.targets and len(rule.targets) >= MAX_TARGETS:
                    failed.append(
                        {
                            "TargetId": target_id,
                            "ErrorCode": "LimitExceededException",
                            "ErrorMessage": "The requested resource exceeds the maximum "
                            "number allowed.",
                        }
                    )
                    continue
                rule.targets[target_id] = target
        return failed

    def remove_targets(self, rule_name: str, ids: Iterable[str]) -> list[Any]:
        """Remove targets by ``Id`` (unknown ids are ignored); returns the failed entries."""
        with self._lock:
            rule = self._existing_rule(rule_name)
            for target_id in ids:
                rule.targets.pop(target_id, None)
        return []

    def list_targets(self, rule_name: str) -> list[dict[str, Any]]:
        """The targets of a rule, as they were put (copies)."""
        with self._lock:
            rule = self._existing_rule(rule_name)
            return [dict(target) for target in rule.targets.values()]

    def delete_rule(self, name: str) -> None:
        """Delete a rule without targets (an absent rule is fine)."""
        with self._lock:
            rule = self._rules.get(name)
            if rule is None:
                return
            if rule.targets:
                raise ApiError("ValidationException", "Rule can't be deleted since it has targets.")
            del self._rules[name]
            self._runs.pop(name, None)

    def _existing_rule(self, name: str) -> Rule:
        rule = self._rules.get(name)
        if rule is None:
            raise ApiError(
                "ResourceNotFoundException", f"Rule {name} does not exist on EventBus default."
            )
        return rule

    # ------------------------------------------------------------------ Lambda

    def add_permission(
        self,
        function: str,
        *,
        statement_id: str,
        action: str,
        principal: str,
        source_arn: str | None = None,
        source_account: str | None = None,
    ) -> dict[str, Any]:
        """Add a statement to the function's policy; returns the statement."""
        name = function_name(function)
        if self._function_exists is not None and not self._function_exists(name):
            raise ApiError(
                "ResourceNotFoundException",
                f"Function not found: {self.function_arn(name)}",
                HTTPStatus.NOT_FOUND,
            )
        _constraint(statement_id, "statementId", low=1, high=100, pattern=r"([a-zA-Z0-9-_]+)")
        _constraint(
            action, "action", low=0, high=10000, pattern=r"(lambda:[*]|lambda:[a-zA-Z]+|[*])"
        )
        statement: dict[str, Any] = {
            "Sid": statement_id,
            "Effect": "Allow",
            "Principal": _principal(principal),
            "Action": action,
            "Resource": self.function_arn(name),
        }
        condition: dict[str, Any] = {}
        if source_account:
            condition["StringEquals"] = {"AWS:SourceAccount": source_account}
        if source_arn:
            condition["ArnLike"] = {"AWS:SourceArn": source_arn}
        if condition:
            statement["Condition"] = condition
        with self._lock:
            policy = self._policies.setdefault(name, {})
            if statement_id in policy:
                raise ApiError(
                    "ResourceConflictException",
                    f"The statement id ({statement_id}) provided already exists. Please provide "
                    "a new statement id, or remove the existing statement.",
                    HTTPStatus.CONFLICT,
                )
            policy[statement_id] = statement
        return statement

    def remove_permission(self, function: str, statement_id: str) -> None:
        """Remove a statement from the function's policy."""
        name = function_name(function)
        with self._lock:
            policy = self._policies.get(name) or {}
            if statement_id not in policy:
                message = (
                    f"Statement {statement_id} is not found in resource policy."
                    if policy
                    else "No policy is associated with the given resource."
                )
                raise ApiError("ResourceNotFoundException", message, HTTPStatus.NOT_FOUND)
            del policy[statement_id]
            if not policy:
                del self._policies[name]

    def allows(self, function: str, rule_arn: str) -> bool:
        """Whether the function's policy lets EventBridge invoke it for the rule ``rule_arn``."""
        with self._lock:
            statements = list((self._policies.get(function_name(function)) or {}).values())
        return any(self._allows(statement, rule_arn) for statement in statements)

    def _allows(self, statement: Mapping[str, Any], rule_arn: str) -> bool:
        if statement.get("Effect") != "Allow":
            return False
        if statement.get("Action") not in ("lambda:InvokeFunction", "lambda:*", "*"):
            return False
        principal = statement.get("Principal")
        if principal != "*" and (
            not isinstance(principal, dict) or principal.get("Service") != EVENTS_PRINCIPAL
        ):
            return False
        condition = statement.get("Condition") or {}
        pattern = (condition.get("ArnLike") or {}).get("AWS:SourceArn")
        if pattern is not None and not _arn_like(str(pattern), rule_arn):
            return False
        account = (condition.get("StringEquals") or {}).get("AWS:SourceAccount")
        return account is None or account == self.account_id

    # ------------------------------------------------------------------ views

    def rules(self) -> dict[str, Rule]:
        """A copy of every rule (targets copied too), by name."""
        with self._lock:
            return {
                name: Rule(**{**rule.__dict__, "targets": dict(rule.targets)})
                for name, rule in self._rules.items()
            }

    def policy(self, function: str) -> dict[str, dict[str, Any]]:
        """A copy of the function's statements by ``Sid``."""
        with self._lock:
            return dict(self._policies.get(function_name(function)) or {})

    def carries(self, request_id: str) -> bool:
        """Whether a target's ``Input`` is an event with this ``RequestId`` (crhelper polls)."""
        with self._lock:
            inputs = [
                target.get("Input")
                for rule in self._rules.values()
                for target in rule.targets.values()
            ]
        for given in inputs:
            if given is None or request_id not in str(given):
                continue
            try:
                event = json.loads(str(given))
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("RequestId") == request_id:
                return True
        return False

    def due(self) -> list[Firing]:
        """The firings of every enabled rate rule whose time has come (each rule's next run
        moves on by one period; a late scheduler does not catch up with a burst)."""
        now = self._clock()
        firings: list[Firing] = []
        with self._lock:
            for rule in self._rules.values():
                if not rule.enabled or rule.period_minutes is None or rule.next_run is None:
                    continue
                if rule.next_run > now:
                    continue
                period = rule.period_minutes * self.minute_seconds
                rule.next_run += period
                if rule.next_run <= now:
                    rule.next_run = now + period
                self._runs[rule.name] = self._runs.get(rule.name, 0) + 1
                for target_id, target in rule.targets.items():
                    firings.append(
                        Firing(
                            rule_name=rule.name,
                            rule_arn=rule.arn,
                            target_id=target_id,
                            target_arn=str(target["Arn"]),
                            event=self._event(rule, target),
                            run=self._runs[rule.name],
                        )
                    )
        return firings

    def _event(self, rule: Rule, target: Mapping[str, Any]) -> Any:
        given = target.get("Input")
        if given is not None:
            return json.loads(str(given))
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [rule.arn],
            "detail": {},
        }


def _principal(principal: str) -> Any:
    """``Principal`` as Lambda writes it into the statement."""
    if principal == "*":
        return "*"
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def _arn_like(pattern: str, arn: str) -> bool:
    """IAM ``ArnLike``: ``*`` any run of characters, ``?`` one character, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


# ---------------------------------------------------------------------- HTTP


def answer_events(store: RuleStore, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON answer to one EventBridge operation; raises :class:`ApiError`."""
    bus = body.get("EventBusName")
    if bus not in (None, "default") and not str(bus).endswith(":event-bus/default"):
        raise ApiError("ResourceNotFoundException", f"Event bus {bus} does not exist.")
    if operation == "PutRule":
        arn = store.put_rule(
            _rule_name(body.get("Name"), "name"),
            schedule_expression=body.get("ScheduleExpression"),
            event_pattern=body.get("EventPattern"),
            state=body.get("State"),
            description=body.get("Description"),
        )
        return {"RuleArn": arn}
    if operation == "PutTargets":
        targets = body.get("Targets")
        if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
            raise ApiError("ValidationException", "Parameter Targets must be a list of targets.")
        failed = store.put_targets(_rule_name(body.get("Rule"), "rule"), targets)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}
    if operation == "RemoveTargets":
        ids = body.get("Ids")
        if not isinstance(ids, list):
            raise ApiError("ValidationException", "Parameter Ids must be a list of target ids.")
        failed = store.remove_targets(_rule_name(body.get("Rule"), "rule"), [str(i) for i in ids])
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}
    if operation == "DeleteRule":
        store.delete_rule(_rule_name(body.get("Name"), "name"))
        return {}
    if operation == "ListTargetsByRule":
        return {"Targets": store.list_targets(_rule_name(body.get("Rule"), "rule"))}
    raise ApiError(
        "UnknownOperationException",
        f"The local EventBridge does not emulate {operation} "
        "(only PutRule, PutTargets, RemoveTargets, DeleteRule, ListTargetsByRule).",
    )


class _Handler(EntryPointHandler):
    server: _Server
    methods: ClassVar[frozenset[str]] = frozenset({"POST", "DELETE", "GET", "PUT"})

    def answer(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY:
            self._reply(400, {"__type": "SerializationException", "message": "bad body"})
            return
        raw = self.rfile.read(length)
        target = self.headers.get("X-Amz-Target") or ""
        path = self.path.partition("?")[0]  # Qualifier, RevisionId: accepted, ignored
        if self.command == "POST" and target.startswith(_EVENTS_TARGET_PREFIX):
            self._events(target.removeprefix(_EVENTS_TARGET_PREFIX), raw)
        elif _LAMBDA_POLICY.match(path):
            self._lambda(path, raw)
        else:
            self._reply(
                400,
                {
                    "__type": "UnknownOperationException",
                    "message": f"The local endpoint does not emulate {self.command} {path}.",
                },
            )

    def _events(self, operation: str, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ApiError("SerializationException", "The request body must be an object.")
            result = answer_events(self.server.store, operation, body)
        except ValueError:
            self._reply(400, {"__type": "SerializationException", "message": "not JSON"})
            return
        except ApiError as exc:
            self._reply(exc.status, {"__type": exc.code, "message": exc.message})
            return
        self._reply(200, result)

    def _lambda(self, path: str, raw: bytes) -> None:
        match = _LAMBDA_POLICY.match(path)
        assert match is not None
        function, statement_id = unquote(match.group(1)), match.group(2)
        store = self.server.store
        try:
            if self.command == "POST" and statement_id is None:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ApiError("InvalidParameterValueException", "The body must be an object.")
                for required in ("StatementId", "Action", "Principal"):
                    if not isinstance(body.get(required), str):
                        raise ApiError(
                            "ValidationException",
                            f"1 validation error detected: Value null at '{required[0].lower()}"
                            f"{required[1:]}' failed to satisfy constraint: Member must not be "
                            "null",
                        )
                statement = store.add_permission(
                    function,
                    statement_id=body["StatementId"],
                    action=body["Action"],
                    principal=body["Principal"],
                    source_arn=body.get("SourceArn"),
                    source_account=body.get("SourceAccount"),
                )
                self._reply(201, {"Statement": json.dumps(statement)})
            elif self.command == "DELETE" and statement_id is not None:
                store.remove_permission(function, unquote(statement_id))
                self._reply(204, None)
            else:
                raise ApiError(
                    "UnknownOperationException",
                    f"The local Lambda does not emulate {self.command} {path} "
                    "(only AddPermission and RemovePermission).",
                )
        except ValueError:
            self._lambda_error(ApiError("InvalidRequestContentException", "not JSON"))
        except ApiError as exc:
            self._lambda_error(exc)

    def _lambda_error(self, exc: ApiError) -> None:
        # ResourceNotFoundException's shape names the member ``Message``; the others ``message``.
        key = "Message" if exc.code == "ResourceNotFoundException" else "message"
        self._reply(exc.status, {"Type": "User", key: exc.message}, error_type=exc.code)

    def _reply(self, status: int, body: Any, *, error_type: str | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", _JSON_11 if error_type is None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type is not None:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)


class _Server(LocalHTTPServer):
    def __init__(self, address: tuple[str, int], store: RuleStore) -> None:
        self.store = store
        super().__init__(address, _Handler)


class ScheduledRulesEndpoint(LocalEndpoint):
    """HTTP server on 127.0.0.1 answering EventBridge and Lambda policy calls from ``store``
    (its :attr:`url` is the handlers' ``AWS_ENDPOINT_URL_EVENTBRIDGE`` and ``_LAMBDA``).

    Example::

        with ScheduledRulesEndpoint(RuleStore()) as endpoint:
            boto3.client("events", endpoint_url=endpoint.url, ...).put_rule(...)
    """

    def __init__(self, store: RuleStore, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.store = store

    def _bind(self) -> tuple[_Server, str]:
        return _Server((self._host, self._port), self.store), "local-deploy-events-endpoint"


# ---------------------------------------------------------------------- scheduler


class RuleScheduler(Managed):
    """Runs the rules of ``store``: each firing of a Lambda target the policy allows is handed
    to ``invoke`` in a thread of its own (asynchronous, as EventBridge invokes Lambda).

    Args:
        store: the rules and policies.
        invoke: runs the function (``firing.function_name``) with ``firing.event``; may block
            for as long as the function runs.
        tick_seconds: how often due rules are looked for.
    """

    def __init__(
        self,
        store: RuleStore,
        invoke: Callable[[Firing], object],
        *,
        tick_seconds: float = 0.05,
    ) -> None:
        self.store = store
        self._invoke = invoke
        self._tick = tick_seconds
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: (rule name, target id) → the thread of its running invocation.
        self._running: dict[tuple[str, str], tuple[threading.Thread, Firing]] = {}
        self._started: list[threading.Thread] = []
        self._deliveries: list[Delivery] = []

    def start(self) -> RuleScheduler:
        """Start the scheduler thread (no-op when running)."""
        with self._lock:
            if self._thread is None:
                self._stopping.clear()
                self._thread = threading.Thread(
                    target=self._loop, name="local-deploy-rule-scheduler", daemon=True
                )
                self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop firing, then wait for the invocations already started (``timeout`` each)."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None:
            thread.join()
        for started in list(self._started):
            started.join(timeout)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every firing so far and what became of it, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def deliver_again(self, firing: Firing) -> object:
        """Deliver ``firing``'s event to its function once more, now, in the calling thread
        (a duplicate from Lambda's asynchronous queue, see the module notes); returns what
        ``invoke`` returned. The policy was checked when the event was first accepted."""
        with self._lock:
            self._deliveries.append(Delivery(firing, True, "delivered again"))
        return self._invoke(firing)

    def running_for(self, request_id: str) -> bool:
        """Whether an invocation whose event has this ``RequestId`` is running."""
        with self._lock:
            return any(
                thread.is_alive() and firing.request_id == request_id
                for thread, firing in self._running.values()
            )

    def awaits(self, request_id: str) -> bool:
        """Whether crhelper is polling for this custom resource request: a target carries it,
        or an invocation for it (which may answer CloudFormation) still runs."""
        return self.store.carries(request_id) or self.running_for(request_id)

    def _loop(self) -> None:
        while not self._stopping.wait(self._tick):
            try:
                for firing in self.store.due():
                    self._fire(firing)
            except Exception:  # the scheduler must outlive a bad firing
                _log.exception("local EventBridge scheduler: a firing failed")

    def _record(self, firing: Firing, invoked: bool, reason: str = "") -> None:
        with self._lock:
            self._deliveries.append(Delivery(firing, invoked, reason))
        if reason:
            _log.warning(
                "rule %s did not invoke target %s: %s", firing.rule_name, firing.target_id, reason
            )

    def _fire(self, firing: Firing) -> None:
        name = firing.function_name
        if name is None:
            self._record(firing, False, f"target {firing.target_arn} is not emulated")
            return
        if not self.store.allows(name, firing.rule_arn):
            self._record(
                firing,
                False,
                f"the resource policy of {name} does not allow {EVENTS_PRINCIPAL} to invoke it "
                f"for {firing.rule_arn} (lambda:InvokeFunction, AWS:SourceArn)",
            )
            return
        key = (firing.rule_name, firing.target_id)
        with self._lock:
            previous = self._running.get(key)
            if previous is not None and previous[0].is_alive():
                # AWS would invoke again (asynchronously, overlapping the running one); one
                # at a time keeps the emulation deterministic under time compression.
                self._deliveries.append(
                    Delivery(firing, False, "skipped: the previous invocation still runs")
                )
                return
            thread = threading.Thread(
                target=self._run,
                args=(firing,),
                name=f"local-deploy-rule-{firing.rule_name}-{firing.run}",
                daemon=True,
            )
            self._running[key] = (thread, firing)
            self._started = [t for t in self._started if t.is_alive()]
            self._started.append(thread)
            self._deliveries.append(Delivery(firing, True))
            thread.start()

    def _run(self, firing: Firing) -> None:
        try:
            self._invoke(firing)
        except Exception:
            _log.exception("scheduled invocation of %s failed", firing.function_name)
