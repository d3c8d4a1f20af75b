"""``python -m codeartifact_generic.testing <command>``: the offline kit's command line.

``up`` deploys your app offline (and keeps the servers running); ``demo`` is ``up`` that stops
once done; ``serve`` runs the CodeArtifact emulator alone; ``deploy``/``destroy`` play
CloudFormation against servers already running; ``demo-lifecycle`` is the example app's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import _missing_extra


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; each subcommand sets ``func(args) -> int``."""
    from ._demo import add_up_commands  # noqa: PLC0415 - need the [testing] extra
    from ._emulator.cli import add_serve_command  # noqa: PLC0415
    from ._lifecycle import add_lifecycle_command  # noqa: PLC0415
    from ._local_deploy.cli import add_local_deploy_commands  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m codeartifact_generic.testing",
        description="Offline kit for cdk-codeartifact-generic: deploy a CDK app to local S3 and "
        'CodeArtifact servers (start with: up --app "python3 app.py").',
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_up_commands(subparsers)
    add_serve_command(subparsers)
    add_local_deploy_commands(subparsers)
    add_lifecycle_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand (2 with one line when the extra is missing)."""
    try:
        parser = build_parser()
    except ModuleNotFoundError as exc:
        friendly = _missing_extra(exc)
        if friendly is None:
            raise
        print(f"error: {friendly}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
