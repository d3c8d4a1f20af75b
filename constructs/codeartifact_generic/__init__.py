"""cdk-codeartifact-generic: publish CodeArtifact generic package versions with ``cdk deploy``.

Public API: :class:`GenericPackageVersion` (its props: :class:`GenericPackageVersionProps`),
:class:`IPackageVersion` and :class:`PackageVersionAttributes` (versions published elsewhere),
:class:`PackageAsset`, :class:`VersionStatus`, :class:`DeleteBehavior`,
:class:`PackageVersionReference`, :class:`BoundAsset` and :class:`ValidationError`. The offline
kit lives in :mod:`codeartifact_generic.testing` and the Lambda handler in
:mod:`codeartifact_generic.handler`.

The names are loaded on first use, so importing the handler or the testing kit does not start
the CDK's JavaScript runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assets import BoundAsset, PackageAsset
    from .options import (
        DeleteBehavior,
        GenericPackageVersionProps,
        PackageVersionAttributes,
        VersionStatus,
    )
    from .package_version import GenericPackageVersion, IPackageVersion
    from .reference import PackageVersionReference
    from .validation import ValidationError

_EXPORTS = {
    "BoundAsset": ".assets",
    "PackageAsset": ".assets",
    "GenericPackageVersion": ".package_version",
    "IPackageVersion": ".package_version",
    "GenericPackageVersionProps": ".options",
    "PackageVersionAttributes": ".options",
    "VersionStatus": ".options",
    "DeleteBehavior": ".options",
    "PackageVersionReference": ".reference",
    "ValidationError": ".validation",
}

__all__ = [
    "BoundAsset",
    "DeleteBehavior",
    "GenericPackageVersion",
    "GenericPackageVersionProps",
    "IPackageVersion",
    "PackageAsset",
    "PackageVersionAttributes",
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
