"""The deadline's margin alarm: a call stuck in a socket is interrupted, cleanup is not."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType

import pytest
from codeartifact_generic.handler.deadline import Deadline, OutOfTime

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


def test_a_read_stuck_in_a_socket_is_interrupted_at_the_margin_with_what_it_was_doing() -> None:
    # GIVEN a socket nobody ever writes to, and a deadline whose margin is 0.3 s away
    deadline = _deadline(0.3)
    deadline.check("waiting for CodeArtifact's answer to 'big.bin'")
    left, right = socket.socketpair()
    started = time.monotonic()
    # WHEN the main thread blocks reading it inside interrupting()
    with left, right, pytest.raises(OutOfTime) as raised, deadline.interrupting():
        left.recv(1)
    # THEN it is stopped at the margin, not after the socket's (absent) timeout...
    assert time.monotonic() - started < 5.0
    # ...with a reason that says what it was doing
    assert str(raised.value) == (
        "stopped before the Lambda timeout while waiting for CodeArtifact's answer to 'big.bin'"
    )
    # AND no alarm of its own is left to interrupt the cleanup that follows
    assert _only_the_own_alarm_is_left()


def test_a_block_that_ends_in_time_gives_back_the_alarm_that_was_there() -> None:
    # GIVEN a deadline far from its margin (and the tests' own alarm and handler installed)
    deadline = _deadline(30)
    # WHEN a quick block runs inside interrupting()
    with deadline.interrupting():
        result = sum(range(1000))
    # THEN it completes, and the alarm and handler that were there are back in place
    assert result == 499500
    assert _only_the_own_alarm_is_left()


def test_a_deadline_already_past_its_margin_refuses_to_start_the_block() -> None:
    # GIVEN a deadline whose margin was reached
    deadline = _deadline(-1)
    ran: list[bool] = []
    # WHEN a block is started inside interrupting()
    with pytest.raises(OutOfTime), deadline.interrupting():
        ran.append(True)
    # THEN it never ran
    assert ran == []


def test_outside_the_main_thread_the_block_runs_without_an_alarm() -> None:
    # GIVEN a deadline whose margin is 0.2 s away, used from a worker thread
    deadline = _deadline(0.2)
    outcome: list[str] = []

    def work() -> None:
        with deadline.interrupting():
            time.sleep(0.5)  # past the margin: only an alarm could have stopped it
        outcome.append("finished")

    # WHEN the worker runs the block
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=10)
    # THEN it ran to its end (signals only reach the main thread) and set no alarm
    assert outcome == ["finished"]
    assert _only_the_own_alarm_is_left()
