"""Where the time goes (``--profile``): py-spy samples the processes of one invocation.

After the measured runs, one extra known-hash and one unknown-hash invocation at the largest
size run with py-spy attached (``--nonblocking``) to the handler process (every thread, idle
time included: wall-clock shares) and to the CodeArtifact emulator and moto (on-CPU samples
only). These runs are not part of the medians. The raw stacks are kept next to the results;
the summary names, per thread, the leaf frames with the largest shares of that thread's
samples (and each thread's share of the process's samples).

py-spy is not a project dependency: pass ``--py-spy PATH`` or have it on ``PATH``.
"""

from __future__ import annotations

import collections
import contextlib
import re
import signal
import subprocess
from pathlib import Path
from typing import Any, Final, Self

from codeartifact_generic.testing._serving import Managed

#: Samples per second.
RATE: Final = 100
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


class PySpy(Managed):
    """``py-spy record --pid PID`` into a raw (collapsed stacks) file; a context manager."""

    def __init__(self, py_spy: str, pid: int, out: Path, *, idle: bool = False) -> None:
        self.out = out
        command = [py_spy, "record", "--pid", str(pid), "--rate", str(RATE), "--nonblocking"]
        command += ["--format", "raw", "--output", str(out), "--threads"]
        if idle:
            command.append("--idle")
        out.parent.mkdir(parents=True, exist_ok=True)
        self._log = out.with_suffix(".log").open("wb")
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )

    def start(self) -> Self:
        """Nothing to start: py-spy records from construction on; returns self."""
        return self

    def stop(self, *, wait_only: bool = False) -> None:
        """Let py-spy write its file: SIGINT it (unless its target ends by itself)."""
        if not wait_only and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


def _frame(text: str) -> str:
    """``function (file)`` without the line number, with only the file's last two parts."""
    found = _FRAME.match(text.strip())
    if found is None:
        return text.strip()
    file = "/".join(found.group("file").split("/")[-2:])
    return f"{found.group('function')} ({file})"


def summarize(raw: Path, top: int = 8) -> dict[str, Any]:
    """Total samples and the largest leaf-frame shares per thread, from a raw py-spy file."""
    if not raw.exists():
        return {"samples": 0, "threads": {}}
    per_thread: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0].split(":", 1)[1].strip() if ":" in frames[0] else frames[0]
        leaf = _frame(frames[-1]) if len(frames) > 1 else "(no Python frame)"
        per_thread[thread or "thread"][leaf] += int(count)
        total += int(count)
    threads = {
        name: {
            "samples": sum(counter.values()),
            "share_of_process": round(sum(counter.values()) / total, 3),
            "top": [
                {"frame": frame, "samples": n, "share": round(n / sum(counter.values()), 3)}
                for frame, n in counter.most_common(top)
            ],
        }
        for name, counter in sorted(per_thread.items(), key=lambda kv: -sum(kv[1].values()))
    }
    return {"samples": total, "threads": threads}


def stop_all(recorders: list[PySpy]) -> None:
    """Stop every recorder, ignoring ones that already ended."""
    for recorder in recorders:
        with contextlib.suppress(OSError):
            recorder.stop()
