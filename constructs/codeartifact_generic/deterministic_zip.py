"""Deterministic zip archives of directories: the same tree gives the same bytes.

Entries are the tree's regular files (symlinks to files are followed; symlinked directories and
special files are skipped), in sorted POSIX path order, with a fixed timestamp (1980-01-01) and
fixed permissions (0644), no extra fields and no directory entries. Compression is deflate at a
fixed level, so the bytes are identical wherever the same zlib is used (CPython's own builds);
``compress=False`` stores entries and is byte-identical everywhere.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_COPY_CHUNK = 1024 * 1024


def list_files(root: Path) -> list[tuple[str, Path]]:
    """``(archive name, path)`` of every regular file under ``root``, sorted by name."""
    found: list[tuple[str, Path]] = []
    for directory, subdirs, files in os.walk(root, followlinks=False):
        subdirs.sort()
        for name in files:
            path = Path(directory, name)
            if path.is_file():
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def write_zip(root: Path, destination: Path, *, compress: bool = True) -> str:
    """Zip ``root`` into ``destination`` deterministically; returns the zip's hex SHA256."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(destination, "w", compression=method, compresslevel=6) as archive:
        for name, path in list_files(root):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = method
            info.create_system = 3  # Unix, whatever the host: external_attr means the same
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
                shutil.copyfileobj(source, target, _COPY_CHUNK)
    return file_sha256(destination)


def file_sha256(path: Path) -> str:
    """Hex SHA256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_COPY_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
