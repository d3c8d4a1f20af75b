"""cdk-codeartifact-generic: publish CodeArtifact generic package versions with ``cdk deploy``.

Public API: :class:`GenericPackageVersion`, :class:`PackageAsset`, :class:`VersionStatus` and
:class:`ValidationError`. The offline kit lives in :mod:`codeartifact_generic.testing`.
"""

from .assets import BoundAsset, PackageAsset
from .package_version import GenericPackageVersion, VersionStatus
from .validation import ValidationError

__all__ = [
    "BoundAsset",
    "GenericPackageVersion",
    "PackageAsset",
    "ValidationError",
    "VersionStatus",
]
