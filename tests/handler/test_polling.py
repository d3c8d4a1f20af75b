"""A poll tells whether crhelper still polls for its request: its rule still has its target.

crhelper removes the target, the permission and the rule as it answers; a poll that Lambda
delivers again afterwards (its asynchronous queue may) must see that and do nothing. Read
through a real EventBridge client against the offline kit's EventBridge endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from codeartifact_generic.handler.deadline import NO_DEADLINE
from codeartifact_generic.handler.polling import still_polled

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
    assert still_polled(events, event, NO_DEADLINE)


def test_a_poll_whose_target_was_removed_or_rule_deleted_is_not(events: Any) -> None:
    # GIVEN crhelper polling for the request
    event = _poll_event()
    _schedule(events, event)
    # WHEN crhelper answers: the target goes first, then the rule
    events.remove_targets(Rule=RULE, Ids=["1"])
    # THEN a poll of it is no longer current, during the removal and after it
    assert not still_polled(events, event, NO_DEADLINE)
    events.delete_rule(Name=RULE)
    assert not still_polled(events, event, NO_DEADLINE)


def test_an_event_that_is_not_crhelpers_poll_is_taken_as_current(events: Any) -> None:
    # GIVEN events without crhelper's rule (a first delivery, a malformed rule ARN)
    event = _poll_event()
    del event["CrHelperRule"]
    # THEN nothing is read and they are current
    assert still_polled(events, event, NO_DEADLINE)
    assert still_polled(events, {**event, "CrHelperRule": 42}, NO_DEADLINE)


def test_a_rule_that_cannot_be_read_leaves_the_poll_current() -> None:
    # GIVEN EventBridge unreachable (or any answer but "no such rule")
    unreachable = _client("http://127.0.0.1:9")
    # THEN the poll goes on as crhelper alone would have it
    assert still_polled(unreachable, _poll_event(), NO_DEADLINE)
