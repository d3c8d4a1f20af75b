"""The bundled handler answering real CloudFormation events at a local ResponseURL."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

from codeartifact_generic.handler import contract
from codeartifact_generic.handler.contract import ResourceId

from .conftest import Repo, Servers
from .harness import ACCOUNT, CustomResourceHarness, asset_entry, dump, repo_properties


def _asset(
    servers: Servers, repo: Repo, name: str, data: bytes, *, declare: bool = True
) -> dict[str, str]:
    servers.s3_client().put_object(Bucket=repo.bucket, Key=f"k/{name}", Body=data)
    return asset_entry(repo.bucket, name, data if declare else None)


def _version(servers: Servers, repo: Repo, wait_seconds: float = 0.0) -> dict[str, Any] | None:
    """tools/mycli@1.0.0 as DescribePackageVersion says; None when it does not exist (after
    waiting up to ``wait_seconds`` for it to appear)."""
    client = servers.codeartifact_client()
    give_up = time.monotonic() + wait_seconds
    while True:
        try:
            found: dict[str, Any] = client.describe_package_version(
                domain=repo.domain,
                repository=repo.repository,
                format="generic",
                namespace="tools",
                package="mycli",
                packageVersion="1.0.0",
            )["packageVersion"]
        except client.exceptions.ResourceNotFoundException:
            if time.monotonic() >= give_up:
                return None
            time.sleep(0.05)
        else:
            return found


def test_create_answers_success_with_revision_status_and_hashes(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN two assets in S3, one declared with its hash and one not
    props = repo_properties(
        repo,
        [
            _asset(servers, repo, "a.tgz", b"A" * 5000),
            _asset(servers, repo, "b.txt", b"bee", declare=False),
        ],
    )
    # WHEN CloudFormation sends Create
    outcome = harness.send("Create", props)
    # THEN it answers SUCCESS with the version's identity (and the resource's creation time)
    # as physical id, and its attributes
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    expected_id = "/".join(
        (ACCOUNT, repo.domain, repo.repository, "generic", "tools", "mycli", "1.0.0")
    )
    resource = ResourceId.parse(outcome.response.physical_resource_id)
    assert resource.identity == expected_id and resource.resource_created is not None
    data = outcome.response.data
    described = _version(servers, repo)
    assert described is not None
    assert data[contract.Attr.VERSION_REVISION] == described["revision"]
    assert data[contract.Attr.STATUS] == "Published" == described["status"]
    assert data[contract.Attr.ASSET_COUNT] == "2"
    assert data[contract.Attr.asset_sha256(1)] == hashlib.sha256(b"bee").hexdigest()
    # AND the log is structured and carries no presigned URL or credentials
    assert '"event": "asset_published"' in outcome.log
    assert "X-Amz-Signature" not in outcome.log
    assert "testing" not in outcome.log.replace("codeartifact_generic", "")


def test_duplicate_create_is_idempotent(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN a created version
    props = repo_properties(repo, [_asset(servers, repo, "a", b"x")])
    with harness.stack_operation():
        first = harness.send("Create", props, request_id="same-request")
        assert first.response is not None
        # WHEN the same Create is delivered again (Lambda invokes at least once)
        again = harness.send("Create", props, request_id="same-request", redelivery=True)
    # THEN both answer SUCCESS with the same revision and exactly the same physical id
    assert again.response and again.response.succeeded, dump(again)
    assert again.response.data == first.response.data
    assert again.response.physical_resource_id == first.response.physical_resource_id


def test_failed_create_reason_is_short_and_rollback_delete_succeeds(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN an asset whose object is missing
    props = repo_properties(
        repo,
        [
            {
                "Name": "gone.bin",
                "Bucket": repo.bucket,
                "Key": "nope",
                "Sha256": "0" * 64,
                "Size": "1",
            }
        ],
    )
    # WHEN Create runs
    failed = harness.send("Create", props)
    # THEN FAILED with a one-line reason naming the asset, no traceback
    assert failed.response is not None and not failed.response.succeeded, dump(failed)
    reason = failed.response.reason
    assert "gone.bin" in reason and "does not exist" in reason
    assert "Traceback" not in reason and "\n" not in reason and len(reason) <= 256
    # AND the rollback Delete with the generated physical id succeeds
    deleted = harness.send("Delete", props, physical_id=failed.response.physical_resource_id)
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)


def test_malformed_properties_fail_with_a_reason_naming_the_fields(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN properties with a missing package, a bad domain and an asset list that is a string
    props = {
        "Domain": "Bad_Domain",
        "Repository": repo.repository,
        "Namespace": "n",
        "Version": "1",
        "Assets": "x",
    }
    # WHEN Create runs
    outcome = harness.send("Create", props)
    # THEN FAILED (not a crash) and the reason names each problem
    assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
    for fragment in (
        "Package is required",
        "Domain: domain 'Bad_Domain' is invalid",
        "Assets must be",
    ):
        assert fragment in outcome.response.reason


def test_update_to_a_new_version_returns_a_new_physical_id(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN version 1.0.0 created
    assets = [_asset(servers, repo, "a", b"x")]
    old = repo_properties(repo, assets)
    created = harness.send("Create", old)
    assert created.response and created.response.succeeded
    # WHEN the stack bumps the version
    new = repo_properties(repo, assets, version="1.0.1")
    updated = harness.send(
        "Update", new, old_properties=old, physical_id=created.response.physical_resource_id
    )
    # THEN a new version exists under a new physical id (same resource creation time) and the
    # old one is untouched
    assert updated.response and updated.response.succeeded, dump(updated)
    before = ResourceId.parse(created.response.physical_resource_id)
    after = ResourceId.parse(updated.response.physical_resource_id)
    assert after.identity.endswith("/1.0.1")
    assert after.resource_created == before.resource_created is not None
    versions = servers.codeartifact_client().list_package_versions(
        domain=repo.domain,
        repository=repo.repository,
        format="generic",
        namespace="tools",
        package="mycli",
    )["versions"]
    assert sorted(v["version"] for v in versions) == ["1.0.0", "1.0.1"]


def test_response_stays_under_4096_bytes_with_many_assets(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN 60 assets with long names
    assets = [
        _asset(servers, repo, f"{'long-asset-name-' * 3}{i:03}.bin", bytes([i])) for i in range(60)
    ]
    props = repo_properties(repo, assets)
    # WHEN Create runs
    outcome = harness.send("Create", props)
    # THEN SUCCESS, the body fits, hashes were trimmed and flagged
    assert outcome.response is not None and outcome.response.succeeded, dump(outcome)
    assert outcome.raw is not None and len(outcome.raw) <= 4096
    data = json.loads(outcome.raw)["Data"]
    assert data[contract.Attr.ASSET_HASHES_TRUNCATED] == "true"
    assert data[contract.Attr.ASSET_COUNT] == "60"


def test_event_without_stack_id_still_gets_a_failed_answer(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN an event that lacks StackId (crhelper alone would never answer)
    props = repo_properties(repo, [_asset(servers, repo, "a", b"x")])
    # WHEN it is delivered
    outcome = harness.send("Create", props, raw_event={"StackId": None})
    # THEN a FAILED answer naming the problem reaches the ResponseURL
    assert outcome.raw is not None, dump(outcome)
    answer = json.loads(outcome.raw)
    assert answer["Status"] == "FAILED"
    assert "missing StackId" in answer["Reason"]


def test_slow_publish_stops_before_the_timeout_and_its_late_landing_is_rolled_back(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN a CodeArtifact that holds its answer to the first publish for 4 s, and a Lambda
    # timeout of 8 s (the handler's margin is 5 s)
    props = repo_properties(
        repo,
        [_asset(servers, repo, "first", b"1"), _asset(servers, repo, "second", b"2")],
    )
    answered_late = threading.Event()

    def slow_publish(operation: str, _request: object) -> None:
        if operation == "PublishPackageVersion":
            servers.emulator.before_dispatch.remove(slow_publish)
            time.sleep(4)
            answered_late.set()

    servers.emulator.before_dispatch.append(slow_publish)
    with harness.stack_operation():
        # WHEN Create runs
        outcome = harness.send("Create", props, timeout_seconds=8)
        # THEN it answers FAILED in time, naming the asset it was waiting on, with a generated id
        assert outcome.response is not None and not outcome.response.succeeded, dump(outcome)
        assert "stopped before the Lambda timeout" in outcome.response.reason
        assert "'first'" in outcome.response.reason
        assert not outcome.invocation.timed_out
        generated = outcome.response.physical_resource_id
        assert not ResourceId.parse(generated).names_a_version
        # WHEN the upload it gave up on lands after its cleanup (the request had reached the
        # service whole), and CloudFormation then rolls the Create back
        assert answered_late.wait(timeout=10)
        landed = _version(servers, repo, wait_seconds=3)
        assert landed is not None and landed["status"] == "Unfinished"
        harness.continue_stack_operation("ROLLBACK_IN_PROGRESS")
        deleted = harness.send("Delete", props, physical_id=generated)
    # THEN the rollback Delete succeeds and discards that Unfinished version
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)
    assert _version(servers, repo) is None


def test_a_version_that_existed_before_the_resource_survives_destroy(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    # GIVEN a version that already exists, identical, before the stack declares it
    asset = _asset(servers, repo, "a", b"x")
    harness.send("Create", repo_properties(repo, [asset]))
    props = repo_properties(repo, [asset], RemovalPolicy="Destroy")
    # WHEN a new resource creates it, then changes its status, then is deleted
    with harness.stack_operation():
        created = harness.send("Create", props)
    assert created.response is not None and created.response.succeeded, dump(created)
    archived = {**props, "Status": "Archived"}
    updated = harness.send(
        "Update", archived, old_properties=props, physical_id=created.response.physical_resource_id
    )
    assert updated.response is not None and updated.response.succeeded, dump(updated)
    deleted = harness.send("Delete", archived, physical_id=updated.response.physical_resource_id)
    # THEN the id is kept across the update, and Destroy spares the version: CodeArtifact
    # dates it before the resource was created
    assert updated.response.physical_resource_id == created.response.physical_resource_id
    assert updated.response.data["Status"] == "Archived"
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)
    described = _version(servers, repo)
    assert described is not None and described["status"] == "Archived"


def test_destroy_deletes_a_version_this_resource_created(
    servers: Servers, repo: Repo, harness: CustomResourceHarness
) -> None:
    props = repo_properties(
        repo,
        [_asset(servers, repo, "a", b"x")],
        RemovalPolicy="Destroy",
        OnDelete="Delete",
    )
    created = harness.send("Create", props)
    assert created.response is not None and created.response.succeeded, dump(created)
    deleted = harness.send("Delete", props, physical_id=created.response.physical_resource_id)
    assert deleted.response is not None and deleted.response.succeeded, dump(deleted)
    assert _version(servers, repo) is None
