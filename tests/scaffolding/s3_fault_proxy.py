"""A tiny HTTP proxy in front of a local S3 (moto) that injects the faults moto cannot give.

moto answers every request it can; a few failures a deployment meets in real life need help:

* :meth:`S3FaultProxy.deny`: ``HeadObject``/``GetObject`` of a key answer 403 the way S3 does
  when IAM or the bucket policy denies ``s3:GetObject`` (HEAD: no body; GET: an
  ``AccessDenied`` XML error).
* :meth:`S3FaultProxy.reset_mid_body`: a ``GetObject`` sends its headers and part of the
  object, then the connection is reset.
* :meth:`S3FaultProxy.stall_mid_body`: a ``GetObject`` sends part of the object, pauses, then
  sends the rest (a slow or stuck download).

Everything else is forwarded unchanged (path-style addressing, which is what botocore uses for
an endpoint on an IP address). Every request is recorded in :attr:`S3FaultProxy.requests`.

Example::

    with MotoS3Server() as s3, S3FaultProxy(s3.endpoint_url) as proxy:
        proxy.deny("bucket", "key")
        # point the client under test at proxy.endpoint_url (AWS_ENDPOINT_URL_S3)
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

from codeartifact_generic.testing._serving import (
    BackgroundServer,
    EntryPointHandler,
    LocalHTTPServer,
)

__all__ = ["ProxiedRequest", "S3FaultProxy"]

LOG = logging.getLogger(__name__)

_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_CHUNK: Final = 1024 * 1024

_DENY: Final = "deny"
_RESET: Final = "reset_mid_body"
_STALL: Final = "stall_mid_body"


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the proxy saw, and the fault it applied (if any)."""

    method: str
    bucket: str
    key: str
    fault: str | None


@dataclass
class _Rule:
    kind: str
    bucket: str
    key: str
    methods: frozenset[str]
    times: int | None
    fraction: float = 0.5
    seconds: float = 0.0
    hits: int = 0

    def take(self, method: str, bucket: str, key: str) -> bool:
        if (self.times is not None and self.hits >= self.times) or method not in self.methods:
            return False
        if (bucket, key) != (self.bucket, self.key):
            return False
        self.hits += 1
        return True


class _Server(LocalHTTPServer):
    def __init__(self, address: tuple[str, int], proxy: S3FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)


class _Handler(EntryPointHandler):
    timeout = 60
    methods = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"})
    server: _Server

    def answer(self) -> None:
        body = self._read_body()
        bucket, key = _address(self.path)
        rule = self.server.proxy._take(self.command, bucket, key)
        self.server.proxy._record(
            ProxiedRequest(self.command, bucket, key, rule.kind if rule else None)
        )
        if rule is not None and rule.kind == _DENY:
            self._send_denied(bucket, key)
            return
        self._forward(body, rule)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers, then the empty line
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_denied(self, bucket: str, key: str) -> None:
        request_id = uuid.uuid4().hex[:16].upper()
        body = b""
        if self.command != "HEAD":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                f"<Message>Access Denied</Message><RequestId>{request_id}</RequestId>"
                f"<HostId>{bucket}/{key}</HostId></Error>"
            ).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _forward(self, body: bytes, rule: _Rule | None) -> None:
        upstream = urlsplit(self.server.proxy.upstream_url)
        connection = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port)
        try:
            headers = {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length"
            }
            headers["Host"] = upstream.netloc
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            self._relay(response, rule)
        finally:
            connection.close()

    def _relay(self, response: http.client.HTTPResponse, rule: _Rule | None) -> None:
        declared = response.getheader("Content-Length")
        payload: bytes | None = None
        if self.command != "HEAD" and declared is None:
            payload = response.read()  # chunked or close-delimited: relay with a length
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        if self.command == "HEAD":
            length = int(declared or 0)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            return
        length = len(payload) if payload is not None else int(declared or 0)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        pause_at = int(length * rule.fraction) if rule is not None else length
        sent = self._copy(response, payload, sent=0, limit=pause_at)
        if rule is not None and rule.kind == _RESET:
            self.wfile.flush()
            self.server.abort(self.connection)
            self.close_connection = True
            return
        if rule is not None and rule.kind == _STALL:
            self.wfile.flush()
            time.sleep(rule.seconds)
            sent = self._copy(response, payload, sent=sent, limit=length)
        if sent < length:
            self.close_connection = True

    def _copy(
        self, response: http.client.HTTPResponse, payload: bytes | None, *, sent: int, limit: int
    ) -> int:
        """Send the body from byte ``sent`` up to ``limit``; returns the new position."""
        while sent < limit:
            if payload is not None:
                chunk = payload[sent:limit]
            else:
                chunk = response.read(min(_CHUNK, limit - sent))
            if not chunk:
                break
            self.wfile.write(chunk)
            sent += len(chunk)
        return sent


def _address(target: str) -> tuple[str, str]:
    """``(bucket, key)`` of a path-style request target (key may be empty)."""
    path = urlsplit(target).path.lstrip("/")
    bucket, _, key = path.partition("/")
    return unquote(bucket), unquote(key)


class S3FaultProxy(BackgroundServer):
    """A proxy in front of ``upstream_url`` (an S3 endpoint) on ``host`` and a free port."""

    def __init__(self, upstream_url: str, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self.upstream_url = upstream_url
        self._address = (host, port)
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._requests: list[ProxiedRequest] = []

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` of the running proxy."""
        return f"http://{self._address[0]}:{self._bound_port}"

    def _bind(self) -> tuple[_Server, str]:
        return _Server(self._address, self), "s3-fault-proxy"

    # ------------------------------------------------------------------------------- faults

    def deny(
        self,
        bucket: str,
        key: str,
        *,
        times: int | None = None,
        methods: tuple[str, ...] = ("HEAD", "GET"),
    ) -> None:
        """``methods`` on ``bucket/key`` answer 403 AccessDenied (``times`` calls; None: all).

        Denying only GET is what S3 does for an SSE-KMS object whose key the caller may not
        use: HeadObject works, GetObject is denied.
        """
        with self._lock:
            self._rules.append(_Rule(_DENY, bucket, key, frozenset(methods), times))

    def reset_mid_body(
        self, bucket: str, key: str, *, times: int | None = 1, fraction: float = 0.5
    ) -> None:
        """GET of ``bucket/key`` sends ``fraction`` of the object, then resets the connection."""
        with self._lock:
            self._rules.append(_Rule(_RESET, bucket, key, frozenset({"GET"}), times, fraction))

    def stall_mid_body(
        self,
        bucket: str,
        key: str,
        *,
        seconds: float,
        times: int | None = 1,
        fraction: float = 0.5,
    ) -> None:
        """GET of ``bucket/key`` sends ``fraction`` of the object, waits, then sends the rest.

        ``seconds`` is the pause: a slow or stuck download.
        """
        with self._lock:
            self._rules.append(
                _Rule(_STALL, bucket, key, frozenset({"GET"}), times, fraction, seconds)
            )

    def clear(self) -> None:
        """Forget every fault and recorded request."""
        with self._lock:
            self._rules.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[ProxiedRequest]:
        """Every request seen, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_for(
        self, bucket: str, key: str, method: str | None = None
    ) -> list[ProxiedRequest]:
        """Requests about ``bucket/key`` (of ``method``, if given)."""
        return [
            r
            for r in self.requests
            if (r.bucket, r.key) == (bucket, key) and method in (None, r.method)
        ]

    def _take(self, method: str, bucket: str, key: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.take(method, bucket, key):
                    return rule
        return None

    def _record(self, request: ProxiedRequest) -> None:
        with self._lock:
            self._requests.append(request)
