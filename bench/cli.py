"""Command line of the benchmarks: which scenarios, which databases, how much load.

``python -m bench`` runs every scenario on SQLite and on PostgreSQL and prints one table per
database; ``--quick`` applies a tiny load so that the whole run takes well under a minute per
database (a smoke test of the harness, not a measurement). The run is bounded by
``--timeout``: when it expires, or on SIGINT/SIGTERM, every process the run started is stopped
and its temporary files are removed. Results go to ``bench/results/`` (JSON, Markdown and the
raw py-spy profiles).

Exit code: 0 when every scenario ran (whether or not its goals were met), 1 when a scenario
failed, 2 when the run timed out or was interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench.procs import DEFAULT_POSTGRES_URL, ROOT, Database, Workspace
from bench.profiling import py_spy
from bench.results import Report, Section, machine, render, render_profiles, save
from bench.scenarios import QUICK, SCENARIOS, Context, Sizes

RESULTS = ROOT / "bench" / "results"


class Interrupted(BaseException):
    """The run timed out or was interrupted; everything is cleaned up."""


def _raise(signum: int, _frame: FrameType | None) -> None:
    name = "timeout" if signum == signal.SIGALRM else signal.Signals(signum).name
    raise Interrupted(name)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default all: {','.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql", "both"],
        default="both",
        help="database(s) to measure on (default both)",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="PostgreSQL database for the benchmarks; it is DROPPED and created again "
        f"(default {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--quick", action="store_true", help="tiny load: checks the harness")
    parser.add_argument(
        "--no-profile", action="store_true", help="do not profile the bot with py-spy"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="overall limit in seconds (default 1800, or 300 with --quick)",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"output directory (default {RESULTS})"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs, SQLite files)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


def run_database(kind: str, args: argparse.Namespace, sizes: Sizes, workspace: Workspace) -> Report:
    """Every chosen scenario on one database."""
    database = (
        Database.sqlite(workspace) if kind == "sqlite" else Database.postgresql(args.postgres_url)
    )
    try:
        version = database.version()
    except Exception as exc:
        report = Report(kind, kind)
        report.sections.append(Section("setup", error=f"cannot use {kind}: {exc}"))
        return report
    report = Report(kind, version)
    profile = not args.no_profile and py_spy() is not None
    context = Context(workspace, database, sizes, args.results, profile)
    try:
        for name in args.only.split(","):
            started = time.monotonic()
            print(f"[{kind}] {name} …", file=sys.stderr, flush=True)
            try:
                with _no_pauses():
                    section = SCENARIOS[name](context)
            except Exception as exc:
                section = Section(name.capitalize(), error=f"{type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
            section.seconds = time.monotonic() - started
            print(f"[{kind}] {name} took {section.seconds:.0f} s", file=sys.stderr, flush=True)
            report.sections.append(section)
    finally:
        database.drop()
        report.profiles = [p.to_json() for p in context.profiles]
    return report


@contextlib.contextmanager
def _no_pauses() -> Iterator[None]:
    """Run a scenario without the harness's cyclic garbage collector.

    The fake Bot API is a thread of this process: a full collection holds every thread of it,
    and after an ingest it took 0.4 s (185,000 objects), long enough to hold back a run of
    messages and show up in the next scenario's latency tail as the bot's (p99 94–98 ms at
    50 req/s after an ingest, 14–25 ms alone). Garbage is collected between scenarios.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; see the module docstring for the exit code."""
    args = parse(argv)
    # The fake logs a request the bot abandoned when it was stopped; that is expected here.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    sizes = QUICK if args.quick else Sizes()
    timeout = args.timeout or (300.0 if args.quick else 1800.0)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    previous = {s: signal.signal(s, _raise) for s in (signal.SIGALRM, signal.SIGTERM)}
    signal.setitimer(signal.ITIMER_REAL, timeout)
    reports: list[Report] = []
    started = time.monotonic()
    code = 0
    try:
        with Workspace(keep=args.keep) as workspace:
            if args.keep:
                print(f"workspace: {workspace.root}", file=sys.stderr)
            for kind in kinds:
                reports.append(run_database(kind, args, sizes, workspace))
    except (Interrupted, KeyboardInterrupt) as exc:
        print(
            f"\nstopped ({exc or 'interrupted'}); processes and files cleaned up", file=sys.stderr
        )
        code = 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    elapsed = time.monotonic() - started
    info = machine()
    info["versions"] = ", ".join(r.version for r in reports)
    header = [
        f"Concierge benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        + (" (--quick: a smoke test, not a measurement)" if args.quick else ""),
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']}, Python "
        f"{info['python']}; {info['versions']}; run took {elapsed:.0f} s",
    ]
    text = "\n\n".join(["\n".join(header), *(render(r) for r in reports)])
    profiles = "\n".join(render_profiles(r) for r in reports if r.profiles)
    print(text)
    if profiles:
        print(profiles)
    if any(s.error for r in reports for s in r.sections) and code == 0:
        code = 1
    stamp = "quick" if args.quick else "latest"
    save(
        args.results / f"{stamp}.json",
        reports,
        {"machine": info, "quick": args.quick, "seconds": elapsed, "exit_code": code},
    )
    (args.results / f"{stamp}.md").write_text(text + "\n" + profiles + "\n", encoding="utf-8")
    return code
