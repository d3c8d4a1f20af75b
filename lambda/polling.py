"""Whether crhelper still polls for a request, or has answered it already.

crhelper ends its polling only as it answers CloudFormation: it removes the rule's target, the
function's permission and the rule, then sends the answer. Lambda's asynchronous queue may
deliver an event more than once, even without an error ("How Lambda handles errors and retries
with asynchronous invocation", AWS Lambda developer guide), so a poll can arrive after that
answer, or run beside another delivery of itself. Such a poll must neither work nor answer:
crhelper would answer again, and ``FAILED``, since removing a rule that is gone raises.

* The rule is gone (``ResourceNotFoundException``): answered.
* The rule is there without its target: crhelper is removing it, and its answer follows within
  a second, unless the invocation doing it died first (Lambda then retries it). CloudFormation
  tells which: once the resource is no longer in progress, it was answered. A poll waits a few
  seconds for that, then carries on (an answer, even a FAILED one, beats a stack left waiting).
* Anything that cannot be read (an error, no time left): the poll carries on, as crhelper
  alone would have it.

Reading the targets needs ``events:ListTargetsByRule`` on the rule (the construct's polling
policy grants it); the resource's status, ``cloudformation:DescribeStackResource``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from .deadline import Deadline
from .errors import client_error_code, reason_for
from .log import log_line
from .responder import ANSWER_SECONDS, CRHELPER_RULE_KEY, Event

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

#: How long a poll that finds its rule without a target waits for the answer to be seen.
ANSWER_WAIT_SECONDS: Final = 3.0
_BETWEEN_READS_SECONDS: Final = 0.5
#: The checks may run into the deadline's margin, down to this much before the end (the
#: answer itself needs the last :data:`.responder.ANSWER_SECONDS`).
_CHECK_MARGIN_SECONDS: Final = ANSWER_SECONDS + 1.0


def still_polled(
    events: EventBridgeClient,
    event: Event,
    deadline: Deadline,
    in_progress: Callable[[], bool],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """False when ``event`` is a crhelper poll whose request was answered already; True
    otherwise, including when that cannot be told. ``in_progress``: whether CloudFormation
    still has the resource in progress."""
    rule_arn = event.get(CRHELPER_RULE_KEY)
    if not isinstance(rule_arn, str) or "/" not in rule_arn:
        return True
    rule = rule_arn.rsplit("/", 1)[1]
    with deadline.margin(_CHECK_MARGIN_SECONDS):
        try:
            targets = deadline.run(lambda: events.list_targets_by_rule(Rule=rule)["Targets"])
        except ClientError as error:
            if client_error_code(error) == "ResourceNotFoundException":
                return False
            return _cannot_tell(rule, error)
        except Exception as error:  # BotoCoreError, or out of time
            return _cannot_tell(rule, error)
        if targets:
            return True
        return _answer_seen(rule, deadline, in_progress, sleep, clock)


def _answer_seen(
    rule: str,
    deadline: Deadline,
    in_progress: Callable[[], bool],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> bool:
    """For a rule without its target: False once CloudFormation has the answer (the resource
    is no longer in progress), True if it still waits after :data:`ANSWER_WAIT_SECONDS`."""
    gives_up = clock() + ANSWER_WAIT_SECONDS
    while True:
        try:
            if not deadline.run(in_progress):
                return False
        except Exception as error:
            return _cannot_tell(rule, error)
        if clock() >= gives_up or deadline.seconds_to_margin <= _BETWEEN_READS_SECONDS:
            log_line("polling_target_gone_unanswered", rule=rule)
            return True
        sleep(_BETWEEN_READS_SECONDS)


def _cannot_tell(rule: str, error: BaseException) -> bool:
    log_line("polling_check_failed", rule=rule, reason=reason_for(error))
    return True
