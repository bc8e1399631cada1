"""``python -m bench.export``: the memory and time of ``concierge export`` for a busy month.

Seeds a month of history (``bench/seed.py``'s ``month``: by default 1,000,000 closed requests
over November 2026, each with an answered follow-up and a nine-event timeline) into a fresh
SQLite file and into PostgreSQL, then runs ``python -m bot export --period 2026-11`` as its own
process for each format and reads the process's peak RSS (``ru_maxrss`` from ``wait4``) and
its wall time. The same command on an empty month gives the process's floor (interpreter,
imports, database driver). Goal: under 300 MB for the month.

The PostgreSQL database's ``public`` schema is dropped and created again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench import seed
from bot.db import make_engine, upgrade
from bot.models import Staff

END = datetime(2026, 12, 1, tzinfo=UTC)  # the month seeded is November 2026 (UTC)
PERIOD = "2026-11"
GOAL_MB = 300
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/concierge_bench"


def prepare(url: str, requests: int) -> dict[str, int]:
    """An empty, migrated database with one staff member and ``requests`` of history."""
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
        seed.bulk_insert(engine, Staff, seed.staff([(1001, "Maria", "housekeeping")], END))
        return seed.month(
            engine, requests=requests, guests_count=max(1, requests // 10), end=END, days=30
        )
    finally:
        engine.dispose()


def run_export(url: str, fmt: str, out: Path, period: str) -> dict[str, Any]:
    """``concierge export`` in a process of its own: peak RSS, time, its answer."""
    environment = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    environment.pop("CONCIERGE_CONFIG", None)  # the bundled example hotel (Europe/Rome)
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "export",
            "--period",
            period,
            "--format",
            fmt,
            "--out",
            str(out),
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    # communicate() has reaped the child; its rusage is the children's, one child at a time.
    peak_kb = _peak_kb_of_last_child()
    if process.returncode != 0:
        raise RuntimeError(f"export failed ({process.returncode}): {stderr.strip()}")
    return {
        "format": fmt,
        "period": period,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "file_mb": round(out.stat().st_size / 2**20, 1),
        "answer": stdout.strip(),
    }


def _peak_kb_of_last_child() -> int:
    """The peak RSS of the child just reaped: ``RUSAGE_CHILDREN`` is the largest over all
    reaped children, so each export is measured by a fresh interpreter of its own."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def measure_in_child(url: str, fmt: str, out: Path, period: str) -> dict[str, Any]:
    """Run the export from a fresh measuring process so that ``RUSAGE_CHILDREN`` is its own."""
    code = (
        "import json, sys; from pathlib import Path; from bench.export import run_export; "
        "print(json.dumps(run_export(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, url, fmt, str(out), period],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1])
    measured: dict[str, Any] = json.loads(result.stdout)
    return measured


def main(argv: list[str] | None = None) -> int:
    """Seed, export, print the figures; exit code 0 when every export ran."""
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--formats", default="csv,xlsx", help="comma-separated: csv, xlsx")
    parser.add_argument("--results", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as workdir:
        work = Path(workdir)
        urls = []
        if args.database in ("sqlite", "both"):
            urls.append(("sqlite", "sqlite:///{}".format(work / "month.db")))
        if args.database in ("postgresql", "both"):
            urls.append(("postgresql", args.postgres_url))
        for name, url in urls:
            started = time.perf_counter()
            counts = prepare(url, args.requests)
            seeded = time.perf_counter() - started
            print(f"{name}: seeded {counts} in {seeded:.0f} s", flush=True)
            for fmt in formats:
                for period in ("2020-01", PERIOD):  # the floor (an empty month), then the month
                    out = work / f"export-{name}-{period}.{'zip' if fmt == 'csv' else fmt}"
                    figures = measure_in_child(url, fmt, out, period)
                    figures["database"] = name
                    figures["requests"] = args.requests
                    results.append(figures)
                    out.unlink()
                    print(
                        "{database} {format} {period}: {peak_rss_mb} MB peak RSS, "
                        "{seconds} s, {file_mb} MB file — {answer}".format(**figures),
                        flush=True,
                    )
    month = [r for r in results if r["period"] == PERIOD]
    worst = max((r["peak_rss_mb"] for r in month), default=0.0)
    print(f"largest peak RSS for the month: {worst} MB (goal < {GOAL_MB} MB)")
    if args.results is not None:
        args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
