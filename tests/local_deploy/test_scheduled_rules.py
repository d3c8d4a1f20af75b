"""The local EventBridge rules and Lambda policies behind crhelper's polling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.scheduled_rules import (
    Firing,
    RuleScheduler,
    RuleStore,
    ScheduledRulesEndpoint,
)
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed

from .test_local_deploy_resources import write_assembly

ACCOUNT = "123456789012"
REGION = "us-east-1"
FUNCTION = "poller"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"


def rule_arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"


@pytest.fixture
def store() -> RuleStore:
    """Rules and policies; only the function ``poller`` exists."""
    return RuleStore(ACCOUNT, REGION, function_exists=lambda name: name == FUNCTION)


@pytest.fixture
def endpoint(store: RuleStore) -> Iterator[ScheduledRulesEndpoint]:
    with ScheduledRulesEndpoint(store) as server:
        yield server


def client(service: str, endpoint: ScheduledRulesEndpoint) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def events(endpoint: ScheduledRulesEndpoint) -> Any:
    return client("events", endpoint)


@pytest.fixture
def lambda_(endpoint: ScheduledRulesEndpoint) -> Any:
    return client("lambda", endpoint)


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return (
        error["Code"],
        error["Message"],
        caught.value.response["ResponseMetadata"]["HTTPStatusCode"],
    )


# ---------------------------------------------------------------------- the APIs


def test_put_rule_answers_the_rule_arn_and_refuses_invalid_schedules(events: Any) -> None:
    # WHEN a rule with a valid rate expression is put
    answer = events.put_rule(Name="Poll1", ScheduleExpression="rate(1 minute)", State="ENABLED")

    # THEN its ARN is the default bus's rule ARN
    assert answer["RuleArn"] == rule_arn("Poll1")

    # WHEN invalid expressions are put (unit and value disagree, zero, not a rate, cron)
    # THEN each is a ValidationException, as EventBridge answers
    for expression in (
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(1.5 minutes)",
        "every minute",
        "cron(0 20 * * ? *)",
    ):
        code, message, status = error_of(
            lambda e=expression: events.put_rule(Name="Bad", ScheduleExpression=e)
        )
        assert (code, status) == ("ValidationException", 400), expression
        assert message.startswith("Parameter ScheduleExpression is not valid."), expression
    # AND a rule without schedule or pattern is refused too, so is a name outside the pattern
    assert error_of(lambda: events.put_rule(Name="Nothing"))[:2] == (
        "ValidationException",
        "Parameter(s) EventPattern or ScheduleExpression must be specified.",
    )
    code, message, _ = error_of(
        lambda: events.put_rule(Name="no/slash", ScheduleExpression="rate(2 hours)")
    )
    assert code == "ValidationException"
    assert "at 'name' failed to satisfy constraint" in message


def test_targets_and_rule_deletion(events: Any, store: RuleStore) -> None:
    # GIVEN no rule
    target = {"Id": "1", "Arn": FUNCTION_ARN, "Input": json.dumps({"RequestId": "r-1"})}

    # WHEN targets are put on a rule that does not exist THEN ResourceNotFoundException
    assert error_of(lambda: events.put_targets(Rule="Ghost", Targets=[target])) == (
        "ResourceNotFoundException",
        "Rule Ghost does not exist on EventBus default.",
        400,
    )

    # WHEN a rule gets a target
    events.put_rule(Name="Poll", ScheduleExpression="rate(5 minutes)")
    answer = events.put_targets(Rule="Poll", Targets=[target])

    # THEN nothing failed and the store holds it
    assert (answer["FailedEntryCount"], answer["FailedEntries"]) == (0, [])
    assert store.rules()["Poll"].targets["1"]["Input"] == target["Input"]
    assert store.carries("r-1")
    assert not store.carries("r-2")

    # WHEN the rule is deleted while it has the target THEN EventBridge refuses
    assert error_of(lambda: events.delete_rule(Name="Poll")) == (
        "ValidationException",
        "Rule can't be deleted since it has targets.",
        400,
    )

    # WHEN more than five targets are put THEN the sixth is a failed entry
    more = [{"Id": str(i), "Arn": FUNCTION_ARN} for i in range(2, 7)]
    answer = events.put_targets(Rule="Poll", Targets=more)
    assert answer["FailedEntryCount"] == 1
    assert answer["FailedEntries"][0]["TargetId"] == "6"
    assert answer["FailedEntries"][0]["ErrorCode"] == "LimitExceededException"

    # WHEN an Input longer than TargetInput's 8192 characters is put THEN ValidationException
    huge = {"Id": "1", "Arn": FUNCTION_ARN, "Input": json.dumps({"x": "y" * 8200})}
    code, message, _ = error_of(lambda: events.put_targets(Rule="Poll", Targets=[huge]))
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 8192" in message

    # WHEN the targets are removed (an unknown id too) and the rule deleted, twice
    answer = events.remove_targets(Rule="Poll", Ids=["1", "2", "3", "4", "5", "unknown"])
    assert answer["FailedEntryCount"] == 0
    events.delete_rule(Name="Poll")
    events.delete_rule(Name="Poll")

    # THEN the rule is gone and no target carries the request any more
    assert store.rules() == {}
    assert not store.carries("r-1")
    assert error_of(lambda: events.remove_targets(Rule="Poll", Ids=["1"]))[0] == (
        "ResourceNotFoundException"
    )


def test_list_targets_by_rule_answers_the_targets_as_put(events: Any) -> None:
    # GIVEN a rule with crhelper's one target
    target = {"Id": "1", "Arn": FUNCTION_ARN, "Input": json.dumps({"RequestId": "r-1"})}
    events.put_rule(Name="Poll", ScheduleExpression="rate(5 minutes)")
    events.put_targets(Rule="Poll", Targets=[target])
    # WHEN its targets are listed THEN they are the target put
    assert events.list_targets_by_rule(Rule="Poll")["Targets"] == [target]
    # WHEN the target is removed THEN the rule has none
    events.remove_targets(Rule="Poll", Ids=["1"])
    assert events.list_targets_by_rule(Rule="Poll")["Targets"] == []
    # WHEN the rule is deleted THEN listing its targets is ResourceNotFoundException
    events.delete_rule(Name="Poll")
    assert error_of(lambda: events.list_targets_by_rule(Rule="Poll")) == (
        "ResourceNotFoundException",
        "Rule Poll does not exist on EventBus default.",
        400,
    )


def test_add_and_remove_permission(lambda_: Any, store: RuleStore) -> None:
    # WHEN EventBridge is allowed to invoke the function for a rule
    answer = lambda_.add_permission(
        FunctionName=FUNCTION,
        StatementId="PollABCD1234",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn("Poll"),
    )

    # THEN the statement is the one Lambda stores (a 201 answer)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(answer["Statement"]) == {
        "Sid": "PollABCD1234",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": FUNCTION_ARN,
        "Condition": {"ArnLike": {"AWS:SourceArn": rule_arn("Poll")}},
    }
    assert store.allows(FUNCTION, rule_arn("Poll"))
    assert not store.allows(FUNCTION, rule_arn("Other"))

    # WHEN the same statement id is added again (by ARN) THEN 409 ResourceConflictException
    code, message, status = error_of(
        lambda: lambda_.add_permission(
            FunctionName=FUNCTION_ARN,
            StatementId="PollABCD1234",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
        )
    )
    assert (code, status) == ("ResourceConflictException", 409)
    assert "The statement id (PollABCD1234) provided already exists" in message

    # WHEN a permission is added to a function that does not exist THEN 404
    assert error_of(
        lambda: lambda_.add_permission(
            FunctionName="ghost",
            StatementId="s",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
        )
    )[::2] == ("ResourceNotFoundException", 404)

    # WHEN the statement is removed, then removed again
    answer = lambda_.remove_permission(FunctionName=FUNCTION, StatementId="PollABCD1234")

    # THEN 204, then 404 ResourceNotFoundException; EventBridge may no longer invoke
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(
        lambda: lambda_.remove_permission(FunctionName=FUNCTION, StatementId="PollABCD1234")
    )[::2] == ("ResourceNotFoundException", 404)
    assert store.policy(FUNCTION) == {}
    assert not store.allows(FUNCTION, rule_arn("Poll"))


def test_operations_not_emulated_are_refused(events: Any) -> None:
    # WHEN an operation the endpoint does not emulate is called THEN it says so
    code, message, status = error_of(events.list_rules)
    assert (code, status) == ("UnknownOperationException", 400)
    assert "ListRules" in message


# ---------------------------------------------------------------------- the schedule


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rate_rule_runs_one_period_after_put_rule_then_every_period() -> None:
    # GIVEN a rule "rate(2 minutes)" with a target, put at t=1000 (real-time minutes)
    clock = Clock()
    store = RuleStore(ACCOUNT, REGION, clock=clock)
    store.put_rule("Poll", schedule_expression="rate(2 minutes)")
    store.put_targets("Poll", [{"Id": "1", "Arn": FUNCTION_ARN, "Input": '{"n": 1}'}])

    runs: list[tuple[float, list[Firing]]] = []
    for moment in (1001.0, 1119.9, 1120.0, 1121.0, 1239.9, 1240.0, 1400.0):
        clock.now = moment
        runs.append((moment, store.due()))

    # THEN it runs two minutes after PutRule, then every two minutes (no burst when late)
    assert [(moment, len(firings)) for moment, firings in runs] == [
        (1001.0, 0),
        (1119.9, 0),
        (1120.0, 1),
        (1121.0, 0),
        (1239.9, 0),
        (1240.0, 1),
        (1400.0, 1),
    ]
    first = runs[2][1][0]
    assert (first.rule_arn, first.target_id, first.function_name, first.event, first.run) == (
        rule_arn("Poll"),
        "1",
        FUNCTION,
        {"n": 1},
        1,
    )

    # WHEN the rule is disabled THEN it does not run
    store.put_rule("Poll", schedule_expression="rate(2 minutes)", state="DISABLED")
    clock.now = 2000.0
    assert store.due() == []


def _poll_every_minute(store: RuleStore) -> None:
    """Rule ``Poll``, every minute, targeting the function with the input of request ``r``."""
    store.put_rule("Poll", schedule_expression="rate(1 minute)")
    store.put_targets("Poll", [{"Id": "1", "Arn": FUNCTION_ARN, "Input": '{"RequestId": "r"}'}])


def _allow(store: RuleStore, rule: str, *, statement_id: str) -> None:
    """Let EventBridge invoke the function for ``rule`` (what crhelper's AddPermission does)."""
    store.add_permission(
        FUNCTION,
        statement_id=statement_id,
        action="lambda:InvokeFunction",
        principal="events.amazonaws.com",
        source_arn=rule_arn(rule),
    )


class Invocations:
    """The scheduler's invoke callback: records firings; ``gate`` holds each invocation."""

    def __init__(self) -> None:
        self.firings: list[Firing] = []
        self.gate = threading.Event()
        self.gate.set()
        self.changed = threading.Condition()

    def __call__(self, firing: Firing) -> None:
        with self.changed:
            self.firings.append(firing)
            self.changed.notify_all()
        self.gate.wait(10)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.firings) >= count, timeout)


def test_the_schedule_invokes_with_the_input_only_when_the_policy_allows_it() -> None:
    # GIVEN a rate(1 minute) rule (a minute lasts 0.2 s) targeting the function with an Input
    store = RuleStore(ACCOUNT, REGION, minute_seconds=0.2)
    invocations = Invocations()
    scheduler = RuleScheduler(store, invocations, tick_seconds=0.01)
    _poll_every_minute(store)
    # AND a permission for another rule only
    _allow(store, "Other", statement_id="other")
    with scheduler:
        # WHEN the rule runs without a matching permission
        time.sleep(0.7)

        # THEN the function is not invoked; each run is recorded as refused
        assert invocations.firings == []
        refused = scheduler.deliveries
        assert len(refused) >= 2
        assert all(not d.invoked and "resource policy" in d.reason for d in refused)

        # WHEN EventBridge is allowed for this rule
        _allow(store, "Poll", statement_id="poll")

        # THEN the next runs invoke it with the Input as the event
        assert invocations.wait_for(2)
        assert [f.event for f in invocations.firings[:2]] == [{"RequestId": "r"}] * 2
        assert scheduler.awaits("r")


def test_the_schedule_stops_after_remove_targets_and_delete_rule() -> None:
    # GIVEN a permitted rule running every 0.1 s
    store = RuleStore(ACCOUNT, REGION, minute_seconds=0.1)
    invocations = Invocations()
    _poll_every_minute(store)
    _allow(store, "Poll", statement_id="poll")
    with RuleScheduler(store, invocations, tick_seconds=0.01) as scheduler:
        assert invocations.wait_for(1)

        # WHEN the target is removed and the rule deleted
        store.remove_targets("Poll", ["1"])
        store.delete_rule("Poll")
        count = len(invocations.firings)
        time.sleep(0.5)

        # THEN nothing more is invoked and nothing awaits the request
        assert len(invocations.firings) == count
        assert not scheduler.awaits("r")


def test_a_target_is_not_invoked_again_while_its_invocation_runs() -> None:
    # GIVEN a permitted rule running every 0.05 s whose invocation blocks
    store = RuleStore(ACCOUNT, REGION, minute_seconds=0.05)
    invocations = Invocations()
    invocations.gate.clear()
    _poll_every_minute(store)
    _allow(store, "Poll", statement_id="poll")
    scheduler = RuleScheduler(store, invocations, tick_seconds=0.01).start()
    try:
        # WHEN several periods pass during the first invocation
        assert invocations.wait_for(1)
        time.sleep(0.4)

        # THEN there is one invocation; the other runs were skipped
        assert len(invocations.firings) == 1
        assert scheduler.running_for("r")
        skipped = [d for d in scheduler.deliveries if not d.invoked]
        assert skipped
        assert all("previous invocation still runs" in d.reason for d in skipped)
    finally:
        invocations.gate.set()
        # WHEN stopped THEN it waits for the invocation it started
        scheduler.stop()
    assert not scheduler.running_for("r")


def test_a_firing_can_be_delivered_again_as_lambdas_queue_may() -> None:
    # GIVEN a permitted rule that has fired once
    store = RuleStore(ACCOUNT, REGION, minute_seconds=0.05)
    invocations = Invocations()
    _poll_every_minute(store)
    _allow(store, "Poll", statement_id="poll")
    scheduler = RuleScheduler(store, invocations, tick_seconds=0.01).start()
    try:
        assert invocations.wait_for(1)
    finally:
        scheduler.stop()
    first = invocations.firings[0]
    delivered = len(scheduler.deliveries)
    # WHEN the test delivers that firing again (the schedule stopped)
    scheduler.deliver_again(first)
    # THEN the function got the same event once more, recorded as delivered again
    assert invocations.firings[-1] is first
    (again,) = scheduler.deliveries[delivered:]
    assert (again.firing, again.invoked, again.reason) == (first, True, "delivered again")


# ---------------------------------------------------------------------- end to end

POLLING_HANDLER = """
import json
import os

from crhelper import CfnResource

helper = CfnResource(
    json_logging=False, log_level="INFO", boto_level="CRITICAL", sleep_on_delete=0,
    polling_interval=1,
)


def _record(kind, event):
    with open(os.environ["POLL_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"kind": kind, "RequestId": event["RequestId"],
                              "Poll": event.get("CrHelperPoll", False),
                              "Rule": event.get("CrHelperRule")}) + "\\n")
    with open(os.environ["POLL_LOG"], encoding="utf-8") as log:
        return sum(1 for line in log if json.loads(line)["kind"] == kind)


@helper.create
def create(event, context):
    _record("create", event)
    helper.Data["Started"] = "yes"
    return "from-create"


@helper.poll_create
def poll_create(event, context):
    polls = _record("poll", event)
    wanted = os.environ["POLLS"]
    if wanted == "never" or polls <= int(wanted):
        return None
    helper.Data["Polls"] = str(polls)
    return "polled-" + event["LogicalResourceId"]


@helper.delete
def delete(event, context):
    _record("delete", event)


def handler(event, context):
    helper(event, context)
"""


def polling_template(poll_log: Path, polls: str, **properties: Any) -> dict[str, Any]:
    """A function using crhelper's polling and a custom resource it backs."""
    return {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": FUNCTION,
                    "Code": {"ZipFile": POLLING_HANDLER},
                    "Handler": "index.handler",
                    "Runtime": "python3.12",
                    "Timeout": 30,
                    "Role": f"arn:aws:iam::{ACCOUNT}:role/r",
                    "Environment": {"Variables": {"POLL_LOG": str(poll_log), "POLLS": polls}},
                },
            },
            "Thing": {
                "Type": "Custom::Polled",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, **properties},
            },
        },
        "Outputs": {
            "Polls": {"Value": {"Fn::GetAtt": ["Thing", "Polls"]}},
            "Started": {"Value": {"Fn::GetAtt": ["Thing", "Started"]}},
        },
    }


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def records(poll_log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in poll_log.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def poll_log(tmp_path: Path) -> Path:
    """Where the polling handler records each invocation (one JSON line each)."""
    return tmp_path / "polls.jsonl"


@pytest.fixture
def polling_cfn(start_cfn: Callable[..., LocalCloudFormation]) -> LocalCloudFormation:
    """A local CloudFormation (state in ``tmp_path/state``) whose minute lasts one second."""
    return start_cfn(polling_minute_seconds=1.0)


def test_a_custom_resource_completes_with_the_answer_of_the_last_poll(
    tmp_path: Path, poll_log: Path, polling_cfn: LocalCloudFormation
) -> None:
    # GIVEN a crhelper handler whose create starts polling and whose poll returns None twice,
    # then an id, with a minute lasting one second
    assembly = write_assembly(
        tmp_path / "cdk.out", {"Polling": polling_template(poll_log, polls="2")}
    )
    # WHEN deployed
    (summary,) = polling_cfn.deploy(assembly)

    # THEN the resource got the last poll's answer (with the create's Data carried on)
    stack = polling_cfn.stack("Polling")
    assert stack is not None
    assert stack.resources["Thing"].physical_id == "polled-Thing"
    assert summary.outputs == {"Polls": "3", "Started": "yes"}
    # AND the create ran once, then three scheduled polls of the same request, all from
    # the rule crhelper put
    seen = records(poll_log)
    assert [r["kind"] for r in seen] == ["create", "poll", "poll", "poll"]
    assert {r["RequestId"] for r in seen} == {seen[0]["RequestId"]}
    assert [r["Poll"] for r in seen] == [False, True, True, True]
    rule = seen[1]["Rule"]
    assert rule.startswith(f"arn:aws:events:{REGION}:{ACCOUNT}:rule/Thing")
    # AND no rule, target or permission is left behind
    assert polling_cfn.rules.rules() == {}
    assert polling_cfn.rules.policy(FUNCTION) == {}
    # (the last poll's process ends just after its answer)
    assert eventually(lambda: not polling_cfn.polling_for(seen[0]["RequestId"]))
    scheduler = polling_cfn.rule_scheduler
    assert scheduler is not None
    invoked = [d for d in scheduler.deliveries if d.invoked]
    assert [d.firing.rule_arn for d in invoked] == [rule] * 3
    # AND the polls' logs are next to the create's
    logs = sorted(p.name for p in (tmp_path / "state" / "logs" / "Polling" / "Thing").iterdir())
    assert len(logs) == 4
    assert sum("-Create-" in name and "-poll" in name for name in logs) == 3

    polling_cfn.destroy()
    assert [r["kind"] for r in records(poll_log)][-1] == "delete"


def test_a_resource_still_polled_at_service_timeout_fails_as_cloudformation_times_out(
    tmp_path: Path, poll_log: Path, polling_cfn: LocalCloudFormation
) -> None:
    # GIVEN a handler that polls forever, and ServiceTimeout 4 s (a minute lasts one second)
    assembly = write_assembly(
        tmp_path / "cdk.out",
        {"Forever": polling_template(poll_log, polls="never", ServiceTimeout=4)},
    )
    # WHEN deployed
    started = time.monotonic()
    with pytest.raises(DeploymentFailed) as failure:
        polling_cfn.deploy(assembly)

    # THEN the create waited for the polls until ServiceTimeout, then failed with
    # CloudFormation's timeout reason
    elapsed = time.monotonic() - started
    assert failure.value.logical_id == "Thing"
    request_id = records(poll_log)[0]["RequestId"]
    assert (
        "CloudFormation did not receive a response from your Custom Resource. Please check "
        f"your logs for requestId [{request_id}]." in failure.value.reason
    )
    assert 4 <= elapsed < 30
    assert "poll" in [r["kind"] for r in records(poll_log)]
