"""A byte-counting TCP proxy: ``python -m bench.proxy --target HOST:PORT``.

It sits in front of moto so the benchmark can tell how many bytes each workload read from S3.
Bytes are moved with ``os.splice`` (socket → pipe → socket, no copy into Python) where the
kernel allows it, else with ``recv_into``/``sendall``. A control port answers one-line
commands: ``STATS`` (a JSON object of counters) and ``RESET`` (zero them).

On start it prints one line on stdout: ``READY <listen-port> <control-port>``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Final

#: Bytes moved per splice/recv call.
CHUNK: Final = 1024 * 1024


class Counters:
    """Bytes in each direction and connections accepted, updated under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.to_client = 0
        self.to_server = 0
        self.connections = 0

    def add(self, *, to_client: int = 0, to_server: int = 0, connections: int = 0) -> None:
        """Count more bytes or connections."""
        with self._lock:
            self.to_client += to_client
            self.to_server += to_server
            self.connections += connections

    def snapshot(self) -> dict[str, int]:
        """The counters as a dict."""
        with self._lock:
            return {
                "to_client": self.to_client,
                "to_server": self.to_server,
                "connections": self.connections,
            }

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self.to_client = self.to_server = self.connections = 0


def _count(count: Counters, nbytes: int, up: bool) -> None:
    if up:
        count.add(to_server=nbytes)
    else:
        count.add(to_client=nbytes)


def _pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, CHUNK)
    return read_end, write_end


def _pump_splice(src: socket.socket, dst: socket.socket, count: Counters, up: bool) -> None:
    read_end, write_end = _pipe()
    try:
        while True:
            moved = os.splice(src.fileno(), write_end, CHUNK)
            if moved == 0:
                return
            _count(count, moved, up)
            while moved:
                moved -= os.splice(read_end, dst.fileno(), moved)
    finally:
        os.close(read_end)
        os.close(write_end)


def _pump_copy(src: socket.socket, dst: socket.socket, count: Counters, up: bool) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while True:
        received = src.recv_into(buffer)
        if received == 0:
            return
        _count(count, received, up)
        dst.sendall(view[:received])


def _pump(src: socket.socket, dst: socket.socket, count: Counters, up: bool) -> None:
    """Copy ``src`` to ``dst`` until EOF, then half-close ``dst``."""
    try:
        if hasattr(os, "splice"):
            _pump_splice(src, dst, count, up)
        else:  # pragma: no cover - non-Linux
            _pump_copy(src, dst, count, up)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _serve_connection(client: socket.socket, target: tuple[str, int], count: Counters) -> None:
    try:
        server = socket.create_connection(target)
    except OSError:
        client.close()
        return
    for sock in (client, server):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    count.add(connections=1)
    upstream = threading.Thread(target=_pump, args=(client, server, count, True), daemon=True)
    upstream.start()
    _pump(server, client, count, False)
    upstream.join()
    client.close()
    server.close()


def _accept_loop(listener: socket.socket, target: tuple[str, int], count: Counters) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(
            target=_serve_connection, args=(client, target, count), daemon=True
        ).start()


def _control_loop(listener: socket.socket, count: Counters) -> None:
    while True:
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb") as stream:
            for raw in stream:
                command = raw.strip().upper()
                if command == b"RESET":
                    count.reset()
                    stream.write(b"OK\n")
                elif command == b"STATS":
                    stream.write(json.dumps(count.snapshot()).encode() + b"\n")
                else:
                    stream.write(b"ERR unknown command\n")
                stream.flush()


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(64)
    return listener


def main(argv: Sequence[str] | None = None) -> int:
    """Run the proxy until killed."""
    parser = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__)
    parser.add_argument("--target", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    args = parser.parse_args(argv)
    target_host, _, target_port = str(args.target).rpartition(":")
    target = (target_host, int(target_port))
    count = Counters()
    listener = _listen(args.host, args.port)
    control = _listen(args.host, args.control_port)
    threading.Thread(target=_control_loop, args=(control, count), daemon=True).start()
    print(f"READY {listener.getsockname()[1]} {control.getsockname()[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        _accept_loop(listener, target, count)
    return 0


class ProxyControl:
    """Client of the proxy's control port (used by the benchmark driver)."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)

    def _ask(self, command: str) -> str:
        with socket.create_connection(self._address, timeout=10) as conn:
            conn.sendall(command.encode() + b"\n")
            with conn.makefile("rb") as stream:
                return stream.readline().decode().strip()

    def reset(self) -> None:
        """Zero the counters."""
        self._ask("RESET")

    def stats(self) -> dict[str, int]:
        """The current counters."""
        answer: dict[str, int] = json.loads(self._ask("STATS"))
        return answer


if __name__ == "__main__":
    sys.exit(main())
