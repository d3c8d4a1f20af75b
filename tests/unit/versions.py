"""The package version synth-time tests declare when the names do not matter."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from codeartifact_generic import GenericPackageVersion, PackageAsset


def declare_version(stack: cdk.Stack, id: str = "V", **props: Any) -> GenericPackageVersion:
    """tools/mycli 1.0.0 in my-repo of my-domain, holding one small file; ``props`` replace
    any of that or add other props."""
    defaults: dict[str, Any] = {
        "domain": "my-domain",
        "repository": "my-repo",
        "namespace": "tools",
        "package": "mycli",
        "version": "1.0.0",
        "assets": [PackageAsset.from_data("a.txt", "a")],
    }
    return GenericPackageVersion(stack, id, **{**defaults, **props})
