"""Whether the next asset still fits in this invocation, from the rates measured so far.

Used when a version may take more than one invocation (see :mod:`.index`): an asset that
would not end in time is not started, so that no upload is cut off and sent again by the next
invocation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import contract
from .deadline import Deadline

#: An asset is started only if its estimated time, this much longer, still fits: rates vary.
_TO_SPARE = 1.25


class Pacing:
    """The slowest rate an asset was published at in this invocation (thread-safe), and the
    time this invocation may still work."""

    def __init__(
        self,
        deadline: Deadline,
        *,
        within_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``within_seconds``: work at most this long from now (a poll must end before the
        next one), besides the deadline's margin."""
        self._deadline = deadline
        self._clock = clock
        self._ends = None if within_seconds is None else clock() + within_seconds
        self._lock = threading.Lock()
        self._slowest: float | None = None

    @contextmanager
    def publishing(self, size: int) -> Iterator[None]:
        """Time the publishing of an asset of ``size`` bytes (alongside any others); a
        failed one counts for nothing."""
        began = self._clock()
        yield
        rate = max(size, 1) / max(self._clock() - began, 1e-6)
        with self._lock:
            self._slowest = rate if self._slowest is None else min(self._slowest, rate)

    @property
    def measured(self) -> bool:
        """Whether an asset has ended in this invocation."""
        with self._lock:
            return self._slowest is not None

    def fits(self, size: int) -> bool:
        """Whether an asset of ``size`` bytes ends in time, with a quarter to spare, at the
        slowest rate seen (before any: :data:`.contract.ONE_INVOCATION_BYTES_PER_SECOND`)."""
        with self._lock:
            rate = self._slowest or contract.ONE_INVOCATION_BYTES_PER_SECOND
        left = self._deadline.seconds_to_margin
        if self._ends is not None:
            left = min(left, self._ends - self._clock())
        return size / rate * _TO_SPARE < left
