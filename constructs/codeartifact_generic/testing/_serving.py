"""Local servers run from background threads: one way to start, stop and ``with`` them.

:class:`BackgroundServer` is the life cycle of a local endpoint (bind on :meth:`~Managed.start`,
serve from a daemon thread, close on :meth:`~Managed.stop`); :class:`LocalHTTPServer` and
:class:`EntryPointHandler` are the HTTP plumbing the emulator and the S3 fault proxy share.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

_T = TypeVar("_T")


def require_started(value: _T | None, owner: object) -> _T:
    """``value``, which ``owner`` sets on start; RuntimeError naming ``owner`` while it is None."""
    if value is None:
        raise RuntimeError(f"{type(owner).__name__} is not running: call start() first")
    return value


class ServerThread:
    """Serves ``server`` (a TCP ``socketserver``) from a daemon thread until :meth:`stop`."""

    def __init__(self, server: socketserver.TCPServer, name: str, poll_interval: float = 0.05):
        """Start serving at once; ``poll_interval`` bounds how long :meth:`stop` waits."""
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=name,
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop serving, close the listening socket and wait (briefly) for the thread."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class Managed:
    """Mixin for things with ``start() -> self`` and ``stop()``: ``with thing:`` runs both."""

    def start(self) -> Self:
        """Start; returns self."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop (safe to call twice)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class BackgroundServer(Managed):
    """A server that :meth:`start` binds (:meth:`_bind`) and serves from a daemon thread.

    ``start`` on a running server and ``stop`` on a stopped one do nothing.
    """

    def __init__(self) -> None:
        self._serving: ServerThread | None = None

    @property
    def _bound_port(self) -> int:
        """The port of the running server (RuntimeError before :meth:`start`)."""
        return require_started(self._serving, self).port

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self."""
        if self._serving is None:
            server, thread_name = self._bind()
            self._serving = ServerThread(server, thread_name)
        return self

    def stop(self) -> None:
        """Stop serving and close the server; safe to call twice."""
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()

    def _bind(self) -> tuple[socketserver.TCPServer, str]:
        """A new bound server, and the name of the thread that serves it."""
        raise NotImplementedError


class LocalEndpoint(BackgroundServer):
    """A :class:`BackgroundServer` bound to ``host``:``port`` (0: a free port), reached at
    :attr:`url`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self._host = host
        self._port = port

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        return f"http://{self._host}:{self._bound_port}"


class ApiError(Exception):
    """An error a local API endpoint answers: the error ``code``, its ``message`` and the HTTP
    ``status``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class LocalHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server for a local endpoint that can end a connection with a reset.

    Daemon threads, no waiting for open connections on close, no reverse DNS lookup at bind
    (``HTTPServer.server_bind`` calls ``socket.getfqdn``), IPv6 addresses as well as IPv4.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._aborted: set[Any] = set()
        self._aborted_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def abort(self, request: Any) -> None:
        """Make the close of ``request`` (the connection's socket) abortive: a TCP reset."""
        with contextlib.suppress(OSError):
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._aborted_lock:
            self._aborted.add(request)

    def shutdown_request(self, request: Any) -> None:
        with self._aborted_lock:
            aborted = request in self._aborted
            self._aborted.discard(request)
        if aborted:
            # No FIN first: closing with SO_LINGER 0 makes the client see a reset.
            self.close_request(request)
            return
        super().shutdown_request(request)


class EntryPointHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 handler answering every method in :attr:`methods` with :meth:`answer`.

    Other methods get 501, as from ``BaseHTTPRequestHandler``. Request log lines go to the debug
    log of the subclass's module.
    """

    protocol_version = "HTTP/1.1"
    #: The HTTP methods :meth:`answer` serves.
    methods: ClassVar[frozenset[str]] = frozenset()

    def answer(self) -> None:
        """Answer the request (``self.command`` is its method)."""
        raise NotImplementedError

    def log_message(self, format: str, *args: Any) -> None:
        logging.getLogger(type(self).__module__).debug(
            "%s - %s", self.address_string(), format % args
        )

    def _answer_if_served(self) -> None:
        if self.command in self.methods:
            self.answer()
        else:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")

    # BaseHTTPRequestHandler calls ``do_<METHOD>`` (hence the names): each goes to the check.
    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _answer_if_served  # noqa: N815
