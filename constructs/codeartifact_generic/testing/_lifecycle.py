"""``make demo-lifecycle``: deploy, bump, fail and roll back (a rolled-back bump, a cancelled
Create, a same-version change), destroy; show CodeArtifact each time.

This is the lifecycle of the project's example app (``app.py`` of the repository, with its
context knobs ``version``, ``cli_artifact``, ``nightly`` and ``broken_release``), not of any
app: the command refuses an app without the example's stacks. The same driver runs the
lifecycle tests: each :class:`Step` synthesizes the app with its context, deploys (or
destroys) it on the local emulators, and records what the repository holds afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ._demo import KitError, synthesize
from ._local_env import LocalEnvironment

if TYPE_CHECKING:
    from mypy_boto3_codeartifact import CodeArtifactClient

    from ._local_deploy.engine import LocalCloudFormation

SubParsers = Any  # argparse._SubParsersAction is private

#: The stacks of the example app; ``demo-lifecycle`` plays its lifecycle and no other.
EXAMPLE_STACKS: tuple[str, ...] = ("CodeArtifactRepo", "Packages", "Consumer")


@dataclass(frozen=True)
class Step:
    """One change to the app and what should become of it."""

    title: str
    #: CDK context (``-c key=value``) for this step's synth.
    context: dict[str, str] = field(default_factory=dict)
    #: The deployment is expected to fail (and roll back).
    fails: bool = False
    #: Destroy these stacks (and their dependents) instead of deploying.
    destroy: tuple[str, ...] = ()
    #: Hold the first CodeArtifact call of this operation (the emulator's ``hold`` fault,
    #: with these options) until the deployment ended: a Create still running when a sibling
    #: fails is cancelled by CloudFormation, and what its late work leaves is shown after.
    hold: tuple[str, dict[str, Any]] | None = None
    #: Hold this call (of the resource that fails) until :attr:`hold` is reached, so that the
    #: failure comes while the other Create is under way.
    fail_after_hold: tuple[str, dict[str, Any]] | None = None


@dataclass(frozen=True)
class VersionRow:
    """A package version as CodeArtifact lists it."""

    package: str
    version: str
    status: str
    revision: str
    assets: int


@dataclass
class StepResult:
    """What a step did and what the repository held afterwards."""

    step: Step
    succeeded: bool
    reason: str
    versions: list[VersionRow]


def repository_versions(
    client: CodeArtifactClient, domain: str, repository: str
) -> list[VersionRow]:
    """Every generic package version in the repository (empty if it does not exist)."""
    try:
        packages = client.list_packages(domain=domain, repository=repository, format="generic")[
            "packages"
        ]
    except client.exceptions.ResourceNotFoundException:
        return []
    rows = []
    for package in packages:
        coords = {
            "domain": domain,
            "repository": repository,
            "format": "generic",
            "namespace": package.get("namespace", ""),
            "package": package["package"],
        }
        for version in client.list_package_versions(**coords)["versions"]:  # type: ignore[arg-type]
            assets = client.list_package_version_assets(**coords, packageVersion=version["version"])  # type: ignore[arg-type]
            rows.append(
                VersionRow(
                    package=f"{coords['namespace']}/{coords['package']}",
                    version=version["version"],
                    status=version["status"],
                    revision=version.get("revision", ""),
                    assets=len(assets.get("assets", [])),
                )
            )
    return sorted(rows, key=lambda r: (r.package, r.version))


@dataclass
class LifecycleDriver:
    """Runs :class:`Step`s of one app against one local environment."""

    app: str
    cfn: LocalCloudFormation
    workdir: Path
    _: KW_ONLY
    domain: str
    repository: str
    console: Console = field(default_factory=Console)
    #: The CodeArtifact emulator, for steps that hold a call (see :attr:`Step.hold`).
    emulator: Any = None
    #: Stacks the app must have (checked after each synthesis): :class:`KitError` if not.
    expect_stacks: Sequence[str] = ()
    _count: int = field(default=0, init=False)

    def run(self, step: Step) -> StepResult:
        """Synthesize and deploy (or destroy) one step; never raises for a failed deployment."""
        from ._local_deploy.stack_update import DeploymentFailed, LocalDeployError  # noqa: PLC0415

        self._count += 1
        self.console.rule(f"step {self._count}: {step.title}")
        outdir = self.workdir / f"step{self._count}.out"
        synthesize(self.app, outdir, [f"{k}={v}" for k, v in step.context.items()])
        self._check_stacks(outdir)
        succeeded, reason = True, ""
        held = self._hold(step)
        try:
            if step.destroy:
                self.cfn.destroy(outdir, list(step.destroy))
            else:
                self.cfn.deploy(outdir)
        except DeploymentFailed as failure:
            succeeded, reason = False, failure.reason
        except LocalDeployError as failure:
            succeeded, reason = False, str(failure)
        finally:
            if held is not None:
                if held.reached.is_set():
                    self.console.print(
                        "the rollback ended while the cancelled Create was still running; "
                        "letting it finish"
                    )
                held.release()
        self.cfn.wait_for_abandoned()
        versions = repository_versions(self.cfn.codeartifact_client(), self.domain, self.repository)
        result = StepResult(step, succeeded, reason, versions)
        self.show(result)
        return result

    def _check_stacks(self, assembly: Path) -> None:
        from ._local_deploy.assembly import CloudAssembly  # noqa: PLC0415

        present = {stack.stack_name for stack in CloudAssembly.load(assembly).stacks}
        missing = [name for name in self.expect_stacks if name not in present]
        if missing:
            raise KitError(
                f"{self.app!r} is not the project's example app (no stack {', '.join(missing)}): "
                "demo-lifecycle plays the example's lifecycle (app.py of the "
                "cdk-codeartifact-generic repository, its context knobs version, cli_artifact, "
                "nightly and broken_release); deploy your own app with `up`"
            )

    def _hold(self, step: Step) -> Any:
        """Arrange :attr:`Step.hold` and :attr:`Step.fail_after_hold`; the held rule, if any."""
        if step.hold is None or self.emulator is None:
            return None
        operation, options = step.hold
        held = self.emulator.faults.next(operation, "hold", **options)
        if step.fail_after_hold is not None:
            operation, options = step.fail_after_hold
            failing = self.emulator.faults.next(operation, "hold", **options)

            def release_when_held() -> None:
                held.reached.wait(60)
                failing.release()

            threading.Thread(target=release_when_held, daemon=True).start()
        return held

    def show(self, result: StepResult) -> None:
        """Print the step's outcome and the repository's versions."""
        expected = result.succeeded != result.step.fails
        verdict = "[green]as expected[/]" if expected else "[red]UNEXPECTED[/]"
        outcome = "succeeded" if result.succeeded else f"failed and rolled back: {result.reason}"
        self.console.print(f"{outcome} ({verdict})")
        table = Table(title=f"{self.domain}/{self.repository} after: {result.step.title}")
        for column in ("package", "version", "status", "revision", "assets"):
            table.add_column(column, no_wrap=True)
        for row in result.versions:
            table.add_row(row.package, row.version, row.status, row.revision, str(row.assets))
        self.console.print(table)


def demo_steps(changed_artifact: Path) -> list[Step]:
    """The lifecycle of ``app.py`` that ``make demo-lifecycle`` shows."""
    return [
        Step("deploy mycli 1.4.0 and the model bundle", {"version": "1.4.0"}),
        Step("bump mycli to 1.5.0 (the consumer reads the new revision)", {"version": "1.5.0"}),
        Step(
            "bump mycli to 1.6.0 beside a broken release: fails, mycli rolls back to 1.5.0",
            {"version": "1.6.0", "broken_release": "true"},
            fails=True,
        ),
        Step(
            "add a nightly build beside a broken release: its Create is cancelled, nothing left",
            {"version": "1.5.0", "nightly": "2024.06.2", "broken_release": "true"},
            fails=True,
            # The nightly writes its first asset and is held before its last; then the broken
            # release fails, and its last asset lands after the rollback ended.
            hold=(
                "PublishPackageVersion",
                {"match": {"package": "mycli-nightly", "assetName": "BUILD.txt"}},
            ),
            fail_after_hold=("DescribePackageVersion", {"match": {"package": "broken"}}),
        ),
        Step(
            "change mycli.tar.gz without bumping 1.5.0: fails, rolls back",
            {"version": "1.5.0", "cli_artifact": str(changed_artifact)},
            fails=True,
        ),
        Step(
            "destroy Packages and Consumer: mycli retained, model bundle deleted",
            {"version": "1.5.0"},
            destroy=("Packages",),
        ),
    ]


def run_lifecycle(args: argparse.Namespace) -> int:
    """``demo-lifecycle``: 0 when every step ended as expected."""
    from ._local_deploy.assembly import AssemblyError  # noqa: PLC0415 - heavier imports
    from ._local_deploy.engine import LocalCloudFormation  # noqa: PLC0415

    console = Console() if Console().is_terminal else Console(width=160)
    workdir = Path(tempfile.mkdtemp(prefix="codeartifact-generic-lifecycle-"))
    changed = workdir / "mycli.tar.gz"
    changed.write_bytes(b"a rebuilt CLI with other bytes under the same version\n")
    results: list[StepResult] = []
    try:
        with (
            LocalEnvironment() as env,
            LocalCloudFormation(
                workdir / "state", env.s3_endpoint, env.codeartifact_endpoint, console=console
            ) as cfn,
        ):
            driver = LifecycleDriver(
                args.app,
                cfn,
                workdir,
                domain="demo-domain",
                repository="generic-releases",
                console=console,
                emulator=env.codeartifact,
                expect_stacks=EXAMPLE_STACKS,
            )
            results = [driver.run(step) for step in demo_steps(changed)]
    except (KitError, AssemblyError) as exc:
        Console(stderr=True, soft_wrap=True).print(f"error: {exc}", markup=False, highlight=False)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    unexpected = [r.step.title for r in results if r.succeeded == r.step.fails]
    console.rule("lifecycle")
    console.print(
        "[green]every step ended as expected[/]"
        if not unexpected
        else f"[red]unexpected: {unexpected}[/]"
    )
    return 1 if unexpected else 0


def add_lifecycle_command(subparsers: SubParsers) -> None:
    """Register ``demo-lifecycle``."""
    parser = subparsers.add_parser(
        "demo-lifecycle",
        help="the example app's lifecycle (this project's app.py only): deploy, bump, fail and "
        "roll back, destroy, on local emulators",
        description="Plays the lifecycle of the project's example app (app.py of the "
        "cdk-codeartifact-generic repository, with its context knobs); other apps are refused. "
        "Deploy your own app with `up`.",
    )
    parser.add_argument(
        "--app", default="python3 app.py", help="the CDK app command (default: %(default)s)"
    )
    parser.set_defaults(func=run_lifecycle)
