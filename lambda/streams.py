"""Byte streams for the data path: hash while streaming, re-open on retry, spool when needed.

Memory stays at one chunk whatever the asset size: nothing here reads a whole object.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO, Protocol

from .deadline import NO_DEADLINE, Deadline
from .errors import PublishFailed
from .log import log_line

#: Bytes read from S3 per call, hashed per call and sent per ``sendall``: large enough for
#: throughput, small enough for memory. 2 MiB with 2 prefetched took about 10 % less handler
#: CPU per GiB than 1 MiB with 4 (fewer recv calls and thread handoffs; bench/README.md).
CHUNK_BYTES = 2 * 1024 * 1024
#: Chunks the reader thread may get ahead of the upload.
PREFETCH_CHUNKS = 2
#: Seconds between progress lines of one asset.
PROGRESS_EVERY_SECONDS = 10.0


class Readable(Protocol):
    """What we need of a byte stream (an S3 ``StreamingBody``, a file)."""

    def read(self, amt: int = ..., /) -> bytes: ...  # pragma: no cover - protocol

    def close(self) -> None: ...  # pragma: no cover - protocol


class AssetContentMismatch(Exception):
    """The bytes read do not have the SHA256 or size the stack declared."""


class BodyClosed(Exception):
    """A closed :class:`HashingBody` was read or rewound."""


class AssetAbandoned(PublishFailed):
    """Reading stopped because another asset of the same version failed (its failure is the
    one reported)."""


class Progress:
    """Rate-limited progress lines for one asset, plus the final summary values."""

    def __init__(
        self,
        asset_name: str,
        size: int,
        deadline: Deadline = NO_DEADLINE,
        clock: Callable[[], float] = time.monotonic,
        *,
        abandon: threading.Event | None = None,
    ):
        """``abandon``, once set, stops the asset at its next chunk (a sibling failed)."""
        self.asset_name = asset_name
        self._deadline = deadline
        self._abandon = abandon
        self.size = size
        self._clock = clock
        self.started = clock()
        self._last_line = self.started
        self.done = 0

    def check_deadline(self) -> None:
        """Raise :class:`OutOfTime` (saying how far this asset got) near the Lambda timeout, and
        :class:`AssetAbandoned` once the asset was abandoned."""
        if self._abandon is not None and self._abandon.is_set():
            raise AssetAbandoned(f"asset {self.asset_name!r} abandoned after {self.done} bytes")
        self._deadline.check(
            f"publishing asset {self.asset_name!r} ({self.done} of {self.size} bytes read)"
        )

    def advance(self, nbytes: int) -> None:
        """Count ``nbytes`` more; log a progress line at most every PROGRESS_EVERY_SECONDS.

        Raises :class:`OutOfTime` when the invocation is about to time out.
        """
        self.done += nbytes
        self.check_deadline()
        now = self._clock()
        if now - self._last_line >= PROGRESS_EVERY_SECONDS:
            self._last_line = now
            log_line(
                "progress",
                asset=self.asset_name,
                bytes=self.done,
                of=self.size,
                mb_per_s=round(self.done / max(now - self.started, 1e-9) / 1e6, 1),
                elapsed_s=round(now - self.started, 1),
            )

    @property
    def elapsed(self) -> float:
        """Seconds since the asset started."""
        return self._clock() - self.started


class _End:
    """Queue item: the source ended where it should, with this digest."""

    def __init__(self, digest: str) -> None:
        self.digest = digest


class _Failed:
    """Queue item: reading failed; the consumer raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Prefetch:
    """A reader thread: S3 → hash → bounded queue, so download and upload overlap.

    At most ``PREFETCH_CHUNKS`` chunks wait in the queue (plus one being read and one being
    sent): memory stays a few MiB whatever the asset size. hashlib releases the GIL, so hashing
    runs in parallel with the sending thread. The last chunk is only queued after the digest
    was checked, and once the source was found to end exactly at the declared size.
    """

    def __init__(
        self,
        open_source: Callable[[], Readable],
        size: int,
        expected: str | None,
        progress: Progress,
        describe_mismatch: Callable[[str], str] | None = None,
    ) -> None:
        self._open_source = open_source
        self._size = size
        self._expected = expected
        self._progress = progress
        self._describe_mismatch = describe_mismatch
        self._queue: queue.Queue[bytes | _End | _Failed] = queue.Queue(maxsize=PREFETCH_CHUNKS)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3-prefetch", daemon=True)
        self._thread.start()

    def take(self) -> bytes | _End | _Failed:
        """The next chunk (or the end, or the failure), waiting for the reader if needed.

        While waiting, the deadline is checked every second: a stalled download must not
        outlive the Lambda.
        """
        while True:
            try:
                return self._queue.get(timeout=1.0)
            except queue.Empty:
                self._progress.check_deadline()

    def stop(self) -> None:
        """Stop the reader: unblock it if the queue is full, abandon it if S3 stalls.

        A reader stuck in a stalled S3 read must not hold up the cleanup that follows. It is
        left to end on its own (a daemon thread that closes its source once the read returns):
        closing the source from here would wait for the stalled read, which holds the
        stream's lock.
        """
        self._stopped.set()
        give_up = time.monotonic() + 1.0
        while self._thread.is_alive() and time.monotonic() < give_up:
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)

    def _put(self, item: bytes | _End | _Failed) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def _run(self) -> None:
        digest = hashlib.sha256()
        seen = 0
        name = self._progress.asset_name
        source: Readable | None = None
        try:
            source = self._open_source()
            while not self._stopped.is_set():
                chunk = source.read(CHUNK_BYTES)
                seen += len(chunk)
                if seen > self._size:
                    raise AssetContentMismatch(
                        f"asset {name!r} is larger than the declared {self._size} bytes"
                    )
                if not chunk and seen < self._size:
                    raise AssetContentMismatch(
                        f"asset {name!r} ended after {seen} of {self._size} bytes"
                    )
                digest.update(chunk)
                if chunk:
                    self._progress.advance(len(chunk))
                if seen == self._size:
                    # All declared bytes are in: the object must end here (one more, empty read).
                    if chunk and source.read(1):
                        raise AssetContentMismatch(
                            f"asset {name!r} is larger than the declared {self._size} bytes"
                        )
                    hexdigest = digest.hexdigest()
                    if self._expected is not None and hexdigest != self._expected:
                        raise AssetContentMismatch(
                            self._describe_mismatch(hexdigest)
                            if self._describe_mismatch
                            else f"asset {name!r} has SHA256 {hexdigest[:12]}… but "
                            f"{self._expected[:12]}… was expected: the object changed while "
                            "it was read"
                        )
                    if chunk and not self._put(chunk):
                        return
                    self._put(_End(hexdigest))
                    return
                if not self._put(chunk):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(_Failed(error))
        finally:
            if source is not None:
                source.close()


class HashingBody:
    """A request body that streams one object once while hashing it.

    ``len()`` gives botocore the Content-Length so it streams instead of buffering. A reader
    thread downloads and hashes ahead of the upload (see :class:`_Prefetch`). The SHA256 and
    size are checked before the last chunk is handed on, so a mismatching object never reaches
    the server whole. ``seek(0)`` re-opens the source, which is what botocore does before
    retrying a request.
    """

    def __init__(
        self,
        open_source: Callable[[], Readable],
        size: int,
        *,
        expected_sha256: str | None,
        progress: Progress,
        describe_mismatch: Callable[[str], str] | None = None,
    ) -> None:
        """``describe_mismatch(actual_sha256)`` words the failure when the bytes are not the
        expected ones (default: the object changed while it was read)."""
        self._open_source = open_source
        self._size = size
        self._expected = expected_sha256
        self._describe_mismatch = describe_mismatch
        self._progress = progress
        self._prefetch: _Prefetch | None = None
        #: A failure retrying cannot help (a mismatch, an unreadable source, no time left, a
        #: closed body): reading or rewinding re-raises it, and the caller reports it instead
        #: of botocore's wrapper.
        self.failure: Exception | None = None
        #: Guards the reader and ``failure`` against a close from another thread.
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._position = 0
        #: The chunk being handed out, and what is left of it.
        self._chunk = b""
        self._pending = memoryview(b"")
        self._digest: str | None = None

    def __len__(self) -> int:
        return self._size

    def tell(self) -> int:
        """Bytes handed out since the start (or the last rewind)."""
        return self._position

    def seekable(self) -> bool:
        """Only rewinding to the start is supported (by re-opening the source)."""
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Rewind to the start by re-opening the source; other positions are unsupported."""
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("HashingBody can only seek to the start")
        if self.failure is not None:
            raise self.failure
        if self._position or self._prefetch is not None:
            self._stop_reader()
            self._progress.done = 0
            self._reset()
        return 0

    def read(self, amt: int | None = -1, /) -> bytes:
        """Return up to ``amt`` bytes (all remaining when negative or None)."""
        if amt is None or amt < 0:
            return b"".join(iter(self.read_chunk, b""))
        self._fill()
        # Slicing a memoryview copies nothing; only the bytes handed out are copied.
        chunk, self._pending = self._pending[:amt], self._pending[amt:]
        self._position += len(chunk)
        return chunk.tobytes()

    def read_chunk(self) -> bytes:
        """Return the rest of the current chunk, or the next chunk whole (``b""`` at the end):
        at most ``CHUNK_BYTES``, and a chunk nothing was read from yet is handed on uncopied."""
        self._fill()
        pending, self._pending = self._pending, memoryview(b"")
        chunk = self._chunk if len(pending) == len(self._chunk) else pending.tobytes()
        self._chunk = b""
        self._position += len(chunk)
        return chunk

    def request_body(self) -> RequestBody:
        """This body as botocore should send it: a chunk per read (see :class:`RequestBody`)."""
        return RequestBody(self)

    def _fill(self) -> None:
        """Take the next chunk when the current one is used up (unless at the end)."""
        if self.failure is not None:
            raise self.failure
        if not self._pending and self._digest is None:
            self._next_chunk()

    def _next_chunk(self) -> None:
        with self._lock:
            if self.failure is not None:
                raise self.failure
            if self._prefetch is None:
                self._prefetch = _Prefetch(
                    self._open_source,
                    self._size,
                    self._expected,
                    self._progress,
                    self._describe_mismatch,
                )
            prefetch = self._prefetch
        try:
            item = prefetch.take()
        except PublishFailed as stopped:  # out of time, or abandoned
            self.failure = stopped
            raise
        if isinstance(item, _End):
            self._digest = item.digest
        elif isinstance(item, _Failed):
            if isinstance(item.error, AssetContentMismatch | PublishFailed):
                self.failure = item.error
            raise item.error
        else:
            self._chunk = item
            self._pending = memoryview(item)

    @property
    def sha256(self) -> str:
        """Hex SHA256 of everything read; only valid once the whole body was read."""
        if self._digest is None:
            raise RuntimeError("the body has not been read to the end")
        return self._digest

    def close(self) -> None:
        """Stop the reader thread, if any, for good: a request still sending this body (one
        abandoned at the deadline) gets :class:`BodyClosed` instead of more bytes, and cannot
        rewind to try again."""
        with self._lock:
            if self.failure is None:
                name = self._progress.asset_name
                self.failure = BodyClosed(f"the body of asset {name!r} is closed")
        self._stop_reader()

    def _stop_reader(self) -> None:
        """Stop the reader thread, if any (one stalled in S3 is abandoned and closes its
        source once its read returns)."""
        with self._lock:
            prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            prefetch.stop()


class RequestBody:
    """A :class:`HashingBody` as the request body of PublishPackageVersion: ``read`` hands
    out the next prefetched chunk whole, whatever size is asked.

    urllib3 2 reads a file-like body in blocks of 128 KiB (botocore's ``blocksize``; 8 KiB
    through http.client with urllib3 1) and sends each block as it comes. Asked for blocks,
    :class:`HashingBody` would copy each one out of its chunk and the upload would make one
    ``sendall`` per block; a whole chunk goes out uncopied in one ``sendall``. On the bench's
    known-hash path at 1 GiB this, with 2 MiB chunks, took the handler's CPU from 1.90 to
    1.60 s (bench/README.md, "Profile of the known-hash path").
    Everything else is the body's: ``len()`` gives botocore the Content-Length (so it streams),
    ``seek(0)`` re-opens the source before a retry, and a failure or a close is raised by the
    next read.
    """

    def __init__(self, body: HashingBody) -> None:
        self._body = body

    def __len__(self) -> int:
        return len(self._body)

    def read(self, amt: int | None = -1, /) -> bytes:
        """The next chunk (up to ``CHUNK_BYTES`` whatever ``amt`` is), or everything left
        when ``amt`` is negative or None; ``b""`` at the end."""
        if amt is None or amt < 0:
            return self._body.read()
        return self._body.read_chunk() if amt else b""

    def tell(self) -> int:
        """Bytes handed out since the start (or the last rewind)."""
        return self._body.tell()

    def seekable(self) -> bool:
        """Only rewinding to the start is supported (by re-opening the source)."""
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Rewind to the start (see :meth:`HashingBody.seek`)."""
        return self._body.seek(offset, whence)


def spool(
    open_source: Callable[[], Readable],
    size: int,
    progress: Progress,
    directory: str | None = None,
) -> tuple[IO[bytes], str]:
    """Copy the object to an anonymous temporary file while hashing it, in one pass.

    Returns the file (rewound, seekable, so botocore can retry) and the hex SHA256. Reads
    through the same reader thread as :class:`HashingBody`: a stalled download cannot outlive
    the deadline, and an object longer than ``size`` fails before a byte past ``size`` is
    written.
    """
    spooled = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - returned to the caller
    try:
        digest = _drain(open_source, size, progress, spooled.write)
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled, digest


def hash_only(open_source: Callable[[], Readable], size: int, progress: Progress) -> str:
    """Hex SHA256 of the object, read once in chunks and discarded; it must hold exactly
    ``size`` bytes."""
    return _drain(open_source, size, progress, lambda _chunk: None)


def _drain(
    open_source: Callable[[], Readable],
    size: int,
    progress: Progress,
    sink: Callable[[bytes], object],
) -> str:
    """Hand every chunk of exactly ``size`` bytes to ``sink``; the hex SHA256."""
    prefetch = _Prefetch(open_source, size, None, progress)
    try:
        while True:
            item = prefetch.take()
            if isinstance(item, _End):
                return item.digest
            if isinstance(item, _Failed):
                raise item.error
            sink(item)
    finally:
        prefetch.stop()
