"""A poll tells whether crhelper still polls for its request, or has answered it already.

crhelper removes the target, the permission and the rule, then answers; a poll that Lambda
delivers again afterwards (its asynchronous queue may) must see that and do nothing. Read
through a real EventBridge client against the offline kit's EventBridge endpoint; the
resource's status in CloudFormation is a function the test controls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from codeartifact_generic.handler.deadline import NO_DEADLINE, Deadline
from codeartifact_generic.handler.polling import ANSWER_WAIT_SECONDS, still_polled

from codeartifact_generic.testing._local_deploy.scheduled_rules import (
    RuleStore,
    ScheduledRulesEndpoint,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:handler"
RULE = "ModelAbCdEfGh"


def _client(url: str) -> Any:
    return boto3.client(
        "events",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )


@pytest.fixture
def store() -> RuleStore:
    return RuleStore(ACCOUNT, REGION)


@pytest.fixture
def events(store: RuleStore) -> Iterator[Any]:
    with ScheduledRulesEndpoint(store) as endpoint:
        yield _client(endpoint.url)


def _poll_event() -> dict[str, Any]:
    """A poll as crhelper schedules it: the request plus its rule's ARN."""
    return {
        "RequestType": "Create",
        "RequestId": "r-1",
        "LogicalResourceId": "Model",
        "CrHelperPoll": True,
        "CrHelperRule": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE}",
        "CrHelperPermission": "ModelXyZ12345",
    }


def _in_progress() -> bool:
    return True


class Resource:
    """The resource's status as CloudFormation reports it, read by read, on a fake clock."""

    def __init__(self, *in_progress: bool) -> None:
        self._answers = list(in_progress)
        self.reads = 0
        self.now = 0.0

    def in_progress(self) -> bool:
        self.reads += 1
        return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _schedule(events: Any, event: dict[str, Any]) -> None:
    """What crhelper's _setup_polling puts: the rule and its one target."""
    events.put_rule(Name=RULE, ScheduleExpression="rate(5 minutes)")
    events.put_targets(
        Rule=RULE, Targets=[{"Id": "1", "Arn": FUNCTION_ARN, "Input": json.dumps(event)}]
    )


def test_a_poll_whose_rule_has_its_target_is_still_polled(events: Any) -> None:
    # GIVEN crhelper polling for the request
    event = _poll_event()
    _schedule(events, event)
    # THEN its poll is current
    assert still_polled(events, event, NO_DEADLINE, _in_progress)


def test_a_poll_whose_rule_was_deleted_is_answered_already(events: Any) -> None:
    # GIVEN crhelper polling for the request
    event = _poll_event()
    _schedule(events, event)
    # WHEN crhelper answers: the target goes, then the rule
    events.remove_targets(Rule=RULE, Ids=["1"])
    events.delete_rule(Name=RULE)
    # THEN a poll of it is answered already, even with CloudFormation not knowing it yet
    assert not still_polled(events, event, NO_DEADLINE, _in_progress)


def test_a_rule_without_its_target_is_answered_once_cloudformation_has_the_answer(
    events: Any,
) -> None:
    # GIVEN crhelper's target removed, the rule not yet deleted (crhelper is answering)
    event = _poll_event()
    _schedule(events, event)
    events.remove_targets(Rule=RULE, Ids=["1"])
    # WHEN CloudFormation has the resource in progress, then complete at the third read
    resource = Resource(True, True, False)
    # THEN the poll waited for it, and was answered already
    assert not still_polled(
        events, event, NO_DEADLINE, resource.in_progress, sleep=resource.sleep, clock=resource.clock
    )
    assert resource.reads == 3
    assert resource.now < ANSWER_WAIT_SECONDS


def test_a_rule_without_its_target_whose_answer_never_came_is_polled_still(events: Any) -> None:
    # GIVEN crhelper's target removed, and the invocation doing it gone before it answered
    event = _poll_event()
    _schedule(events, event)
    events.remove_targets(Rule=RULE, Ids=["1"])
    resource = Resource(True)
    # THEN after waiting a few seconds, the poll goes on (an answer beats a stack that waits)
    assert still_polled(
        events, event, NO_DEADLINE, resource.in_progress, sleep=resource.sleep, clock=resource.clock
    )
    assert resource.now >= ANSWER_WAIT_SECONDS


def test_an_event_that_is_not_crhelpers_poll_is_taken_as_current(events: Any) -> None:
    # GIVEN events without crhelper's rule (a first delivery, a malformed rule ARN)
    event = _poll_event()
    del event["CrHelperRule"]
    # THEN nothing is read and they are current
    assert still_polled(events, event, NO_DEADLINE, _in_progress)
    assert still_polled(events, {**event, "CrHelperRule": 42}, NO_DEADLINE, _in_progress)


class Refusing:
    """An EventBridge client whose every ListTargetsByRule is refused with ``code``."""

    def __init__(self, code: str) -> None:
        self.code = code

    def list_targets_by_rule(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "ListTargetsByRule")


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(_client("http://127.0.0.1:9"), id="unreachable"),
        pytest.param(Refusing("AccessDeniedException"), id="access-denied"),
        pytest.param(Refusing("ThrottlingException"), id="throttled"),
    ],
)
def test_a_rule_that_cannot_be_read_leaves_the_poll_current(client: Any) -> None:
    # GIVEN EventBridge unreachable or refusing (any answer but "no such rule")
    # THEN the poll goes on as crhelper alone would have it
    assert still_polled(client, _poll_event(), NO_DEADLINE, _in_progress)


def test_a_poll_out_of_time_for_the_check_goes_on(events: Any) -> None:
    # GIVEN a rule gone, and an invocation with less than a second left
    event = _poll_event()
    nearly_over = Deadline(lambda: 900)
    # THEN the poll cannot tell, and goes on (its answer is what the time allows)
    assert still_polled(events, event, nearly_over, _in_progress)
