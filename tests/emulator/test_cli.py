"""Emulator fidelity through the AWS CLI v1, an independent client (one subprocess per call)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeartifact_generic.testing._emulator import CodeArtifactEmulator, Limits

from .support import (
    DOMAIN,
    NAMESPACE,
    PACKAGE,
    PKG_ARGS,
    REPOSITORY,
    Cli,
    aws_env,
    publish,
    sha256,
)


def publish_args(version: str, path: Path, *extra: str, name: str | None = None) -> list[str]:
    """Arguments of ``publish-package-version`` for one file."""
    return [
        "publish-package-version",
        *PKG_ARGS,
        "--package-version",
        version,
        "--asset-content",
        str(path),
        "--asset-name",
        name or path.name,
        "--asset-sha256",
        sha256(path.read_bytes()),
        *extra,
    ]


def status_update_args(
    *versions: str, target: str, expected: str | None = None, revisions: str | None = None
) -> list[str]:
    """Arguments of ``update-package-versions-status`` of ``versions`` to ``target``
    (``expected``: ``--expected-status``; ``revisions``: ``--version-revisions``)."""
    args = ["update-package-versions-status", *PKG_ARGS, "--versions", *versions]
    if revisions is not None:
        args += ["--version-revisions", revisions]
    if expected is not None:
        args += ["--expected-status", expected]
    return [*args, "--target-status", target]


def test_publish_multi_asset_version_lifecycle(
    emulator: CodeArtifactEmulator, tmp_path: Path
) -> None:
    """GIVEN a domain and repository created with the CLI (endpoint from the environment)
    WHEN three assets are published, the first two with --unfinished
    THEN the version is Unfinished until the last one, lists every asset with its size and
    SHA-256, and get-package-version-asset writes back identical bytes."""
    env = aws_env(tmp_path) | {"AWS_ENDPOINT_URL_CODEARTIFACT": emulator.endpoint_url}
    cli = Cli(emulator.endpoint_url, env, tmp_path)
    domain = cli.ok("create-domain", "--domain", DOMAIN, endpoint=False)["domain"]
    assert domain["name"] == DOMAIN
    assert domain["status"] == "Active"
    assert domain["owner"] == "123456789012"
    repository = cli.ok(
        "create-repository", "--domain", DOMAIN, "--repository", REPOSITORY, endpoint=False
    )["repository"]
    assert repository["domainName"] == DOMAIN
    assert repository["name"] == REPOSITORY

    files = {
        "app.tar.gz": bytes(range(256)) * 4096,  # 1 MiB
        "notes.txt": "café ✓\n".encode(),
        "empty.bin": b"",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    first = cli.ok(*publish_args("1.0.0", tmp_path / "app.tar.gz", "--unfinished"))
    second = cli.ok(*publish_args("1.0.0", tmp_path / "notes.txt", "--unfinished"))
    last = cli.ok(*publish_args("1.0.0", tmp_path / "empty.bin"))
    assert [first["status"], second["status"], last["status"]] == [
        "Unfinished",
        "Unfinished",
        "Published",
    ]
    assert len({first["versionRevision"], second["versionRevision"], last["versionRevision"]}) == 3
    assert first["asset"]["hashes"]["SHA-256"] == sha256(files["app.tar.gz"])
    assert first["asset"]["size"] == len(files["app.tar.gz"])
    assert (first["format"], first["namespace"], first["package"]) == (
        "generic",
        NAMESPACE,
        PACKAGE,
    )

    described = cli.ok("describe-package-version", *PKG_ARGS, "--package-version", "1.0.0")
    assert described["packageVersion"]["status"] == "Published"
    assert described["packageVersion"]["revision"] == last["versionRevision"]

    listed = cli.ok("list-package-version-assets", *PKG_ARGS, "--package-version", "1.0.0")
    assert listed["versionRevision"] == last["versionRevision"]
    assert {a["name"]: (a["size"], a["hashes"]["SHA-256"]) for a in listed["assets"]} == {
        name: (len(data), sha256(data)) for name, data in files.items()
    }

    out = tmp_path / "downloaded"
    headers = cli.ok(
        "get-package-version-asset",
        *PKG_ARGS,
        "--package-version",
        "1.0.0",
        "--asset",
        "app.tar.gz",
        str(out),
    )
    assert out.read_bytes() == files["app.tar.gz"]
    assert headers["assetName"] == "app.tar.gz"
    assert headers["packageVersion"] == "1.0.0"
    assert headers["packageVersionRevision"] == last["versionRevision"]


def test_hash_mismatch_is_rejected_and_nothing_is_stored(
    cli: Cli, repo: Any, emulator: CodeArtifactEmulator, tmp_path: Path
) -> None:
    """GIVEN a file and the SHA-256 of different bytes
    WHEN it is published
    THEN the CLI reports a ValidationException about the hashes and no package, version or
    file exists afterwards."""
    path = tmp_path / "asset.bin"
    path.write_bytes(b"the real content")
    args = publish_args("1.0.0", path)
    args[args.index("--asset-sha256") + 1] = sha256(b"something else")

    stderr = cli.fails(*args)

    assert "ValidationException" in stderr
    assert "do not match" in stderr
    assert emulator.store.blob_files() == []
    assert "PackageNotFound" not in stderr
    packages = cli.ok("list-packages", "--domain", DOMAIN, "--repository", REPOSITORY)
    assert packages["packages"] == []


def test_same_asset_name_with_different_bytes_conflicts(
    cli: Cli, repo: Any, tmp_path: Path
) -> None:
    """GIVEN an Unfinished version holding asset a.bin
    WHEN a.bin is published again with identical bytes, then with different bytes
    THEN the identical upload is accepted (new revision) and the different one is a
    ConflictException that leaves the stored asset as it was."""
    first = publish(repo, "1.0.0", "a.bin", b"original", unfinished=True)
    same = tmp_path / "a.bin"
    same.write_bytes(b"original")
    again = cli.ok(*publish_args("1.0.0", same, "--unfinished"))
    assert again["status"] == "Unfinished"
    assert again["versionRevision"] != first["versionRevision"]

    changed = tmp_path / "changed.bin"
    changed.write_bytes(b"modified")
    stderr = cli.fails(*publish_args("1.0.0", changed, "--unfinished", name="a.bin"))

    assert "ConflictException" in stderr
    assets = cli.ok("list-package-version-assets", *PKG_ARGS, "--package-version", "1.0.0")
    assert [(a["name"], a["hashes"]["SHA-256"]) for a in assets["assets"]] == [
        ("a.bin", sha256(b"original"))
    ]


def test_published_version_rejects_new_assets(cli: Cli, repo: Any, tmp_path: Path) -> None:
    """GIVEN a Published version
    WHEN another asset is published to it, with or without --unfinished
    THEN both are ConflictExceptions and the version stays Published with one asset."""
    publish(repo, "2.0.0", "one.bin", b"one")
    extra = tmp_path / "two.bin"
    extra.write_bytes(b"two")

    assert "ConflictException" in cli.fails(*publish_args("2.0.0", extra))
    assert "ConflictException" in cli.fails(*publish_args("2.0.0", extra, "--unfinished"))

    described = repo.describe_package_version(
        domain=DOMAIN,
        repository=REPOSITORY,
        format="generic",
        namespace=NAMESPACE,
        package=PACKAGE,
        packageVersion="2.0.0",
    )["packageVersion"]
    assert described["status"] == "Published"
    assets = cli.ok("list-package-version-assets", *PKG_ARGS, "--package-version", "2.0.0")
    assert [a["name"] for a in assets["assets"]] == ["one.bin"]


def test_update_status_with_expected_status_and_revision(cli: Cli, repo: Any) -> None:
    """GIVEN an Unfinished version 1.0 and a Published version 2.0
    WHEN the status is updated with a wrong revision, then with a wrong expected status,
    then with matching ones
    THEN the first two fail per version (MISMATCHED_REVISION, MISMATCHED_STATUS, NOT_FOUND
    for a missing version) and the last succeeds with a new revision."""
    unfinished = publish(repo, "1.0", "a.bin", b"a", unfinished=True)
    publish(repo, "2.0", "b.bin", b"b")

    wrong_revision = cli.ok(
        *status_update_args("1.0", "9.9", revisions="1.0=not-the-revision", target="Published")
    )
    assert wrong_revision["successfulVersions"] == {}
    assert wrong_revision["failedVersions"]["1.0"]["errorCode"] == "MISMATCHED_REVISION"
    assert wrong_revision["failedVersions"]["9.9"]["errorCode"] == "NOT_FOUND"

    wrong_status = cli.ok(
        *status_update_args("1.0", "2.0", expected="Unfinished", target="Archived")
    )
    assert wrong_status["failedVersions"]["2.0"]["errorCode"] == "MISMATCHED_STATUS"
    assert wrong_status["successfulVersions"]["1.0"]["status"] == "Archived"
    archived_revision = wrong_status["successfulVersions"]["1.0"]["revision"]
    assert archived_revision != unfinished["versionRevision"]

    done = cli.ok(
        *status_update_args(
            "1.0", revisions=f"1.0={archived_revision}", expected="Archived", target="Published"
        )
    )
    assert done["failedVersions"] == {}
    assert done["successfulVersions"]["1.0"]["status"] == "Published"
    assert done["successfulVersions"]["1.0"]["revision"] != archived_revision


def test_update_status_cannot_set_unfinished_or_disposed(cli: Cli, repo: Any) -> None:
    """GIVEN a Published version
    WHEN update-package-versions-status targets Unfinished or Disposed
    THEN each is a ValidationException and the version stays Published."""
    publish(repo, "1.0", "a.bin", b"a")
    for target in ("Unfinished", "Disposed"):
        stderr = cli.fails(*status_update_args("1.0", target=target))
        assert "ValidationException" in stderr
    versions = cli.ok("list-package-versions", *PKG_ARGS)["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [("1.0", "Published")]


def test_delete_and_dispose_versions(
    cli: Cli, repo: Any, emulator: CodeArtifactEmulator, tmp_path: Path
) -> None:
    """GIVEN versions 1.0 and 2.0 with one asset each
    WHEN 1.0 is deleted and 2.0 disposed
    THEN 1.0 is gone (describe fails with ResourceNotFoundException), 2.0 is Disposed with no
    assets, its asset cannot be downloaded, and no asset file is left on disk."""
    publish(repo, "1.0", "a.bin", b"a" * 100)
    publish(repo, "2.0", "b.bin", b"b" * 100)
    assert len(emulator.store.blob_files()) == 2

    deleted = cli.ok("delete-package-versions", *PKG_ARGS, "--versions", "1.0")
    assert deleted["successfulVersions"]["1.0"]["status"] == "Deleted"
    disposed = cli.ok("dispose-package-versions", *PKG_ARGS, "--versions", "2.0", "3.0")
    assert disposed["successfulVersions"]["2.0"]["status"] == "Disposed"
    assert disposed["failedVersions"]["3.0"]["errorCode"] == "NOT_FOUND"

    stderr = cli.fails("describe-package-version", *PKG_ARGS, "--package-version", "1.0")
    assert "ResourceNotFoundException" in stderr
    described = cli.ok("describe-package-version", *PKG_ARGS, "--package-version", "2.0")
    assert described["packageVersion"]["status"] == "Disposed"
    download = cli.fails(
        "get-package-version-asset",
        *PKG_ARGS,
        "--package-version",
        "2.0",
        "--asset",
        "b.bin",
        str(tmp_path / "out"),
    )
    assert "ResourceNotFoundException" in download
    assert emulator.store.blob_files() == []


def test_name_patterns_are_validated(cli: Cli, repo: Any, tmp_path: Path) -> None:
    """GIVEN names that break the service's patterns
    WHEN they are used (domain with uppercase/underscore, asset name with '/', a repository
    name that starts with '-')
    THEN each call is a ValidationException naming the offending member."""
    bad_domain = cli.fails("create-domain", "--domain", "Bad_Domain")
    assert "ValidationException" in bad_domain
    assert "'domain'" in bad_domain

    bad_repository = cli.fails("create-repository", "--domain", DOMAIN, "--repository=-repo")
    assert "ValidationException" in bad_repository
    assert "'repository'" in bad_repository

    path = tmp_path / "ok.bin"
    path.write_bytes(b"data")
    bad_asset = cli.fails(*publish_args("1.0", path, name="dir/file.bin"))
    assert "ValidationException" in bad_asset
    assert "'assetName'" in bad_asset


def test_quota_exceeded_with_small_limits(
    make_emulator: Callable[..., CodeArtifactEmulator], tmp_path: Path
) -> None:
    """GIVEN an emulator limited to 1 KiB per asset and 2 assets per version
    WHEN a 2 KiB asset is published, and then a third asset to an Unfinished version
    THEN both are ServiceQuotaExceededExceptions and nothing more is stored."""
    emulator = make_emulator(limits=Limits(max_asset_size_bytes=1024, max_assets_per_version=2))
    cli = Cli(emulator.endpoint_url, aws_env(tmp_path), tmp_path)
    cli.ok("create-domain", "--domain", DOMAIN)
    cli.ok("create-repository", "--domain", DOMAIN, "--repository", REPOSITORY)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 2048)
    small = [tmp_path / f"small-{n}.bin" for n in range(3)]
    for n, path in enumerate(small):
        path.write_bytes(bytes([n]) * 10)

    assert "ServiceQuotaExceededException" in cli.fails(*publish_args("1.0", big))
    assert emulator.store.blob_files() == []

    cli.ok(*publish_args("1.0", small[0], "--unfinished"))
    cli.ok(*publish_args("1.0", small[1], "--unfinished"))
    assert "ServiceQuotaExceededException" in cli.fails(*publish_args("1.0", small[2]))
    assets = cli.ok("list-package-version-assets", *PKG_ARGS, "--package-version", "1.0")
    assert [a["name"] for a in assets["assets"]] == ["small-0.bin", "small-1.bin"]
    assert len(emulator.store.blob_files()) == 2


def test_pagination_of_package_versions(cli: Cli, repo: Any) -> None:
    """GIVEN five versions of a package
    WHEN they are listed one page of two at a time, and with the CLI's auto-pagination
    THEN the first page has two versions and a nextToken that leads to the rest, and
    auto-pagination returns all five, ordered by version."""
    versions = ["1.0", "1.1", "1.2", "1.10", "2.0"]
    for version in versions:
        publish(repo, version, "a.bin", version.encode())

    first = cli.ok("list-package-versions", *PKG_ARGS, "--no-paginate", "--max-results", "2")
    assert [v["version"] for v in first["versions"]] == ["1.0", "1.1"]
    assert first["nextToken"]
    second = cli.ok(
        "list-package-versions",
        *PKG_ARGS,
        "--no-paginate",
        "--max-results",
        "2",
        "--next-token",
        first["nextToken"],
    )
    assert [v["version"] for v in second["versions"]] == ["1.2", "1.10"]

    everything = cli.ok("list-package-versions", *PKG_ARGS, "--page-size", "2")
    assert [v["version"] for v in everything["versions"]] == versions
