"""Which requests go through crhelper's polling: those that may outlast one invocation.

``index.handler`` sends a Create or Update to the polling helper when its assets hold more
bytes than one invocation surely moves (``contract.ONE_INVOCATION_BYTES_PER_SECOND`` until
the deadline's margin), and only when crhelper can schedule it (rule name and target input
within EventBridge's limits); everything else is answered in one invocation, without the
polling interval's wait. The whole path runs offline in ``tests/lifecycle/test_long_versions``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from codeartifact_generic.handler.responder import Invocation

from .harness import properties

GB = 10**9


class Context:
    """A Lambda context with ``seconds`` left."""

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:handler"
        self.function_name = "handler"

    def get_remaining_time_in_millis(self) -> int:
        return int((self._ends - time.monotonic()) * 1000)


def _invocation(seconds: float) -> Invocation:
    """An invocation begun with ``seconds`` left."""
    return Invocation(Context(seconds))


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    from codeartifact_generic.handler import index as module

    return module


def _event(*sizes: int, request_type: str = "Create", logical_id: str = "Model") -> dict[str, Any]:
    assets = [
        {"Name": f"a{i}.bin", "Bucket": "b", "Key": f"k/{i}", "Sha256": "0" * 64, "Size": str(s)}
        for i, s in enumerate(sizes)
    ]
    return {
        "RequestType": request_type,
        "LogicalResourceId": logical_id,
        "ResourceProperties": properties(domain="dom", repository="repo", assets=assets),
    }


def test_a_version_one_invocation_surely_moves_is_answered_in_one(index: Any) -> None:
    # GIVEN 900 s left (a 30 s margin): 870 s x 25 MB/s = 21.75 GB surely fit
    # THEN 20 GB goes in one invocation, 23 GB through polling
    assert not index._may_outlast_one_invocation(_event(10 * GB, 10 * GB), _invocation(900))
    assert index._may_outlast_one_invocation(
        _event(5 * GB, 5 * GB, 5 * GB, 8 * GB), _invocation(900)
    )


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_creates_and_updates_may_poll(index: Any, request_type: str) -> None:
    event = _event(5 * GB, request_type=request_type)
    assert index._may_outlast_one_invocation(event, _invocation(60))


def test_a_delete_never_polls(index: Any) -> None:
    assert index._may_outlast_one_invocation(_event(5 * GB), _invocation(60))
    assert not index._may_outlast_one_invocation(
        _event(5 * GB, request_type="Delete"), _invocation(60)
    )


def test_a_logical_id_too_long_for_crhelpers_rule_name_is_answered_in_one(index: Any) -> None:
    # GIVEN a logical id of 57 characters (crhelper's rule name would have 65 > 64)
    event = _event(5 * GB, logical_id="M" * 57)
    # THEN no polling, however large
    assert not index._may_outlast_one_invocation(event, _invocation(60))
    assert index._may_outlast_one_invocation(_event(5 * GB, logical_id="M" * 56), _invocation(60))


def test_an_event_too_large_for_an_eventbridge_target_is_answered_in_one(index: Any) -> None:
    # GIVEN 60 assets of 1 GB each: more than 7 KiB of event (the target input holds 8192)
    event = _event(*[GB] * 60)
    # THEN no polling, while 20 of them would poll
    assert not index._may_outlast_one_invocation(event, _invocation(60))
    assert index._may_outlast_one_invocation(_event(*[GB] * 20), _invocation(60))


def test_an_event_that_is_not_a_version_is_answered_in_one(index: Any) -> None:
    # GIVEN properties the handler cannot read: the one-invocation path reports them
    event = _event(5 * GB)
    event["ResourceProperties"]["Domain"] = "x"
    assert not index._may_outlast_one_invocation(event, _invocation(60))
