"""cdk-codeartifact-generic: publish CodeArtifact generic package versions with ``cdk deploy``.

Public API: :class:`GenericPackageVersion`, :class:`PackageAsset`, :class:`VersionStatus`,
:class:`DeleteBehavior`, :class:`PackageVersionReference`, :class:`BoundAsset` and
:class:`ValidationError`. The offline kit lives in
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
    from .options import DeleteBehavior, VersionStatus
    from .package_version import GenericPackageVersion
    from .reference import PackageVersionReference
    from .validation import ValidationError

_EXPORTS = {
    "BoundAsset": ".assets",
    "PackageAsset": ".assets",
    "GenericPackageVersion": ".package_version",
    "VersionStatus": ".options",
    "DeleteBehavior": ".options",
    "PackageVersionReference": ".reference",
    "ValidationError": ".validation",
}

__all__ = [
    "BoundAsset",
    "DeleteBehavior",
    "GenericPackageVersion",
    "PackageAsset",
    "PackageVersionReference",
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
