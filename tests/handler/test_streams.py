"""The streaming request body: prefetch, verification before the last chunk, rewinds."""

from __future__ import annotations

import hashlib
import io

import pytest
from codeartifact_generic.handler.streams import (
    CHUNK_BYTES,
    AssetContentMismatch,
    HashingBody,
    Progress,
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
    with pytest.raises(AssetContentMismatch, match="changed since synth"):
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
