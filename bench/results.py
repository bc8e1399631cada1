"""Measures, goals and the tables the benchmark prints.

A :class:`Measure` is one row of a table: what was measured, the result in words, the goal in
words and whether it was met (``None`` when there is no goal, or the goal cannot be measured).
Raw numbers go into ``data`` and end up in the JSON file of the run.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a table cell."""
    if math.isnan(seconds):
        return "—"
    value = seconds * 1000
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def secs(seconds: float) -> str:
    """Seconds for a table cell."""
    if math.isnan(seconds):
        return "—"
    if seconds >= 100:
        return f"{seconds:.0f} s"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def mib(size: float | None) -> str:
    """Bytes as MiB for a table cell."""
    return "—" if size is None else f"{size / 2**20:.0f} MiB"


def spread(values: Sequence[float], unit: str = "ms") -> str:
    """``p50 / p95 / p99`` of ``values`` (seconds) in one cell."""
    fmt = ms if unit == "ms" else secs
    return " / ".join(fmt(percentile(values, q)) for q in (50, 95, 99))


@dataclass
class Measure:
    """One row of a table."""

    section: str
    name: str
    result: str
    goal: str = "—"
    met: bool | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``yes``, ``no`` or ``—``."""
        return "—" if self.met is None else ("yes" if self.met else "no")


@dataclass
class Section:
    """The measures of one scenario, with notes on how it was run."""

    name: str
    measures: list[Measure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def add(
        self,
        name: str,
        result: str,
        goal: str = "—",
        met: bool | None = None,
        **data: Any,
    ) -> Measure:
        """Add a row."""
        measure = Measure(self.name, name, result, goal, met, data)
        self.measures.append(measure)
        return measure


@dataclass
class Report:
    """Everything measured on one database."""

    database: str
    version: str
    sections: list[Section] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)

    def rows(self) -> list[Measure]:
        """Every measure, in order."""
        return [m for s in self.sections for m in s.measures]


def _table(rows: list[list[str]], headers: list[str]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [
        line(r) for r in rows
    ]


def render(report: Report) -> str:
    """A Markdown table of the report, then the notes and failures of its sections."""
    rows = [[f"{m.section}: {m.name}", m.result, m.goal, m.verdict] for m in report.rows()]
    out = [f"### {report.version}", ""]
    if rows:
        out += _table(rows, ["measure", "result", "goal", "met?"])
    for section in report.sections:
        if section.error:
            out += ["", f"**{section.name} failed:** {section.error}"]
    notes = [(s.name, n) for s in report.sections for n in s.notes]
    if notes:
        out += [""] + [f"- {name}: {note}" for name, note in notes]
    return "\n".join(out)


def render_profiles(report: Report, count: int = 12) -> str:
    """The hot spots of each profiled phase as Markdown."""
    out: list[str] = []
    for profile in report.profiles:
        out += [
            "",
            f"#### Profile: {profile['name']} ({report.database}) — {profile['samples']} samples, "
            f"busy {profile['busy']:.0%} of {profile['duration']} s",
            "",
        ]
        rows = [
            [
                str(r["label"]).replace(" ", "\u00a0", len(r["label"]) - len(r["label"].lstrip())),
                f"{float(r['share']):.1%}",
            ]
            for r in profile.get("breakdown", [])
        ]
        if rows:
            out += _table(rows, ["where the busy time went (inclusive)", "share"])
            out.append("")
        rows = [
            [str(r["function"]), f"{float(r['self']):.1%}", f"{float(r['inclusive']):.1%}"]
            for r in profile["top_self"][:count]
        ]
        out += _table(rows, ["function (self time)", "self", "inclusive"])
        out.append("")
        rows = [
            [str(r["function"]), f"{float(r['inclusive']):.1%}", f"{float(r['self']):.1%}"]
            for r in profile["top_project"][:count]
        ]
        out += _table(rows, ["bot/handlers function (inclusive)", "inclusive", "self"])
    return "\n".join(out)


def machine() -> dict[str, str]:
    """The machine the run was on."""
    model = platform.processor() or ""
    try:
        for line in (
            Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines()
        ):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": sys.version.split()[0],
    }


def save(path: Path, reports: list[Report], extra: dict[str, Any]) -> None:
    """Write the run as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**extra, "reports": [asdict(r) for r in reports]}
    path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
