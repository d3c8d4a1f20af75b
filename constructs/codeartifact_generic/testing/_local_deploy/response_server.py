"""The local stand-in for CloudFormation's presigned ``ResponseURL``: an HTTPS server.

A handler (crhelper, cfn-response, …) PUTs its JSON response to the ``ResponseURL`` of the
event. crhelper always uses HTTPS with the default SSL context, so this server speaks TLS with
a certificate from a throwaway ``trustme`` CA; the CA's PEM is written to :attr:`ca_file` and
the handler process trusts it through ``SSL_CERT_FILE``. Each request gets its own path
(:meth:`ResponseServer.expect`); the body is handed to whoever waits for it.

crhelper sends ``content-type: ''`` (like a real presigned S3 PUT) and retries forever when it
cannot connect, so callers must bound every handler run with a timeout.

:func:`check_response` validates a body against CloudFormation's contract; a violation fails
the resource with a reason like CloudFormation's.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any, Final

import trustme

from .._serving import BackgroundServer, require_started

__all__ = [
    "MAX_PHYSICAL_ID_BYTES",
    "MAX_RESPONSE_BYTES",
    "CustomResourceResponse",
    "PendingResponse",
    "ResponseServer",
    "ResponseViolation",
    "check_response",
]

_log = logging.getLogger(__name__)

#: CloudFormation rejects response bodies larger than this.
MAX_RESPONSE_BYTES: Final = 4096
#: "can be up to 1 KB in size".
MAX_PHYSICAL_ID_BYTES: Final = 1024
_MAX_BODY_ACCEPTED: Final = 1024 * 1024


class ResponseViolation(Exception):
    """A response that breaks CloudFormation's contract; ``str()`` is the failure reason."""


@dataclass(frozen=True)
class CustomResourceResponse:
    """A response that passed :func:`check_response`."""

    status: str
    physical_resource_id: str
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    no_echo: bool = False

    @property
    def succeeded(self) -> bool:
        """``Status == "SUCCESS"``."""
        return self.status == "SUCCESS"


def check_response(event: Mapping[str, Any], body: bytes) -> CustomResourceResponse:
    """Parse ``body`` and check it against the request ``event``, as CloudFormation does.

    Raises :class:`ResponseViolation` when the body is larger than 4096 bytes, is not a JSON
    object, has a Status other than SUCCESS/FAILED, lacks a non-empty PhysicalResourceId
    (≤ 1 KB), echoes a different RequestId/StackId/LogicalResourceId, or has a non-object Data.
    """
    if len(body) > MAX_RESPONSE_BYTES:
        raise ResponseViolation(
            f"Response object is too long ({len(body)} bytes; the limit is {MAX_RESPONSE_BYTES})."
        )
    try:
        response = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ResponseViolation(f"Invalid response object: not JSON ({exc})") from None
    if not isinstance(response, dict):
        raise ResponseViolation("Invalid response object: not a JSON object")
    status = response.get("Status")
    if status not in ("SUCCESS", "FAILED"):
        raise ResponseViolation(
            f"Invalid response object: Status must be SUCCESS or FAILED, got {status!r}"
        )
    physical_id = response.get("PhysicalResourceId")
    if not isinstance(physical_id, str) or not physical_id:
        raise ResponseViolation("Invalid PhysicalResourceId: must be a non-empty string")
    if len(physical_id.encode("utf-8")) > MAX_PHYSICAL_ID_BYTES:
        raise ResponseViolation("Invalid PhysicalResourceId: longer than 1 KB")
    for key in ("RequestId", "StackId", "LogicalResourceId"):
        if response.get(key) != event.get(key):
            raise ResponseViolation(
                f"Invalid response object: {key} {response.get(key)!r} does not match the "
                f"request's {event.get(key)!r}"
            )
    data = response.get("Data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ResponseViolation("Invalid response object: Data must be a JSON object")
    reason = response.get("Reason") or ""
    return CustomResourceResponse(
        status=str(status),
        physical_resource_id=physical_id,
        reason=str(reason),
        data=data,
        no_echo=bool(response.get("NoEcho", False)),
    )


class PendingResponse:
    """A registered ResponseURL; :meth:`wait` returns the first body PUT to it."""

    def __init__(self, url: str, path: str, release: Any, ignore: Any) -> None:
        self.url = url
        self.path = path
        self._release = release
        self._ignore = ignore
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._body: bytes | None = None

    def _deliver(self, body: bytes) -> None:
        with self._lock:
            first = self._body is None
            if first:
                self._body = body
                self._event.set()
        if not first:
            _log.warning("ignoring a second response PUT to %s", self.path)
            self._ignore(self.path)

    @property
    def received(self) -> bool:
        """Whether a body has arrived."""
        return self._event.is_set()

    @property
    def body(self) -> bytes | None:
        """The first body received, if any."""
        return self._body

    def wait(self, timeout: float | None = None) -> bytes | None:
        """Block until a body arrives or ``timeout`` seconds pass; ``None`` on timeout."""
        self._event.wait(timeout)
        return self._body

    def close(self) -> None:
        """Stop accepting PUTs at this path (later PUTs get 403, like an expired URL)."""
        self._release(self.path)


class _Handler(BaseHTTPRequestHandler):
    server: _TLSServer
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header or "0")
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY_ACCEPTED:
            self._reply(400, b"bad Content-Length")
            return
        body = self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        pending = self.server.owner.lookup(path)
        if pending is None:
            self.server.owner.ignore_put(path)
            self._reply(403, b"<Error><Code>AccessDenied</Code></Error>")
            return
        pending._deliver(body)
        self._reply(200, b"")

    def do_GET(self) -> None:
        self._reply(405, b"")

    def do_POST(self) -> None:
        self._reply(405, b"")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("response server: " + format, *args)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: ResponseServer, ctx: ssl.SSLContext):
        self.owner = owner
        self.ssl_context = ctx
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the per-connection thread, not in the accept loop.
        raw: socket = request
        raw.settimeout(30)
        try:
            tls = self.ssl_context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            _log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


class ResponseServer(BackgroundServer):
    """HTTPS server on 127.0.0.1 that receives custom resource responses.

    Args:
        host: address to bind and to put in URLs (also a SAN of the certificate).
        port: ``0`` picks a free port.
        ca_dir: where to write ``ca.pem``; a temporary directory when ``None``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, ca_dir: str | Path | None = None):
        super().__init__()
        self._host = host
        self._port = port
        self._ca_dir = Path(ca_dir) if ca_dir is not None else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._pending: dict[str, PendingResponse] = {}
        self._ignored_puts: list[str] = []
        self._lock = threading.Lock()
        self._ca_file: Path | None = None

    @property
    def ca_file(self) -> Path:
        """PEM of the CA that signed the server certificate (for ``SSL_CERT_FILE``)."""
        return require_started(self._ca_file, self)

    @property
    def base_url(self) -> str:
        """``https://HOST:PORT``."""
        return f"https://{self._host}:{self._bound_port}"

    def _bind(self) -> tuple[_TLSServer, str]:
        """Create the CA and certificate, and bind."""
        ca = trustme.CA()
        identities = [self._host] + [h for h in ("127.0.0.1", "localhost") if h != self._host]
        cert = ca.issue_cert(*identities)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        directory = self._ca_dir
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="local-deploy-tls-")
            directory = Path(self._tmp.name)
        directory.mkdir(parents=True, exist_ok=True)
        self._ca_file = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(self._ca_file))
        server = _TLSServer((self._host, self._port), self, ctx)
        return server, "local-deploy-response-server"

    def stop(self) -> None:
        """Shut the server down and remove its certificate files; safe to call twice."""
        super().stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self._ca_file = None

    def expect(self, label: str = "") -> PendingResponse:
        """Register a fresh ResponseURL; PUTs to it are delivered to the returned object."""
        token = secrets.token_urlsafe(16)
        safe_label = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:64]
        path = f"/cloudformation-response/{safe_label + '/' if safe_label else ''}{token}"
        pending = PendingResponse(
            f"{self.base_url}{path}?X-Amz-Local=1", path, self._release, self.ignore_put
        )
        with self._lock:
            self._pending[path] = pending
        return pending

    def lookup(self, path: str) -> PendingResponse | None:
        """The pending response registered at ``path``, if still open."""
        with self._lock:
            return self._pending.get(path)

    @property
    def ignored_puts(self) -> list[str]:
        """Paths of the answers that counted for nothing: a second PUT to a ResponseURL, or a
        PUT after it was closed (an answer after the operation ended)."""
        with self._lock:
            return list(self._ignored_puts)

    def ignore_put(self, path: str) -> None:
        """Record a PUT that counts for nothing."""
        with self._lock:
            self._ignored_puts.append(path)

    def _release(self, path: str) -> None:
        with self._lock:
            self._pending.pop(path, None)
