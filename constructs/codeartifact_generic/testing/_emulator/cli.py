"""The ``serve`` subcommand of ``python -m codeartifact_generic.testing``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any

from codeartifact_generic.testing._emulator.faults import CONTROL_PATH, KINDS
from codeartifact_generic.testing._emulator.server import CodeArtifactEmulator
from codeartifact_generic.testing._emulator.store import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Limits


def add_serve_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to an ``argparse`` subparsers object; returns its parser.

    The parser's ``func`` default runs the command and returns an exit code.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the offline CodeArtifact emulator",
        description=(
            "Serve the CodeArtifact API on HOST:PORT until interrupted. Prints the endpoint "
            "URL on stdout; use it as --endpoint-url or AWS_ENDPOINT_URL_CODEARTIFACT."
        ),
    )
    defaults = Limits()
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (%(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--data-dir", help="directory for asset files (default: a temporary directory)"
    )
    parser.add_argument(
        "--max-asset-size",
        type=int,
        default=defaults.max_asset_size_bytes,
        metavar="BYTES",
        help="largest asset accepted (%(default)s)",
    )
    parser.add_argument(
        "--max-assets",
        type=int,
        default=defaults.max_assets_per_version,
        metavar="N",
        help="most assets per package version (%(default)s)",
    )
    parser.add_argument(
        "--publish-rate",
        type=_rate,
        default=defaults.publish_rate_per_second,
        metavar="PER_SECOND",
        help=(
            "PublishPackageVersion calls per second before ThrottlingException (429 with "
            "Retry-After), as CodeArtifact's quota (%(default)g); 0 turns the limit off"
        ),
    )
    parser.add_argument(
        "--publish-burst",
        type=float,
        default=None,
        metavar="CALLS",
        help="calls the publish token bucket holds (default: the rate, one second's worth)",
    )
    parser.add_argument(
        "--eager-digests",
        action="store_true",
        help=(
            "compute MD5, SHA-1 and SHA-512 while an asset arrives, not when first listed "
            "(slower ingest; PublishPackageVersion then answers all four digests, as AWS does)"
        ),
    )
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID, help="%(default)s")
    parser.add_argument("--region", default=DEFAULT_REGION, help="%(default)s")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_spec,
        metavar="OPERATION:KIND[:TIMES]",
        help=(
            "plan a fault from the start (repeatable); KIND is one of "
            f"{', '.join(KINDS)}; TIMES defaults to 1, '*' means every call. More faults "
            f"(with options) can be planned while it runs: POST {CONTROL_PATH} on the endpoint"
        ),
    )
    parser.set_defaults(func=serve)
    return parser


def _rate(text: str) -> float | None:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if rate < 0:
        raise argparse.ArgumentTypeError(f"expected a rate >= 0 (0: no limit), got {text!r}")
    return rate or None


def _fault_spec(text: str) -> tuple[str, str, int | None]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[1] not in KINDS:
        raise argparse.ArgumentTypeError(
            f"expected OPERATION:KIND[:TIMES] with KIND one of {', '.join(KINDS)}, got {text!r}"
        )
    times_text = parts[2] if len(parts) == 3 else "1"
    if times_text == "*":
        return parts[0], parts[1], None
    try:
        times = int(times_text)
    except ValueError:
        times = 0
    if times < 1:
        raise argparse.ArgumentTypeError(f"TIMES must be a positive integer or '*', got {text!r}")
    return parts[0], parts[1], times


def serve(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Run the emulator until Ctrl-C or SIGTERM (or until ``stop`` is set)."""
    emulator = CodeArtifactEmulator(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        limits=Limits(
            max_asset_size_bytes=args.max_asset_size,
            max_assets_per_version=args.max_assets,
            publish_rate_per_second=args.publish_rate,
            publish_burst=args.publish_burst,
        ),
        account_id=args.account_id,
        region=args.region,
        eager_digests=args.eager_digests,
    )
    for operation, kind, times in getattr(args, "fault", []):
        emulator.faults.next(operation, kind, times)
    emulator.start()
    print(emulator.endpoint_url, flush=True)
    print(
        f"CodeArtifact emulator at {emulator.endpoint_url} (assets in "
        f"{emulator.store.data_dir}); Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )
    waiter = stop or threading.Event()

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        waiter.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
