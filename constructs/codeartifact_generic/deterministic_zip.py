"""Deterministic zip archives of directories: the same tree gives the same bytes.

Entries are the tree's regular files (symlinks to files are followed; symlinked directories and
special files are skipped) that the caller's filter keeps, in sorted POSIX path order, with a
fixed timestamp (1980-01-01), no extra fields and no directory entries. Permissions are
normalised the way git records them: ``0755`` for a file any execute bit is set on, ``0644``
for every other file, so an executable stays executable while umasks and read/write bits do not
change the bytes. Compression is deflate at a fixed level, so the bytes are identical wherever
the same zlib is used (CPython's own builds); ``compress=False`` stores entries and is
byte-identical everywhere.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644
_EXECUTABLE_MODE = 0o100755
_COPY_CHUNK = 1024 * 1024

#: ``ignored(path, is_directory)``: True leaves the file out (or the directory and everything
#: under it).
Filter = Callable[[Path, bool], bool]


def _keep_all(path: Path, is_directory: bool) -> bool:
    return False


def list_files(root: Path, ignored: Filter = _keep_all) -> list[tuple[str, Path]]:
    """``(archive name, path)`` of every regular file under ``root`` kept by ``ignored``."""
    found: list[tuple[str, Path]] = []
    for directory, subdirs, files in os.walk(root, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if not ignored(Path(directory, d), True))
        for name in files:
            path = Path(directory, name)
            if path.is_file() and not ignored(path, False):
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def zip_mode(path: Path) -> int:
    """The Unix mode recorded for ``path``: 0755 if executable by anyone, else 0644."""
    executable = path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return _EXECUTABLE_MODE if executable else _FILE_MODE


def write_zip(
    root: Path, destination: Path, *, compress: bool = True, ignored: Filter = _keep_all
) -> str:
    """Zip ``root`` into ``destination`` deterministically; returns the zip's hex SHA256."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(destination, "w", compression=method, compresslevel=6) as archive:
        for name, path in list_files(root, ignored):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = zip_mode(path) << 16
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
