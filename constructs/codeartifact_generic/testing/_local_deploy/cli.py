"""``deploy`` and ``destroy`` subcommands for the offline kit's command line.

Another module owns the top-level parser; it calls :func:`add_local_deploy_commands` with its
subparsers and then ``args.func(args)``, which returns the exit code (0 success, 1 the
deployment or deletion failed, 2 bad input or an endpoint that does not answer: both servers
are asked something before anything is deployed). To start the servers too, use ``up``. This
module also runs on its own::

    python -m codeartifact_generic.testing._local_deploy deploy cdk.out \\
        --s3-endpoint http://127.0.0.1:5000 --codeartifact-endpoint http://127.0.0.1:5001
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from .._local_env import EndpointUnavailable, check_endpoints
from .assembly import AssemblyError
from .engine import LocalCloudFormation
from .stack_update import LocalDeployError

__all__ = ["add_local_deploy_commands", "main", "parse_parameters", "run_deploy", "run_destroy"]

DEFAULT_STATE_DIR = ".local-deploy"

SubParsers = Any  # argparse._SubParsersAction[argparse.ArgumentParser] (a private class)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assembly", help="the cloud assembly directory (cdk.out)")
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="stack names (default: all)")
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help=f"where the local deployment state lives (default: {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--s3-endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL_S3"),
        help="local S3 endpoint URL (default: $AWS_ENDPOINT_URL_S3)",
    )
    parser.add_argument(
        "--codeartifact-endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL_CODEARTIFACT"),
        help="CodeArtifact emulator URL (default: $AWS_ENDPOINT_URL_CODEARTIFACT)",
    )
    parser.add_argument(
        "--codeartifact-ca-bundle",
        default=None,
        help="CA PEM of an HTTPS CodeArtifact endpoint",
    )
    parser.add_argument(
        "--account", default="123456789012", help="account id (default: %(default)s)"
    )
    parser.add_argument("--region", default="us-east-1", help="region (default: %(default)s)")
    parser.add_argument(
        "--lambda-retries",
        type=int,
        default=2,
        help="re-runs of a function that errored without responding (default: %(default)s)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="echo the custom resource handlers' output"
    )


def add_local_deploy_commands(subparsers: SubParsers) -> None:
    """Add ``deploy`` and ``destroy`` to ``subparsers`` (from ``parser.add_subparsers()``).

    Each sets ``func`` to a callable taking the parsed namespace and returning an exit code.
    """
    deploy = subparsers.add_parser(
        "deploy",
        help="deploy a synthesized CDK app against local S3 and CodeArtifact",
        description="Play CloudFormation locally: upload assets, create/update resources, run "
        "custom resource handlers, roll back on failure. State persists in --state-dir.",
    )
    _common(deploy)
    deploy.add_argument(
        "-e",
        "--exclusively",
        action="store_true",
        help="only the named stacks, not their dependencies",
    )
    deploy.add_argument(
        "--parameters",
        action="append",
        default=[],
        metavar="[STACK:]KEY=VALUE",
        help="template parameter value (repeatable)",
    )
    deploy.add_argument(
        "--no-rollback", action="store_true", help="leave a failed stack as it is (no rollback)"
    )
    deploy.set_defaults(func=run_deploy)

    destroy = subparsers.add_parser(
        "destroy",
        help="delete locally deployed stacks (dependents first)",
        description="Delete the assembly's stacks (or the named ones) from the local deployment.",
    )
    _common(destroy)
    destroy.add_argument(
        "-e",
        "--exclusively",
        action="store_true",
        help="only the named stacks, not the stacks that depend on them",
    )
    destroy.set_defaults(func=run_destroy)


def parse_parameters(values: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["Stack:Key=V", "Key=V"]`` → ``{"Stack": {"Key": "V"}, "*": {"Key": "V"}}``."""
    parsed: dict[str, dict[str, str]] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"--parameters {item!r}: expected [STACK:]KEY=VALUE")
        stack, colon, name = key.rpartition(":")
        parsed.setdefault(stack if colon else "*", {})[name] = value
    return parsed


def _engine(args: argparse.Namespace, *, rollback: bool = True) -> LocalCloudFormation:
    if not args.s3_endpoint:
        raise ValueError(
            "no S3 endpoint: pass --s3-endpoint or set AWS_ENDPOINT_URL_S3 (or let `up` start "
            "the servers)"
        )
    if not args.codeartifact_ca_bundle:  # an HTTPS emulator's CA is the engine's business
        check_endpoints(
            {"s3": args.s3_endpoint, "codeartifact": args.codeartifact_endpoint}, args.region
        )
    return LocalCloudFormation(
        args.state_dir,
        s3_endpoint=args.s3_endpoint,
        codeartifact_endpoint=args.codeartifact_endpoint,
        account_id=args.account,
        region=args.region,
        codeartifact_ca_bundle=args.codeartifact_ca_bundle,
        echo_handler_logs=args.verbose,
        lambda_retries=args.lambda_retries,
        rollback=rollback,
    )


def _exit_code(action: str, command: Callable[[], object]) -> int:
    """Run ``command``; 2 for bad input (said in one line), 1 when the ``action``
    ("deployment", "destroy") failed, else 0."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        command()
    except (ValueError, AssemblyError, EndpointUnavailable) as exc:
        console.print(f"error: {exc}", markup=False)
        return 2
    except LocalDeployError as exc:
        console.print(f"{action} failed: {exc}", markup=False, style="bold red")
        return 1
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    """The ``deploy`` command."""

    def deploy() -> None:
        parameters = parse_parameters(args.parameters)
        with _engine(args, rollback=not args.no_rollback) as engine:
            engine.deploy(
                args.assembly,
                args.stacks or None,
                exclusively=args.exclusively,
                parameters=parameters,
            )

    return _exit_code("deployment", deploy)


def run_destroy(args: argparse.Namespace) -> int:
    """The ``destroy`` command."""

    def destroy() -> None:
        with _engine(args) as engine:
            engine.destroy(args.assembly, args.stacks or None, exclusively=args.exclusively)

    return _exit_code("destroy", destroy)


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``deploy`` / ``destroy``."""
    parser = argparse.ArgumentParser(
        prog="python -m codeartifact_generic.testing._local_deploy",
        description="Play CloudFormation locally for a synthesized CDK app.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_local_deploy_commands(subparsers)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
