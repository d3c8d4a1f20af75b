"""What every part of the report shares: the median of samples, a target's verdict, and the
labels over a chart's bars."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def median(values: Iterable[float]) -> float | None:
    """Median of the values, or None when there are none."""
    found = list(values)
    return statistics.median(found) if found else None


@dataclass(frozen=True)
class Verdict:
    """One target of the issue, and what this run measured against it."""

    target: str
    measured: str
    passed: bool | None  # None: not measured in this run

    @property
    def word(self) -> str:
        """PASS, MISS, or n/a."""
        return "n/a" if self.passed is None else ("PASS" if self.passed else "MISS")

    def as_json(self) -> dict[str, Any]:
        """For results.json."""
        return {"target": self.target, "measured": self.measured, "verdict": self.word}


def annotate_bars(ax: Any, bars: Any, texts: Sequence[str]) -> None:
    """Write each text above its bar (matplotlib axes and bar container)."""
    for bar, text in zip(bars, texts, strict=True):
        ax.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
