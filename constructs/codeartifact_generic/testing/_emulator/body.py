"""HTTP/1.1 request bodies read incrementally: by ``Content-Length`` or chunked.

Both readers stop exactly at the end of the body so the connection can carry the next request
(keep-alive), and :meth:`drain` consumes whatever the handler left unread.
"""

from __future__ import annotations

from typing import Final, Protocol

#: Longest chunk-size line or trailer line accepted.
MAX_LINE: Final = 8192


class Source(Protocol):
    """The connection's buffered input (``BaseHTTPRequestHandler.rfile``)."""

    def read(self, size: int = -1, /) -> bytes:
        """Read up to ``size`` bytes, blocking until they arrive or the stream ends."""

    def readline(self, size: int = -1, /) -> bytes:
        """Read one line of at most ``size`` bytes."""


class BadRequestBody(Exception):
    """The body is malformed (bad chunk framing, or the client went away)."""


class ContentLengthBody:
    """A body of exactly ``length`` bytes."""

    def __init__(self, stream: Source, length: int) -> None:
        self._stream = stream
        self._remaining = length
        self._length = length

    @property
    def length(self) -> int | None:
        """The declared length."""
        return self._length

    def read(self, size: int = -1, /) -> bytes:
        """Read at most ``size`` bytes (all remaining when negative)."""
        if self._remaining <= 0:
            return b""
        wanted = self._remaining if size < 0 else min(size, self._remaining)
        data = _read(self._stream, wanted)
        if not data:
            raise BadRequestBody(f"connection closed with {self._remaining} body bytes missing")
        self._remaining -= len(data)
        return data

    def drain(self) -> None:
        """Read and discard the rest of the body."""
        while self.read(1024 * 1024):
            pass


class ChunkedBody:
    """A ``Transfer-Encoding: chunked`` body (trailers are read and ignored)."""

    def __init__(self, stream: Source) -> None:
        self._stream = stream
        self._chunk_left = 0
        self._done = False

    @property
    def length(self) -> int | None:
        """Unknown for a chunked body."""
        return None

    def read(self, size: int = -1, /) -> bytes:
        """Read at most ``size`` bytes (all remaining when negative)."""
        if size < 0:
            parts = []
            while part := self.read(1024 * 1024):
                parts.append(part)
            return b"".join(parts)
        while not self._done and self._chunk_left == 0:
            self._next_chunk()
        if self._done:
            return b""
        data = _read(self._stream, min(size, self._chunk_left))
        if not data:
            raise BadRequestBody("connection closed inside a chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._expect_crlf()
        return data

    def drain(self) -> None:
        """Read and discard the rest of the body."""
        while self.read(1024 * 1024):
            pass

    def _next_chunk(self) -> None:
        line = self._readline()
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as error:
            raise BadRequestBody(f"bad chunk size line {line!r}") from error
        if size < 0:
            raise BadRequestBody(f"bad chunk size line {line!r}")
        if size == 0:
            while self._readline().strip():  # trailer headers, then the empty line
                pass
            self._done = True
        self._chunk_left = size

    def _expect_crlf(self) -> None:
        if self._readline().strip():
            raise BadRequestBody("chunk not followed by CRLF")

    def _readline(self) -> bytes:
        try:
            line = self._stream.readline(MAX_LINE + 1)
        except OSError as error:
            raise BadRequestBody(f"reading the request body failed: {error}") from error
        if not line:
            raise BadRequestBody("connection closed inside a chunked body")
        if len(line) > MAX_LINE:
            raise BadRequestBody("chunk line too long")
        return line


def _read(stream: Source, size: int) -> bytes:
    try:
        return stream.read(size)
    except OSError as error:  # timeouts and resets of the client connection
        raise BadRequestBody(f"reading the request body failed: {error}") from error


RequestBody = ContentLengthBody | ChunkedBody
