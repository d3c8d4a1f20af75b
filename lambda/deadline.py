"""Stop cleanly before the Lambda timeout, so the cleanup and a readable FAILED still happen."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from .errors import PublishFailed


class OutOfTime(PublishFailed):
    """The invocation is about to time out; the message (the FAILED reason) says what was being
    done."""


class Interrupted(BaseException):
    """Raised in the main thread by :meth:`Deadline.interrupting`'s alarm.

    A ``BaseException`` on purpose: botocore wraps every ``Exception`` raised while sending into
    a retryable ``HTTPClientError``, and a retry is exactly what must not happen now.
    :meth:`Deadline.interrupting` turns it into :class:`OutOfTime` on the way out.
    """


class Deadline:
    """Raises :class:`OutOfTime` once the remaining time drops below a safety margin.

    The margin is 10% of the time left at start, between 5 and 30 seconds: enough to clean up
    after a failed run and answer CloudFormation.
    """

    def __init__(self, remaining_ms: Callable[[], int]) -> None:
        self._remaining_ms = remaining_ms
        self.margin_seconds = max(5.0, min(30.0, remaining_ms() / 1000 * 0.1))
        #: What the last check was about: the reason given if the Lambda times out anyway.
        self.doing = "starting"

    @property
    def seconds_to_end(self) -> float:
        """Seconds until the Lambda timeout itself."""
        return self._remaining_ms() / 1000

    @property
    def seconds_left(self) -> float:
        """Seconds until the margin is reached (negative once it is)."""
        return self._remaining_ms() / 1000 - self.margin_seconds

    def check(self, doing: str) -> None:
        """Raise :class:`OutOfTime` mentioning ``doing`` when the margin is reached."""
        self.doing = doing
        if self._remaining_ms() / 1000 < self.margin_seconds:
            raise OutOfTime(self._reason())

    def _reason(self) -> str:
        return f"stopped before the Lambda timeout while {self.doing}"

    @contextmanager
    def interrupting(self, margin_seconds: float | None = None) -> Iterator[None]:
        """Run the block, interrupting it when the margin is reached, wherever it waits.

        Checks between chunks cannot stop a call stuck in a socket (a server holding its answer to
        an upload, with botocore's long read timeout): a ``SIGALRM`` at the margin raises
        :class:`Interrupted` in the main thread, which unwinds through botocore unretried and leaves
        the block as :class:`OutOfTime` (as :class:`Interrupted` itself if it strikes just as the
        block ends: callers that must not fail catch both). The alarm is off again when the block
        ends, so the cleanup that follows is not interrupted, and a timer set before (a test
        runner's) is given back. ``margin_seconds`` overrides the margin (a cleanup may use the time
        the margin kept for it). Outside the main thread (signals cannot be used there) the block
        runs without the alarm.
        """
        margin = self.margin_seconds if margin_seconds is None else margin_seconds
        seconds = self._remaining_ms() / 1000 - margin
        if seconds > _NEVER_SECONDS or threading.current_thread() is not threading.main_thread():
            yield
            return
        if seconds <= 0:
            raise OutOfTime(self._reason())
        armed = True

        def alarm(_signum: int, _frame: FrameType | None) -> None:
            if armed:  # a late signal, once the block is over, is ignored
                raise Interrupted

        previous = signal.signal(signal.SIGALRM, alarm)
        previous_delay, previous_interval = 0.0, 0.0
        armed_at = time.monotonic()
        try:
            previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
            yield
        except Interrupted:
            raise OutOfTime(self._reason()) from None
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            # None: a handler installed outside Python; the default is the closest we can do.
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
            if previous_delay:  # someone else's alarm (a test runner's timeout): give it back
                elapsed = time.monotonic() - armed_at
                signal.setitimer(
                    signal.ITIMER_REAL, max(previous_delay - elapsed, 1e-3), previous_interval
                )


#: Longer than any Lambda lives (15 minutes): such a deadline needs no alarm.
_NEVER_SECONDS = 24 * 3600.0

#: A deadline that never expires (plain function calls, tests).
NO_DEADLINE = Deadline(lambda: 2**62)
