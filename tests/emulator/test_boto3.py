"""Emulator behaviour through boto3: the calls our Lambda handler makes, and the edge cases."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from codeartifact_generic.testing._emulator import CodeArtifactEmulator

from .support import DOMAIN, NAMESPACE, PKG, REPOSITORY, make_client, publish, sha256


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    """Call and return the ClientError's code, message and HTTP status."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_missing_domain_or_repository_is_named(client: Any) -> None:
    """GIVEN no domain, then a domain without the repository
    WHEN a version is published
    THEN ResourceNotFoundException (404) names the missing domain, then the repository."""
    code, message, status = error_of(publish, client=client, version="1", name="a", data=b"a")
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert DOMAIN in message
    client.create_domain(domain=DOMAIN)
    code, message, _ = error_of(publish, client=client, version="1", name="a", data=b"a")
    assert code == "ResourceNotFoundException"
    assert f"Repository {REPOSITORY}" in message


def test_publish_requires_generic_format_and_namespace(repo: Any) -> None:
    """GIVEN a repository
    WHEN an npm package or a generic package without namespace is published
    THEN both are ValidationExceptions (400)."""
    base = {**PKG, "packageVersion": "1", "assetName": "a", "assetContent": b"a"}
    code, message, status = error_of(
        repo.publish_package_version, **{**base, "format": "npm", "assetSHA256": sha256(b"a")}
    )
    assert (code, status) == ("ValidationException", 400)
    assert "generic" in message
    no_namespace = {k: v for k, v in base.items() if k != "namespace"}
    code, message, _ = error_of(
        repo.publish_package_version, **no_namespace, assetSHA256=sha256(b"a")
    )
    assert code == "ValidationException"
    assert "namespace" in message


def test_asset_names_follow_the_cli_reference_set(repo: Any) -> None:
    """GIVEN asset names with Unicode letters and the documented specials, and ones with '*'
    or a space
    WHEN they are published
    THEN the documented ones are accepted and the others are ValidationExceptions."""
    good = ["Ünïcödé-名前_1.0", "a~b!c@d^e&f(g)h-i`j_k+l[m]n{o}p;q,r.s"]
    for name in good:
        assert publish(repo, "1", name, b"x", unfinished=True)["asset"]["name"] == name
    fetched = repo.get_package_version_asset(**PKG, packageVersion="1", asset=good[0])
    assert fetched["asset"].read() == b"x"
    for name in ["star*.bin", "with space.bin"]:
        code, message, _ = error_of(
            publish, client=repo, version="1", name=name, data=b"x", unfinished=True
        )
        assert code == "ValidationException"
        assert "assetName" in message


def test_version_listing_filters_sorts_and_defaults(repo: Any) -> None:
    """GIVEN versions published in the order 2.0, 10.0, 1.0 and an Unfinished 3.0
    WHEN versions are listed by default, by published time, and filtered by status
    THEN the default order is numeric-aware, PUBLISHED_TIME is newest first, the filter
    works and defaultDisplayVersion is the latest Published one."""
    for version in ["2.0", "10.0", "1.0"]:
        publish(repo, version, "a", version.encode())
    publish(repo, "3.0", "a", b"3", unfinished=True)

    listed = repo.list_package_versions(**PKG)
    assert [v["version"] for v in listed["versions"]] == ["1.0", "2.0", "3.0", "10.0"]
    assert listed["defaultDisplayVersion"] == "1.0"
    by_time = repo.list_package_versions(**PKG, sortBy="PUBLISHED_TIME")
    assert [v["version"] for v in by_time["versions"]] == ["3.0", "1.0", "10.0", "2.0"]
    unfinished = repo.list_package_versions(**PKG, status="Unfinished")
    assert [(v["version"], v["status"]) for v in unfinished["versions"]] == [("3.0", "Unfinished")]


def test_asset_listing_paginates_with_boto3_paginator(repo: Any) -> None:
    """GIVEN a version with five assets
    WHEN ListPackageVersionAssets is paginated two at a time
    THEN three pages return all assets in publish order with the right sizes."""
    names = [f"part-{n}.bin" for n in range(5)]
    for n, name in enumerate(names):
        publish(repo, "1.0", name, b"z" * (n + 1), unfinished=n < 4)
    pages = list(
        repo.get_paginator("list_package_version_assets").paginate(
            **PKG, packageVersion="1.0", PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(page["assets"]) for page in pages] == [2, 2, 1]
    assets = [asset for page in pages for asset in page["assets"]]
    assert [(a["name"], a["size"]) for a in assets] == [(n, i + 1) for i, n in enumerate(names)]


def test_download_rules_for_archived_and_stale_revision(repo: Any) -> None:
    """GIVEN a Published version
    WHEN its asset is fetched with a stale revision, and after it is Archived
    THEN the stale revision is ResourceNotFoundException and the Archived version's asset
    cannot be downloaded (ConflictException); Unlisted assets still download."""
    first = publish(repo, "1.0", "a.bin", b"payload", unfinished=True)
    publish(repo, "1.0", "b.bin", b"other")
    get = {**PKG, "packageVersion": "1.0", "asset": "a.bin"}
    code, _, _ = error_of(
        repo.get_package_version_asset, **get, packageVersionRevision=first["versionRevision"]
    )
    assert code == "ResourceNotFoundException"

    repo.update_package_versions_status(**PKG, versions=["1.0"], targetStatus="Unlisted")
    assert repo.get_package_version_asset(**get)["asset"].read() == b"payload"
    repo.update_package_versions_status(**PKG, versions=["1.0"], targetStatus="Archived")
    code, _, status = error_of(repo.get_package_version_asset, **get)
    assert (code, status) == ("ConflictException", 409)


def test_domain_repository_and_package_deletion(repo: Any, emulator: CodeArtifactEmulator) -> None:
    """GIVEN a domain with a repository holding a package
    WHEN the domain, the package, the repository and the domain are deleted in turn
    THEN the first is a ConflictException, the rest succeed, files are removed and the
    descriptions report the domain's counts."""
    publish(repo, "1.0", "a.bin", b"12345")
    described = repo.describe_domain(domain=DOMAIN)["domain"]
    assert (described["repositoryCount"], described["assetSizeBytes"]) == (1, 5)
    code, _, _ = error_of(repo.delete_domain, domain=DOMAIN)
    assert code == "ConflictException"

    package = repo.describe_package(**PKG)["package"]
    assert package["originConfiguration"]["restrictions"] == {
        "publish": "ALLOW",
        "upstream": "BLOCK",
    }
    assert repo.delete_package(**PKG)["deletedPackage"]["package"] == PKG["package"]
    assert emulator.store.blob_files() == []
    assert repo.list_packages(domain=DOMAIN, repository=REPOSITORY)["packages"] == []

    repo.delete_repository(domain=DOMAIN, repository=REPOSITORY)
    assert repo.list_repositories_in_domain(domain=DOMAIN)["repositories"] == []
    assert repo.delete_domain(domain=DOMAIN)["domain"]["name"] == DOMAIN
    assert repo.list_domains()["domains"] == []


def test_list_repositories_and_packages_filters(repo: Any) -> None:
    """GIVEN two repositories and packages in two namespaces
    WHEN listing with prefixes
    THEN only matching repositories and packages are returned."""
    repo.create_repository(
        domain=DOMAIN, repository="other-repo", upstreams=[{"repositoryName": REPOSITORY}]
    )
    publish(repo, "1", "a", b"a")
    repo.publish_package_version(
        **{**PKG, "namespace": "zz-ns", "package": "tool"},
        packageVersion="1",
        assetName="a",
        assetContent=b"a",
        assetSHA256=sha256(b"a"),
    )
    names = [r["name"] for r in repo.list_repositories(repositoryPrefix="other")["repositories"]]
    assert names == ["other-repo"]
    upstreams = repo.describe_repository(domain=DOMAIN, repository="other-repo")["repository"]
    assert upstreams["upstreams"] == [{"repositoryName": REPOSITORY}]
    code, _, _ = error_of(repo.delete_repository, domain=DOMAIN, repository=REPOSITORY)
    assert code == "ConflictException"
    packages = repo.list_packages(domain=DOMAIN, repository=REPOSITORY, namespace="zz")
    assert [(p["namespace"], p["package"]) for p in packages["packages"]] == [("zz-ns", "tool")]
    assert NAMESPACE != "zz-ns"


def test_authorization_token(repo: Any) -> None:
    """GIVEN a domain
    WHEN tokens are requested for 15 minutes, for 10 seconds, and for a missing domain
    THEN the first has a token expiring ~15 minutes ahead, the others fail."""
    token = repo.get_authorization_token(domain=DOMAIN, durationSeconds=900)
    assert token["authorizationToken"]
    remaining = token["expiration"].timestamp() - time.time()
    assert 800 < remaining <= 900
    assert error_of(repo.get_authorization_token, domain=DOMAIN, durationSeconds=10)[0] == (
        "ValidationException"
    )
    assert error_of(repo.get_authorization_token, domain="missing")[0] == (
        "ResourceNotFoundException"
    )


def test_parallel_uploads_to_one_unfinished_version(
    repo: Any, emulator: CodeArtifactEmulator
) -> None:
    """GIVEN an Unfinished version
    WHEN eight assets are uploaded at once from threads (each with its own client)
    THEN all are stored, each with its own file."""
    publish(repo, "1.0", "first", b"first", unfinished=True)
    failures: list[BaseException] = []

    def upload(n: int) -> None:
        try:
            publish(
                make_client(emulator.endpoint_url),
                "1.0",
                f"asset-{n}",
                bytes([n]) * 70_000,
                unfinished=True,
            )
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assets = repo.list_package_version_assets(**PKG, packageVersion="1.0")["assets"]
    assert len(assets) == 9
    assert len(emulator.store.blob_files()) == 9


def test_unimplemented_operation_is_named(client: Any) -> None:
    """GIVEN an operation of the model the emulator does not serve
    WHEN it is called
    THEN the error is UnknownOperationException (404) naming the operation."""
    no_retry = make_client(client.meta.endpoint_url, config=Config(retries={"max_attempts": 1}))
    code, message, status = error_of(
        no_retry.get_repository_endpoint, domain=DOMAIN, repository=REPOSITORY, format="generic"
    )
    assert (code, status) == ("UnknownOperationException", 404)
    assert "GetRepositoryEndpoint" in message
