"""Smoke test of the benchmark harness (``make bench`` runs the real sizes).

``python -m bench.run`` with one 4 MiB object, one repeat and synth scaling with 1 and 2
versions: every workload runs end to end and results.json holds every metric. The harness runs
in its own process, as ``make bench`` runs it (and because pytest puts ``tests/`` on
``sys.path``, where ``tests/packaging`` would shadow the ``packaging`` module matplotlib needs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Mirrors bench.report.REQUIRED_METRICS / REQUIRED_SYNTH_METRICS (checked below too).
SIZE_METRICS = (
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
SYNTH_METRICS = ("lambda_functions", "synth_s", "process_wall_s", "template_bytes")


@pytest.mark.timeout(240)
def test_harness_produces_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "results"
    finished = subprocess.run(
        [
            *(sys.executable, "-m", "bench.run"),
            *("--sizes", "4", "--repeat", "1", "--synth-counts", "1,2"),
            *("--out", str(out), "--work-dir", str(tmp_path / "work")),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert (out / "results.json").exists(), finished.stdout + finished.stderr
    results = json.loads((out / "results.json").read_text())
    assert finished.returncode == 0, (results["failures"], finished.stdout[-3000:])
    assert (out / "chart.png").stat().st_size > 0
    assert "Targets of issue 5" in finished.stdout

    (size,) = results["sizes"]
    assert size["size_mib"] == 4
    metrics = size["metrics"]
    assert set(SIZE_METRICS) <= set(results["required_metrics"])
    missing = [k for k in results["required_metrics"] if metrics.get(k) is None]
    assert not missing, missing
    assert metrics["known_tmp_bytes"] == 0
    assert metrics["unknown_tmp_bytes"] == 4 * 1024 * 1024  # spooled whole
    assert 1.0 <= metrics["known_s3_read_ratio"] < 1.01
    assert 1.0 <= metrics["unknown_s3_read_ratio"] < 1.01
    assert 0 < metrics["known_rss_mib"] < 1024
    runs = size["runs"]
    assert runs["ours_known_sha256"]["paths"] == ["stream-declared-sha256"]
    assert runs["ours_unknown_sha256"]["paths"] == ["spool-tmp"]
    assert runs["ours_s3_checksum"]["paths"] == ["stream-s3-checksum"]

    assert [row["count"] for row in results["synth"]] == [1, 2]
    for row in results["synth"]:
        missing = [k for k in SYNTH_METRICS if row.get(k) is None]
        assert not missing, missing
        assert row["lambda_functions"] == 1
    assert results["handler_startup"]["cpu_s"] is not None
    assert {t["verdict"] for t in results["targets"]} <= {"PASS", "MISS", "n/a"}
