"""Whether crhelper still polls for a request: whether its rule still targets the function.

crhelper ends its polling only as it answers CloudFormation: it removes the rule's target, the
function's permission and the rule, then sends the answer. Lambda's asynchronous queue may
deliver an event more than once, even without an error ("How Lambda handles errors and retries
with asynchronous invocation", AWS Lambda developer guide), so a poll can arrive after that
answer, or run beside another delivery of itself. Such a poll must neither work nor answer:
crhelper would answer again, and ``FAILED``, since removing a rule that is gone raises.

Reading the targets needs ``events:ListTargetsByRule`` on the rule (the construct's polling
policy grants it). When the rule cannot be read for another reason, the poll is taken as
current: it then does what crhelper alone would do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .deadline import Deadline
from .errors import client_error_code, reason_for
from .log import log_line
from .responder import CRHELPER_RULE_KEY, Event

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


def still_polled(client: EventBridgeClient, event: Event, deadline: Deadline) -> bool:
    """False when ``event`` is a crhelper poll whose rule no longer has its target (the
    request was answered); True otherwise, including when that cannot be told."""
    rule_arn = event.get(CRHELPER_RULE_KEY)
    if not isinstance(rule_arn, str) or "/" not in rule_arn:
        return True
    rule = rule_arn.rsplit("/", 1)[1]
    try:
        targets = deadline.run(lambda: client.list_targets_by_rule(Rule=rule)["Targets"])
    except ClientError as error:
        if client_error_code(error) == "ResourceNotFoundException":
            return False
        log_line("polling_check_failed", rule=rule, reason=reason_for(error))
        return True
    except BotoCoreError as error:
        log_line("polling_check_failed", rule=rule, reason=reason_for(error))
        return True
    return bool(targets)
