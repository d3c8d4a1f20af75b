"""cdk-codeartifact-generic: publish CodeArtifact generic package versions with ``cdk deploy``.

Public API: :class:`GenericPackageVersion`, :class:`PackageAsset`, :class:`VersionStatus`,
:class:`BoundAsset` and :class:`ValidationError`. The offline kit lives in
:mod:`codeartifact_generic.testing` and the Lambda handler in
:mod:`codeartifact_generic.handler`.

The names are loaded on first use, so importing the handler or the testing kit does not start
the CDK's JavaScript runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assets import BoundAsset, PackageAsset
    from .package_version import GenericPackageVersion, VersionStatus
    from .validation import ValidationError

_EXPORTS = {
    "BoundAsset": ".assets",
    "PackageAsset": ".assets",
    "GenericPackageVersion": ".package_version",
    "VersionStatus": ".package_version",
    "ValidationError": ".validation",
}

__all__ = [
    "BoundAsset",
    "GenericPackageVersion",
    "PackageAsset",
    "ValidationError",
    "VersionStatus",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
