"""The HTTP layer: the ``serve`` command, streaming without buffering, chunked bodies,
keep-alive, TLS, the dispatch hook and unknown routes."""

from __future__ import annotations

import hashlib
import http.client
import json
import signal
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from botocore.config import Config
from botocore.exceptions import ClientError

from codeartifact_generic.testing._emulator import CodeArtifactEmulator, EmulatorError, Request

from .support import DOMAIN, PKG, REPOSITORY, make_client, publish, serve_in_subprocess, sha256

MIB = 1024 * 1024


class UnsizedBody:
    """A non-seekable body of ``size`` bytes made on the fly, with only ``read(n)``.

    botocore cannot tell its length, so it sends it with chunked transfer encoding.
    """

    def __init__(self, size: int, seed: bytes = b"seed") -> None:
        self._block = hashlib.sha512(seed).digest() * (MIB // 64)
        self._size = size
        self._sent = 0
        self.largest_read = 0

    def read(self, size: int = -1) -> bytes:
        remaining = self._size - self._sent
        if size < 0 or size > MIB:
            size = MIB
        size = min(size, remaining)
        offset = self._sent % len(self._block)
        chunk = (self._block[offset:] + self._block[:offset])[:size]
        self._sent += len(chunk)
        self.largest_read = max(self.largest_read, len(chunk))
        return chunk

    def sha256(self) -> str:
        """SHA-256 of the whole body (computed by generating it once more)."""
        copy = UnsizedBody(self._size)
        copy._block = self._block
        digest = hashlib.sha256()
        while chunk := copy.read(MIB):
            digest.update(chunk)
        return digest.hexdigest()


class SizedBody(UnsizedBody):
    """The same with ``__len__``: how the Lambda handler sends an S3 stream. botocore takes
    the length from ``__len__`` and streams the body without buffering it."""

    def __len__(self) -> int:
        return self._size


def peak_rss_kib(pid: int) -> int:
    """Peak resident set size (VmHWM) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """``python -m codeartifact_generic.testing serve`` in a subprocess: (process, url, data)."""
    data_dir = tmp_path / "served-data"
    with serve_in_subprocess(data_dir) as (process, url):
        yield process, url, data_dir


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_serve_streams_50_mib_without_buffering(
    served: tuple[subprocess.Popen[str], str, Path],
) -> None:
    """GIVEN the emulator started with the serve command, warmed up by a small publish
    WHEN boto3 uploads a 50 MiB non-seekable body that only has read() and __len__, and
    downloads it again
    THEN the bytes round-trip, the asset is one 50 MiB file in the data directory, and the
    server's peak memory grows by far less than the body size."""
    process, url, data_dir = served
    client = make_client(url, config=Config(retries={"max_attempts": 1}))
    client.create_domain(domain=DOMAIN)
    client.create_repository(domain=DOMAIN, repository=REPOSITORY)
    publish(client, "1.0", "warm-up.bin", b"w" * MIB, unfinished=True)
    client.get_package_version_asset(**PKG, packageVersion="1.0", asset="warm-up.bin")[
        "asset"
    ].read()
    before = peak_rss_kib(process.pid)

    body = SizedBody(50 * MIB)
    expected = body.sha256()
    result = client.publish_package_version(
        **PKG,
        packageVersion="1.0",
        assetName="big.bin",
        assetContent=body,
        assetSHA256=expected,
    )
    assert result["asset"]["size"] == 50 * MIB
    assert result["asset"]["hashes"]["SHA-256"] == expected
    download = client.get_package_version_asset(**PKG, packageVersion="1.0", asset="big.bin")
    digest = hashlib.sha256()
    for chunk in download["asset"].iter_chunks(MIB):
        digest.update(chunk)
    assert digest.hexdigest() == expected

    growth_mib = (peak_rss_kib(process.pid) - before) / 1024
    assert growth_mib < 20, f"peak RSS grew by {growth_mib:.1f} MiB for a 50 MiB body"
    sizes = sorted(path.stat().st_size for path in (data_dir / "blobs").iterdir())
    assert sizes == [MIB, 50 * MIB]

    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0


def test_chunked_upload_without_length(repo: Any, emulator: CodeArtifactEmulator) -> None:
    """GIVEN a body with read() but no length (boto3 sends it with chunked encoding)
    WHEN it is published
    THEN the request arrives chunked and the emulator stores exactly its bytes."""
    encodings: list[str | None] = []
    emulator.before_dispatch.append(
        lambda _operation, request: encodings.append(request.headers.get("transfer-encoding"))
    )
    body = UnsizedBody(3 * MIB + 123, seed=b"chunked")
    expected = body.sha256()
    result = repo.publish_package_version(
        **PKG, packageVersion="1.0", assetName="c.bin", assetContent=body, assetSHA256=expected
    )
    assert result["asset"]["size"] == 3 * MIB + 123
    assert result["asset"]["hashes"]["SHA-256"] == expected
    [blob] = emulator.store.blob_files()
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == expected
    assert encodings == ["chunked"]


def raw_connection(emulator: CodeArtifactEmulator) -> http.client.HTTPConnection:
    """A plain HTTP connection to the emulator."""
    return http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)


def test_keep_alive_and_explicit_chunked_request(emulator: CodeArtifactEmulator) -> None:
    """GIVEN one HTTP/1.1 connection
    WHEN it carries a JSON request, a chunked publish with trailers and an error response
    THEN every response arrives on the same socket with a correct Content-Length."""
    connection = raw_connection(emulator)
    connection.request("POST", f"/v1/domain?domain={DOMAIN}", body=b"{}")
    first = connection.getresponse()
    assert first.status == 200
    assert json.loads(first.read())["domain"]["name"] == DOMAIN
    sock = connection.sock
    connection.request("POST", f"/v1/repository?domain={DOMAIN}&repository={REPOSITORY}")
    assert connection.getresponse().read()
    assert connection.sock is sock

    data = b"chunk-one|" + b"chunk-two"
    query = (
        f"domain={DOMAIN}&repository={REPOSITORY}&format=generic&namespace=ns&package=p"
        "&version=1&asset=a.bin"
    )
    connection.request(
        "POST",
        f"/v1/package/version/publish?{query}",
        body=iter([b"chunk-one|", b"chunk-two"]),
        headers={"x-amz-content-sha256": sha256(data)},
        encode_chunked=True,
    )
    published = connection.getresponse()
    assert published.status == 200, published.read()
    assert json.loads(published.read())["asset"]["size"] == len(data)
    assert connection.sock is sock

    connection.request("GET", "/v1/domain?domain=Not_Valid")
    invalid = connection.getresponse()
    assert invalid.status == 400
    assert invalid.getheader("x-amzn-ErrorType") == "ValidationException"
    body = invalid.read()
    assert int(invalid.getheader("Content-Length")) == len(body)
    assert connection.sock is sock
    connection.close()


def test_unknown_route_and_bad_json(emulator: CodeArtifactEmulator) -> None:
    """GIVEN a path no operation uses, and a JSON body that does not parse
    WHEN they are requested
    THEN the first is a 404 naming the path, the second a 400 ValidationException."""
    connection = raw_connection(emulator)
    connection.request("POST", "/v1/no-such-thing")
    missing = connection.getresponse()
    assert missing.status == 404
    assert missing.getheader("x-amzn-ErrorType") == "UnknownOperationException"
    assert "/v1/no-such-thing" in json.loads(missing.read())["message"]

    connection.request("POST", "/v1/domains", body=b"{not json")
    bad = connection.getresponse()
    assert bad.status == 400
    assert "JSON" in json.loads(bad.read())["message"]
    connection.close()


def test_tls_endpoint(tmp_path: Path) -> None:
    """GIVEN an emulator serving HTTPS with a certificate from a throwaway CA
    WHEN boto3 trusts that CA
    THEN calls succeed over https."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with CodeArtifactEmulator(ssl_context=context, data_dir=tmp_path / "tls") as emulator:
        assert emulator.endpoint_url.startswith("https://")
        client = make_client(emulator.endpoint_url, verify=str(ca_file))
        assert client.create_domain(domain=DOMAIN)["domain"]["name"] == DOMAIN
        assert [d["name"] for d in client.list_domains()["domains"]] == [DOMAIN]


def test_before_dispatch_hook_can_fail_a_call(repo: Any, emulator: CodeArtifactEmulator) -> None:
    """GIVEN a hook that fails the first PublishPackageVersion with AccessDeniedException
    WHEN a version is published twice
    THEN the first call gets that error (403) after the hook saw the parsed request, nothing
    is stored, and the second call succeeds."""
    seen: list[Request] = []

    def deny_once(operation: str, request: Request) -> None:
        if operation == "PublishPackageVersion" and not seen:
            seen.append(request)
            raise EmulatorError("AccessDeniedException", "injected")

    emulator.before_dispatch.append(deny_once)
    no_retry = make_client(emulator.endpoint_url, config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        publish(no_retry, "1.0", "a.bin", b"x" * 100_000)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert seen[0].params["assetName"] == "a.bin"
    assert emulator.store.blob_files() == []
    assert publish(no_retry, "1.0", "a.bin", b"x" * 100_000)["status"] == "Published"
