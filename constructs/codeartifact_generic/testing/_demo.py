"""``up`` and ``demo``: synthesize a CDK app, deploy it to local servers, show the versions.

``up`` synthesizes the app with the CDK CLI (or takes a synthesized cloud assembly), starts
moto S3 and the CodeArtifact emulator, checks that every endpoint answers, pre-loads S3 when
asked, deploys every stack with the local CloudFormation, downloads each declared asset back
through ``GetPackageVersionAsset`` comparing its SHA256 with the one the stack declared, prints
the endpoints and how to use them, and keeps the servers running until Ctrl-C. ``demo`` is
``up`` that stops once the table is printed (what ``make demo`` runs).

Failures print one line (no traceback) and remove the temporary directories: exit code 1 when
the deployment failed or a hash differs, 2 for anything else (synthesis, endpoints, input).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ..handler import contract
from ._local_env import EndpointUnavailable, LocalEnvironment, is_cloud_assembly

if TYPE_CHECKING:
    from mypy_boto3_codeartifact import CodeArtifactClient
    from mypy_boto3_s3 import S3Client

    from ._local_deploy.engine import LocalCloudFormation

SubParsers = Any  # argparse._SubParsersAction is private


class KitError(Exception):
    """A problem the command reports in one line (exit code 2)."""


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
    domain: str
    repository: str
    namespace: str
    package: str
    version: str
    revision: str
    status: str
    assets: tuple[AssetCheck, ...]


@dataclass(frozen=True)
class Preload:
    """``--preload BUCKET[/KEY]=PATH``: a file or a directory to put into S3 before deploying.

    A file goes to ``KEY`` (its name when there is no key, ``KEY`` + its name when ``KEY``
    ends with ``/``); a directory's files go under ``KEY/`` with their relative paths.
    """

    bucket: str
    key: str
    path: Path

    @classmethod
    def parse(cls, text: str) -> Preload:
        """Parse ``[s3://]BUCKET[/KEY]=PATH``."""
        target, eq, path = text.partition("=")
        target = target.removeprefix("s3://")
        bucket, _, key = target.partition("/")
        if not eq or not bucket or not path:
            raise KitError(f"--preload {text!r}: expected BUCKET[/KEY]=PATH")
        if not Path(path).exists():
            raise KitError(f"--preload {text!r}: {path} does not exist")
        return cls(bucket, key, Path(path))

    def objects(self) -> Iterator[tuple[str, Path]]:
        """(key, file) of every object to upload."""
        if self.path.is_dir():
            prefix = self.key.rstrip("/") + "/" if self.key else ""
            for file in sorted(p for p in self.path.rglob("*") if p.is_file()):
                yield prefix + file.relative_to(self.path).as_posix(), file
        elif not self.key or self.key.endswith("/"):
            yield self.key + self.path.name, self.path
        else:
            yield self.key, self.path


def preload(client: S3Client, items: Sequence[Preload], console: Console) -> None:
    """Create the buckets that are missing and upload the files."""
    for item in items:
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if item.bucket not in existing:
            client.create_bucket(Bucket=item.bucket)
        for key, file in item.objects():
            client.upload_file(str(file), item.bucket, key)
            console.print(f"pre-loaded s3://{item.bucket}/{key} from {file}", highlight=False)


def find_cdk() -> list[str]:
    """The CDK CLI: ``./node_modules/.bin/cdk`` when installed there, else ``cdk`` on PATH."""
    local = Path("node_modules/.bin/cdk")
    if local.exists():
        return [str(local.resolve())]
    found = shutil.which("cdk")
    if found is None:
        raise KitError(
            "the AWS CDK CLI is missing: install it (`npm install -g aws-cdk`, or `npm install "
            "aws-cdk` next to the app), or pass a synthesized cloud assembly (--app cdk.out)"
        )
    return [found]


def synthesize(app: str, outdir: Path, context: Sequence[str]) -> None:
    """Run ``cdk synth`` for ``app`` into ``outdir``; :class:`KitError` when it fails."""
    command = [*find_cdk(), "synth", "--app", app, "--output", str(outdir), "--quiet"]
    for item in context:
        command += ["--context", item]
    env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"}
    result = subprocess.run(command, check=False, env=env)
    if result.returncode != 0:
        raise KitError(f"cdk synth of {app!r} failed (exit code {result.returncode}), see above")


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
                domain=coords["domain"],
                repository=coords["repository"],
                namespace=coords["namespace"],
                package=coords["package"],
                version=coords["packageVersion"],
                revision=described.get("revision", ""),
                status=described["status"],
                assets=tuple(checks),
            )
        )
        if data.get(contract.Attr.VERSION_REVISION) != described.get("revision"):
            raise KitError(
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


def endpoints_help(
    env: LocalEnvironment,
    cfn: LocalCloudFormation,
    reports: Sequence[VersionReport],
    state_dir: Path,
) -> str:
    """What to point boto3 / the AWS CLI at, how to pre-load S3 and how to redeploy."""
    lines = [
        "Endpoints (each answered before the deployment):",
        f"  S3                      {env.s3_endpoint}",
        f"  CodeArtifact            {env.codeartifact_endpoint}",
        f"  CloudFormation (local)  {cfn.cloudformation_endpoint}  "
        "(DescribeStacks and DescribeStackEvents of this run)",
        "",
        "Point boto3 or the AWS CLI at them (credentials are not checked):",
        *(f"  export {k}={shlex.quote(v)}" for k, v in sorted(env.environment().items())),
    ]
    if reports:
        first = reports[0]
        where = (
            f"--domain {first.domain} --repository {first.repository} --format generic "
            f"--namespace {first.namespace} --package {first.package}"
        )
        lines += [
            f"  aws codeartifact list-package-versions {where}",
            f"  aws codeartifact get-package-version-asset {where} "
            f"--package-version {first.version} --asset {first.assets[0].name} "
            f"{first.assets[0].name}",
        ]
    lines += [
        "",
        "Pre-load S3 (e.g. objects PackageAsset.from_bucket reads):",
        "  aws s3 mb s3://BUCKET && aws s3 cp FILE s3://BUCKET/KEY   (with the variables above)",
        "  or start with: python -m codeartifact_generic.testing up --preload BUCKET/KEY=FILE",
        "",
        "Redeploy a changed app to these servers (with the variables above):",
        "  cdk synth --output cdk.out && python -m codeartifact_generic.testing deploy cdk.out "
        f"--state-dir {shlex.quote(str(state_dir))}",
    ]
    return "\n".join(lines)


def wait_for_interrupt(stop: threading.Event | None = None) -> None:
    """Block until Ctrl-C or SIGTERM (or ``stop`` is set)."""
    stop = stop or threading.Event()
    # Ctrl-C must work even when the parent that started us ignored or blocked SIGINT (both
    # are inherited across exec: a supervisor, a test runner's worker).
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def run_up(args: argparse.Namespace) -> int:
    """``up`` (and ``demo``, which sets ``args.exit``): see the module docstring."""
    from ._local_deploy.assembly import AssemblyError  # noqa: PLC0415 - heavier imports
    from ._local_deploy.stack_update import LocalDeployError  # noqa: PLC0415

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(width=220, highlight=False)  # logs and CI: room for full hashes
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    workdir = Path(tempfile.mkdtemp(prefix="codeartifact-generic-up-"))
    try:
        preloads = [Preload.parse(item) for item in args.preload]
        if is_cloud_assembly(args.app):
            assembly = Path(args.app)
        else:
            assembly = Path(args.output).resolve() if args.output else workdir / "cdk.out"
            console.rule("cdk synth")
            synthesize(args.app, assembly, args.context)
        ok = _deploy_and_serve(args, assembly, preloads, workdir, console)
    except (KitError, EndpointUnavailable, AssemblyError, ValueError) as exc:
        errors.print(f"error: {exc}", markup=False)
        return 2
    except OSError as exc:  # a port in use, a directory that cannot be written
        errors.print(f"error: {exc}", markup=False)
        return 2
    except LocalDeployError as exc:
        errors.print(f"deployment failed: {exc}", markup=False, style="bold red")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


def _deploy_and_serve(
    args: argparse.Namespace,
    assembly: Path,
    preloads: Sequence[Preload],
    workdir: Path,
    console: Console,
) -> bool:
    """Start the servers, check them, pre-load S3, deploy, check the versions; then serve
    until interrupted unless ``args.exit``. True when every asset matched."""
    state_dir = Path(args.state_dir).resolve() if args.state_dir else workdir / "state"
    with LocalEnvironment(
        account_id=args.account,
        region=args.region,
        s3_port=args.s3_port,
        codeartifact_port=args.codeartifact_port,
        state_dir=state_dir,
    ) as env:
        cfn = env.engine(console=console, echo_handler_logs=args.verbose)
        env.check()
        console.rule(
            f"local deploy (S3 {env.s3_endpoint}, CodeArtifact {env.codeartifact_endpoint})"
        )
        preload(env.client("s3"), preloads, console)
        cfn.deploy(assembly, args.stacks or None)
        reports = inspect(cfn, cfn.codeartifact_client())
        ok = all(check.matches for report in reports for check in report.assets)
        if not reports:
            console.print("the app declares no GenericPackageVersion")
        else:
            render(reports, console)
            console.print(
                "[green]every downloaded asset matches its SHA256[/]"
                if ok
                else "[red]hash mismatch[/]"
            )
        if not args.exit:
            console.print(
                endpoints_help(env, cfn, reports, state_dir), markup=False, soft_wrap=True
            )
            console.print("Running until Ctrl-C.")
            wait_for_interrupt()
            console.print("stopping the servers")
    return ok


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app",
        default="python3 app.py",
        help="the CDK app command, or a synthesized cloud assembly directory, as for `cdk "
        "--app` (default: %(default)s)",
    )
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to deploy (all)")
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="CDK context"
    )
    parser.add_argument(
        "--output", default=None, help="cloud assembly directory (default: a temporary one)"
    )
    parser.add_argument(
        "--preload",
        action="append",
        default=[],
        metavar="BUCKET[/KEY]=PATH",
        help="put a file (or a directory's files) into the local S3 before deploying; "
        "the bucket is created when missing (repeatable)",
    )
    parser.add_argument("--s3-port", type=int, default=0, help="S3 port (default: a free one)")
    parser.add_argument(
        "--codeartifact-port", type=int, default=0, help="CodeArtifact port (default: a free one)"
    )
    parser.add_argument(
        "--state-dir", default=None, help="deployment state and handler logs (default: temporary)"
    )
    parser.add_argument(
        "--account", default="123456789012", help="account id (default: %(default)s)"
    )
    parser.add_argument("--region", default="us-east-1", help="region (default: %(default)s)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="echo the custom resource handlers' output"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary synthesis, state and logs"
    )


def add_up_commands(subparsers: SubParsers) -> None:
    """Register ``up`` and ``demo``."""
    up = subparsers.add_parser(
        "up",
        help="deploy your CDK app offline: start S3 and CodeArtifact, deploy, keep them running",
        description="Synthesize the app (or take a cloud assembly), start moto S3 and the "
        "CodeArtifact emulator on 127.0.0.1, check every endpoint, deploy all stacks, check each "
        "package version's assets by SHA256, print the endpoints, and keep the servers running "
        "until Ctrl-C.",
    )
    _arguments(up)
    up.add_argument(
        "--exit", action="store_true", help="stop once deployed and checked (for scripts and CI)"
    )
    up.set_defaults(func=run_up)

    demo = subparsers.add_parser(
        "demo",
        help="`up --exit`: deploy an app offline, print its versions, stop",
        description="Like `up --exit`: deploy the app to local servers, print the package "
        "versions with the SHA256 of each downloaded asset, then stop.",
    )
    _arguments(demo)
    demo.set_defaults(func=run_up, exit=True)
