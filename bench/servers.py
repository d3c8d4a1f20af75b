"""The local services of a benchmark run, each its own process on 127.0.0.1.

- moto server (S3), with its temporary files in the run's directory;
- a byte-counting proxy (:mod:`bench.proxy`) in front of moto: every S3 client of the benchmark
  uses it, so bytes read from S3 can be reported per workload;
- the project's CodeArtifact emulator (``python -m codeartifact_generic.testing serve``).

Each is started in its own session and stopped (SIGTERM, then SIGKILL) by its process id.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Self

from bench.proxy import ProxyControl
from codeartifact_generic.testing._serving import Managed

HOST: Final = "127.0.0.1"
#: Where ``python -m bench.*`` works (the repository root).
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
#: Seconds a service may take to come up.
START_TIMEOUT: Final = 60.0


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} within {START_TIMEOUT:.0f} s")


def _first_line(process: subprocess.Popen[bytes], name: str) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line:
        raise RuntimeError(f"{name} exited before it was ready (code {process.wait()})")
    return line


class Service:
    """One background process, stopped by its id when the run ends."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        stdout_pipe: bool = False,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM the process (its own session), then SIGKILL after 10 s."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


@dataclass
class Endpoints:
    """Where the running services answer."""

    #: moto, direct (used only to upload the objects).
    s3_direct: str
    #: moto through the counting proxy (every measured workload uses this one).
    s3: str
    codeartifact: str


class LocalServices(Managed):
    """moto, the counting proxy and the CodeArtifact emulator; a context manager."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self._services: list[Service] = []
        self.endpoints: Endpoints | None = None
        self.proxy: ProxyControl | None = None

    def _env(self, tmp: Path) -> dict[str, str]:
        tmp.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["TMPDIR"] = str(tmp)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def start(self) -> Self:
        """Start the three services and wait until they answer."""
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            moto_port = free_port()
            moto = Service(
                "moto",
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)],
                log_path=logs / "moto.log",
                env=self._env(self.work_dir / "moto-tmp"),
            )
            self._services.append(moto)
            proxy = Service(
                "proxy",
                [sys.executable, "-m", "bench.proxy", "--target", f"{HOST}:{moto_port}"],
                log_path=logs / "proxy.log",
                env=self._env(self.work_dir / "proxy-tmp"),
                stdout_pipe=True,
            )
            self._services.append(proxy)
            ready = _first_line(proxy.process, "proxy").split()
            if len(ready) != 3 or ready[0] != "READY":
                raise RuntimeError(f"proxy said {ready!r}")
            self.proxy = ProxyControl(HOST, int(ready[2]))
            emulator = Service(
                "codeartifact-emulator",
                [
                    sys.executable,
                    "-m",
                    "codeartifact_generic.testing",
                    "serve",
                    "--host",
                    HOST,
                    "--port",
                    "0",
                    "--data-dir",
                    str(self.work_dir / "codeartifact-data"),
                ],
                log_path=logs / "emulator.log",
                env=self._env(self.work_dir / "emulator-tmp"),
                stdout_pipe=True,
            )
            self._services.append(emulator)
            codeartifact = _first_line(emulator.process, "emulator")
            _wait_for_port(moto_port, moto.process, "moto")
            self.endpoints = Endpoints(
                s3_direct=f"http://{HOST}:{moto_port}",
                s3=f"http://{HOST}:{ready[1]}",
                codeartifact=codeartifact,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def pids(self) -> dict[str, int]:
        """Process id of each service, by name."""
        return {s.name: s.pid for s in self._services}

    def stop(self) -> None:
        """Stop every service (in reverse order); safe to call twice."""
        while self._services:
            self._services.pop().stop()
