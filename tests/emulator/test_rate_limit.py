"""The PublishPackageVersion rate quota: a token bucket per account (10 calls per second by
default), ThrottlingException 429 with Retry-After beyond it, configurable and countable."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from codeartifact_generic.testing.__main__ import build_parser
from codeartifact_generic.testing._emulator import CodeArtifactEmulator, Limits
from codeartifact_generic.testing._emulator.ratelimit import (
    RateLimit,
    TokenBucket,
    retry_after_seconds,
)

from .support import DOMAIN, PKG, REPOSITORY, make_client, publish, serve_in_subprocess

PUBLISH = "PublishPackageVersion"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def no_retries(emulator: CodeArtifactEmulator) -> Any:
    """A client that gives up at the first error, with DOMAIN and REPOSITORY created."""
    client = make_client(emulator.endpoint_url, config=Config(retries={"total_max_attempts": 1}))
    client.create_domain(domain=DOMAIN)
    client.create_repository(domain=DOMAIN, repository=REPOSITORY)
    return client


def test_token_bucket_bursts_refills_and_says_how_long_to_wait() -> None:
    """GIVEN a bucket of 3 tokens refilled at 2 per second, on a clock the test moves
    WHEN calls take tokens
    THEN three pass at once, the fourth waits half a second; 0.25 s later one more waits a
    quarter; after 1 s two pass; no limit always passes; a changed limit starts full; the
    counters add up."""
    clock = FakeClock()
    bucket = TokenBucket(clock)
    limit = RateLimit(rate=2, burst=3)
    assert [bucket.take(limit) for _ in range(3)] == [None, None, None]
    assert bucket.take(limit) == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.take(limit) == pytest.approx(0.25)
    clock.now += 1.0
    assert [bucket.take(limit) for _ in range(2)] == [None, None]
    assert bucket.take(limit) is not None
    assert bucket.take(None) is None
    assert bucket.take(RateLimit(rate=1, burst=1)) is None
    assert (bucket.admitted, bucket.throttled) == (7, 3)
    bucket.reset_counts()
    assert (bucket.admitted, bucket.throttled) == (0, 0)
    assert (retry_after_seconds(0.01), retry_after_seconds(1.0), retry_after_seconds(3.2)) == (
        1,
        1,
        4,
    )


def test_limits_default_to_ten_publishes_per_second_and_check_their_values() -> None:
    """GIVEN the default limits, and limits with a rate, a burst or no rate
    THEN the default is 10 per second with a bucket of 10; the burst defaults to the rate
    (at least 1); None is no limit; a negative rate or a burst below 1 is refused."""
    assert Limits().publish_limit() == RateLimit(rate=10, burst=10)
    assert Limits(publish_rate_per_second=0.5).publish_limit() == RateLimit(rate=0.5, burst=1)
    assert Limits(publish_rate_per_second=4, publish_burst=1).publish_limit() == RateLimit(4, 1)
    assert Limits(publish_rate_per_second=None).publish_limit() is None
    with pytest.raises(ValueError, match="positive rate"):
        Limits(publish_rate_per_second=-1)
    with pytest.raises(ValueError, match="burst"):
        Limits(publish_burst=0.5)


def test_publish_beyond_the_rate_is_throttled_with_retry_after_and_nothing_stored(
    make_emulator: Any,
) -> None:
    """GIVEN an emulator allowing 2 publishes per second with a bucket of 2, its clock held
    WHEN three versions are published at once by a client that does not retry, then the clock
    moves half a second and the third is published again
    THEN the third call is ThrottlingException (HTTP 429, Retry-After: 1, retryAfterSeconds 1)
    that names the quota; it stored nothing, reached no operation (the fault plan did not
    record it) and is counted; the retry half a second later succeeds. Other operations are
    not limited."""
    emulator = make_emulator(limits=Limits(publish_rate_per_second=2, publish_burst=2))
    clock = FakeClock()
    emulator.store.publish_rate = TokenBucket(clock)
    client = no_retries(emulator)
    publish(client, "1", "a.bin", b"one")
    publish(client, "2", "a.bin", b"two")
    with pytest.raises(ClientError) as raised:
        publish(client, "3", "a.bin", b"three")
    response: dict[str, Any] = dict(raised.value.response)
    assert response["Error"]["Code"] == "ThrottlingException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    assert response["retryAfterSeconds"] == 1
    assert "2 PublishPackageVersion calls per second" in response["Error"]["Message"]
    assert len(emulator.store.blob_files()) == 2
    assert [c.params["packageVersion"] for c in emulator.faults.calls_to(PUBLISH)] == ["1", "2"]
    assert emulator.throttled_publishes == 1
    assert emulator.store.publish_rate.admitted == 2
    for _ in range(5):
        client.list_package_versions(**PKG)
    clock.now += 0.5
    publish(client, "3", "a.bin", b"three")
    assert len(emulator.store.blob_files()) == 3
    assert emulator.throttled_publishes == 1


def test_a_throttled_body_is_discarded_and_the_connection_kept(make_emulator: Any) -> None:
    """GIVEN an emulator allowing one publish, its clock held
    WHEN a 4 MiB body is published twice on one keep-alive connection by a client without
    retries, then a small request follows on the same client
    THEN the second publish is throttled after the server read and dropped its body, and
    the connection still serves the next request."""
    emulator = make_emulator(limits=Limits(publish_rate_per_second=1, publish_burst=1))
    emulator.store.publish_rate = TokenBucket(FakeClock())
    client = no_retries(emulator)
    body = os.urandom(4 * 1024 * 1024)
    publish(client, "1", "big.bin", body)
    with pytest.raises(ClientError, match="ThrottlingException"):
        publish(client, "2", "big.bin", body)
    assert client.describe_repository(domain=DOMAIN, repository=REPOSITORY)["repository"]
    assert len(emulator.store.blob_files()) == 1


def test_botocore_retries_throttled_publishes_until_they_pass(make_emulator: Any) -> None:
    """GIVEN an emulator allowing 5 publishes per second with a bucket of 1 (real clock)
    WHEN a client in standard retry mode (10 attempts) publishes 6 assets from 3 threads
    THEN every publish succeeds, some were throttled on the way and retried by botocore, and
    the versions hold exactly the 6 assets."""
    emulator = make_emulator(limits=Limits(publish_rate_per_second=5, publish_burst=1))
    make_client(emulator.endpoint_url).create_domain(domain=DOMAIN)
    make_client(emulator.endpoint_url).create_repository(domain=DOMAIN, repository=REPOSITORY)
    failures: list[BaseException] = []

    def publish_two(n: int) -> None:
        client = make_client(
            emulator.endpoint_url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 10}),
        )
        try:
            for i in range(2):
                publish(client, f"{n}.{i}", "a.bin", f"{n}.{i}".encode())
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=publish_two, args=(n,)) for n in range(3)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert emulator.throttled_publishes > 0
    assert emulator.store.publish_rate.admitted == 6
    assert len(emulator.store.blob_files()) == 6
    # 6 calls at 5 per second from a bucket of one take at least a second.
    assert time.monotonic() - began >= 0.9


def test_no_rate_limit_lets_a_burst_through_and_limits_change_live(make_emulator: Any) -> None:
    """GIVEN an emulator with the publish rate limit off
    WHEN 30 assets are published back to back, then the limit is set to 1 per second with
    a bucket of 1 while it runs
    THEN none of the 30 is throttled; after the change the second publish in a row is."""
    emulator = make_emulator(limits=Limits(publish_rate_per_second=None))
    client = no_retries(emulator)
    for n in range(30):
        publish(client, "1", f"{n}.bin", b"x", unfinished=True)
    assert emulator.throttled_publishes == 0
    emulator.store.limits = Limits(publish_rate_per_second=1, publish_burst=1)
    publish(client, "1", "30.bin", b"x", unfinished=True)
    with pytest.raises(ClientError, match="ThrottlingException"):
        publish(client, "1", "31.bin", b"x", unfinished=True)
    assert emulator.throttled_publishes == 1


def test_serve_command_line_sets_the_publish_rate() -> None:
    """GIVEN the serve command line
    THEN --publish-rate and --publish-burst are parsed, 0 turns the limit off, the default is
    CodeArtifact's 10 per second, and a negative rate is refused."""
    parse = build_parser().parse_args
    args = parse(["serve", "--publish-rate", "2.5", "--publish-burst", "4"])
    assert (args.publish_rate, args.publish_burst, args.eager_digests) == (2.5, 4.0, False)
    assert parse(["serve", "--publish-rate", "0"]).publish_rate is None
    assert parse(["serve"]).publish_rate == 10
    assert parse(["serve", "--eager-digests"]).eager_digests is True
    with pytest.raises(SystemExit):
        parse(["serve", "--publish-rate", "-1"])


@pytest.fixture
def served_slowly(tmp_path: Path) -> Iterator[str]:
    """``serve --publish-rate 0.2 --publish-burst 1`` in a subprocess; its endpoint URL."""
    options = ("--publish-rate", "0.2", "--publish-burst", "1")
    with serve_in_subprocess(tmp_path / "data", *options) as (_, url):
        yield url


def _limits(url: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(changes).encode() if changes is not None else None
    request = urllib.request.Request(
        f"{url}/__limits__", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def test_served_emulator_throttles_and_reports_its_counters_over_http(served_slowly: str) -> None:
    """GIVEN the emulator served with --publish-rate 0.2 --publish-burst 1
    WHEN two versions are published back to back, then the limit is lifted over HTTP
    THEN the second is throttled with Retry-After: 5; GET /__limits__ reports the limits and
    the counters (1 admitted, 1 throttled); after POST /__limits__ with a null rate the
    publish goes through."""
    client = make_client(served_slowly, config=Config(retries={"total_max_attempts": 1}))
    client.create_domain(domain=DOMAIN)
    client.create_repository(domain=DOMAIN, repository=REPOSITORY)
    publish(client, "1", "a.bin", b"a")
    with pytest.raises(ClientError) as raised:
        publish(client, "2", "a.bin", b"b")
    assert raised.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "5"
    state = _limits(served_slowly)
    assert state["limits"]["publish_rate_per_second"] == 0.2
    assert state["limits"]["publish_burst"] == 1
    assert state["publish"] == {"admitted": 1, "throttled": 1}
    lifted = _limits(served_slowly, {"publish_rate_per_second": None})
    assert lifted["limits"]["publish_rate_per_second"] is None
    publish(client, "2", "a.bin", b"b")
    assert _limits(served_slowly)["publish"] == {"admitted": 2, "throttled": 1}
