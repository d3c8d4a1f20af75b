"""The custom resource's answer Data: every attribute, then per-asset hashes while they fit."""

from __future__ import annotations

import hashlib

from codeartifact_generic.handler.attributes import response_data
from codeartifact_generic.handler.ports import VersionState
from codeartifact_generic.handler.properties import AssetSpec
from codeartifact_generic.handler.publishing import PublishResult

from .fakes import version_request


def test_response_data_is_trimmed_to_fit_keeping_unknown_hashes_first() -> None:
    # GIVEN a result with 100 asset hashes, of which only the last 5 were unknown at synth
    hashes = [hashlib.sha256(bytes([i])).hexdigest() for i in range(100)]
    specs = tuple(
        AssetSpec(name=f"f{i}", bucket="b", key=f"k/{i}", sha256=None if i >= 95 else hashes[i])
        for i in range(100)
    )
    many = PublishResult(VersionState("Published", "rev-1"), tuple(hashes))
    # WHEN the data must fit a small budget
    data = response_data(version_request(*specs), many, lambda d: len(str(d)) < 2000)
    # THEN the core attributes are all there, hashes are cut and the cut is flagged
    assert data["VersionRevision"] == many.state.revision
    assert data["AssetHashesTruncated"] == "true"
    included = [k for k in data if k.startswith("Asset") and k.endswith("Sha256")]
    assert 5 < len(included) < 100
    # AND the hashes only the deploy could know are all included
    assert {f"Asset{i}Sha256" for i in range(95, 100)} <= set(included)


def test_response_data_holds_every_attribute_and_hash_when_they_fit() -> None:
    spec = AssetSpec(name="a.bin", bucket="b", key="k")
    result = PublishResult(VersionState("Unlisted", "rev-2"), ("f" * 64,))
    data = response_data(version_request(spec), result, lambda _d: True)
    assert data == {
        "VersionRevision": "rev-2",
        "Status": "Unlisted",
        "Format": "generic",
        "Namespace": "tools",
        "Package": "mycli",
        "Version": "1.0.0",
        "AssetCount": "1",
        "AssetHashesTruncated": "false",
        "Asset0Sha256": "f" * 64,
    }
