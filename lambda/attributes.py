"""The custom resource's answer ``Data``: the attributes ``Fn::GetAtt`` reads.

A CloudFormation concern, used by the entry point (:mod:`.index`) only: the workflows return
a :class:`.publishing.PublishResult`, and this decides what of it fits CloudFormation's
4096-byte response.
"""

from __future__ import annotations

from collections.abc import Callable

from . import contract
from .properties import VersionRequest
from .publishing import PublishResult


def response_data(
    request: VersionRequest, result: PublishResult, fits: Callable[[dict[str, str]], bool]
) -> dict[str, str]:
    """The custom resource's Data: attributes first, then per-asset hashes while they fit."""
    attr = contract.Attr
    data = {
        attr.VERSION_REVISION: result.state.revision,
        attr.STATUS: result.state.status,
        attr.FORMAT: contract.PACKAGE_FORMAT,
        attr.NAMESPACE: request.namespace,
        attr.PACKAGE: request.package,
        attr.VERSION: request.version,
        attr.ASSET_COUNT: str(len(request.assets)),
        attr.ASSET_HASHES_TRUNCATED: "false",
    }
    # Hashes the stack could not know at synth come first: only they are read with GetAtt.
    order = sorted(range(len(result.sha256s)), key=lambda i: request.assets[i].sha256 is not None)
    for index in order:
        candidate = {**data, attr.asset_sha256(index): result.sha256s[index]}
        if not fits(candidate):
            data[attr.ASSET_HASHES_TRUNCATED] = "true"
            break
        data = candidate
    return data
