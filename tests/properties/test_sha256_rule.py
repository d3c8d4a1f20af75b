"""A declared SHA256: any case is accepted and passed on lowercase; anything else is refused.

The oracle is independent of the library: 64 characters of ``0-9a-fA-F``. A refusal is one
problem that says what the value must be ("64 hex characters"), never "64 to 64 characters".
"""

from __future__ import annotations

import itertools
import string

import aws_cdk as cdk
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeartifact_generic import GenericPackageVersion, PackageAsset, ValidationError

HEX = string.hexdigits  # 0-9, a-f, A-F
_ids = itertools.count()


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "Hashes")


def _declare(stack: cdk.Stack, sha256: str) -> GenericPackageVersion:
    return GenericPackageVersion(
        stack,
        f"V{next(_ids)}",
        domain="my-domain",
        repository="my-repo",
        namespace="tools",
        package="model",
        version="1",
        assets=[PackageAsset.from_bucket("bucket", "k/model.bin", sha256=sha256)],
    )


values = st.one_of(
    st.text(alphabet=HEX, min_size=64, max_size=64),
    st.text(alphabet=HEX, max_size=70),
    st.text(alphabet=HEX + "gxzG -", min_size=60, max_size=66),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sha256=values)
def test_a_declared_sha256_is_64_hex_characters_in_either_case(
    stack: cdk.Stack, sha256: str
) -> None:
    valid = len(sha256) == 64 and all(c in HEX for c in sha256)
    if valid:
        version = _declare(stack, sha256)
        assert version.asset_sha256("model.bin") == sha256.lower()
        return
    with pytest.raises(ValidationError) as caught:
        _declare(stack, sha256)
    (problem,) = caught.value.problems
    assert f"sha256 {sha256!r} must be 64 hex characters" in problem
    assert "64 to 64" not in problem
    if len(sha256) != 64:
        assert problem.endswith(f", got {len(sha256)} characters")
