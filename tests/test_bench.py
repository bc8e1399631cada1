"""The benchmark harness works: a tiny load through every scenario (it measures nothing here)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {"Ingest", "Latency", "Timers", "Outbound", "Scale"}


@pytest.mark.bench
@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="run once, in the SQLite session: the harness is the same on both databases",
)
def test_the_quick_benchmark_runs_every_scenario_and_writes_its_table(tmp_path: Path) -> None:
    results = tmp_path / "results"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--database",
            "sqlite",
            "--no-profile",
            "--results",
            str(results),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]

    raw = json.loads((results / "quick.json").read_text())
    (report,) = raw["reports"]
    sections = {section["name"]: section for section in report["sections"]}
    assert set(sections) == SCENARIOS
    for name, section in sections.items():
        assert section["error"] is None, (name, section["error"])
        assert section["measures"], name
        assert all(m["result"] for m in section["measures"]), name
    table = (results / "quick.md").read_text()
    for name in SCENARIOS:
        assert name in table
    assert "/report" in table


@pytest.mark.bench
def test_the_cost_of_a_request_alone_is_measured_both_ways() -> None:
    from bench import alone

    burst, after_idle = alone.pure_python(count=3, repeat=1)
    assert burst > 0 and after_idle > 0
    burst, after_idle = asyncio.run(alone.concierge(count=3, repeat=1))
    assert burst > 0 and after_idle > 0
