"""The deadline: a call stuck in a socket is abandoned at the margin, from any thread, and no
signal is ever used (the alarm a test runner set stays as it was)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType

import pytest
from codeartifact_generic.handler.deadline import NO_DEADLINE, Deadline, OutOfTime

#: The delay of the alarm the tests own while they run (far beyond any test).
OWN_ALARM_SECONDS = 1000.0


def _own_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise AssertionError("the tests' own alarm must never go off")


@pytest.fixture(autouse=True)
def own_alarm() -> Iterator[None]:
    """Someone else's SIGALRM timer and handler, as a test runner's timeout would set them.

    Whatever was there before (pytest-timeout's alarm) is put back afterwards.
    """
    handler = signal.signal(signal.SIGALRM, _own_alarm)
    delay, interval = signal.setitimer(signal.ITIMER_REAL, OWN_ALARM_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, delay, interval)
        signal.signal(signal.SIGALRM, handler)


def _only_the_own_alarm_is_left() -> bool:
    delay, _interval = signal.getitimer(signal.ITIMER_REAL)
    return (
        signal.getsignal(signal.SIGALRM) is _own_alarm
        and OWN_ALARM_SECONDS - 10 < delay <= OWN_ALARM_SECONDS
    )


def _deadline(seconds_before_margin: float) -> Deadline:
    """A deadline whose margin (5 s, the minimum) is reached after ``seconds_before_margin``."""
    ends = time.monotonic() + 5.0 + seconds_before_margin
    return Deadline(lambda: int((ends - time.monotonic()) * 1000))


def test_a_read_stuck_in_a_socket_is_abandoned_at_the_margin_with_what_it_was_doing() -> None:
    # GIVEN a socket nobody ever writes to, and a deadline whose margin is 0.3 s away
    deadline = _deadline(0.3)
    deadline.check("waiting for CodeArtifact's answer to 'big.bin'")
    left, right = socket.socketpair()
    started = time.monotonic()
    # WHEN a call blocks reading it under the deadline
    with left, right, pytest.raises(OutOfTime) as raised:
        deadline.run(lambda: left.recv(1))
    # THEN the caller is released at the margin, not after the socket's (absent) timeout...
    assert time.monotonic() - started < 5.0
    # ...with a reason that says what it was doing
    assert str(raised.value) == (
        "stopped before the Lambda timeout while waiting for CodeArtifact's answer to 'big.bin'"
    )
    # AND no signal was used: the alarm and handler that were there are untouched
    assert _only_the_own_alarm_is_left()


def test_a_call_that_ends_in_time_gives_its_value_and_leaves_the_alarm_alone() -> None:
    # GIVEN a deadline far from its margin (and the tests' own alarm and handler installed)
    deadline = _deadline(30)
    # WHEN a quick call runs under it
    result = deadline.run(lambda: sum(range(1000)))
    # THEN it completes, and the alarm and handler that were there are still in place
    assert result == 499500
    assert _only_the_own_alarm_is_left()


def test_a_call_that_fails_in_time_raises_its_own_error() -> None:
    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        _deadline(30).run(fail)


def test_a_deadline_already_past_its_margin_refuses_to_start_the_call() -> None:
    # GIVEN a deadline whose margin was reached
    deadline = _deadline(-1)
    ran: list[bool] = []
    # WHEN a call is started under it
    with pytest.raises(OutOfTime):
        deadline.run(lambda: ran.append(True))
    # THEN it never ran
    assert ran == []


def test_outside_the_main_thread_a_stuck_call_is_abandoned_too() -> None:
    # GIVEN a deadline whose margin is 0.2 s away, used from a worker thread (the operation
    # runs in one, see the responder)
    deadline = _deadline(0.2)
    outcome: list[str] = []

    def work() -> None:
        try:
            deadline.run(lambda: time.sleep(5))  # past the margin
        except OutOfTime:
            outcome.append("out of time")

    # WHEN the worker runs the call
    started = time.monotonic()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=10)
    # THEN it was released at the margin, long before the call would have ended
    assert outcome == ["out of time"]
    assert time.monotonic() - started < 3.0
    assert _only_the_own_alarm_is_left()


def test_an_abandoned_call_ends_on_its_own_and_its_result_is_dropped() -> None:
    # GIVEN a call that is stuck until the test releases it
    release = threading.Event()
    ended: list[str] = []

    def stuck() -> str:
        release.wait(10)
        ended.append("ended")
        return "late"

    # WHEN it is abandoned at the margin, then released
    with pytest.raises(OutOfTime):
        _deadline(0.2).run(stuck)
    release.set()
    give_up = time.monotonic() + 5
    while not ended and time.monotonic() < give_up:
        time.sleep(0.01)
    # THEN it ended by itself, and nobody received what it returned
    assert ended == ["ended"]


def test_a_cleanup_margin_applies_in_its_own_thread_only() -> None:
    # GIVEN a deadline 1 s past its 5 s margin (4 s before the end)
    deadline = _deadline(-1)
    elsewhere: list[str] = []

    def other_thread() -> None:
        try:
            deadline.run(lambda: "ran")
        except OutOfTime:
            elsewhere.append("out of time")

    # WHEN a cleanup asks to go on until 1.5 s before the end
    with deadline.margin(1.5):
        cleaned = deadline.run(lambda: "cleaned")
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(timeout=10)
    # THEN its calls still run, while other threads, and this one afterwards, are refused
    assert cleaned == "cleaned"
    assert elsewhere == ["out of time"]
    with pytest.raises(OutOfTime):
        deadline.run(lambda: "after")


def test_an_expired_deadline_refuses_every_check_and_call() -> None:
    # GIVEN a deadline far from its margin, expired (its invocation was already answered)
    deadline = _deadline(30)
    deadline.expire()
    # THEN nothing more runs under it
    assert deadline.seconds_to_end == 0
    with pytest.raises(OutOfTime):
        deadline.check("publishing more")
    with pytest.raises(OutOfTime):
        deadline.run(lambda: "more")


def test_no_deadline_runs_calls_in_the_calling_thread() -> None:
    assert NO_DEADLINE.run(threading.current_thread) is threading.current_thread()
