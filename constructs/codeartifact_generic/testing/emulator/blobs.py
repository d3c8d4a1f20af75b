"""Asset bodies on disk: streamed in chunks of at most 1 MiB while hashed, never held whole.

:func:`stage` writes a request body to a new file under a directory and computes the four
digests CodeArtifact reports (MD5, SHA-1, SHA-256, SHA-512). A body larger than the size limit
is read to its end (so the HTTP connection stays usable) but not written, and
:class:`SizeLimitExceeded` is raised; nothing is left on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

#: Largest chunk read from a body or a file at once.
CHUNK_SIZE: Final = 1024 * 1024

#: Hash algorithm names as the API spells them → hashlib names.
ALGORITHMS: Final = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}


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


@dataclass(frozen=True)
class StagedBlob:
    """A body written to ``path``: its size and hex digests by API algorithm name."""

    path: Path
    size: int
    hashes: dict[str, str]

    @property
    def sha256(self) -> str:
        """The SHA-256 hex digest."""
        return self.hashes["SHA-256"]

    def discard(self) -> None:
        """Delete the file (no error when it is already gone)."""
        remove(self.path)


def stage(body: Readable, directory: Path, *, declared_size: int | None, limit: int) -> StagedBlob:
    """Stream ``body`` into a new file in ``directory`` while hashing it.

    Raises :class:`SizeLimitExceeded` (after draining the body, with nothing written) when
    ``declared_size`` or the bytes actually read exceed ``limit``.
    """
    if declared_size is not None and declared_size > limit:
        drain(body)
        raise SizeLimitExceeded(declared_size, limit)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.blob"
    digests = {name: hashlib.new(algorithm) for name, algorithm in ALGORITHMS.items()}
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
