"""Run one workload as a whole process and measure it.

Wall time is taken around the process's whole life (start-up included); peak RSS and user+sys
CPU come from ``os.wait4``'s rusage of that child (reaped by a tiny launcher, see
``_LAUNCHER``). Optionally, a sampler thread records the
peak bytes the process holds under a directory (its ``TMPDIR``): files in the tree plus files
the process has open there, which catches anonymous ``O_TMPFILE`` spools that never appear in
a directory listing. CPU used meanwhile by the local services (moto, proxy, emulator) is read
from ``/proc/PID/stat`` before and after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

#: Seconds between samples of the temporary directory.
SAMPLE_EVERY: Final = 0.02
_TICKS: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessStats:
    """What one process run cost."""

    command: str
    exit_code: int
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_kib: int
    timed_out: bool = False
    #: Peak bytes under the watched directory (None when nothing was watched).
    tmp_peak_bytes: int | None = None
    #: CPU seconds (user + system) each local service spent while the process ran.
    service_cpu_s: dict[str, float] = field(default_factory=dict)
    #: The system part of ``service_cpu_s``.
    service_sys_s: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        """User + system CPU seconds."""
        return self.user_s + self.sys_s

    @property
    def max_rss_mib(self) -> float:
        """Peak resident set size in MiB."""
        return self.max_rss_kib / 1024


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a running process (all its threads), from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0, 0.0
    fields = stat.rsplit(")", 1)[1].split()
    # After "pid (comm)": state is field 3, utime 14 and stime 15 (1-based).
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def bytes_held_under(directory: Path, pid: int) -> int:
    """Bytes in files under ``directory`` plus files under it that ``pid`` holds open."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(root, name))
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    prefix = str(directory)
    fd_dir = f"/proc/{pid}/fd"
    with contextlib.suppress(OSError):
        for fd in os.listdir(fd_dir):
            with contextlib.suppress(OSError):
                if not os.readlink(f"{fd_dir}/{fd}").startswith(prefix):
                    continue
                info = os.stat(f"{fd_dir}/{fd}")
                key = (info.st_dev, info.st_ino)
                if key not in seen and not _is_dir(info.st_mode):
                    seen.add(key)
                    total += info.st_size
    return total


def _is_dir(mode: int) -> bool:
    return (mode & 0o170000) == 0o040000


class _Sampler(threading.Thread):
    def __init__(self, directory: Path, pid: int) -> None:
        super().__init__(daemon=True, name="tmp-sampler")
        self.directory = directory
        self.pid = pid
        self.peak = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.peak = max(self.peak, bytes_held_under(self.directory, self.pid))
            self.stop_event.wait(SAMPLE_EVERY)


#: A minimal launcher (``python -I -S -c``): forks, execs the command, reaps it with
#: ``os.wait4`` and writes the child's rusage. It exists because Linux carries a process's
#: peak RSS across ``exec``: a child forked straight from this driver (tens of MiB, with
#: boto3 and aws-cdk-lib loaded) would report at least the driver's size. Forked from this
#: launcher, the floor is the launcher's own few MiB.
_LAUNCHER: Final = """
import os, sys, time
report, command = sys.argv[1], sys.argv[2:]
began = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(command[0], command)
    finally:
        os._exit(127)
with open(report + ".pid", "w") as out:
    out.write(str(pid))
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - began
with open(report, "w") as out:
    out.write(f"{status} {usage.ru_utime} {usage.ru_stime} {usage.ru_maxrss} {wall}")
os._exit(0)
"""


def _child_pid(report: Path, timeout_s: float = 10.0) -> int | None:
    deadline = time.monotonic() + timeout_s
    pid_file = report.with_name(report.name + ".pid")
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            return int(pid_file.read_text())
        time.sleep(0.002)
    return None


def run_process(
    command: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 1200.0,
    watch_dir: Path | None = None,
    services: Mapping[str, int] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> ProcessStats:
    """Run ``command`` to its end (killed after ``timeout_s``) and measure it.

    ``on_start`` is called with the command's process id once it runs (e.g. to attach a
    profiler).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    report = log_path.with_name(log_path.name + ".rusage")
    report.unlink(missing_ok=True)
    before = {name: process_cpu_seconds(pid) for name, pid in (services or {}).items()}
    timed_out = threading.Event()
    with log_path.open("ab") as log:
        started = time.perf_counter()
        launcher = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report), *command],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(launcher.pid, signal.SIGKILL)

        watchdog = threading.Timer(timeout_s, kill)
        watchdog.daemon = True
        watchdog.start()
        sampler: _Sampler | None = None
        try:
            if watch_dir is not None or on_start is not None:
                child = _child_pid(report)
                if child is not None and on_start is not None:
                    on_start(child)
                if child is not None and watch_dir is not None:
                    sampler = _Sampler(watch_dir, child)
                    sampler.start()
            launcher.wait()
        finally:
            watchdog.cancel()
            if sampler is not None:
                sampler.stop_event.set()
                sampler.join()
        outer_wall = time.perf_counter() - started
    after = {name: process_cpu_seconds(pid) for name, pid in (services or {}).items()}
    try:
        status, user, system, max_rss, wall = report.read_text().split()
        exit_code = os.waitstatus_to_exitcode(int(status))
    except (OSError, ValueError):  # killed before it could report
        exit_code, user, system, max_rss, wall = -9, "0", "0", "0", str(outer_wall)
    return ProcessStats(
        command=" ".join(command[:4]) + (" …" if len(command) > 4 else ""),
        exit_code=exit_code,
        wall_s=float(wall),
        user_s=float(user),
        sys_s=float(system),
        max_rss_kib=int(max_rss),
        timed_out=timed_out.is_set(),
        tmp_peak_bytes=sampler.peak if sampler is not None else None,
        service_cpu_s={name: round(sum(after[name]) - sum(before[name]), 3) for name in before},
        service_sys_s={name: round(after[name][1] - before[name][1], 3) for name in before},
    )


def combine(parts: Sequence[ProcessStats], command: str) -> ProcessStats:
    """Several processes run one after another, as one measurement (sums; peak RSS is max)."""
    services: dict[str, float] = {}
    system: dict[str, float] = {}
    for part in parts:
        for name, seconds in part.service_cpu_s.items():
            services[name] = round(services.get(name, 0.0) + seconds, 3)
        for name, seconds in part.service_sys_s.items():
            system[name] = round(system.get(name, 0.0) + seconds, 3)
    return ProcessStats(
        command=command,
        exit_code=next((p.exit_code for p in parts if p.exit_code), 0),
        wall_s=sum(p.wall_s for p in parts),
        user_s=sum(p.user_s for p in parts),
        sys_s=sum(p.sys_s for p in parts),
        max_rss_kib=max(p.max_rss_kib for p in parts),
        timed_out=any(p.timed_out for p in parts),
        service_cpu_s=services,
        service_sys_s=system,
    )
