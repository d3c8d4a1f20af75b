"""Stop cleanly before the Lambda timeout, so the cleanup and a readable FAILED still happen.

Two tools, no signals:

* :meth:`Deadline.check` between steps (chunks, assets): raises :class:`OutOfTime` once the
  margin is reached;
* :meth:`Deadline.run` around every call that waits on a socket: the call runs in a worker
  thread and the caller waits for it until the margin at most. A call still stuck then (a
  server holding its answer, a download that stalls) is abandoned, never interrupted: the
  caller gets :class:`OutOfTime` and goes on with its cleanup, while the worker is left to
  end on its own, its result dropped. Nothing is ever raised inside library code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from .errors import PublishFailed
from .log import log_line

T = TypeVar("T")


class OutOfTime(PublishFailed):
    """The invocation is about to time out; the message (the FAILED reason) says what was being
    done."""


class CallAbandoned(Exception):
    """:func:`call_within` stopped waiting for a call that had not ended."""


class _Outcome(Generic[T]):
    """What a worker thread's call gave: a value or an exception, once it ended."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None

    def take(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # set whenever error is not


def call_within(call: Callable[[], T], seconds_left: Callable[[], float], *, name: str) -> T:
    """Run ``call`` in a daemon thread and wait for it while ``seconds_left()`` is positive.

    Returns its value or raises its exception; raises :class:`CallAbandoned` when the time is
    up first. An abandoned call keeps running until it ends by itself (a daemon thread does not
    keep the process alive); whatever it returns or raises then is dropped.
    """
    outcome: _Outcome[T] = _Outcome()

    def work() -> None:
        try:
            outcome.value = call()
        except BaseException as error:  # handed to the waiting thread
            outcome.error = error
        finally:
            outcome.ended.set()

    threading.Thread(target=work, name=name, daemon=True).start()
    while not outcome.ended.is_set():
        left = seconds_left()
        # Waits in slices of at most a second, so that a remaining time that jumps (a
        # deadline expired by another thread) is noticed.
        if left <= 0 or outcome.ended.wait(min(left, 1.0)):
            break
    if not outcome.ended.is_set():
        raise CallAbandoned(name)
    return outcome.take()


class Deadline:
    """The invocation's time limit, minus a safety margin kept for the cleanup and the answer.

    The margin is 10% of the time left at start, between 5 and 30 seconds.
    """

    def __init__(self, remaining_ms: Callable[[], int]) -> None:
        self._remaining_ms = remaining_ms
        self.margin_seconds = max(5.0, min(30.0, remaining_ms() / 1000 * 0.1))
        #: What the last check was about: the reason given if the time runs out.
        self.doing = "starting"
        self._expired = threading.Event()
        self._local = threading.local()

    @property
    def seconds_to_end(self) -> float:
        """Seconds until the Lambda timeout itself (0 once :meth:`expire` was called)."""
        return 0.0 if self._expired.is_set() else self._remaining_ms() / 1000

    @property
    def seconds_to_margin(self) -> float:
        """Seconds of work left before the margin, in this thread."""
        return self._seconds_to_margin()

    def expire(self) -> None:
        """End the deadline now: every later :meth:`check` and :meth:`run` raises
        :class:`OutOfTime` (for work that goes on after the invocation was answered)."""
        self._expired.set()

    def _margin(self) -> float:
        margin: float | None = getattr(self._local, "margin", None)
        return self.margin_seconds if margin is None else margin

    def _seconds_to_margin(self, margin_seconds: float | None = None) -> float:
        margin = self._margin() if margin_seconds is None else margin_seconds
        return self.seconds_to_end - margin

    @contextmanager
    def margin(self, seconds: float) -> Iterator[None]:
        """Within the block, and in this thread only, stop ``seconds`` before the end instead
        of at the margin (a cleanup may use the time the margin kept for it)."""
        previous = getattr(self._local, "margin", None)
        self._local.margin = seconds
        try:
            yield
        finally:
            self._local.margin = previous

    def check(self, doing: str) -> None:
        """Raise :class:`OutOfTime` mentioning ``doing`` when the margin is reached."""
        self.doing = doing
        if self._seconds_to_margin() <= 0:
            raise OutOfTime(self._reason())

    def _reason(self) -> str:
        return f"stopped before the Lambda timeout while {self.doing}"

    def run(self, call: Callable[[], T]) -> T:
        """``call()``, abandoned with :class:`OutOfTime` if it has not ended at the margin.

        For calls that may wait on a socket (boto3 calls, opening an S3 stream); see
        :func:`call_within`. A deadline already past its margin does not start the call. A
        deadline that never ends (:data:`NO_DEADLINE`) runs it in the calling thread.
        """
        left = self._seconds_to_margin()
        if left <= 0:
            raise OutOfTime(self._reason())
        if left > _NEVER_SECONDS:
            return call()
        try:
            return call_within(call, self._seconds_to_margin, name="bounded-call")
        except CallAbandoned:
            log_line("call_abandoned", doing=self.doing)
            raise OutOfTime(self._reason()) from None


#: Longer than any Lambda lives (15 minutes): such a deadline bounds nothing.
_NEVER_SECONDS = 24 * 3600.0

#: A deadline that never expires (plain function calls, tests).
NO_DEADLINE = Deadline(lambda: 2**62)
