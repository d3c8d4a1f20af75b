"""A competing CPU-bound process, as a deploy-time Lambda sharing its cores would meet.

:class:`CompetingCpu` starts one process (its own session) that hashes a 1 MiB buffer with
``hashlib.sha256`` in a loop on one thread: one core's worth of demand, whatever the
scheduler does with it. It is running (it said ``READY``) before the measured workload starts
and is stopped, by its process id, once the workload has ended. The CPU it got meanwhile is
read from ``/proc`` like the services' (``ProcessStats.service_cpu_s["competitor"]``), so a
run shows how much of a core it actually took.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Final, Self

from codeartifact_generic.testing._serving import Managed

#: The name the competitor's CPU is recorded under among the services.
NAME: Final = "competitor"
#: One thread spinning hashlib (which releases the GIL: still one thread, one core).
_SPIN: Final = """
import hashlib, sys
block = bytes(1 << 20)
digest = hashlib.sha256()
print("READY", flush=True)
while True:
    digest.update(block)
"""


class CompetingCpu(Managed):
    """One CPU-bound process for the life of the ``with`` block."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The competitor's process id (only while it runs)."""
        assert self.process is not None, "the competitor is not running"
        return self.process.pid

    def start(self) -> Self:
        """Start the competitor and wait until it spins."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _SPIN],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().strip()
        if ready != b"READY":
            self.stop()
            raise RuntimeError(f"the competing process did not start (said {ready!r})")
        return self

    def stop(self) -> None:
        """Kill the competitor (by its id) and reap it; safe to call twice."""
        if self.process is not None:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
