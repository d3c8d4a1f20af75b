"""``make demo``: synthesize an app, deploy it to local emulators, show what CodeArtifact holds.

Each declared asset is downloaded back through ``GetPackageVersionAsset`` and its SHA256
compared with the one the stack declared at synth time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ..handler import contract
from .local_env import LocalEnvironment

if TYPE_CHECKING:
    from mypy_boto3_codeartifact import CodeArtifactClient

    from .local_deploy.engine import LocalCloudFormation

SubParsers = Any  # argparse._SubParsersAction is private


@dataclass(frozen=True)
class AssetCheck:
    """One asset as declared, as listed by CodeArtifact, and as downloaded."""

    name: str
    declared: str | None
    listed: str
    downloaded: str

    @property
    def matches(self) -> bool:
        """The download equals the listing (and the declaration, when there is one)."""
        return self.downloaded == self.listed and self.declared in (None, self.downloaded)


@dataclass(frozen=True)
class VersionReport:
    """A deployed GenericPackageVersion and what CodeArtifact says about it."""

    stack: str
    logical_id: str
    namespace: str
    package: str
    version: str
    revision: str
    status: str
    assets: tuple[AssetCheck, ...]


def find_cdk() -> list[str]:
    """The CDK CLI: ``./node_modules/.bin/cdk`` when installed there, else ``cdk`` on PATH."""
    local = Path("node_modules/.bin/cdk")
    if local.exists():
        return [str(local.resolve())]
    found = shutil.which("cdk")
    if found is None:
        raise SystemExit("the AWS CDK CLI is missing: run `npm ci` (or `make setup`) first")
    return [found]


def synthesize(app: str, outdir: Path, context: Sequence[str]) -> None:
    """Run ``cdk synth`` for ``app`` into ``outdir``."""
    command = [*find_cdk(), "synth", "--app", app, "--output", str(outdir), "--quiet"]
    for item in context:
        command += ["--context", item]
    env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"}
    subprocess.run(command, check=True, env=env)


def deployed_versions(
    cfn: LocalCloudFormation,
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(stack, logical id, properties, data) of every deployed package version."""
    for stack in cfn.state:
        for resource in stack.resources.values():
            if resource.type == contract.RESOURCE_TYPE:
                yield (
                    stack.stack_name,
                    resource.logical_id,
                    resource.properties,
                    resource.attributes,
                )


def inspect(cfn: LocalCloudFormation, client: CodeArtifactClient) -> list[VersionReport]:
    """Read back every deployed version from CodeArtifact, downloading each asset."""
    reports = []
    prop = contract.Prop
    for stack, logical_id, props, data in deployed_versions(cfn):
        coords: dict[str, Any] = {
            "domain": props[prop.DOMAIN],
            "domainOwner": props[prop.DOMAIN_OWNER],
            "repository": props[prop.REPOSITORY],
            "format": contract.PACKAGE_FORMAT,
            "namespace": props[prop.NAMESPACE],
            "package": props[prop.PACKAGE],
            "packageVersion": props[prop.VERSION],
        }
        described = client.describe_package_version(**coords)["packageVersion"]
        listed = {
            a["name"]: a.get("hashes", {}).get("SHA-256", "")
            for a in client.list_package_version_assets(**coords)["assets"]
        }
        checks = []
        for asset in props[prop.ASSETS]:
            name = asset[contract.AssetProp.NAME]
            body = client.get_package_version_asset(**coords, asset=name)["asset"]
            digest = hashlib.sha256()
            while chunk := body.read(1024 * 1024):
                digest.update(chunk)
            checks.append(
                AssetCheck(
                    name=name,
                    declared=asset.get(contract.AssetProp.SHA256),
                    listed=listed.get(name, ""),
                    downloaded=digest.hexdigest(),
                )
            )
        reports.append(
            VersionReport(
                stack=stack,
                logical_id=logical_id,
                namespace=coords["namespace"],
                package=coords["package"],
                version=coords["packageVersion"],
                revision=described.get("revision", ""),
                status=described["status"],
                assets=tuple(checks),
            )
        )
        if data.get(contract.Attr.VERSION_REVISION) != described.get("revision"):
            raise SystemExit(
                f"{stack}/{logical_id}: the resource's revision differs from CodeArtifact's"
            )
    return reports


def render(reports: Sequence[VersionReport], console: Console) -> None:
    """Print the versions table."""
    table = Table(title="CodeArtifact generic package versions (local emulator)")
    for column in (
        "package",
        "version",
        "revision",
        "status",
        "asset",
        "sha256 (downloaded)",
        "match",
    ):
        table.add_column(column, overflow="fold", no_wrap=column != "revision")
    for report in reports:
        for index, check in enumerate(report.assets):
            first = index == 0
            table.add_row(
                f"{report.namespace}/{report.package}" if first else "",
                report.version if first else "",
                report.revision if first else "",
                report.status if first else "",
                check.name,
                check.downloaded,
                "[green]yes[/]" if check.matches else "[red]NO[/]",
            )
        table.add_section()
    console.print(table)


def run_demo(args: argparse.Namespace) -> int:
    """Synthesize, deploy locally, print the table; 0 when every hash matches."""
    from .local_deploy.engine import LocalCloudFormation  # noqa: PLC0415 - heavier import

    console = Console()
    if not console.is_terminal:
        console = Console(width=220)  # logs and CI: room for full hashes and revisions
    workdir = Path(tempfile.mkdtemp(prefix="codeartifact-generic-demo-"))
    outdir = Path(args.output).resolve() if args.output else workdir / "cdk.out"
    console.rule("cdk synth")
    synthesize(args.app, outdir, args.context)
    with LocalEnvironment() as env:
        console.rule(
            f"local deploy (S3 {env.s3_endpoint}, CodeArtifact {env.codeartifact_endpoint})"
        )
        cfn = LocalCloudFormation(
            workdir / "state", env.s3_endpoint, env.codeartifact_endpoint, console=console
        )
        try:
            cfn.deploy(outdir)
            reports = inspect(cfn, cfn.codeartifact_client())
        finally:
            cfn.close()
    render(reports, console)
    ok = all(check.matches for report in reports for check in report.assets)
    console.print(
        "[green]every downloaded asset matches its SHA256[/]" if ok else "[red]hash mismatch[/]"
    )
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok and reports else 1


def add_demo_command(subparsers: SubParsers) -> None:
    """Register ``demo``."""
    parser = subparsers.add_parser(
        "demo", help="synthesize an app and deploy it to local emulators"
    )
    parser.add_argument(
        "--app", default="python3 app.py", help="the CDK app command (default: %(default)s)"
    )
    parser.add_argument(
        "--output", default=None, help="cloud assembly directory (default: a temporary one)"
    )
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="CDK context"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary state and logs")
    parser.set_defaults(func=run_demo)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(
        run_demo(argparse.Namespace(app="python3 app.py", output=None, context=[], keep=False))
    )
