"""Request-rate quotas: a token bucket per throttled operation, as CodeArtifact's service quotas.

CodeArtifact allows about 10 ``PublishPackageVersion`` calls per second per account (the user
guide's "Quotas in AWS CodeArtifact" page; an adjustable quota). The emulator serves one
account, so it keeps one bucket: it holds up to ``burst`` tokens (default: one second's
worth, the rate), refills at ``rate`` tokens per second, and every call takes one. A call that
finds no token is answered ``ThrottlingException`` (HTTP 429) with ``Retry-After`` (whole
seconds until a token is back, at least 1; the model's ``retryAfterSeconds``), before the
operation runs and before its body is read, so nothing is stored and the call is not recorded
in the fault plan's calls. botocore retries it as a throttling error, as it does the
``throttling`` fault.

AWS documents the rate, not the burst: a bucket of one second's worth is the emulator's
choice. Counters (:attr:`TokenBucket.admitted`, :attr:`TokenBucket.throttled`) let tests see
how many calls were throttled and absorbed by the client's retries.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """``rate`` calls per second with a bucket of ``burst`` tokens."""

    rate: float
    burst: float

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"a rate limit needs a positive rate, got {self.rate!r}")
        if not self.burst >= 1:
            raise ValueError(f"a rate limit needs a burst of at least 1, got {self.burst!r}")


class TokenBucket:
    """A thread-safe token bucket; the limit is passed on each call, so it may change live."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: float | None = None  # a new bucket starts full
        self._updated = 0.0
        self._limit: RateLimit | None = None
        #: Calls let through.
        self.admitted = 0
        #: Calls refused for want of a token.
        self.throttled = 0

    def take(self, limit: RateLimit | None) -> float | None:
        """Take a token: ``None`` when the call may go on (always, with no ``limit``), else
        the seconds until a token will be available."""
        with self._lock:
            if limit is None:
                self.admitted += 1
                return None
            now = self._clock()
            if self._tokens is None or limit != self._limit:
                self._tokens = limit.burst  # a new or changed limit starts full
            else:
                elapsed = max(0.0, now - self._updated)
                self._tokens = min(limit.burst, self._tokens + elapsed * limit.rate)
            self._limit = limit
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                self.admitted += 1
                return None
            self.throttled += 1
            return (1 - self._tokens) / limit.rate

    def reset_counts(self) -> None:
        """Zero :attr:`admitted` and :attr:`throttled` (the bucket's tokens are kept)."""
        with self._lock:
            self.admitted = 0
            self.throttled = 0


def retry_after_seconds(wait: float) -> int:
    """``Retry-After`` for a wait of ``wait`` seconds: whole seconds, at least 1."""
    return max(1, math.ceil(wait))
