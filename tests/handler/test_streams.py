"""The data path's streams: the request body (prefetch, verification before the last chunk,
rewinds, closing), and spooling or hashing an object of unknown SHA256 (its size checked)."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from typing import Any, ClassVar

import pytest
from codeartifact_generic.handler import streams
from codeartifact_generic.handler.deadline import Deadline, OutOfTime
from codeartifact_generic.handler.streams import (
    CHUNK_BYTES,
    AssetContentMismatch,
    BodyClosed,
    HashingBody,
    Progress,
    hash_only,
    spool,
)


class Source(io.BytesIO):
    """An in-memory object (one per opening)."""


def _body(data: bytes, declared: bytes | None = None) -> tuple[HashingBody, list[Source]]:
    sources: list[Source] = []

    def open_source() -> Source:
        source = Source(data)
        sources.append(source)
        return source

    expected = hashlib.sha256(declared if declared is not None else data).hexdigest()
    body = HashingBody(
        open_source, len(data), expected_sha256=expected, progress=Progress("a.bin", len(data))
    )
    return body, sources


def _drain(body: HashingBody, block: int = 16384) -> bytes:
    out = bytearray()
    while chunk := body.read(block):
        out += chunk
    return bytes(out)


def test_streams_every_byte_in_order_and_reports_the_hash() -> None:
    data = bytes(range(256)) * (3 * CHUNK_BYTES // 256 + 7)
    body, _ = _body(data)
    assert len(body) == len(data)
    assert _drain(body) == data
    assert body.sha256 == hashlib.sha256(data).hexdigest()
    body.close()


def test_mismatch_withholds_the_last_chunk() -> None:
    # GIVEN an object of 3 chunks whose declared hash is of other bytes
    data = b"x" * (3 * CHUNK_BYTES)
    body, _ = _body(data, declared=b"y" * len(data))
    # WHEN it is read to the end
    with pytest.raises(AssetContentMismatch, match="changed while it was read"):
        _drain(body)
    # THEN the server never got the whole object, and rewinding re-raises (no retry)
    assert body.tell() <= 2 * CHUNK_BYTES
    assert body.failure is not None
    with pytest.raises(AssetContentMismatch):
        body.seek(0)
    body.close()


def test_rewind_reopens_the_source_and_streams_again() -> None:
    data = b"0123456789" * CHUNK_BYTES
    body, sources = _body(data)
    body.read(5 * 16384)
    body.seek(0)
    assert body.tell() == 0
    assert _drain(body) == data
    assert len(sources) == 2
    body.close()


def test_truncated_source_is_reported() -> None:
    body = HashingBody(
        lambda: io.BytesIO(b"short"), 10, expected_sha256=None, progress=Progress("t", 10)
    )
    with pytest.raises(AssetContentMismatch, match="ended after 5 of 10 bytes"):
        _drain(body)
    body.close()


def test_empty_object() -> None:
    body, _ = _body(b"")
    assert _drain(body) == b""
    assert body.sha256 == hashlib.sha256(b"").hexdigest()
    body.close()


def test_a_closed_body_refuses_to_be_read_or_rewound() -> None:
    # GIVEN a body being sent, closed by the publisher (a request abandoned at the deadline)
    body, _ = _body(b"z" * (3 * CHUNK_BYTES))
    body.read(16384)
    body.close()
    # WHEN the abandoned request reads on, or botocore rewinds it to retry
    # THEN it is refused: the upload cannot go on, nor start again
    with pytest.raises(BodyClosed, match=r"'a\.bin' is closed"):
        body.read(16384)
    with pytest.raises(BodyClosed):
        body.seek(0)


def test_the_request_body_hands_out_whole_chunks_and_rewinds() -> None:
    # GIVEN the request body botocore sends, read in urllib3's 128 KiB blocks
    data = bytes(range(256)) * (2 * CHUNK_BYTES // 256 + 5)
    body, sources = _body(data)
    request = body.request_body()
    assert len(request) == len(data)
    request.read(16384)
    request.seek(0)
    # WHEN it is read to the end
    reads = list(iter(lambda: request.read(128 * 1024), b""))
    # THEN each read was a whole chunk (the last one shorter), every byte once, in order; the
    # rewind re-opened the source and the body holds the hash
    assert [len(r) for r in reads] == [CHUNK_BYTES, CHUNK_BYTES, len(data) - 2 * CHUNK_BYTES]
    assert b"".join(reads) == data
    assert request.tell() == len(data)
    assert len(sources) == 2
    assert body.sha256 == hashlib.sha256(data).hexdigest()
    body.close()


def test_the_request_body_goes_on_from_a_partly_read_chunk() -> None:
    data = b"0123456789" * CHUNK_BYTES
    body, _ = _body(data)
    head = body.read(100)
    assert body.request_body().read(16384) == data[100:CHUNK_BYTES]
    assert head + data[100:CHUNK_BYTES] + _drain(body) == data
    body.close()


def test_a_closed_request_body_refuses_to_be_read() -> None:
    body, _ = _body(b"z" * (3 * CHUNK_BYTES))
    request = body.request_body()
    request.read(16384)
    body.close()
    with pytest.raises(BodyClosed):
        request.read(16384)
    with pytest.raises(BodyClosed):
        request.seek(0)


class _Recorder(io.BytesIO):
    """A spool file that remembers how many bytes it ever held."""

    held: ClassVar[list[int]] = []

    def write(self, data: Any, /) -> int:
        written = super().write(data)
        _Recorder.held.append(self.tell())
        return written


@pytest.fixture
def recorded_spool(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    _Recorder.held = []
    monkeypatch.setattr(streams.tempfile, "TemporaryFile", lambda **_kw: _Recorder())
    return _Recorder.held


def test_spool_returns_a_rewound_copy_and_its_hash(recorded_spool: list[int]) -> None:
    data = bytes(range(256)) * (2 * CHUNK_BYTES // 256 + 3)
    spooled, digest = spool(lambda: io.BytesIO(data), len(data), Progress("s", len(data)))
    with spooled:
        assert spooled.read() == data
    assert digest == hashlib.sha256(data).hexdigest()


def test_spool_stops_before_writing_past_the_declared_size(recorded_spool: list[int]) -> None:
    # GIVEN an object 10 bytes longer than the 3 chunks its HEAD declared
    size = 3 * CHUNK_BYTES
    data = b"q" * (size + 10)
    # WHEN it is spooled
    with pytest.raises(AssetContentMismatch, match=f"larger than the declared {size} bytes"):
        spool(lambda: io.BytesIO(data), size, Progress("big.bin", size))
    # THEN not a byte past the declared size reached the disk
    assert max(recorded_spool, default=0) <= size


def test_spool_reports_a_truncated_object(recorded_spool: list[int]) -> None:
    with pytest.raises(AssetContentMismatch, match="ended after 5 of 10 bytes"):
        spool(lambda: io.BytesIO(b"short"), 10, Progress("t", 10))


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"x" * 11, "larger than the declared 10 bytes"), (b"x" * 9, "ended after 9 of 10 bytes")],
    ids=["longer", "shorter"],
)
def test_hash_only_checks_the_size_too(data: bytes, message: str) -> None:
    with pytest.raises(AssetContentMismatch, match=message):
        hash_only(lambda: io.BytesIO(data), 10, Progress("h", 10))


def test_hash_only_gives_the_sha256_of_exactly_the_declared_bytes() -> None:
    data = b"h" * (CHUNK_BYTES + 1)
    assert hash_only(lambda: io.BytesIO(data), len(data), Progress("h", len(data))) == (
        hashlib.sha256(data).hexdigest()
    )


class _Stalled(io.BytesIO):
    """A download that delivers one chunk, then stalls until released."""

    def __init__(self, data: bytes, release: threading.Event) -> None:
        super().__init__(data)
        self._release = release

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell():
            self._release.wait(10)
        return super().read(size)


@pytest.mark.parametrize("reader", ["spool", "hash_only"])
def test_a_stalled_download_stops_at_the_deadline_saying_how_far_it_got(reader: str) -> None:
    # GIVEN a 3-chunk object whose download stalls after its first chunk, and a deadline whose
    # 5 s margin is 0.3 s away
    size = 3 * CHUNK_BYTES
    release = threading.Event()
    ends = time.monotonic() + 5.3
    deadline = Deadline(lambda: int((ends - time.monotonic()) * 1000))
    progress = Progress("big.bin", size, deadline)
    started = time.monotonic()

    # WHEN it is spooled (or hashed)
    def read_it() -> object:
        if reader == "spool":
            return spool(lambda: _Stalled(b"s" * size, release), size, progress)
        return hash_only(lambda: _Stalled(b"s" * size, release), size, progress)

    try:
        with pytest.raises(OutOfTime) as raised:
            read_it()
    finally:
        release.set()
    # THEN the caller was released about the margin, told which asset and how far it got
    assert time.monotonic() - started < 3.0
    assert str(raised.value) == (
        f"stopped before the Lambda timeout while publishing asset 'big.bin' "
        f"({CHUNK_BYTES} of {size} bytes read)"
    )
