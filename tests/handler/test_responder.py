"""crhelper, and the one adapter that adds what the handler guarantees (``responder.py``).

Everything runs in this process with the real ``crhelper.CfnResource``, which PUTs its answers
over HTTPS to a local server (its CA given through crhelper's own ``ssl_verify``). The first
group pins the crhelper behaviour the adapter relies on, or works around; the second shows
the adapter's guarantees: exactly one answer, before the timeout, saying how far the work got,
SUCCESS at the timeout of a rollback, and an answer to a malformed event.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from botocore.exceptions import ClientError
from codeartifact_generic.handler.deadline import OutOfTime
from codeartifact_generic.handler.responder import (
    CRHELPER_RULE_KEY,
    Answer,
    Invocation,
    Responder,
    answer_bytes,
    is_poll,
)
from crhelper import CfnResource

from codeartifact_generic.testing._local_deploy.scheduled_rules import (
    RuleStore,
    ScheduledRulesEndpoint,
)

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/Pkgs/6a1f2b3c-0000-4000-8000-0001"


@dataclass
class Received:
    """One answer the ResponseURL server received."""

    path: str
    body: dict[str, Any]
    raw: bytes
    at: float


class AnswerServer:
    """An HTTPS ``ResponseURL`` server that records every PUT; it may hold its reply."""

    def __init__(self, tmp: Path) -> None:
        ca = trustme.CA()
        self.ca_file = tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.received: list[Received] = []
        #: Seconds the server waits before replying to each PUT (a slow ResponseURL).
        self.reply_after = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                server.received.append(Received(self.path, json.loads(raw), raw, time.monotonic()))
                time.sleep(server.reply_after)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        return f"https://127.0.0.1:{self._http.server_address[1]}/{name}?X-Amz-Signature=x"

    def answers(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path.startswith(f"/{name}?")]

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnswerServer]:
    running = AnswerServer(tmp_path_factory.mktemp("answers"))
    yield running
    running.close()


@pytest.fixture
def helper(server: AnswerServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[CfnResource]:
    """A fresh CfnResource as the handler makes it, trusting the local server's CA.

    crhelper sets the root logger's level (and botocore's) on every call: put them back.
    """
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    loggers = [logging.getLogger(n) for n in ("", "boto", "boto3", "botocore", "urllib3")]
    levels = [logger.level for logger in loggers]
    server.reply_after = 0.0
    yield CfnResource(
        log_level="INFO", boto_level="CRITICAL", sleep_on_delete=0, ssl_verify=str(server.ca_file)
    )
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


class Context:
    """A Lambda context whose time runs out ``seconds`` from now."""

    def __init__(self, seconds: float = 60) -> None:
        self._ends = time.monotonic() + seconds
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:handler"
        self.function_name = "handler"
        self.aws_request_id = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


_names = iter(range(10**6))


def _event(server: AnswerServer, request_type: str = "Create", **extra: Any) -> dict[str, Any]:
    """An event with its own ResponseURL path (``event["_name"]`` names it)."""
    name = f"answer-{next(_names)}"
    return {
        "RequestType": request_type,
        "ResponseURL": server.url(name),
        "StackId": STACK_ID,
        "RequestId": f"request-{name}",
        "LogicalResourceId": "Version",
        "ResourceType": "Custom::Test",
        "ResourceProperties": {},
        "_name": name,
        **extra,
    }


def _wait(seconds: float) -> None:
    time.sleep(seconds)


# --------------------------------------------------------- crhelper, as the adapter uses it


def test_crhelper_dispatches_on_request_type_with_the_context_it_was_given(
    helper: CfnResource, server: AnswerServer
) -> None:
    # GIVEN a function registered for each request type, returning an id and setting Data
    seen: list[tuple[str, Any]] = []

    def function(event: dict[str, Any], context: Any) -> str:
        seen.append((event["RequestType"], context))
        helper.Data.update({"Key": event["RequestType"]})
        return f"id-{event['RequestType']}"

    helper.create(function)
    helper.update(function)
    helper.delete(function)
    context = Context()
    events = [
        _event(server, "Create"),
        _event(server, "Update", PhysicalResourceId="old"),
        _event(server, "Delete", PhysicalResourceId="old"),
    ]
    # WHEN crhelper is called with each
    started = time.monotonic()
    for event in events:
        helper(event, context)
    # THEN each went to the function with the very context object given to crhelper...
    assert seen == [("Create", context), ("Update", context), ("Delete", context)]
    # ...and each got exactly one answer: SUCCESS, the returned id, the Data set
    for event in events:
        [answer] = server.answers(event["_name"])
        assert answer.body["Status"] == "SUCCESS"
        assert answer.body["PhysicalResourceId"] == f"id-{event['RequestType']}"
        assert answer.body["Data"] == {"Key": event["RequestType"]}
    # AND with sleep_on_delete=0 no request waited (crhelper would idle before a Delete)
    assert time.monotonic() - started < 5


def test_crhelper_answers_failed_with_the_exception_text(
    helper: CfnResource, server: AnswerServer
) -> None:
    def fail(_event: Any, _context: Any) -> str:
        raise ValueError("asset 'a.bin': it went wrong")

    helper.create(fail)
    helper.update(fail)
    update = _event(server, "Update", PhysicalResourceId="the-id")
    create = _event(server)
    helper(update, Context())
    helper(create, Context())
    # THEN FAILED with the text as Reason, and the event's physical id...
    [failed] = server.answers(update["_name"])
    assert failed.body["Status"] == "FAILED"
    assert failed.body["Reason"] == "asset 'a.bin': it went wrong"
    assert failed.body["PhysicalResourceId"] == "the-id"
    # ...or, for a Create (no id in the event), one crhelper generates from the stack and
    # the logical id
    [generated] = server.answers(create["_name"])
    assert generated.body["PhysicalResourceId"].startswith("Pkgs_Version_")
    assert len(generated.body["PhysicalResourceId"]) == len("Pkgs_Version_") + 8


def test_crhelper_answers_the_events_physical_id_when_the_function_returns_none(
    helper: CfnResource, server: AnswerServer
) -> None:
    helper.delete(lambda _event, _context: None)
    event = _event(server, "Delete", PhysicalResourceId="the-id")
    helper(event, Context())
    [answer] = server.answers(event["_name"])
    assert (answer.body["Status"], answer.body["PhysicalResourceId"]) == ("SUCCESS", "the-id")


def test_crhelper_starts_every_invocation_with_empty_data(
    helper: CfnResource, server: AnswerServer
) -> None:
    def first(_event: Any, _context: Any) -> str:
        helper.Data.update({"Stale": "yes"})
        return "one"

    helper.create(first)
    helper(_event(server), Context())
    helper.create(lambda _event, _context: "two")
    event = _event(server)
    helper(event, Context())
    [answer] = server.answers(event["_name"])
    assert answer.body["Data"] == {}


@pytest.fixture
def polling_helper(
    server: AnswerServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CfnResource, RuleStore]]:
    """A CfnResource with polling, its EventBridge and Lambda clients on a local endpoint."""
    store = RuleStore()
    with ScheduledRulesEndpoint(store) as endpoint:
        for service in ("EVENTBRIDGE", "LAMBDA"):
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", endpoint.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        yield (
            CfnResource(
                log_level="INFO",
                boto_level="CRITICAL",
                sleep_on_delete=0,
                polling_interval=5,
                ssl_verify=str(server.ca_file),
            ),
            store,
        )


def test_crhelper_polls_with_its_marked_event_until_the_poll_function_returns_an_id(
    polling_helper: tuple[CfnResource, RuleStore], server: AnswerServer
) -> None:
    # GIVEN crhelper with polling: a Create, then a poll that is not done, then one that is
    helper, store = polling_helper
    responder = Responder(helper)
    outcomes: list[Answer | None] = [None, Answer("the-id", {"Revision": "r2"})]
    helper.create(responder.operation(lambda _event, _invocation: Answer("the-id")))
    helper.poll_create(responder.operation(lambda _event, _invocation: outcomes.pop(0)))
    event = _event(server)
    assert not is_poll(event)
    # WHEN the Create runs
    responder(event, Context())
    # THEN nothing is answered yet: a rule every 5 minutes targets the function with the
    # event, marked as a poll (what index.handler routes on)
    assert server.answers(event["_name"]) == []
    [rule] = store.rules().values()
    assert rule.schedule_expression == "rate(5 minutes)"
    [target] = rule.targets.values()
    polled = json.loads(target["Input"])
    assert is_poll(polled)
    # AND naming its rule (what a poll reads to tell whether the request was answered)
    assert polled[CRHELPER_RULE_KEY] == rule.arn
    # WHEN a poll is not done THEN still no answer, and the rule stays
    responder(polled, Context())
    assert server.answers(event["_name"]) == []
    assert store.rules()
    # WHEN the next poll returns the id THEN it is the one answer, with the poll's data, and
    # the rule and the invoke permission are gone
    responder(polled, Context())
    [answer] = server.answers(event["_name"])
    assert answer.body["Status"] == "SUCCESS"
    assert answer.body["PhysicalResourceId"] == "the-id"
    assert answer.body["Data"]["Revision"] == "r2"
    assert store.rules() == {}
    assert store.policy("handler") == {}


def test_crhelper_timer_answers_failed_execution_timed_out_besides_the_handler(
    helper: CfnResource, server: AnswerServer
) -> None:
    # GIVEN a function that outlives crhelper's timer (0.5 s before the context's end)
    helper.create(lambda _event, _context: _wait(1.5) or "late-id")
    event = _event(server)
    # WHEN crhelper is called with a context 1.5 s from its end
    helper(event, Context(1.5))
    # THEN it answers twice: its timer's fixed FAILED at about 1 s, then the function's
    # SUCCESS. This is what the adapter works around (one answer, a reason that says
    # something, SUCCESS for rollbacks).
    answers = server.answers(event["_name"])
    assert [(a.body["Status"], a.body["Reason"]) for a in answers] == [
        ("FAILED", "Execution timed out"),
        ("SUCCESS", ""),
    ]


def test_crhelper_cancels_its_timer_when_it_returns(
    helper: CfnResource, server: AnswerServer
) -> None:
    helper.create(lambda _event, _context: "quick")
    event = _event(server)
    helper(event, Context(1.2))
    _wait(1.2)  # past when the timer would have fired
    assert [a.body["Status"] for a in server.answers(event["_name"])] == ["SUCCESS"]


def test_answer_bytes_is_the_size_of_the_body_crhelper_sends(
    helper: CfnResource, server: AnswerServer
) -> None:
    data = {"VersionRevision": "r+/=" * 11, "Asset0Sha256": "f" * 64}

    def answer(_event: Any, _context: Any) -> str:
        helper.Data.update(data)
        return "123456789012/d/r/generic/n/p/1.0.0#since-2026-01-01T00:00:00.000Z"

    helper.update(answer)
    event = _event(server, "Update", PhysicalResourceId="old")
    helper(event, Context())
    [sent] = server.answers(event["_name"])
    assert len(sent.raw) == answer_bytes(event, sent.body["PhysicalResourceId"], data)


# ------------------------------------------------------------------------------ the adapter


def _responder(
    helper: CfnResource, operation: Callable[[dict[str, Any], Invocation], Answer]
) -> Responder:
    responder = Responder(helper)
    wrapped = responder.operation(operation)  # type: ignore[arg-type]
    helper.create(wrapped)
    helper.update(wrapped)
    helper.delete(wrapped)
    return responder


def test_an_operation_that_ends_in_time_answers_its_id_and_data(
    helper: CfnResource, server: AnswerServer
) -> None:
    got: list[Invocation] = []

    def operation(_event: dict[str, Any], invocation: Invocation) -> Answer:
        got.append(invocation)
        return Answer("the-id", {"Status": "Published"})

    context = Context(60)
    event = _event(server)
    _responder(helper, operation)(event, context)
    [answer] = server.answers(event["_name"])
    assert (answer.body["Status"], answer.body["PhysicalResourceId"]) == ("SUCCESS", "the-id")
    assert answer.body["Data"] == {"Status": "Published"}
    # AND the operation got this invocation's state: the real context and its deadline
    [invocation] = got
    assert invocation.context is context
    assert 55 < invocation.deadline.seconds_to_end <= 60
    assert invocation.account == "123456789012"


def test_a_failure_becomes_a_one_line_reason(helper: CfnResource, server: AnswerServer) -> None:
    def operation(_event: dict[str, Any], _invocation: Invocation) -> Answer:
        error = {"Code": "ResourceNotFoundException", "Message": "no\nsuch   repository"}
        raise ClientError({"Error": error}, "DescribePackageVersion")

    event = _event(server)
    _responder(helper, operation)(event, Context())
    [answer] = server.answers(event["_name"])
    assert answer.body["Status"] == "FAILED"
    assert answer.body["Reason"] == "ResourceNotFoundException: no such repository"
    assert answer.body["PhysicalResourceId"].startswith("Pkgs_Version_")


def test_one_answer_before_the_timeout_saying_what_the_operation_was_doing(
    helper: CfnResource, server: AnswerServer
) -> None:
    # GIVEN an operation stuck past the end of a Lambda that has 2.5 s left
    after_the_answer: list[str] = []

    def operation(_event: dict[str, Any], invocation: Invocation) -> Answer:
        invocation.deadline.doing = "publishing asset 'big.bin' (1048576 of 25165824 bytes read)"
        _wait(3.0)
        try:  # what it tries once it is unstuck, after the invocation was answered
            invocation.deadline.check("starting asset 'c.bin'")
        except OutOfTime:
            after_the_answer.append("refused")
        return Answer("too-late")

    event = _event(server)
    started = time.monotonic()
    # WHEN the invocation runs
    _responder(helper, operation)(event, Context(2.5))
    returned = time.monotonic() - started
    _wait(3.0)  # the operation ends, and crhelper's timer would have fired long ago
    # THEN exactly one answer went out, a second before the end: FAILED, saying how far it got
    [answer] = server.answers(event["_name"])
    assert answer.at - started < 2.0 and returned < 2.5
    assert answer.body["Status"] == "FAILED"
    assert answer.body["Reason"] == (
        "Lambda timeout reached while publishing asset 'big.bin' (1048576 of 25165824 bytes read)"
    )
    # AND the operation, once unstuck, could do nothing more
    assert after_the_answer == ["refused"]


def test_a_rollback_answers_success_at_the_timeout(
    helper: CfnResource, server: AnswerServer
) -> None:
    def operation(_event: dict[str, Any], invocation: Invocation) -> Answer:
        invocation.succeed_at_timeout()
        _wait(3.0)
        return Answer("too-late")

    event = _event(server, "Delete", PhysicalResourceId="Pkgs_Version_ABCDEFGH")
    _responder(helper, operation)(event, Context(2.0))
    [answer] = server.answers(event["_name"])
    assert answer.body["Status"] == "SUCCESS"
    assert answer.body["PhysicalResourceId"] == "Pkgs_Version_ABCDEFGH"


def test_a_slow_response_url_gets_no_second_answer_from_crhelpers_timer(
    helper: CfnResource, server: AnswerServer
) -> None:
    # GIVEN a ResponseURL that takes 2.5 s to accept the answer, in a Lambda with 2.5 s left
    # (crhelper's timer, told the real remaining time, would answer again at 2 s)
    server.reply_after = 2.5
    event = _event(server)
    _responder(helper, lambda _event, _invocation: Answer("quick"))(event, Context(2.5))
    server.reply_after = 0.0
    _wait(0.5)
    # THEN it received one answer only
    assert [a.body["Status"] for a in server.answers(event["_name"])] == ["SUCCESS"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"StackId": None}, "malformed CloudFormation event: missing StackId"),
        (
            {"RequestId": 7, "LogicalResourceId": None},
            "malformed CloudFormation event: missing RequestId, LogicalResourceId",
        ),
        (
            {"RequestType": "Upsert"},
            "malformed CloudFormation event: RequestType 'Upsert' is not one of Create, "
            "Update, Delete",
        ),
        ({"StackId": "Pkgs"}, "malformed CloudFormation event: StackId 'Pkgs' is not a stack ARN"),
    ],
    ids=["no-stack-id", "no-request-or-logical-id", "unknown-request-type", "stack-id-not-arn"],
)
def test_a_malformed_event_gets_one_failed_answer_naming_the_problem(
    helper: CfnResource, server: AnswerServer, change: dict[str, Any], reason: str
) -> None:
    ran: list[bool] = []

    def operation(_event: dict[str, Any], _invocation: Invocation) -> Answer:
        ran.append(True)
        return Answer("never")

    event = {**_event(server), **change}
    _responder(helper, operation)(event, Context())
    [answer] = server.answers(event["_name"])
    assert answer.body["Status"] == "FAILED"
    assert answer.body["Reason"] == reason
    assert answer.body["PhysicalResourceId"] == "malformed-event"
    assert ran == []


def test_a_malformed_event_keeps_its_physical_id(helper: CfnResource, server: AnswerServer) -> None:
    event = {**_event(server, "Delete", PhysicalResourceId="the-id"), "StackId": None}
    _responder(helper, lambda _event, _invocation: Answer("never"))(event, Context())
    [answer] = server.answers(event["_name"])
    assert (answer.body["Status"], answer.body["PhysicalResourceId"]) == ("FAILED", "the-id")


def test_an_event_without_a_response_url_is_logged_and_not_answered(
    helper: CfnResource, server: AnswerServer, caplog: pytest.LogCaptureFixture
) -> None:
    before = len(server.received)
    event = {**_event(server), "ResponseURL": None}
    with caplog.at_level(logging.ERROR, logger="codeartifact_generic"):
        _responder(helper, lambda _event, _invocation: Answer("never"))(event, Context())
    assert len(server.received) == before
    assert '"event": "malformed_event"' in caplog.text
    assert "missing ResponseURL" in caplog.text
