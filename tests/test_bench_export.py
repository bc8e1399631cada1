"""A tiny run of ``python -m bench.export``: checks that it works, measures nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench


def test_the_export_benchmark_runs_on_a_tiny_month(tmp_path: Path) -> None:
    results = tmp_path / "export.json"
    database = "both" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
    args = [sys.executable, "-m", "bench.export", "--requests", "300", "--database", database]
    if database == "both":
        args += ["--postgres-url", os.environ["TEST_DATABASE_URL"]]

    subprocess.run([*args, "--results", str(results)], check=True, capture_output=True, timeout=300)

    figures = json.loads(results.read_text(encoding="utf-8"))
    month = [f for f in figures if f["period"] == "2026-11"]
    assert {f["format"] for f in month} == {"csv", "xlsx"}
    # The seeded month is November in UTC; the example hotel's is in Rome, an hour earlier.
    assert all(290 <= int(f["answer"].split()[1]) <= 300 for f in month)
    assert all(f["peak_rss_mb"] > 0 for f in month)
