"""Stop cleanly before the Lambda timeout, so the cleanup and a readable FAILED still happen."""

from __future__ import annotations

from collections.abc import Callable


class OutOfTime(Exception):
    """The invocation is about to time out; the message says what was being done."""


class Deadline:
    """Raises :class:`OutOfTime` once the remaining time drops below a safety margin.

    The margin is 10% of the time left at start, between 5 and 30 seconds: enough to delete an
    Unfinished version and answer CloudFormation.
    """

    def __init__(self, remaining_ms: Callable[[], int]) -> None:
        self._remaining_ms = remaining_ms
        self.margin_seconds = max(5.0, min(30.0, remaining_ms() / 1000 * 0.1))
        #: What the last check was about: the reason given if the Lambda times out anyway.
        self.doing = "starting"

    @property
    def seconds_left(self) -> float:
        """Seconds until the margin is reached (negative once it is)."""
        return self._remaining_ms() / 1000 - self.margin_seconds

    def check(self, doing: str) -> None:
        """Raise :class:`OutOfTime` mentioning ``doing`` when the margin is reached."""
        self.doing = doing
        if self._remaining_ms() / 1000 < self.margin_seconds:
            raise OutOfTime(f"stopped before the Lambda timeout while {doing}")


#: A deadline that never expires (plain function calls, tests).
NO_DEADLINE = Deadline(lambda: 2**62)
