"""Asset digests: SHA-256 computed as the body streams (and checked before accepting), MD5,
SHA-1 and SHA-512 computed from the stored file when first listed, once, off the upload path."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from codeartifact_generic.testing._emulator import CodeArtifactEmulator, blobs
from codeartifact_generic.testing._emulator.blobs import ALGORITHMS, Digests, stage
from codeartifact_generic.testing._emulator.store import PackageRef

from .support import DOMAIN, NAMESPACE, PACKAGE, PKG, REPOSITORY, make_client, publish, sha256

MIB = 1024 * 1024
REF = PackageRef(DOMAIN, None, REPOSITORY, "generic", NAMESPACE, PACKAGE)


def all_digests(data: bytes) -> dict[str, str]:
    """What CodeArtifact lists for ``data``: the four digests by API algorithm name."""
    return {
        name: hashlib.new(algorithm, data).hexdigest() for name, algorithm in ALGORITHMS.items()
    }


def listed(client: Any, version: str) -> dict[str, dict[str, str]]:
    """ListPackageVersionAssets: asset name → hashes."""
    assets = client.list_package_version_assets(**PKG, packageVersion=version)["assets"]
    return {a["name"]: a["hashes"] for a in assets}


def stored_digests(emulator: CodeArtifactEmulator, version: str, asset: str) -> Digests:
    with emulator.store.lock:
        return emulator.store.get_version(REF, version).assets[asset].digests


def test_publish_hashes_sha256_only_and_listing_completes_the_digests_once(
    repo: Any, emulator: CodeArtifactEmulator
) -> None:
    """GIVEN an emulator with default options
    WHEN a 3 MiB asset is published, then its version's assets are listed twice
    THEN the publish answers the SHA-256 alone and has computed nothing else; the first
    listing answers all four digests as hashlib computes them, the second the same without
    hashing again."""
    data = bytes(range(256)) * (3 * MIB // 256)
    answer = publish(repo, "1.0", "a.bin", data)
    assert answer["asset"]["hashes"] == {"SHA-256": sha256(data)}
    digests = stored_digests(emulator, "1.0", "a.bin")
    assert not digests.is_complete
    assert digests.computations == 0

    assert listed(repo, "1.0") == {"a.bin": all_digests(data)}
    assert listed(repo, "1.0") == {"a.bin": all_digests(data)}
    assert digests.computations == 1
    assert digests.is_complete


def test_eager_digests_answers_all_four_from_publish(
    make_emulator: Any,
) -> None:
    """GIVEN an emulator started with eager_digests=True
    WHEN an asset is published and listed
    THEN the publish answers all four digests (as AWS does) and listing computes nothing."""
    emulator = make_emulator(eager_digests=True)
    client = make_client(emulator.endpoint_url)
    client.create_domain(domain=DOMAIN)
    client.create_repository(domain=DOMAIN, repository=REPOSITORY)
    answer = publish(client, "1.0", "a.bin", b"eager bytes")
    assert answer["asset"]["hashes"] == all_digests(b"eager bytes")
    assert listed(client, "1.0") == {"a.bin": all_digests(b"eager bytes")}
    assert stored_digests(emulator, "1.0", "a.bin").computations == 0


def test_wrong_sha256_is_refused_after_streaming_as_before(
    repo: Any, emulator: CodeArtifactEmulator
) -> None:
    """GIVEN a repository
    WHEN a body is published with the SHA-256 of other bytes
    THEN ValidationException (400, reason OTHER) naming both hashes, and nothing is stored
    (no version, no file)."""
    client = make_client(emulator.endpoint_url, config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as raised:
        client.publish_package_version(
            **PKG,
            packageVersion="1.0",
            assetName="a.bin",
            assetContent=b"actual bytes",
            assetSHA256=sha256(b"other bytes"),
        )
    response: dict[str, Any] = dict(raised.value.response)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["reason"] == "OTHER"
    assert sha256(b"actual bytes") in response["Error"]["Message"]
    assert sha256(b"other bytes") in response["Error"]["Message"]
    assert emulator.store.blob_files() == []
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        client.describe_package_version(**PKG, packageVersion="1.0")


def test_concurrent_listings_hash_a_file_once(repo: Any, emulator: CodeArtifactEmulator) -> None:
    """GIVEN a version of three 2 MiB assets whose digests were never listed
    WHEN eight threads list the version's assets at once
    THEN every listing answers the same four digests per asset and each file was hashed
    once."""
    blobs = {f"{n}.bin": bytes([n]) * (2 * MIB) for n in range(3)}
    for name, data in blobs.items():
        publish(repo, "1.0", name, data, unfinished=True)
    expected = {name: all_digests(data) for name, data in blobs.items()}
    results: list[dict[str, dict[str, str]]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def list_once() -> None:
        try:
            client = make_client(emulator.endpoint_url)
            start.wait()
            results.append(listed(client, "1.0"))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=list_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert results == [expected] * 8
    assert [stored_digests(emulator, "1.0", n).computations for n in blobs] == [1, 1, 1]


def test_a_file_opened_for_digests_survives_a_concurrent_delete(
    repo: Any, emulator: CodeArtifactEmulator
) -> None:
    """GIVEN an asset whose digests a listing is about to compute (its file opened under the
    store's lock)
    WHEN the version is deleted before the hashing starts
    THEN the listing still answers the right digests (the open file outlives the delete) and
    the file is gone from disk."""
    publish(repo, "1.0", "a.bin", b"soon deleted")
    store = emulator.store
    with store.lock:
        assets = list(store.get_version(REF, "1.0").assets.values())
        pending = store.open_digests(assets)
    repo.delete_package_versions(**PKG, versions=["1.0"])
    assert store.blob_files() == []
    assert pending.hashes() == [all_digests(b"soon deleted")]


def test_stage_computes_sha256_only_unless_eager(tmp_path: Path) -> None:
    """GIVEN a body
    WHEN it is staged lazily, then eagerly
    THEN the lazy stage knows its SHA-256 alone, the eager one all four; a Digests object
    completes from the file and refuses to exist without SHA-256."""
    data = b"x" * (MIB + 17)

    class Body:
        def __init__(self) -> None:
            self.offset = 0

        def read(self, size: int, /) -> bytes:
            chunk = data[self.offset : self.offset + size]
            self.offset += len(chunk)
            return chunk

    lazy = stage(Body(), tmp_path, declared_size=len(data), limit=10 * MIB)
    assert lazy.hashes == {"SHA-256": sha256(data)}
    eager = stage(Body(), tmp_path, declared_size=len(data), limit=10 * MIB, eager=True)
    assert eager.hashes == all_digests(data)
    digests = Digests(lazy.hashes)
    with lazy.path.open("rb") as stream:
        assert digests.complete(stream) == all_digests(data)
    assert list(digests.known()) == list(ALGORITHMS)
    with pytest.raises(ValueError, match="SHA-256"):
        Digests({"MD5": "0" * 32})


def test_hashing_for_a_listing_blocks_no_other_request(
    repo: Any, emulator: CodeArtifactEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN an asset whose digests are not computed yet, and hashing that stalls until the
    test lets it go on
    WHEN one thread lists the version's assets (and stalls in the hashing), a second thread
    lists them too (and waits for the first), and meanwhile the test publishes, describes and
    lists other versions
    THEN those calls, including a listing that hashes another asset, are answered during the
    stall (neither the store's lock nor the asset's is held against them), and both listings
    then answer the right digests, hashed once."""
    publish(repo, "1.0", "a.bin", b"slow to hash")
    entered = threading.Event()
    proceed = threading.Event()
    real_hash = blobs._hash_stream

    def stalled(stream: Any, digests: list[Any]) -> None:
        if not entered.is_set():  # the first hashing stalls, later ones run
            entered.set()
            assert proceed.wait(30)
        real_hash(stream, digests)

    monkeypatch.setattr(blobs, "_hash_stream", stalled)
    answers: list[dict[str, dict[str, str]]] = []
    listers = [
        threading.Thread(
            target=lambda: answers.append(listed(make_client(emulator.endpoint_url), "1.0"))
        )
        for _ in range(2)
    ]
    listers[0].start()
    try:
        assert entered.wait(30)
        listers[1].start()
        time.sleep(0.5)  # let the second listing reach the asset's digests
        # Answers must come during the stall: a blocked call times out, nothing retries.
        impatient = make_client(
            emulator.endpoint_url,
            config=Config(read_timeout=5, retries={"total_max_attempts": 1}),
        )
        publish(impatient, "2.0", "b.bin", b"meanwhile")
        assert impatient.describe_package_version(**PKG, packageVersion="2.0")
        assert listed(impatient, "2.0") == {"b.bin": all_digests(b"meanwhile")}
    finally:
        proceed.set()
        for lister in listers:
            lister.join(30)
    assert answers == [{"a.bin": all_digests(b"slow to hash")}] * 2
    assert stored_digests(emulator, "1.0", "a.bin").computations == 1
