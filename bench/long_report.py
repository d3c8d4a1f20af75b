"""The figures of a version longer than one invocation (issue 13, item 4): summary, verdicts,
the Markdown and console tables and the chart panel, from the samples of
:mod:`bench.long_version` runs (one per mode and repeat).

Two modes deploy the same version with the same slowed publishes: ``one_invocation`` (the
function's timeout as the construct sets it) and ``polled`` (a short timeout, so crhelper's
polls carry the version on). What they show is the number of invocations and that nothing is
sent twice; their wall times are in compressed schedule time (a minute lasts ``minute_s``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from codeartifact_generic.handler import contract
from rich.console import Console
from rich.table import Table

from bench.verdicts import Verdict, annotate_bars, median

ONE_INVOCATION: Final = "one_invocation"
POLLED: Final = "polled"
MODES: Final = (ONE_INVOCATION, POLLED)
LABELS: Final = {ONE_INVOCATION: "the construct's timeout", POLLED: "a short timeout"}
REQUIRED_METRICS: Final = (
    "one_invocation_invocations",
    "polled_invocations",
    "one_invocation_deploy_s",
    "polled_deploy_s",
    "each_asset_once",
    "final_last",
)


def summarize(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per mode: runs completed, median deploy wall and invocations, each run's invocations."""
    runs: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        mine = [s for s in samples if s["mode"] == mode]
        done = [s for s in mine if s["ok"]]
        runs[mode] = {
            "runs": len(mine),
            "completed": len(done),
            "timeout_s": next((s["timeout_s"] for s in mine if "timeout_s" in s), None),
            "deploy_s": median(s["deploy_s"] for s in done),
            "invocations": median(s["invocations"] for s in done),
            "invocations_each": [s.get("invocations") for s in mine],
            "publishes_each": [s.get("publishes") for s in mine],
        }
    first = next(iter(samples), {})
    assets = first.get("assets")
    metrics = {
        "one_invocation_invocations": runs[ONE_INVOCATION]["invocations"],
        "polled_invocations": runs[POLLED]["invocations"],
        "one_invocation_deploy_s": runs[ONE_INVOCATION]["deploy_s"],
        "polled_deploy_s": runs[POLLED]["deploy_s"],
        "each_asset_once": bool(samples) and all(s.get("publishes") == assets for s in samples),
        "final_last": bool(samples) and all(s.get("final_last") for s in samples),
        "all_completed": bool(samples) and all(s["ok"] for s in samples),
    }
    return {
        **{k: first.get(k) for k in ("assets", "asset_mib", "publish_delay_s", "minute_s")},
        "metrics": metrics,
        "runs": runs,
        "samples": list(samples),
    }


def _shape(long: Mapping[str, Any]) -> str:
    return f"{long['assets']} × {long['asset_mib']} MiB"


def verdicts(long: Mapping[str, Any] | None) -> list[Verdict]:
    """Issue 13, item 4: with a short timeout the version takes several invocations, one
    with the construct's; every run completes, each asset sent once, the final one last."""
    if long is None:
        return []
    m, runs = long["metrics"], long["runs"]
    polled = runs[POLLED]
    each = ", ".join("—" if n is None else str(n) for n in polled["invocations_each"])
    return [
        Verdict(
            f"version of {_shape(long)} in a {polled['timeout_s']} s function: published across "
            "more than one invocation (every run)",
            f"{each} invocations",
            bool(polled["invocations_each"])
            and all(n is not None and n > 1 for n in polled["invocations_each"]),
        ),
        Verdict(
            f"version of {_shape(long)} across invocations: every deployment complete, each "
            "asset published once, the final one last",
            f"{polled['completed']}/{polled['runs']} and "
            f"{runs[ONE_INVOCATION]['completed']}/{runs[ONE_INVOCATION]['runs']} complete, "
            f"publishes {polled['publishes_each'] + runs[ONE_INVOCATION]['publishes_each']}",
            bool(m["all_completed"] and m["each_asset_once"] and m["final_last"]),
        ),
    ]


def _row(long: Mapping[str, Any], mode: str) -> list[str]:
    run = long["runs"][mode]
    deploy = run["deploy_s"]
    return [
        LABELS[mode],
        f"{run['timeout_s']} s",
        f"{run['completed']}/{run['runs']}",
        ", ".join("—" if n is None else str(n) for n in run["invocations_each"]),
        ", ".join("—" if n is None else str(n) for n in run["publishes_each"]),
        "—" if deploy is None else f"{deploy:.1f} s",
    ]


_COLUMNS: Final = (
    "function timeout",
    "deployments complete",
    "invocations (each run)",
    "publishes (each run)",
    "deploy wall",
)


def _caption(long: Mapping[str, Any]) -> str:
    return (
        f"Every publish slowed by {long['publish_delay_s']:g} s (CodeArtifact made slow so a "
        "few assets outlast a short function); crhelper polls every "
        f"{contract.POLLING_INTERVAL_MINUTES} minutes, a minute of the "
        f"local EventBridge lasting {long['minute_s']:g} s, so the walls are in that compressed "
        "time. Invocations: CloudFormation's one plus each poll the schedule delivered."
    )


def markdown_lines(long: Mapping[str, Any] | None) -> list[str]:
    """The README's table of the two modes, and what they ran under."""
    if long is None:
        return []
    lines = [
        "",
        f"| one version of {_shape(long)}, known SHA256 | " + " | ".join(_COLUMNS) + " |",
        "|---|" + "---:|" * len(_COLUMNS),
    ]
    lines += ["| " + " | ".join(_row(long, mode)) + " |" for mode in MODES]
    return [*lines, "", _caption(long)]


def print_table(console: Console, long: Mapping[str, Any] | None) -> None:
    """The same table on the console."""
    if long is None:
        return
    table = Table(title=f"One version of {_shape(long)} across invocations", caption=_caption(long))
    for column in ("mode", *_COLUMNS):
        table.add_column(column, justify="right")
    for mode in MODES:
        table.add_row(*_row(long, mode))
    console.print(table)


def chart(ax: Any, long: Mapping[str, Any] | None) -> None:
    """Invocations per mode (median), annotated with the deploy wall."""
    if long is None:
        ax.set_axis_off()
        return
    runs = [long["runs"][mode] for mode in MODES]
    bars = ax.bar(
        [f"{LABELS[m]}\n({r['timeout_s']} s)" for m, r in zip(MODES, runs, strict=True)],
        [r["invocations"] or 0 for r in runs],
        color=["C7", "C2"],
    )
    annotate_bars(
        ax,
        bars,
        [
            f"{n:.0f} invocation{'' if n == 1 else 's'}\n" + ("—" if d is None else f"{d:.1f} s")
            for n, d in ((r["invocations"] or 0, r["deploy_s"]) for r in runs)
        ],
    )
    ax.set_title(
        f"One version of {_shape(long)}, publishes slowed by {long['publish_delay_s']:g} s\n"
        f"handler invocations (median); deploy wall with a minute = {long['minute_s']:g} s"
    )
    ax.set_ylabel("invocations")
    ax.set_ylim(0, max(r["invocations"] or 0 for r in runs) * 1.25 + 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
