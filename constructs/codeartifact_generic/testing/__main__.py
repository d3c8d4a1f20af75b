"""``python -m codeartifact_generic.testing <command>``: the offline kit's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from codeartifact_generic.testing.demo import add_demo_command
from codeartifact_generic.testing.emulator.cli import add_serve_command
from codeartifact_generic.testing.lifecycle import add_lifecycle_command
from codeartifact_generic.testing.local_deploy.cli import add_local_deploy_commands


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; each subcommand sets ``func(args) -> int``."""
    parser = argparse.ArgumentParser(
        prog="python -m codeartifact_generic.testing",
        description="Offline kit for cdk-codeartifact-generic.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(subparsers)
    add_local_deploy_commands(subparsers)
    add_demo_command(subparsers)
    add_lifecycle_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
