"""Asset bodies on disk: streamed in chunks of at most 1 MiB while hashed, never held whole.

:func:`stage` writes a request body to a new file under a directory and computes its SHA-256
as the bytes arrive (PublishPackageVersion checks it against the ``x-amz-content-sha256``
header before accepting the asset). CodeArtifact also reports MD5, SHA-1 and SHA-512; those
are :class:`Digests` computed from the stored file the first time a response needs them
(ListPackageVersionAssets), once, and cached, so the upload path hashes each byte once.
``eager=True`` computes all four while the body arrives instead (the emulator's
``eager_digests`` option). A body larger than the size limit is read to its end (so the HTTP
connection stays usable) but not written, and :class:`SizeLimitExceeded` is raised; nothing
is left on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

#: Largest chunk read from a body or a file at once.
CHUNK_SIZE: Final = 1024 * 1024

#: Hash algorithm names as the API spells them → hashlib names.
ALGORITHMS: Final = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}
#: The digest computed while a body arrives (the one a publish is checked against).
SHA256: Final = "SHA-256"


class Readable(Protocol):
    """Anything with ``read(n) -> bytes`` (``b""`` at the end)."""

    def read(self, size: int, /) -> bytes:
        """Read at most ``size`` bytes."""


class SizeLimitExceeded(Exception):
    """The body was larger than the limit; ``size`` is how many bytes were seen."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes exceed the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class Digests:
    """An asset's hex digests by API algorithm name, completed lazily and thread-safely.

    Created with what was computed while the body arrived (at least SHA-256); :meth:`complete`
    computes the missing ones from the asset's file the first time it is called and caches
    them. Concurrent callers compute once: the first hashes, the others wait and share it.
    Reading what is known (:attr:`sha256`, :attr:`is_complete`, :meth:`known`) never waits
    for a computation (the store calls them under its lock): the mapping is replaced whole,
    never changed in place.
    """

    def __init__(self, known: Mapping[str, str]) -> None:
        if SHA256 not in known:
            raise ValueError("the SHA-256 digest is always computed on upload")
        self._known: Mapping[str, str] = _ordered(known)
        #: Held while missing digests are computed.
        self._lock = threading.Lock()
        #: How many times missing digests were computed from a file (for tests: at most 1).
        self.computations = 0

    @property
    def sha256(self) -> str:
        """The SHA-256 hex digest (always known)."""
        return self._known[SHA256]

    @property
    def is_complete(self) -> bool:
        """True once every algorithm of :data:`ALGORITHMS` is known."""
        return len(self._known) == len(ALGORITHMS)

    def known(self) -> dict[str, str]:
        """The digests known now (no computation), in :data:`ALGORITHMS` order."""
        return dict(self._known)

    def complete(self, stream: Readable) -> dict[str, str]:
        """Every digest; the missing ones are computed from ``stream`` (the asset's file,
        positioned at its start) unless another caller did so first."""
        with self._lock:
            missing = {
                name: hashlib.new(algorithm)
                for name, algorithm in ALGORITHMS.items()
                if name not in self._known
            }
            if missing:
                _hash_stream(stream, list(missing.values()))
                computed = {name: d.hexdigest() for name, d in missing.items()}
                self._known = _ordered({**self._known, **computed})
                self.computations += 1
            return dict(self._known)


def _ordered(digests: Mapping[str, str]) -> dict[str, str]:
    return {name: digests[name] for name in ALGORITHMS if name in digests}


def _hash_stream(stream: Readable, digests: list[Any]) -> None:
    while chunk := stream.read(CHUNK_SIZE):
        for digest in digests:
            digest.update(chunk)


@dataclass(frozen=True)
class StagedBlob:
    """A body written to ``path``: its size and the digests computed while it arrived."""

    path: Path
    size: int
    #: Hex digests by API algorithm name: SHA-256, or all four when staged eagerly.
    hashes: dict[str, str]

    @property
    def sha256(self) -> str:
        """The SHA-256 hex digest."""
        return self.hashes[SHA256]

    def discard(self) -> None:
        """Delete the file (no error when it is already gone)."""
        remove(self.path)


def stage(
    body: Readable,
    directory: Path,
    *,
    declared_size: int | None,
    limit: int,
    eager: bool = False,
) -> StagedBlob:
    """Stream ``body`` into a new file in ``directory`` while computing its SHA-256 (with
    ``eager``, all four digests).

    Raises :class:`SizeLimitExceeded` (after draining the body, with nothing written) when
    ``declared_size`` or the bytes actually read exceed ``limit``.
    """
    if declared_size is not None and declared_size > limit:
        drain(body)
        raise SizeLimitExceeded(declared_size, limit)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.blob"
    names = ALGORITHMS if eager else {SHA256: ALGORITHMS[SHA256]}
    digests = {name: hashlib.new(algorithm) for name, algorithm in names.items()}
    size = 0
    try:
        with path.open("xb") as out:
            while chunk := body.read(CHUNK_SIZE):
                size += len(chunk)
                if size > limit:
                    raise SizeLimitExceeded(size + drain(body), limit)
                out.write(chunk)
                for digest in digests.values():
                    digest.update(chunk)
    except BaseException:
        remove(path)
        raise
    return StagedBlob(path, size, {name: d.hexdigest() for name, d in digests.items()})


def drain(body: Readable) -> int:
    """Read ``body`` to its end, discarding it; return how many bytes were read."""
    total = 0
    while chunk := body.read(CHUNK_SIZE):
        total += len(chunk)
    return total


def remove(path: Path) -> None:
    """Delete a blob file if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
