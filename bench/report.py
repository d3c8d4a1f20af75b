"""Turn the samples of a run into medians, ratios, target verdicts, a table and a chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from codeartifact_generic.handler import contract
from rich.console import Console
from rich.table import Table

from bench import long_report
from bench.verdicts import Verdict, annotate_bars, median

GIB: Final = 1024**3
MIB: Final = 1024**2

#: Measured workloads, in the order they are shown.
BASELINE: Final = "baseline_cli"
KNOWN: Final = "ours_known_sha256"
UNKNOWN: Final = "ours_unknown_sha256"
S3_CHECKSUM: Final = "ours_s3_checksum"
FLOOR_GET: Final = "floor_get"
FLOOR_HASH: Final = "floor_hashlib"
FLOOR_PUBLISH: Final = "floor_publish"
STARTUP: Final = "handler_startup"
VARIANTS: Final = (BASELINE, KNOWN, UNKNOWN, S3_CHECKSUM, FLOOR_GET, FLOOR_HASH, FLOOR_PUBLISH)
#: One version of many assets (issue 13): all but the first and the final
#: ``contract.parallel_assets(memory)`` at a time (a 1024 MiB function), or one at a time (128).
PARALLEL: Final = "ours_parallel_assets"
SERIAL: Final = "ours_one_asset_at_a_time"
#: The workloads also run beside a competing CPU-bound process, and the mark on their samples.
LOAD_VARIANTS: Final = (BASELINE, KNOWN, FLOOR_GET, FLOOR_HASH)
COMPETING_CPU: Final = "competing_cpu"
#: Workloads that read the object from S3 (through the counting proxy).
READS_S3: Final = (BASELINE, KNOWN, UNKNOWN, S3_CHECKSUM, FLOOR_GET, PARALLEL, SERIAL)
LABELS: Final = {
    BASELINE: "AWS CLI v1 baseline",
    KNOWN: "ours, known SHA256",
    UNKNOWN: "ours, unknown SHA256",
    S3_CHECKSUM: "ours, S3 stored checksum",
    FLOOR_GET: "floor: S3 GET",
    FLOOR_HASH: "floor: hashlib",
    FLOOR_PUBLISH: "floor: publish (emulator ingest)",
}

_COLORS: Final = {variant: f"C{index}" for index, variant in enumerate(VARIANTS)}

SHORT: Final = {
    BASELINE: "CLI",
    KNOWN: "known",
    UNKNOWN: "unknown",
    S3_CHECKSUM: "S3 cksum",
    FLOOR_GET: "GET floor",
    FLOOR_HASH: "hashlib",
    FLOOR_PUBLISH: "publish floor",
}

#: Per-size metrics every run reports (the smoke test checks each is present).
REQUIRED_METRICS: Final = (
    "baseline_wall_s",
    "known_wall_s",
    "unknown_wall_s",
    "floor_get_wall_s",
    "floor_hashlib_wall_s",
    "floor_publish_wall_s",
    "known_vs_baseline",
    "unknown_vs_baseline",
    "known_vs_floor_get",
    "unknown_vs_floor_get",
    "known_vs_floor_publish",
    "known_vs_floor_get_hashlib",
    "known_rss_mib",
    "unknown_rss_mib",
    "known_s3_read_ratio",
    "unknown_s3_read_ratio",
    "baseline_s3_read_ratio",
    "known_tmp_bytes",
    "unknown_tmp_bytes",
    "known_cpu_s_per_gib",
    "unknown_cpu_s_per_gib",
    "hashlib_cpu_s_per_gib",
    "known_cpu_vs_hashlib",
    "unknown_cpu_vs_hashlib",
)
#: Metrics of issue 13's workloads (the smoke test checks each is present and measured).
REQUIRED_LOAD_METRICS: Final = (
    "baseline_wall_s",
    "known_wall_s",
    "floor_get_wall_s",
    "floor_hashlib_wall_s",
    "known_vs_baseline",
    "known_vs_floor_get_hashlib",
    "known_cpu_s",
    "competitor_cpu_s",
)
REQUIRED_PARALLEL_METRICS: Final = (
    "parallel_wall_s",
    "serial_wall_s",
    "parallel_vs_serial",
    "parallel",
    "serial",
    "parallel_peak_in_flight",
    "serial_peak_in_flight",
    "parallel_rss_mib",
    "serial_rss_mib",
    "parallel_rss_budget_mib",
    "serial_rss_budget_mib",
    "mib_per_asset_in_flight",
    "parallel_s3_read_ratio",
    "serial_s3_read_ratio",
)
REQUIRED_VERSIONS_METRICS: Final = (
    "parallel_deploy_s",
    "serial_deploy_s",
    "parallel_vs_serial",
    "parallel_throttled",
    "serial_throttled",
)
#: Synth metrics per stack size.
REQUIRED_SYNTH_METRICS: Final = ("lambda_functions", "synth_s", "process_wall_s", "template_bytes")

#: Thresholds of issue 5 (at 1 GiB).
KNOWN_VS_BASELINE_MAX: Final = 0.30
KNOWN_VS_GET_MAX: Final = 2.0
UNKNOWN_VS_BASELINE_MAX: Final = 0.45
RSS_MAX_MIB: Final = 100.0
RSS_FLAT_MIB: Final = 10.0
S3_READ_TOLERANCE: Final = 0.005
CPU_VS_HASHLIB_MAX: Final = 1.5
SYNTH_VERSIONS: Final = 100
#: Thresholds of issue 13 (known hash at 1 GiB, quiet and beside a competing process; a
#: version of 8 assets in parallel against one at a time on this 2-core machine).
SCALE_KNOWN_VS_BASELINE_MAX: Final = 0.25
SCALE_KNOWN_VS_GET_HASHLIB_MAX: Final = 1.15
SCALE_UNKNOWN_VS_BASELINE_MAX: Final = 0.40
PARALLEL_VS_SERIAL_MAX: Final = 0.6
#: The handler's memory budget (lambda/contract.py): the handler apart from assets in flight,
#: and each asset in flight.
HANDLER_BASE_MIB: Final = contract.HANDLER_BASE_MIB
ASSET_IN_FLIGHT_MIB: Final = contract.ASSET_IN_FLIGHT_MIB


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def _sum(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def summarize_size(samples: Sequence[Mapping[str, Any]], size: int) -> dict[str, Any]:
    """Medians per workload and the derived metrics for one object size (bytes)."""
    gib = size / GIB
    per_variant: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        runs = [s for s in samples if s["variant"] == variant and s["ok"]]
        if not runs:
            continue
        services: dict[str, float | None] = {}
        system: dict[str, float | None] = {}
        for name in sorted({n for r in runs for n in r["service_cpu_s"]}):
            services[name] = median(r["service_cpu_s"].get(name, 0.0) for r in runs)
            system[name] = median(r.get("service_sys_s", {}).get(name, 0.0) for r in runs)
        tmp = [r["tmp_peak_bytes"] for r in runs if r.get("tmp_peak_bytes") is not None]
        s3 = [r["s3_bytes_read"] for r in runs if r.get("s3_bytes_read") is not None]
        per_variant[variant] = {
            "runs": len(runs),
            "wall_s": median(r["wall_s"] for r in runs),
            "cpu_s": median(r["cpu_s"] for r in runs),
            "user_s": median(r["user_s"] for r in runs),
            "sys_s": median(r["sys_s"] for r in runs),
            "max_rss_mib": median(r["max_rss_mib"] for r in runs),
            "tmp_peak_bytes": max(tmp) if tmp else None,
            "s3_bytes_read": median(s3),
            "s3_read_ratio": _ratio(median(s3), size),
            "cpu_s_per_gib": (median(r["cpu_s"] for r in runs) or 0.0) / gib,
            "service_cpu_s": services,
            "service_sys_s": system,
            "paths": sorted({str(r["path"]) for r in runs if r.get("path")}),
        }

    def get(variant: str, key: str) -> Any:
        return per_variant.get(variant, {}).get(key)

    metrics: dict[str, Any] = {
        "baseline_wall_s": get(BASELINE, "wall_s"),
        "known_wall_s": get(KNOWN, "wall_s"),
        "unknown_wall_s": get(UNKNOWN, "wall_s"),
        "s3_checksum_wall_s": get(S3_CHECKSUM, "wall_s"),
        "floor_get_wall_s": get(FLOOR_GET, "wall_s"),
        "floor_hashlib_wall_s": get(FLOOR_HASH, "wall_s"),
        "floor_publish_wall_s": get(FLOOR_PUBLISH, "wall_s"),
        "known_vs_baseline": _ratio(get(KNOWN, "wall_s"), get(BASELINE, "wall_s")),
        "unknown_vs_baseline": _ratio(get(UNKNOWN, "wall_s"), get(BASELINE, "wall_s")),
        "s3_checksum_vs_baseline": _ratio(get(S3_CHECKSUM, "wall_s"), get(BASELINE, "wall_s")),
        "known_vs_floor_get": _ratio(get(KNOWN, "wall_s"), get(FLOOR_GET, "wall_s")),
        "unknown_vs_floor_get": _ratio(get(UNKNOWN, "wall_s"), get(FLOOR_GET, "wall_s")),
        # The handler overlaps the GET and the publish: the slower of the two bounds it.
        "known_vs_floor_publish": _ratio(get(KNOWN, "wall_s"), get(FLOOR_PUBLISH, "wall_s")),
        # Issue 13's floor: a plain GET plus a separate hashlib pass (two processes, summed).
        "known_vs_floor_get_hashlib": _ratio(
            get(KNOWN, "wall_s"), _sum(get(FLOOR_GET, "wall_s"), get(FLOOR_HASH, "wall_s"))
        ),
        "baseline_rss_mib": get(BASELINE, "max_rss_mib"),
        "known_rss_mib": get(KNOWN, "max_rss_mib"),
        "unknown_rss_mib": get(UNKNOWN, "max_rss_mib"),
        "s3_checksum_rss_mib": get(S3_CHECKSUM, "max_rss_mib"),
        "floor_get_rss_mib": get(FLOOR_GET, "max_rss_mib"),
        "baseline_s3_read_ratio": get(BASELINE, "s3_read_ratio"),
        "known_s3_read_ratio": get(KNOWN, "s3_read_ratio"),
        "unknown_s3_read_ratio": get(UNKNOWN, "s3_read_ratio"),
        "s3_checksum_s3_read_ratio": get(S3_CHECKSUM, "s3_read_ratio"),
        "floor_get_s3_read_ratio": get(FLOOR_GET, "s3_read_ratio"),
        "known_tmp_bytes": get(KNOWN, "tmp_peak_bytes"),
        "unknown_tmp_bytes": get(UNKNOWN, "tmp_peak_bytes"),
        "s3_checksum_tmp_bytes": get(S3_CHECKSUM, "tmp_peak_bytes"),
        "baseline_cpu_s_per_gib": get(BASELINE, "cpu_s_per_gib"),
        "known_cpu_s_per_gib": get(KNOWN, "cpu_s_per_gib"),
        "unknown_cpu_s_per_gib": get(UNKNOWN, "cpu_s_per_gib"),
        "s3_checksum_cpu_s_per_gib": get(S3_CHECKSUM, "cpu_s_per_gib"),
        "hashlib_cpu_s_per_gib": get(FLOOR_HASH, "cpu_s_per_gib"),
        "known_cpu_vs_hashlib": _ratio(
            get(KNOWN, "cpu_s_per_gib"), get(FLOOR_HASH, "cpu_s_per_gib")
        ),
        "unknown_cpu_vs_hashlib": _ratio(
            get(UNKNOWN, "cpu_s_per_gib"), get(FLOOR_HASH, "cpu_s_per_gib")
        ),
    }
    return {"size_bytes": size, "size_mib": size // MIB, "metrics": metrics, "runs": per_variant}


def summarize_startup(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The fixed cost of a handler process: interpreter start plus the handler's imports."""
    runs = [s for s in samples if s["variant"] == STARTUP and s["ok"]]
    return {
        "runs": len(runs),
        "wall_s": median(r["wall_s"] for r in runs),
        "cpu_s": median(r["cpu_s"] for r in runs),
        "max_rss_mib": median(r["max_rss_mib"] for r in runs),
    }


def summarize_synth(samples: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Medians per stack size of the synth runs."""
    rows = []
    for count in sorted({int(s["count"]) for s in samples}):
        runs = [s for s in samples if s["count"] == count and s["ok"]]
        rows.append(
            {
                "count": count,
                "runs": len(runs),
                "lambda_functions": max((r["lambda_functions"] for r in runs), default=None),
                "custom_resources": max((r["custom_resources"] for r in runs), default=None),
                "synth_s": median(r["construct_and_synth_s"] for r in runs),
                "process_wall_s": median(r["wall_s"] for r in runs),
                "process_max_rss_mib": median(r["max_rss_mib"] for r in runs),
                "template_bytes": median(r["template_bytes"] for r in runs),
            }
        )
    return rows


def _variant_medians(runs: Sequence[Mapping[str, Any]], competitor: bool) -> dict[str, Any]:
    found: dict[str, Any] = {
        "runs": len(runs),
        "wall_s": median(r["wall_s"] for r in runs),
        "cpu_s": median(r["cpu_s"] for r in runs),
        "max_rss_mib": median(r["max_rss_mib"] for r in runs),
    }
    if competitor:
        found["competitor_cpu_s"] = median(r["service_cpu_s"].get("competitor", 0.0) for r in runs)
    return found


def _load_metrics(walls: Mapping[str, float | None]) -> dict[str, float | None]:
    return {
        "baseline_wall_s": walls[BASELINE],
        "known_wall_s": walls[KNOWN],
        "floor_get_wall_s": walls[FLOOR_GET],
        "floor_hashlib_wall_s": walls[FLOOR_HASH],
        "known_vs_baseline": _ratio(walls[KNOWN], walls[BASELINE]),
        "known_vs_floor_get_hashlib": _ratio(
            walls[KNOWN], _sum(walls[FLOOR_GET], walls[FLOOR_HASH])
        ),
    }


def summarize_load(
    samples: Sequence[Mapping[str, Any]], sizes: Sequence[Mapping[str, Any]], size_mib: int
) -> dict[str, Any]:
    """The workloads run beside a competing CPU-bound process (medians), and the same
    figures without it (the size's own medians, same run)."""
    runs = {
        variant: _variant_medians(
            [s for s in samples if s["variant"] == variant and s["ok"]], competitor=True
        )
        for variant in LOAD_VARIANTS
    }
    loaded = _load_metrics({v: runs[v]["wall_s"] for v in LOAD_VARIANTS})
    loaded["known_cpu_s"] = runs[KNOWN]["cpu_s"]
    loaded["competitor_cpu_s"] = runs[KNOWN]["competitor_cpu_s"]
    # How much of a core the competitor took while the handler ran.
    loaded["competitor_cores"] = _ratio(runs[KNOWN]["competitor_cpu_s"], runs[KNOWN]["wall_s"])
    quiet_runs: Mapping[str, Any] = next(
        (s["runs"] for s in sizes if s["size_mib"] == size_mib), {}
    )
    quiet = _load_metrics({v: quiet_runs.get(v, {}).get("wall_s") for v in LOAD_VARIANTS})
    quiet["known_cpu_s"] = quiet_runs.get(KNOWN, {}).get("cpu_s")
    return {
        "size_mib": size_mib,
        "competitor": "one process spinning hashlib.sha256 over a 1 MiB buffer on one thread, "
        "started (and spinning) before each workload process and killed after it",
        "quiet": quiet,
        "loaded": loaded,
        "runs": runs,
        "samples": list(samples),
    }


def summarize_asset_set(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One version of N assets, in parallel and one at a time: medians of the wall time, the
    highest peak RSS and assets in flight seen over the runs, and the memory budget."""
    modes: dict[str, dict[str, Any]] = {}
    for mode in (PARALLEL, SERIAL):
        runs = [s for s in samples if s["variant"] == mode and s["ok"]]
        size = (runs[0]["size_mib"] * MIB) if runs else None
        s3 = [r["s3_bytes_read"] for r in runs if r.get("s3_bytes_read") is not None]
        width = runs[0]["parallel"] if runs else None
        modes[mode] = {
            "runs": len(runs),
            "wall_s": median(r["wall_s"] for r in runs),
            "cpu_s": median(r["cpu_s"] for r in runs),
            "max_rss_mib": max((r["max_rss_mib"] for r in runs), default=None),
            "memory_mb": runs[0]["memory_mb"] if runs else None,
            "parallel": width,
            "peak_in_flight": max((r["peak_in_flight"] for r in runs), default=None),
            "final_last": bool(runs) and all(r["final_last"] for r in runs),
            "s3_read_ratio": _ratio(median(s3), size),
            "rss_budget_mib": None
            if width is None
            else HANDLER_BASE_MIB + width * ASSET_IN_FLIGHT_MIB,
        }
    par, ser = modes[PARALLEL], modes[SERIAL]
    per_asset = None
    known = None not in (par["max_rss_mib"], ser["max_rss_mib"], par["parallel"], ser["parallel"])
    if known and par["parallel"] != ser["parallel"]:
        per_asset = (par["max_rss_mib"] - ser["max_rss_mib"]) / (par["parallel"] - ser["parallel"])
    first = next(iter(samples), {})
    metrics = {
        "parallel_wall_s": par["wall_s"],
        "serial_wall_s": ser["wall_s"],
        "parallel_vs_serial": _ratio(par["wall_s"], ser["wall_s"]),
        "parallel": par["parallel"],
        "serial": ser["parallel"],
        "parallel_peak_in_flight": par["peak_in_flight"],
        "serial_peak_in_flight": ser["peak_in_flight"],
        "parallel_rss_mib": par["max_rss_mib"],
        "serial_rss_mib": ser["max_rss_mib"],
        "parallel_rss_budget_mib": par["rss_budget_mib"],
        "serial_rss_budget_mib": ser["rss_budget_mib"],
        # What one more asset in flight costs: the RSS difference over the difference in width.
        "mib_per_asset_in_flight": per_asset,
        "parallel_s3_read_ratio": par["s3_read_ratio"],
        "serial_s3_read_ratio": ser["s3_read_ratio"],
        "final_last": par["final_last"] and ser["final_last"],
    }
    return {
        "assets": first.get("assets"),
        "asset_mib": first.get("asset_mib"),
        "metrics": metrics,
        "runs": modes,
        "samples": list(samples),
    }


def summarize_versions(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Deployments of a stack of many versions, with the engine's parallelism and one at a
    time: median deploy wall time and throttled publishes per width."""
    widths = sorted({int(s["max_parallel"]) for s in samples}, reverse=True)
    runs: dict[str, dict[str, Any]] = {}
    for width in widths:
        mine = [s for s in samples if s["max_parallel"] == width]
        done = [s for s in mine if s["ok"]]
        runs[str(width)] = {
            "runs": len(mine),
            "completed": len(done),
            "deploy_s": median(s["deploy_s"] for s in done),
            "process_wall_s": median(s["process_wall_s"] for s in done),
            "throttled": median(s["throttled"] for s in done),
            "throttled_each": [s["throttled"] for s in mine],
        }
    wide = runs[str(widths[0])] if widths else {}
    narrow = runs[str(widths[-1])] if widths else {}
    first = next(iter(samples), {})
    metrics = {
        "max_parallel": widths[0] if widths else None,
        "parallel_deploy_s": wide.get("deploy_s"),
        "serial_deploy_s": narrow.get("deploy_s"),
        "parallel_vs_serial": _ratio(wide.get("deploy_s"), narrow.get("deploy_s")),
        "parallel_throttled": wide.get("throttled"),
        "serial_throttled": narrow.get("throttled"),
        "all_completed": bool(samples) and all(s["ok"] for s in samples),
    }
    return {
        "count": first.get("count"),
        "rate_per_s": first.get("rate_per_s"),
        "burst": first.get("burst"),
        "metrics": metrics,
        "runs": runs,
        "samples": list(samples),
    }


def _fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def _upper(
    target: str, value: float | None, limit: float, spec: str = ".2f", suffix: str = "×"
) -> Verdict:
    if value is None:
        return Verdict(target, "not measured", None)
    return Verdict(target, f"{value:{spec}}{suffix} (limit {limit:{spec}}{suffix})", value <= limit)


def _headline(sizes: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], str]:
    """The size the targets are judged at (1 GiB, or the largest run) and its wording."""
    at = next((s for s in sizes if s["size_mib"] == 1024), sizes[-1])
    return at, f"at {at['size_mib']} MiB"


def evaluate(
    sizes: Sequence[Mapping[str, Any]], synth: Sequence[Mapping[str, Any]]
) -> list[Verdict]:
    """PASS/MISS of each target of issue 5 (the ratios at 1 GiB, or the largest size run)."""
    verdicts: list[Verdict] = []
    if sizes:
        at, where = _headline(sizes)
        m = at["metrics"]
        verdicts += [
            _upper(
                f"known hash wall ≤ {KNOWN_VS_BASELINE_MAX}× baseline ({where})",
                m["known_vs_baseline"],
                KNOWN_VS_BASELINE_MAX,
            ),
            _upper(
                f"known hash wall ≤ {KNOWN_VS_GET_MAX:g}× S3 GET floor ({where})",
                m["known_vs_floor_get"],
                KNOWN_VS_GET_MAX,
            ),
            _upper(
                f"unknown hash wall ≤ {UNKNOWN_VS_BASELINE_MAX}× baseline ({where})",
                m["unknown_vs_baseline"],
                UNKNOWN_VS_BASELINE_MAX,
            ),
        ]
        for key, label in (("known_rss_mib", "known"), ("unknown_rss_mib", "unknown")):
            values = [s["metrics"][key] for s in sizes if s["metrics"][key] is not None]
            shown = ", ".join(f"{s['size_mib']}: {_fmt(s['metrics'][key], '.1f')}" for s in sizes)
            verdicts.append(
                Verdict(
                    f"handler peak RSS ≤ {RSS_MAX_MIB:g} MiB at every size ({label} hash)",
                    f"{shown} MiB",
                    bool(values) and max(values) <= RSS_MAX_MIB,
                )
            )
            flat = [
                s["metrics"][key]
                for s in sizes
                if 64 <= s["size_mib"] <= 1024 and s["metrics"][key] is not None
            ]
            if len(flat) >= 2:
                spread = max(flat) - min(flat)
                verdicts.append(
                    Verdict(
                        f"RSS flat 64 MiB → 1 GiB within {RSS_FLAT_MIB:g} MiB ({label} hash)",
                        f"spread {spread:.1f} MiB",
                        spread <= RSS_FLAT_MIB,
                    )
                )
            else:
                verdicts.append(
                    Verdict(
                        f"RSS flat 64 MiB → 1 GiB within {RSS_FLAT_MIB:g} MiB ({label} hash)",
                        "needs two sizes in 64..1024 MiB",
                        None,
                    )
                )
        for key, label in (("known_s3_read_ratio", "known"), ("unknown_s3_read_ratio", "unknown")):
            ratios = [s["metrics"][key] for s in sizes if s["metrics"][key] is not None]
            verdicts.append(
                Verdict(
                    f"S3 bytes read = 1.0× object size ({label} hash, every size)",
                    ", ".join(f"{r:.4f}×" for r in ratios) or "not measured",
                    bool(ratios) and all(abs(r - 1.0) <= S3_READ_TOLERANCE for r in ratios),
                )
            )
        tmp = [s["metrics"]["known_tmp_bytes"] for s in sizes]
        verdicts.append(
            Verdict(
                "/tmp use 0 on the known-hash path (every size)",  # noqa: S108 - a label
                ", ".join(f"{t} B" for t in tmp),
                all(t == 0 for t in tmp),
            )
        )
        verdicts.append(
            _upper(
                f"handler CPU per GiB ≤ {CPU_VS_HASHLIB_MAX}× raw hashlib (known hash, {where})",
                m["known_cpu_vs_hashlib"],
                CPU_VS_HASHLIB_MAX,
            )
        )
    verdicts += _synth_verdicts(synth)
    return verdicts


def _synth_verdicts(synth: Sequence[Mapping[str, Any]]) -> list[Verdict]:
    if not synth:
        return []
    largest = synth[-1]
    verdicts = [
        Verdict(
            f"{largest['count']} versions in one stack → exactly 1 handler function",
            f"{largest['lambda_functions']} function(s)",
            largest["lambda_functions"] == 1,
        )
    ]
    if len(synth) >= 3 and all(r["synth_s"] is not None for r in synth):
        first, middle, last = synth[0], synth[-2], synth[-1]
        early = (middle["synth_s"] - first["synth_s"]) / max(middle["count"] - first["count"], 1)
        late = (last["synth_s"] - middle["synth_s"]) / max(last["count"] - middle["count"], 1)
        # Linear: the per-version cost of the large step is not more than twice that of the
        # small step (the small step is noisy, so 20 ms per version is always accepted).
        verdicts.append(
            Verdict(
                "synth time grows linearly with the number of versions",
                f"{early * 1000:.0f} ms/version ({first['count']}→{middle['count']}), "
                f"{late * 1000:.0f} ms/version ({middle['count']}→{last['count']})",
                late <= max(2 * early, 0.02),
            )
        )
    return verdicts


def evaluate_scale(
    sizes: Sequence[Mapping[str, Any]],
    loaded: Mapping[str, Any] | None,
    parallel: Mapping[str, Any] | None,
    many: Mapping[str, Any] | None,
    long: Mapping[str, Any] | None = None,
) -> list[Verdict]:
    """PASS/MISS of each target of issue 13 this benchmark measures."""
    verdicts: list[Verdict] = []
    if sizes:
        at, where = _headline(sizes)
        m = at["metrics"]
        verdicts += [
            _upper(
                f"known hash wall ≤ {SCALE_KNOWN_VS_BASELINE_MAX}× CLI ({where}, quiet)",
                m["known_vs_baseline"],
                SCALE_KNOWN_VS_BASELINE_MAX,
            ),
            _upper(
                f"known hash wall ≤ {SCALE_KNOWN_VS_GET_HASHLIB_MAX}× GET + hashlib "
                f"({where}, quiet)",
                m["known_vs_floor_get_hashlib"],
                SCALE_KNOWN_VS_GET_HASHLIB_MAX,
            ),
            _upper(
                f"unknown hash wall ≤ {SCALE_UNKNOWN_VS_BASELINE_MAX}× CLI ({where})",
                m["unknown_vs_baseline"],
                SCALE_UNKNOWN_VS_BASELINE_MAX,
            ),
        ]
    if loaded is not None:
        where = f"at {loaded['size_mib']} MiB, competing CPU"
        m = loaded["loaded"]
        verdicts += [
            _upper(
                f"known hash wall ≤ {SCALE_KNOWN_VS_BASELINE_MAX}× CLI ({where})",
                m["known_vs_baseline"],
                SCALE_KNOWN_VS_BASELINE_MAX,
            ),
            _upper(
                f"known hash wall ≤ {SCALE_KNOWN_VS_GET_HASHLIB_MAX}× GET + hashlib ({where})",
                m["known_vs_floor_get_hashlib"],
                SCALE_KNOWN_VS_GET_HASHLIB_MAX,
            ),
        ]
    if parallel is not None:
        m = parallel["metrics"]
        shape = f"{parallel['assets']} × {parallel['asset_mib']} MiB"
        verdicts.append(
            _upper(
                f"version of {shape}: parallel wall ≤ {PARALLEL_VS_SERIAL_MAX}× one at a time",
                m["parallel_vs_serial"],
                PARALLEL_VS_SERIAL_MAX,
            )
        )
        seen = (m["parallel_peak_in_flight"], m["serial_peak_in_flight"])
        verdicts.append(
            Verdict(
                f"version of {shape}: assets in flight as configured (parallel / one at a time)",
                f"seen {_fmt_int(seen[0])} / {_fmt_int(seen[1])}, configured "
                f"{_fmt_int(m['parallel'])} / {_fmt_int(m['serial'])}",
                None if None in seen else seen == (m["parallel"], m["serial"]),
            )
        )
        rss = (m["parallel_rss_mib"], m["serial_rss_mib"])
        budget = (m["parallel_rss_budget_mib"], m["serial_rss_budget_mib"])
        verdicts.append(
            Verdict(
                f"version of {shape}: handler peak RSS within {HANDLER_BASE_MIB} + "
                f"{ASSET_IN_FLIGHT_MIB} MiB per asset in flight (parallel / one at a time)",
                f"{_fmt(rss[0], '.0f')} / {_fmt(rss[1], '.0f')} MiB (budget "
                f"{_fmt(budget[0], '.0f')} / {_fmt(budget[1], '.0f')} MiB)",
                None
                if None in rss or None in budget
                else all(r <= b for r, b in zip(rss, budget, strict=True)),
            )
        )
        reads = [m["parallel_s3_read_ratio"], m["serial_s3_read_ratio"]]
        verdicts.append(
            Verdict(
                f"version of {shape}: each asset read from S3 once (parallel / one at a time)",
                " / ".join(_fmt(r, ".4f", "×") for r in reads),
                None
                if None in reads
                else all(abs(r - 1.0) <= S3_READ_TOLERANCE for r in reads if r is not None),
            )
        )
        verdicts.append(
            Verdict(
                f"version of {shape}: the final asset published after all others (every run)",
                "yes" if m["final_last"] else "no",
                bool(m["final_last"]),
            )
        )
    if many is not None:
        m = many["metrics"]
        runs = many["runs"]
        verdicts.append(
            Verdict(
                f"{many['count']} versions under {many['rate_per_s']:g} publishes/s: every "
                "deployment complete, each asset published once",
                ", ".join(
                    f"max_parallel={width}: {r['completed']}/{r['runs']}"
                    for width, r in runs.items()
                ),
                bool(m["all_completed"]),
            )
        )
    verdicts += long_report.verdicts(long)
    return verdicts


def _fmt_int(value: int | float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _wall_table(console: Console, results: Mapping[str, Any]) -> None:
    """Wall times and ratios per size."""
    sizes = results["sizes"]
    walls = Table(
        title="Wall time per asset (median seconds, whole processes)",
        caption="CLI = aws s3api get-object + sha256sum + aws codeartifact publish-package-version",
    )
    walls.add_column("size", justify="right")
    for variant in VARIANTS:
        walls.add_column(SHORT[variant], justify="right")
    walls.add_column("known / baseline", justify="right")
    walls.add_column("unknown / baseline", justify="right")
    walls.add_column("known / GET", justify="right")
    walls.add_column("unknown / GET", justify="right")
    walls.add_column("known / publish", justify="right")
    for size in sizes:
        m, runs = size["metrics"], size["runs"]
        walls.add_row(
            f"{size['size_mib']} MiB",
            *[_fmt(runs.get(v, {}).get("wall_s")) for v in VARIANTS],
            _fmt(m["known_vs_baseline"], ".2f", "×"),
            _fmt(m["unknown_vs_baseline"], ".2f", "×"),
            _fmt(m["known_vs_floor_get"], ".2f", "×"),
            _fmt(m["unknown_vs_floor_get"], ".2f", "×"),
            _fmt(m["known_vs_floor_publish"], ".2f", "×"),
        )
    console.print(walls)


def _resource_table(console: Console, results: Mapping[str, Any]) -> None:
    """Handler RSS, S3 bytes, /tmp and CPU per size."""
    sizes = results["sizes"]
    resources = Table(title="Handler resources (known / unknown / S3-checksum paths)")
    resources.add_column("size", justify="right")
    resources.add_column("peak RSS MiB", justify="right")
    resources.add_column("S3 read ÷ size", justify="right")
    resources.add_column("/tmp bytes", justify="right")  # noqa: S108 - a label
    resources.add_column("CPU s/GiB", justify="right")
    resources.add_column("CPU ÷ hashlib", justify="right")
    resources.add_column("hashlib CPU s/GiB", justify="right")
    resources.add_column("baseline RSS / CPU s/GiB", justify="right")
    for size in sizes:
        m = size["metrics"]
        resources.add_row(
            f"{size['size_mib']} MiB",
            " / ".join(
                _fmt(m[k], ".1f")
                for k in ("known_rss_mib", "unknown_rss_mib", "s3_checksum_rss_mib")
            ),
            " / ".join(
                _fmt(m[k], ".4f")
                for k in (
                    "known_s3_read_ratio",
                    "unknown_s3_read_ratio",
                    "s3_checksum_s3_read_ratio",
                )
            ),
            " / ".join(
                "—" if m[k] is None else str(m[k])
                for k in ("known_tmp_bytes", "unknown_tmp_bytes", "s3_checksum_tmp_bytes")
            ),
            " / ".join(
                _fmt(m[k])
                for k in (
                    "known_cpu_s_per_gib",
                    "unknown_cpu_s_per_gib",
                    "s3_checksum_cpu_s_per_gib",
                )
            ),
            " / ".join(
                _fmt(m[k], ".2f", "×") for k in ("known_cpu_vs_hashlib", "unknown_cpu_vs_hashlib")
            ),
            _fmt(m["hashlib_cpu_s_per_gib"]),
            f"{_fmt(m['baseline_rss_mib'], '.0f')} / {_fmt(m['baseline_cpu_s_per_gib'])}",
        )
    console.print(resources)


def _where_table(console: Console, results: Mapping[str, Any]) -> None:
    """CPU of the workload and of each service at the largest size."""
    sizes = results["sizes"]
    if sizes:
        at = next((s for s in sizes if s["size_mib"] == 1024), sizes[-1])
        where = Table(
            title=f"Where the time goes at {at['size_mib']} MiB (median CPU seconds per run)",
            caption="emulator/moto/proxy: CPU those services spent while the workload ran",
        )
        for column in ("workload", "wall s", "process user", "process sys"):
            where.add_column(column, justify="right" if column != "workload" else "left")
        services = sorted({n for r in at["runs"].values() for n in r["service_cpu_s"]})
        for name in services:
            where.add_column(f"{name} (sys)", justify="right")
        for variant in VARIANTS:
            run = at["runs"].get(variant)
            if run is None:
                continue
            where.add_row(
                LABELS[variant],
                _fmt(run["wall_s"]),
                _fmt(run["user_s"]),
                _fmt(run["sys_s"]),
                *[
                    f"{_fmt(run['service_cpu_s'].get(n))} ({_fmt(run['service_sys_s'].get(n))})"
                    for n in services
                ],
            )
        console.print(where)


def _profile_tables(console: Console, results: Mapping[str, Any]) -> None:
    """The py-spy summaries of --profile."""
    for variant, profile in (results.get("profile") or {}).items():
        table = Table(
            title=(
                f"py-spy: {LABELS.get(variant, variant)} at {profile['size_mib']} MiB "
                f"({profile['wall_s']:.2f} s; handler: wall-clock shares incl. idle; "
                "services: on-CPU samples)"
            )
        )
        for column in ("process", "thread (share of samples)", "leaf frame", "share of thread"):
            table.add_column(column, justify="right" if column.startswith("share") else "left")
        for process, summary in profile["processes"].items():
            for thread, found in list(summary["threads"].items())[:4]:
                label = f"{thread} ({100 * found['share_of_process']:.0f}%)"
                for entry in found["top"][:4]:
                    table.add_row(process, label, entry["frame"], f"{100 * entry['share']:.0f}%")
        console.print(table)

    startup = results.get("handler_startup") or {}
    console.print(
        f"Handler process fixed cost (start + imports, no event): "
        f"{_fmt(startup.get('wall_s'))} s wall, {_fmt(startup.get('cpu_s'))} s CPU, "
        f"{_fmt(startup.get('max_rss_mib'), '.1f')} MiB RSS"
    )


def _synth_table(console: Console, results: Mapping[str, Any]) -> None:
    """Synth scaling."""
    if results.get("synth"):
        synth = Table(title="Synth scaling (one stack, N GenericPackageVersions)")
        for column in ("versions", "Lambda functions", "synth s", "process s", "template bytes"):
            synth.add_column(column, justify="right")
        for row in results["synth"]:
            synth.add_row(
                str(row["count"]),
                str(row["lambda_functions"]),
                _fmt(row["synth_s"]),
                _fmt(row["process_wall_s"]),
                _fmt(row["template_bytes"], ".0f"),
            )
        console.print(synth)


def _targets_table(console: Console, results: Mapping[str, Any]) -> None:
    """PASS/MISS per target."""
    targets = Table(title="Targets of issue 5")
    targets.add_column("target")
    targets.add_column("measured")
    targets.add_column("verdict")
    for verdict in results["targets"]:
        style = {"PASS": "green", "MISS": "red"}.get(verdict["verdict"], "yellow")
        targets.add_row(
            verdict["target"], verdict["measured"], f"[{style}]{verdict['verdict']}[/{style}]"
        )
    console.print(targets)


def _scale_tables(console: Console, results: Mapping[str, Any]) -> None:
    """Issue 13: competing CPU, a version's assets in parallel, many versions, a version
    longer than one invocation, the targets."""
    loaded = results.get("competing_cpu")
    if loaded:
        table = Table(
            title=f"Beside a competing CPU-bound process ({loaded['size_mib']} MiB, median s)",
            caption=loaded["competitor"],
        )
        for column in (
            "",
            "CLI",
            "known",
            "GET",
            "hashlib",
            "known / CLI",
            "known / (GET + hashlib)",
            "competitor cores",
        ):
            table.add_column(column, justify="right")
        for name in ("quiet", "loaded"):
            m = loaded[name]
            table.add_row(
                name,
                _fmt(m["baseline_wall_s"]),
                _fmt(m["known_wall_s"]),
                _fmt(m["floor_get_wall_s"]),
                _fmt(m["floor_hashlib_wall_s"]),
                _fmt(m["known_vs_baseline"], ".2f", "×"),
                _fmt(m["known_vs_floor_get_hashlib"], ".2f", "×"),
                _fmt(m.get("competitor_cores")),
            )
        console.print(table)
    parallel = results.get("parallel_assets")
    if parallel:
        m = parallel["metrics"]
        table = Table(
            title=f"One version of {parallel['assets']} × {parallel['asset_mib']} MiB "
            "(known SHA256), the same handler",
            caption=f"MiB per asset in flight (RSS difference / width difference): "
            f"{_fmt(m['mib_per_asset_in_flight'], '.1f')} (budget {ASSET_IN_FLIGHT_MIB})",
        )
        for column in (
            "mode",
            "memory MB",
            "in flight (configured / seen)",
            "wall s",
            "vs one at a time",
            "peak RSS MiB",
            "RSS budget MiB",
            "S3 read ÷ size",
        ):
            table.add_column(column, justify="right")
        for mode, label in ((SERIAL, "one at a time"), (PARALLEL, "parallel")):
            run = parallel["runs"][mode]
            table.add_row(
                label,
                _fmt_int(run["memory_mb"]),
                f"{_fmt_int(run['parallel'])} / {_fmt_int(run['peak_in_flight'])}",
                _fmt(run["wall_s"]),
                _fmt(_ratio(run["wall_s"], parallel["runs"][SERIAL]["wall_s"]), ".2f", "×"),
                _fmt(run["max_rss_mib"], ".1f"),
                _fmt_int(run["rss_budget_mib"]),
                _fmt(run["s3_read_ratio"], ".4f"),
            )
        console.print(table)
    many = results.get("many_versions")
    if many:
        table = Table(
            title=f"{many['count']} versions in one stack, quota {many['rate_per_s']:g} "
            f"publishes/s (bucket {many['burst']:g})",
        )
        for column in ("max_parallel", "completed", "deploy s", "vs one at a time", "throttled"):
            table.add_column(column, justify="right")
        serial = many["metrics"]["serial_deploy_s"]
        for width, run in many["runs"].items():
            table.add_row(
                width,
                f"{run['completed']}/{run['runs']}",
                _fmt(run["deploy_s"]),
                _fmt(_ratio(run["deploy_s"], serial), ".2f", "×"),
                ", ".join(str(t) for t in run["throttled_each"]),
            )
        console.print(table)
    long_report.print_table(console, results.get("long_version"))
    if results.get("scale_targets"):
        targets = Table(title="Targets of issue 13")
        for column in ("target", "measured", "verdict"):
            targets.add_column(column)
        for verdict in results["scale_targets"]:
            style = {"PASS": "green", "MISS": "red"}.get(verdict["verdict"], "yellow")
            targets.add_row(
                verdict["target"], verdict["measured"], f"[{style}]{verdict['verdict']}[/{style}]"
            )
        console.print(targets)


def print_tables(console: Console, results: Mapping[str, Any]) -> None:
    """The run's tables: wall times and ratios, resources, profiles, synth scaling, targets."""
    for table in (
        _wall_table,
        _resource_table,
        _where_table,
        _profile_tables,
        _synth_table,
        _targets_table,
        _scale_tables,
    ):
        table(console, results)


def write_chart(results: Mapping[str, Any], path: Path) -> None:
    """A 5×2 PNG: wall times, peak RSS, CPU per GiB, synth scaling; then issue 13: a
    version's assets in parallel (wall, RSS against the budget), the known-hash path beside a
    competing CPU-bound process, a stack of many versions deployed under the quota, and the
    invocations of a version longer than one."""
    import matplotlib  # noqa: PLC0415 - only needed for the chart

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sizes = results["sizes"]
    labels = [f"{s['size_mib']} MiB" for s in sizes]
    fig, axes = plt.subplots(5, 2, figsize=(14, 25))
    width = 0.8 / len(VARIANTS)

    def bars(ax: Any, key: str, variants: Sequence[str], title: str, unit: str) -> None:
        for index, variant in enumerate(variants):
            values = [s["runs"].get(variant, {}).get(key) or 0.0 for s in sizes]
            positions = [i + (index - len(variants) / 2 + 0.5) * width for i in range(len(sizes))]
            ax.bar(positions, values, width, label=LABELS[variant], color=_COLORS[variant])
        ax.set_xticks(range(len(sizes)), labels)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.legend(fontsize=8)

    bars(axes[0][0], "wall_s", VARIANTS, "Wall time per asset (median)", "seconds")
    axes[0][0].set_yscale("log")
    bars(axes[0][1], "max_rss_mib", VARIANTS, "Peak RSS of the process", "MiB")
    axes[0][1].axhline(
        RSS_MAX_MIB, color="red", linestyle="--", linewidth=1, label="handler target"
    )
    bars(
        axes[1][0],
        "cpu_s_per_gib",
        VARIANTS,
        "CPU (user+sys) per GiB of the process",
        "CPU seconds / GiB",
    )
    synth = results.get("synth") or []
    ax = axes[1][1]
    if synth:
        counts = [r["count"] for r in synth]
        ax.plot(counts, [r["synth_s"] or 0 for r in synth], marker="o", label="construct + synth s")
        ax.plot(
            counts, [r["process_wall_s"] or 0 for r in synth], marker="o", label="whole process s"
        )
        ax.set_xlabel("GenericPackageVersions in the stack")
        ax.set_ylabel("seconds")
        twin = ax.twinx()
        twin.plot(
            counts,
            [(r["template_bytes"] or 0) / 1024 for r in synth],
            marker="s",
            color="gray",
            label="template KiB",
        )
        twin.set_ylabel("template KiB")
        ax.legend(loc="upper left", fontsize=8)
        twin.legend(loc="lower right", fontsize=8)
    ax.set_title("Synth scaling (1 handler function per stack)")
    _chart_parallel(axes[2][0], axes[2][1], results.get("parallel_assets"))
    _chart_load(axes[3][0], results.get("competing_cpu"))
    _chart_versions(axes[3][1], results.get("many_versions"))
    long_report.chart(axes[4][0], results.get("long_version"))
    axes[4][1].set_axis_off()
    fig.suptitle("cdk-codeartifact-generic data path vs AWS CLI v1 (moto + emulator, 127.0.0.1)")
    fig.tight_layout(rect=(0, 0, 1, 0.98))  # room for the suptitle
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _chart_parallel(wall_ax: Any, rss_ax: Any, parallel: Mapping[str, Any] | None) -> None:
    if not parallel:
        wall_ax.set_axis_off()
        rss_ax.set_axis_off()
        return
    runs = parallel["runs"]
    modes = (SERIAL, PARALLEL)
    labels = [
        f"{'one at a time' if mode == SERIAL else 'parallel'}\n"
        f"({_fmt_int(runs[mode]['memory_mb'])} MB, {_fmt_int(runs[mode]['parallel'])} in flight)"
        for mode in modes
    ]
    shape = f"{parallel['assets']} × {parallel['asset_mib']} MiB"
    walls = [runs[mode]["wall_s"] or 0.0 for mode in modes]
    bars = wall_ax.bar(labels, walls, color=["C7", "C1"])
    ratio = parallel["metrics"]["parallel_vs_serial"]
    annotate_bars(wall_ax, bars, [f"{walls[0]:.2f} s", f"{walls[1]:.2f} s ({_fmt(ratio)}×)"])
    wall_ax.axhline(
        walls[0] * PARALLEL_VS_SERIAL_MAX,
        color="red",
        linestyle="--",
        linewidth=1,
        label=f"target {PARALLEL_VS_SERIAL_MAX}× one at a time",
    )
    wall_ax.set_title(f"One version of {shape} (known SHA256): wall, median")
    wall_ax.set_ylabel("seconds")
    wall_ax.legend(fontsize=8)
    rss = [runs[mode]["max_rss_mib"] or 0.0 for mode in modes]
    budget = [runs[mode]["rss_budget_mib"] or 0.0 for mode in modes]
    positions = range(len(modes))
    rss_bars = rss_ax.bar([p - 0.2 for p in positions], rss, 0.4, label="peak RSS", color="C1")
    rss_ax.bar([p + 0.2 for p in positions], budget, 0.4, label="budget", color="C7", alpha=0.5)
    annotate_bars(rss_ax, rss_bars, [f"{r:.0f} MiB" for r in rss])
    rss_ax.set_xticks(list(positions), labels)
    per_asset = parallel["metrics"]["mib_per_asset_in_flight"]
    rss_ax.set_title(
        f"Handler peak RSS vs the budget: {HANDLER_BASE_MIB} + {ASSET_IN_FLIGHT_MIB} MiB per "
        f"asset in flight\n(measured: {_fmt(per_asset, '.1f')} MiB per asset in flight)"
    )
    rss_ax.set_ylabel("MiB")
    rss_ax.legend(fontsize=8)


def _chart_load(ax: Any, loaded: Mapping[str, Any] | None) -> None:
    if not loaded:
        ax.set_axis_off()
        return
    keys = (
        ("baseline_wall_s", "CLI"),
        ("known_wall_s", "ours, known"),
        ("floor_get_wall_s", "GET floor"),
        ("floor_hashlib_wall_s", "hashlib floor"),
    )
    positions = range(len(keys))
    for offset, name, color in ((-0.2, "quiet", "C0"), (0.2, "loaded", "C3")):
        m = loaded[name]
        label = "quiet" if name == "quiet" else "one core busy (competing process)"
        bars = ax.bar(
            [p + offset for p in positions],
            [m[key] or 0.0 for key, _ in keys],
            0.4,
            label=label,
            color=color,
        )
        annotate_bars(ax, bars, [_fmt(m[key]) for key, _ in keys])
    ax.set_xticks(list(positions), [label for _, label in keys])
    q, lo = loaded["quiet"], loaded["loaded"]
    ax.set_title(
        f"{loaded['size_mib']} MiB, known SHA256, quiet and beside a competing process\n"
        f"ours / CLI {_fmt(q['known_vs_baseline'])}× quiet, {_fmt(lo['known_vs_baseline'])}× "
        f"loaded; ours / (GET + hashlib) {_fmt(q['known_vs_floor_get_hashlib'])}× / "
        f"{_fmt(lo['known_vs_floor_get_hashlib'])}×"
    )
    ax.set_ylabel("seconds (median)")
    ax.legend(fontsize=8)


def _chart_versions(ax: Any, many: Mapping[str, Any] | None) -> None:
    if not many:
        ax.set_axis_off()
        return
    widths = sorted(many["runs"], key=int)
    runs = [many["runs"][w] for w in widths]
    bars = ax.bar(
        [f"max_parallel={w}" for w in widths],
        [r["deploy_s"] or 0.0 for r in runs],
        color=["C7" if w == "1" else "C2" for w in widths],
    )
    annotate_bars(
        ax,
        bars,
        [f"{_fmt(r['deploy_s'], '.1f')} s, {_fmt_int(r['throttled'])} throttled" for r in runs],
    )
    ax.set_title(
        f"{many['count']} versions in one stack, quota {many['rate_per_s']:g} publishes/s "
        f"(bucket {many['burst']:g})\ndeploy wall (median) and throttled publishes absorbed"
    )
    ax.set_ylabel("seconds")


def markdown(results: Mapping[str, Any]) -> str:
    """A short Markdown summary (for the README): ratios and resources per size, verdicts."""
    meta = results["meta"]
    lines = [
        "| asset | CLI v1 baseline | ours, known SHA256 | ours, unknown SHA256 "
        "| S3 GET floor | publish floor | handler peak RSS | S3 read | /tmp (known / unknown) "
        "| handler CPU ÷ hashlib |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        m = size["metrics"]
        tmp_known = m["known_tmp_bytes"]
        tmp_unknown = m["unknown_tmp_bytes"]
        lines.append(
            f"| {size['size_mib']} MiB "
            f"| {_fmt(m['baseline_wall_s'], '.2f', ' s')} "
            f"| {_fmt(m['known_wall_s'], '.2f', ' s')} "
            f"({_fmt(m['known_vs_baseline'], '.2f', '×')}) "
            f"| {_fmt(m['unknown_wall_s'], '.2f', ' s')} "
            f"({_fmt(m['unknown_vs_baseline'], '.2f', '×')}) "
            f"| {_fmt(m['floor_get_wall_s'], '.2f', ' s')} "
            f"| {_fmt(m['floor_publish_wall_s'], '.2f', ' s')} "
            f"| {_fmt(m['known_rss_mib'], '.0f')} / {_fmt(m['unknown_rss_mib'], '.0f')} MiB "
            f"| {_fmt(m['known_s3_read_ratio'], '.2f', '×')} "
            f"| {'—' if tmp_known is None else _bytes(tmp_known)} / "
            f"{'—' if tmp_unknown is None else _bytes(tmp_unknown)} "
            f"| {_fmt(m['known_cpu_vs_hashlib'], '.1f', '×')} |"
        )
    synth = results.get("synth") or []
    if synth:
        lines += [
            "",
            "| versions in one stack | Lambda functions | synth s | template |",
            "|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['count']} | {r['lambda_functions']} | {_fmt(r['synth_s'])} "
            f"| {_bytes(int(r['template_bytes'] or 0))} |"
            for r in synth
        ]
    lines += [
        "",
        f"Medians of {meta['repeat']} interleaved runs, each workload a whole process, on "
        f"{meta['cpus']} CPUs ({meta['machine']}, Python {meta['python']}); moto and the "
        "CodeArtifact emulator on 127.0.0.1. "
        + _ingest_sentence(results)
        + f"Targets of issue 5: {sum(t['verdict'] == 'PASS' for t in results['targets'])} PASS"
        + "".join(
            f"; MISS {t['target']}: {t['measured']}"
            for t in results["targets"]
            if t["verdict"] == "MISS"
        )
        + ".",
    ]
    lines += _scale_markdown(results)
    return "\n".join(lines) + "\n"


def _scale_markdown(results: Mapping[str, Any]) -> list[str]:
    """Issue 13's tables: a version's assets in parallel, competing CPU, many versions, a
    version longer than one invocation."""
    lines: list[str] = []
    parallel = results.get("parallel_assets")
    if parallel:
        m = parallel["metrics"]
        runs = parallel["runs"]
        lines += [
            "",
            f"| one version of {parallel['assets']} × {parallel['asset_mib']} MiB, known SHA256 "
            "| function memory | assets in flight (configured / seen) | wall | vs one at a time "
            "| handler peak RSS (budget) | S3 read |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for mode, label in ((SERIAL, "one at a time"), (PARALLEL, "in parallel")):
            run = runs[mode]
            lines.append(
                f"| {label} | {_fmt_int(run['memory_mb'])} MB "
                f"| {_fmt_int(run['parallel'])} / {_fmt_int(run['peak_in_flight'])} "
                f"| {_fmt(run['wall_s'], '.2f', ' s')} "
                f"| {_fmt(_ratio(run['wall_s'], runs[SERIAL]['wall_s']), '.2f', '×')} "
                f"| {_fmt(run['max_rss_mib'], '.0f')} MiB ({_fmt_int(run['rss_budget_mib'])}) "
                f"| {_fmt(run['s3_read_ratio'], '.2f', '×')} |"
            )
        lines += [
            "",
            f"Memory per asset in flight: {_fmt(m['mib_per_asset_in_flight'], '.1f')} MiB "
            f"(peak RSS difference over the difference in assets in flight; the budget in "
            f"lambda/contract.py is {ASSET_IN_FLIGHT_MIB} MiB per asset beside "
            f"{HANDLER_BASE_MIB} MiB for the handler). Same bundle and event in both modes; "
            "only the function's memory differs (`parallel_assets(memory)`).",
        ]
    loaded = results.get("competing_cpu")
    if loaded:
        lines += [
            "",
            f"| {loaded['size_mib']} MiB, known SHA256 | CLI v1 baseline | ours | S3 GET floor "
            "| hashlib floor | ours ÷ CLI | ours ÷ (GET + hashlib) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, label in (("quiet", "quiet"), ("loaded", "one core busy")):
            m = loaded[name]
            lines.append(
                f"| {label} | {_fmt(m['baseline_wall_s'], '.2f', ' s')} "
                f"| {_fmt(m['known_wall_s'], '.2f', ' s')} "
                f"| {_fmt(m['floor_get_wall_s'], '.2f', ' s')} "
                f"| {_fmt(m['floor_hashlib_wall_s'], '.2f', ' s')} "
                f"| {_fmt(m['known_vs_baseline'], '.2f', '×')} "
                f"| {_fmt(m['known_vs_floor_get_hashlib'], '.2f', '×')} |"
            )
        lines += [
            "",
            "One core busy: a process spinning `hashlib.sha256` on one thread runs beside each "
            "workload process (started before it, killed after it); it took "
            f"{_fmt(loaded['loaded'].get('competitor_cores'))} of a core while the handler ran.",
        ]
    many = results.get("many_versions")
    if many:
        m = many["metrics"]
        lines += [
            "",
            f"| {many['count']} versions in one stack, {many['rate_per_s']:g} publishes/s "
            f"(bucket {many['burst']:g}) | deployments complete | deploy wall "
            "| vs one at a time | throttled publishes absorbed |",
            "|---|---:|---:|---:|---:|",
        ]
        for width in sorted(many["runs"], key=int):
            run = many["runs"][width]
            lines.append(
                f"| max_parallel={width} | {run['completed']}/{run['runs']} "
                f"| {_fmt(run['deploy_s'], '.1f', ' s')} "
                f"| {_fmt(_ratio(run['deploy_s'], m['serial_deploy_s']), '.2f', '×')} "
                f"| {', '.join(str(t) for t in run['throttled_each'])} |"
            )
    lines += long_report.markdown_lines(results.get("long_version"))
    bounds = _bounds_sentence(results)
    if bounds:
        lines += ["", bounds]
    scale = results.get("scale_targets") or []
    if scale:
        lines += [
            "",
            f"Targets of issue 13: {sum(t['verdict'] == 'PASS' for t in scale)} PASS"
            + "".join(
                f"; {t['verdict']} {t['target']}: {t['measured']}"
                for t in scale
                if t["verdict"] != "PASS"
            )
            + ".",
        ]
    return lines


def _bounds_sentence(results: Mapping[str, Any]) -> str:
    """What this machine allows at the largest size, from the run's own CPU accounting: no
    overlap of the known-hash path beats the CPU it and the servers used over the cores; the
    unknown-hash path cannot start publishing before the GET ends (the SHA256 precedes the
    body), so a plain GET plus a plain publish bound it."""
    sizes = results.get("sizes") or []
    if not sizes:
        return ""
    size = sizes[-1]
    runs, m = size["runs"], size["metrics"]
    known, unknown = runs.get(KNOWN), runs.get(UNKNOWN)
    baseline, cpus = m["baseline_wall_s"], results["meta"].get("cpus")
    parts = []
    if known and baseline and cpus:
        used = known["cpu_s"] + sum(v or 0.0 for v in known["service_cpu_s"].values())
        parts.append(
            f"the known-hash handler and the servers used {used:.2f} CPU-seconds per run on "
            f"{cpus} cores, so no overlap could take less than {used / cpus:.2f} s "
            f"({used / cpus / baseline:.2f}× the CLI flow)"
        )
    floor = _sum(m["floor_get_wall_s"], m["floor_publish_wall_s"])
    if unknown and known and baseline and floor:
        parts.append(
            f"the unknown-hash path cannot publish before its GET ends (the SHA256 goes in the "
            f"request, before the body), so a plain GET plus a plain publish, {floor:.2f} s "
            f"({floor / baseline:.2f}× the CLI flow), bound it; beyond that it spends "
            f"{unknown['sys_s']:.2f} s in the kernel against the known path's "
            f"{known['sys_s']:.2f} s, writing the object into /tmp"
        )
    if not parts:
        return ""
    return f"What bounds the wall times at {size['size_mib']} MiB on this machine: " + (
        "; ".join(parts) + "."
    )


def _ingest_sentence(results: Mapping[str, Any]) -> str:
    """The emulator's own ingest rate (the ceiling every publish runs under), if measured."""
    rate = results.get("emulator_ingest_mb_per_s")
    if rate is None:
        return ""
    runs = (results.get("emulator_ingest") or {}).get("runs", 0)
    return (
        f"Emulator ingest (the ceiling): {rate:.0f} MB/s, median of {runs}, a raw HTTP publish "
        "from memory. "
    )


def _bytes(count: int) -> str:
    if count == 0:
        return "0"
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


#: The README's generated part lies between these lines.
README_BEGIN: Final = "<!-- bench:begin (generated by python -m bench.report --readme) -->"
README_END: Final = "<!-- bench:end -->"


def render_readme(readme: str, results: Mapping[str, Any]) -> str:
    """``readme`` with the part between :data:`README_BEGIN` and :data:`README_END` replaced
    by the tables of ``results`` (ValueError when the markers are missing)."""
    begin = readme.find(README_BEGIN)
    end = readme.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"the README has no {README_BEGIN!r} … {README_END!r} section")
    return readme[: begin + len(README_BEGIN)] + "\n\n" + markdown(results) + "\n" + readme[end:]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.report --readme``: rewrite the README's benchmark section from
    results.json (``--check``: only say whether it is up to date, exit 1 if not)."""
    import argparse  # noqa: PLC0415
    import json  # noqa: PLC0415

    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("--results", default=str(root / "bench" / "results" / "results.json"))
    parser.add_argument(
        "--readme",
        nargs="?",
        const=str(root / "README.md"),
        default=None,
        help="the README to rewrite (default: the repository's)",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    if args.readme is None:
        print(markdown(results), end="")
        return 0
    path = Path(args.readme)
    current = path.read_text()
    wanted = render_readme(current, results)
    if args.check:
        if wanted != current:
            print(f"{path}: the benchmark section is not generated from {args.results}")
            return 1
        return 0
    if wanted != current:
        path.write_text(wanted)
        print(f"{path}: benchmark section rewritten from {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
