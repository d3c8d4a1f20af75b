"""Directory assets are zipped deterministically: same tree, same bytes, same SHA256."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from codeartifact_generic.deterministic_zip import write_zip


def _tree(root: Path, mtime: int, mode: int) -> Path:
    for name, data in {"b.txt": b"bee", "a/z.txt": b"zed", "a/c.bin": bytes(range(256))}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
        os.utime(path, (mtime, mtime))
    return root


def test_same_tree_gives_same_bytes_whatever_the_times_and_read_write_modes(
    tmp_path: Path,
) -> None:
    # GIVEN two copies of a tree with different timestamps, read/write permissions and umasks
    first = _tree(tmp_path / "one", mtime=1_000_000_000, mode=0o600)
    second = _tree(tmp_path / "two", mtime=1_700_000_000, mode=0o664)
    # WHEN both are zipped
    sha_one = write_zip(first, tmp_path / "one.zip")
    sha_two = write_zip(second, tmp_path / "two.zip")
    # THEN the archives are byte-identical
    assert sha_one == sha_two
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_zip_holds_sorted_files_with_fixed_metadata(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t", mtime=1_600_000_000, mode=0o600)
    write_zip(root, tmp_path / "t.zip")
    with zipfile.ZipFile(tmp_path / "t.zip") as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["a/c.bin", "a/z.txt", "b.txt"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        assert archive.read("a/c.bin") == bytes(range(256))


@pytest.mark.parametrize("mode", [0o700, 0o744, 0o755, 0o610, 0o601])
def test_an_executable_stays_executable_whoever_could_run_it(tmp_path: Path, mode: int) -> None:
    # GIVEN a tree whose script has some execute bit set (owner, group or others)
    root = _tree(tmp_path / "t", mtime=1, mode=0o644)
    (root / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(mode)
    # WHEN it is zipped
    write_zip(root, tmp_path / "t.zip")
    # THEN the script is recorded as 0755 (as git records it) and every other file as 0644
    with zipfile.ZipFile(tmp_path / "t.zip") as archive:
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert modes == {
        "a/c.bin": 0o100644,
        "a/z.txt": 0o100644,
        "b.txt": 0o100644,
        "run.sh": 0o100755,
    }


def test_making_a_file_executable_changes_the_bytes(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t", mtime=1, mode=0o644)
    before = write_zip(root, tmp_path / "1.zip")
    (root / "b.txt").chmod(0o755)
    assert write_zip(root, tmp_path / "2.zip") != before


def test_content_change_changes_the_hash(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t", mtime=1, mode=0o644)
    before = write_zip(root, tmp_path / "1.zip")
    (root / "b.txt").write_bytes(b"bee!")
    assert write_zip(root, tmp_path / "2.zip") != before


def test_stored_mode_is_uncompressed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t", mtime=1, mode=0o644)
    write_zip(root, tmp_path / "s.zip", compress=False)
    with zipfile.ZipFile(tmp_path / "s.zip") as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
