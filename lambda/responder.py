"""The adapter between crhelper and the guarantees the handler gives CloudFormation.

crhelper's ``CfnResource`` runs the custom-resource protocol and is used through its public
API only: ``helper(event, context)`` dispatches on ``RequestType`` to the functions registered
with ``@helper.create``/``update``/``delete``, passing the event and the context it was given;
their return value becomes the ``PhysicalResourceId`` (none: the event's, or one it
generates), an exception becomes ``FAILED`` with the exception's text as ``Reason``, and
``helper.Data`` is sent along, in one PUT to the ``ResponseURL``. What it does not give, this
module adds, without touching anything private of crhelper:

1. **Exactly one answer, before the timeout, saying how far the work got.** crhelper's own
   timer sends ``FAILED "Execution timed out"`` 0.5 s before the timeout it reads from the
   context, from its own thread, even if the handler then answers too: a second answer, with
   a status and a reason nobody can choose. So crhelper is handed a view of the Lambda context
   (:class:`_CrhelperContext`) whose remaining time puts that timer a minute past the end of
   the invocation, where it never fires, and the adapter bounds the operation instead
   (:meth:`Responder.operation`): it runs in a worker thread, and the main thread stops
   waiting for it :data:`ANSWER_SECONDS` before the timeout and returns to crhelper, whose one
   answer then goes out from the main path.
2. **What a timeout answers:** ``FAILED`` "Lambda timeout reached while <what the deadline saw
   last>", or ``SUCCESS`` for an operation that must not fail (a rollback, which would
   otherwise leave the stack in ``*ROLLBACK_FAILED``): :meth:`Invocation.succeed_at_timeout`.
3. **An answer to a malformed event.** crhelper reads ``StackId``, ``RequestId``,
   ``LogicalResourceId``, ``RequestType`` and ``ResponseURL`` before anything else; without
   them it never answers (it would retry the previous invocation's URL). The adapter fills
   them in (:func:`_completed`) and lets crhelper answer ``FAILED`` saying what was missing.
4. **Per-invocation state** (the deadline, the timeout answer) lives in an
   :class:`Invocation` handed to the operation through crhelper (as its context), not in
   module globals.
5. **Failures as reasons:** any exception becomes a one-line reason (:func:`.errors.reason_for`).

``tests/handler/test_responder.py`` pins the crhelper behaviour this relies on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from crhelper import CfnResource
from crhelper.resource_helper import FAILED, SUCCESS

from . import contract
from .deadline import CallAbandoned, Deadline, call_within
from .errors import PublishFailed, reason_for
from .log import log_line
from .ports import ObjectInfo

Event = Mapping[str, Any]

#: Event keys crhelper needs before it can answer at all.
REQUIRED_EVENT_KEYS: Final = (
    "RequestType",
    "ResponseURL",
    "StackId",
    "RequestId",
    "LogicalResourceId",
)
REQUEST_TYPES: Final = ("Create", "Update", "Delete")
#: The key crhelper adds to the event it schedules for each poll (``crhelper/resource_helper.py``,
#: ``_setup_polling``); pinned in ``tests/handler/test_responder.py``.
CRHELPER_POLL_KEY: Final = "CrHelperPoll"
#: ... and the key that holds the ARN of the rule that schedules the polls (same place).
CRHELPER_RULE_KEY: Final = "CrHelperRule"
#: Seconds before the Lambda timeout at which the adapter stops waiting for the operation
#: and answers (the PUT of the answer must fit in them).
ANSWER_SECONDS: Final = 1.0
#: How far past the end of the invocation crhelper's timer is put.
_CRHELPER_TIMER_PAST_THE_END_MS: Final = 60_000
#: The longest remaining time crhelper is told (a context without a deadline).
_LONGEST_MS: Final = 24 * 3600 * 1000


@dataclass(frozen=True)
class Answer:
    """What an operation answers: the physical id, and the ``Data`` attributes."""

    physical_id: str
    data: Mapping[str, str] = field(default_factory=dict)


class Invocation:
    """One invocation's state, handed to the operation beside its event."""

    def __init__(self, context: Any) -> None:
        #: The Lambda context.
        self.context = context
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        #: Checks and bounded calls of this invocation (see :mod:`.deadline`).
        self.deadline = Deadline(remaining) if callable(remaining) else Deadline(lambda: 2**62)
        #: What a timeout answers: FAILED, unless :meth:`succeed_at_timeout` was called.
        self.status_at_timeout = FAILED
        #: Why the event cannot be acted on (then the operation is not run at all).
        self.malformed: str | None = None
        #: What HEADs of the assets' objects told before the operation ran, by location.
        self.seen_objects: dict[str, ObjectInfo] = {}

    @property
    def account(self) -> str:
        """The function's account (from its ARN), "" when unknown."""
        parts = str(getattr(self.context, "invoked_function_arn", "")).split(":")
        return parts[4] if len(parts) > 4 else ""

    def succeed_at_timeout(self) -> None:
        """Answer SUCCESS if the time runs out: for operations that must never fail."""
        self.status_at_timeout = SUCCESS


#: An operation answers, or (a poll only) says None: not done yet, poll again.
Operation = Callable[[Event, Invocation], Answer | None]


def is_poll(event: Event) -> bool:
    """Whether ``event`` is one of crhelper's polls (not CloudFormation's own request)."""
    return CRHELPER_POLL_KEY in event


class _CrhelperContext:
    """The Lambda context as crhelper sees it: the same attributes, but a remaining time that
    puts crhelper's timer past the end of the invocation; carries the :class:`Invocation`."""

    def __init__(self, invocation: Invocation) -> None:
        self.invocation = invocation

    def get_remaining_time_in_millis(self) -> int:
        remaining = min(int(self.invocation.deadline.seconds_to_end * 1000), _LONGEST_MS)
        return remaining + _CRHELPER_TIMER_PAST_THE_END_MS

    def __getattr__(self, name: str) -> Any:
        return getattr(self.invocation.context, name)


class Responder:
    """Answers every invocation exactly once, through ``helper``.

    ``helper`` must have a function registered for each of Create, Update and Delete, each
    wrapped by :meth:`operation`.
    """

    def __init__(self, helper: CfnResource) -> None:
        self.helper = helper

    def __call__(self, event: Event, context: Any, invocation: Invocation | None = None) -> None:
        """The Lambda handler (``invocation``: one already begun for this context)."""
        invocation = invocation or Invocation(context)
        problems = _problems(event)
        if problems:
            log_line("malformed_event", level=logging.ERROR, problems=problems)
            if not isinstance(event.get("ResponseURL"), str):
                return  # nowhere to answer
            invocation.malformed = "malformed CloudFormation event: " + "; ".join(problems)
            event = _completed(event)
        self.helper(event, _CrhelperContext(invocation))

    def operation(self, func: Operation) -> Callable[[Event, Any], str | None]:
        """Wrap ``func`` for ``@helper.create``/``update``/``delete``: it runs bounded by the
        invocation's timeout, and what it answers or raises becomes crhelper's answer."""

        def run(event: Event, context: Any) -> str | None:
            invocation: Invocation = context.invocation
            if invocation.malformed is not None:
                raise PublishFailed(invocation.malformed)
            deadline = invocation.deadline
            try:
                answer = call_within(
                    lambda: func(event, invocation),
                    lambda: deadline.seconds_to_end - ANSWER_SECONDS,
                    name=f"{event['RequestType'].lower()}-operation",
                )
            except CallAbandoned:
                deadline.expire()  # whatever the operation still tries now fails at once
                _timed_out(invocation)
                return None
            except Exception as error:
                reason = reason_for(error)
                log_line("failed", level=logging.ERROR, request=event["RequestType"], reason=reason)
                raise PublishFailed(reason) from None
            if answer is None:
                return None
            self.helper.Data.update(answer.data)
            return answer.physical_id

        run.__name__ = run.__qualname__ = func.__name__
        run.__doc__ = func.__doc__
        return run


def _timed_out(invocation: Invocation) -> None:
    """The answer at the timeout: SUCCESS (None: crhelper answers the event's physical id)
    or FAILED saying what the operation was doing."""
    reason = f"Lambda timeout reached while {invocation.deadline.doing}"
    reason = reason[: contract.MAX_REASON_CHARS]
    status = invocation.status_at_timeout
    log_line("timed_out", level=logging.ERROR, reason=reason, answer=status)
    if status != SUCCESS:
        raise PublishFailed(reason)


def _problems(event: Event) -> list[str]:
    """What keeps crhelper from answering ``event``."""
    missing = [key for key in REQUIRED_EVENT_KEYS if not isinstance(event.get(key), str)]
    problems = [f"missing {', '.join(missing)}"] if missing else []
    request_type = event.get("RequestType")
    if isinstance(request_type, str) and request_type not in REQUEST_TYPES:
        problems.append(f"RequestType {request_type!r} is not one of {', '.join(REQUEST_TYPES)}")
    stack_id = event.get("StackId")
    if isinstance(stack_id, str) and "/" not in stack_id:
        problems.append(f"StackId {stack_id!r} is not a stack ARN")
    return problems


def _completed(event: Event) -> dict[str, Any]:
    """``event`` with what crhelper needs filled in: "" for a missing id, a RequestType it
    dispatches, and a physical id (so that it never has to generate one from the StackId)."""
    completed = dict(event)
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        if not isinstance(event.get(key), str):
            completed[key] = ""
    if completed.get("RequestType") not in REQUEST_TYPES:
        completed["RequestType"] = "Create"
    completed["PhysicalResourceId"] = str(event.get("PhysicalResourceId") or "malformed-event")
    return completed


def answer_bytes(event: Event, physical_id: str, data: Mapping[str, str]) -> int:
    """The size of the SUCCESS answer crhelper sends for ``event`` with ``physical_id`` and
    ``data`` (its body: these eight keys, as ``json.dumps`` writes them)."""
    body = {
        "Status": SUCCESS,
        "PhysicalResourceId": physical_id,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "Reason": "",
        "Data": dict(data),
        "NoEcho": False,
    }
    return len(json.dumps(body).encode())
