"""The HTTP server: a :class:`CodeArtifactEmulator` speaks CodeArtifact's rest-json API.

Point the AWS CLI or boto3 at :attr:`CodeArtifactEmulator.endpoint_url` (``--endpoint-url`` or
``AWS_ENDPOINT_URL_CODEARTIFACT``) with any credentials: signatures are not verified.

The server is a ``ThreadingHTTPServer`` (daemon threads, one per connection) speaking HTTP/1.1
with keep-alive: every response carries ``Content-Length`` and every request body, sized or
chunked, is consumed to its end before the response is sent. TLS is optional
(``ssl_context``); the handshake runs in the connection's thread. State lives in memory; the
data directory holds only the asset files. Header values that are not ASCII (a Unicode asset
name in ``X-AssetName``) are sent as raw UTF-8 bytes (AWS does not document an encoding;
Python's HTTP clients decode header bytes as ISO-8859-1).

Fault injection hook: :attr:`CodeArtifactEmulator.before_dispatch` is a list of callables
``hook(operation_name, request)`` run after a request is parsed and validated and before its
handler runs. A hook may raise :class:`~.errors.EmulatorError` to answer with that error
instead (the request body, if any, is then discarded), sleep, or record the request.
Planned faults (:attr:`CodeArtifactEmulator.faults`, see :mod:`.faults`) run before those hooks;
they are also controlled over HTTP at ``/__faults__`` on the same port.

Request-rate quotas (PublishPackageVersion: 10 calls per second by default, see
:class:`~.store.Limits` and :mod:`.ratelimit`) are applied before the faults: a throttled call
is answered ``ThrottlingException`` (429, ``Retry-After``) without reaching the operation, the
fault plan or the hooks. ``GET /__limits__`` answers the limits in force and the publish
counters (``{"limits": {...}, "publish": {"admitted": n, "throttled": n}}``); ``POST
/__limits__`` with a JSON object of :class:`~.store.Limits` fields changes those fields (a
``null`` rate turns the limit off).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import socket
import ssl
import threading
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from codeartifact_generic.testing._emulator import errors, faults, model, operations
from codeartifact_generic.testing._emulator.blobs import CHUNK_SIZE
from codeartifact_generic.testing._emulator.body import (
    BadRequestBody,
    ChunkedBody,
    ContentLengthBody,
    RequestBody,
)
from codeartifact_generic.testing._emulator.store import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    Limits,
    Store,
)
from codeartifact_generic.testing._serving import (
    BackgroundServer,
    EntryPointHandler,
    LocalHTTPServer,
)

LOG = logging.getLogger(__name__)

#: Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT_SECONDS: Final = 120

#: ``hook(operation_name, request)``: see the module docstring.
BeforeDispatch = Callable[[str, model.Request], None]

#: Path of the limits endpoint (see the module docstring).
LIMITS_PATH: Final = "/__limits__"


class _Server(LocalHTTPServer):
    def __init__(self, address: tuple[str, int], emulator: CodeArtifactEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Close the listening socket, then every open connection (idle keep-alive threads end)."""
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(EntryPointHandler):
    server_version = "CodeArtifactEmulator/1.0"
    timeout = IDLE_TIMEOUT_SECONDS
    methods = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH"})
    server: _Server

    def handle(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except OSError as error:  # ssl.SSLError is an OSError
                LOG.info("TLS handshake with %s failed: %s", self.client_address, error)
                return
        super().handle()

    def answer(self) -> None:
        try:
            body = self._request_body()
        except BadRequestBody as error:
            self._send(model.serialize_error(errors.validation(str(error))), close=True)
            return
        if urlsplit(self.path).path == faults.CONTROL_PATH:
            self._send(self.server.emulator.faults.control(self.command, body.read(-1)))
            return
        if urlsplit(self.path).path == LIMITS_PATH:
            self._send(self.server.emulator.limits_control(self.command, body.read(-1)))
            return
        try:
            response = self.server.emulator.dispatch(self.command, self.path, self.headers, body)
        except faults.AbortConnection as error:
            LOG.info("%s", error)
            self.server.abort(self.request)
            self.close_connection = True
            return
        except BadRequestBody as error:
            LOG.info("request body unreadable: %s", error)
            self.close_connection = True
            return
        try:
            body.drain()
        except (BadRequestBody, OSError):
            self.close_connection = True
            if response.payload is not None:
                response.payload.stream.close()
            return
        self._send(response)

    def _request_body(self) -> RequestBody:
        encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in encoding:
            return ChunkedBody(self.rfile)
        length_text = self.headers.get("Content-Length") or "0"
        try:
            length = int(length_text)
        except ValueError as error:
            raise BadRequestBody(f"bad Content-Length {length_text!r}") from error
        if length < 0:
            raise BadRequestBody(f"bad Content-Length {length_text!r}")
        return ContentLengthBody(self.rfile, length)

    def _send(self, response: model.Response, *, close: bool = False) -> None:
        payload = response.payload
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                # Header values (e.g. X-AssetName) may be Unicode: send their UTF-8 bytes.
                self.send_header(name, value.encode("utf-8").decode("latin-1"))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            length = payload.length if payload is not None else len(response.body)
            self.send_header("Content-Length", str(length))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if payload is None:
                self.wfile.write(response.body)
                return
            remaining = payload.length
            while remaining > 0:
                chunk = payload.stream.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    # The file shrank under us: the promised length cannot be met.
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                remaining -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if payload is not None:
                payload.stream.close()


class CodeArtifactEmulator(BackgroundServer):
    """An in-process CodeArtifact service on ``host:port`` (port 0 picks a free one).

    ``data_dir`` holds the asset files (a temporary directory, removed on :meth:`stop`, when
    omitted); ``limits`` sets the quotas; ``account_id`` and ``region`` appear in ARNs and as
    domain owner. ``ssl_context`` (a server-side context) makes the endpoint HTTPS.
    ``eager_digests`` computes MD5, SHA-1 and SHA-512 while an asset arrives, as well as the
    SHA-256 (slower; PublishPackageVersion then answers all four, as AWS does).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
        limits: Limits | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        ssl_context: ssl.SSLContext | None = None,
        eager_digests: bool = False,
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        #: The state, for tests to inspect.
        self.store = Store(
            Path(data_dir) if data_dir is not None else None,
            limits=limits,
            account_id=account_id,
            region=region,
            eager_digests=eager_digests,
        )
        #: Planned faults (see :mod:`.faults`); applied before the ``before_dispatch`` hooks.
        self.faults = faults.Faults()
        #: Hooks run before each operation's handler (see the module docstring).
        self.before_dispatch: list[BeforeDispatch] = []
        self.routes = model.RouteTable()

    # ---------------------------------------------------------------------------- lifecycle

    def _bind(self) -> tuple[_Server, str]:
        server = _Server((self.host, self.port), self)
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = int(server.server_address[1])
        LOG.info("CodeArtifact emulator serving at %s", self.endpoint_url)
        return server, f"codeartifact-emulator:{self.port}"

    def stop(self) -> None:
        """Stop serving, close open connections and remove a temporary data directory."""
        super().stop()
        self.store.close()

    @property
    def endpoint_url(self) -> str:
        """``http(s)://host:port`` of the running server."""
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    # ------------------------------------------------------------------------------ quotas

    @property
    def throttled_publishes(self) -> int:
        """PublishPackageVersion calls the publish rate limit refused so far."""
        return self.store.throttled_publishes

    def limits_control(self, method: str, body: bytes) -> model.Response:
        """Answer a request to :data:`LIMITS_PATH` (see the module docstring)."""
        if method == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                self.store.limits = dataclasses.replace(self.store.limits, **changes)
            except (TypeError, ValueError) as error:
                return _json(400, {"message": f"bad limits: {error!s}"})
        elif method != "GET":
            return _json(405, {"message": f"{method} is not supported on {LIMITS_PATH}"})
        bucket = self.store.publish_rate
        return _json(
            200,
            {
                "limits": dataclasses.asdict(self.store.limits),
                "publish": {"admitted": bucket.admitted, "throttled": bucket.throttled},
            },
        )

    # ----------------------------------------------------------------------------- dispatch

    def dispatch(
        self, method: str, target: str, headers: Any, body: model.BodyStream
    ) -> model.Response:
        """Answer one HTTP request (``target`` is the request line's path and query)."""
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        header_map = {str(k).lower(): str(v) for k, v in headers.items()}
        operation_name = "?"
        try:
            matched = self.routes.match(method, split.path, query)
            if matched is None:
                raise errors.unknown_operation(
                    f"No CodeArtifact operation is served at {method} {split.path}"
                )
            operation, labels = matched
            operation_name = operation.name
            handler = operations.HANDLERS.get(operation_name)
            if handler is None:
                raise errors.unknown_operation(
                    f"The CodeArtifact emulator does not implement {operation_name} "
                    f"({method} {split.path})"
                )
            self.store.admit(operation_name)
            params = model.parse_request(
                operation, query=query, headers=header_map, labels=labels, body=body
            )
            request = model.Request(operation_name, method, split.path, query, header_map, params)
            self.faults(operation_name, request)
            for hook in list(self.before_dispatch):
                hook(operation_name, request)
            result = handler(self.store, request.params)
            self.faults.after(operation_name, request)
            return model.serialize_output(operation, result)
        except errors.EmulatorError as error:
            LOG.debug("%s -> %s: %s", operation_name, error.code, error.message)
            return model.serialize_error(error)
        except (BadRequestBody, faults.AbortConnection):
            raise
        except Exception as error:
            LOG.error("%s failed:\n%s", operation_name, traceback.format_exc())
            return model.serialize_error(
                errors.EmulatorError(
                    errors.INTERNAL, f"{operation_name} failed in the emulator: {error!r}"
                )
            )


def _json(status: int, document: Any) -> model.Response:
    return model.Response(
        status, {"Content-Type": "application/json"}, body=json.dumps(document).encode()
    )
