"""Sampling profiles of the bot process with py-spy, summarised as hot spots.

``py-spy record --pid PID`` needs no change to the bot: it samples the running process's
Python stacks (100 times a second by default) until it is interrupted. The raw output (one line
per distinct stack with its sample count) is kept in ``bench/results/`` and summarised here: the
share of busy samples in which a function is on the stack (inclusive) and at the top of it
(self). Idle samples (the event loop waiting) are not recorded by py-spy, so the shares are of
the time the process was busy; :attr:`Profile.samples` over the duration times the rate gives
how busy it was.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import Child, Workspace

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*)\)$")

# Where a request's time goes: (function as py-spy names it, label), indented by nesting.
BREAKDOWN = (
    ("Sender._deliver (bot/delivery.py)", "outbound: deliver one outbox row"),
    (
        "Renderer.__call__ (bot/render.py)",
        "  render its notice (text and buttons, reader's locale)",
    ),
    ("send (bot/delivery.py)", "  python-telegram-bot send_message over the HTTP transport"),
    (
        "AsyncConnectionPool._assign_requests_to_connections (httpcore/_async/connection_pool.py)",
        "    httpcore: match requests to pooled connections",
    ),
    (
        "current_async_library (httpcore/_synchronization.py)",
        "    httpcore: current_async_library (a failing `import sniffio`)",
    ),
    ("Sender._record (bot/delivery.py)", "  record the outcomes (a transaction per batch)"),
    ("Sender._claim (bot/delivery.py)", "outbound: claim due rows and pace them"),
    ("_pacings (bot/outbox.py)", "  the pacing rows of the claimed chats (one query)"),
    ("Processor._process (bot/runner.py)", "inbound: handle one stored update"),
    ("identify (handlers/common.py)", "  identify the sender (handler group -1)"),
    ("submit (bot/services/requests.py)", "  requests.submit"),
    ("offer (bot/services/offers.py)", "    offers.offer (recipients, offer rows, card)"),
    ("match_department (bot/routing.py)", "    routing.match_department"),
    ("Deps.transaction (bot/deps.py)", "  Deps.transaction (outbox rows, mark done, commit)"),
    ("mark_current_done (bot/intake.py)", "    intake.mark_current_done (flushes the outbox rows)"),
    ("claim (bot/intake.py)", "inbound: claim stored updates"),
    ("Poller.run (bot/runner.py)", "inbound: long poll and store"),
    ("Deps.run_timers (bot/deps.py)", "timers and sweep"),
    ("fire_due (bot/timers/engine.py)", "  timers.fire_due (claim a batch, run its handlers)"),
    ("ask_due (bot/services/followups.py)", "    followups.ask_due (send the questions)"),
    ("offer_waiting (bot/services/requests.py)", "  requests.offer_waiting"),
    ("followup_log (handlers/supervisor.py)", "/followups"),
    ("followup_log (bot/texts/supervisor.py)", "  texts.supervisor.followup_log (formatting)"),
    ("Session._autoflush (sqlalchemy/orm/session.py)", "SQLAlchemy autoflush (anywhere)"),
    ("Connection.wait (psycopg/connection.py)", "waiting for PostgreSQL (anywhere)"),
)


def py_spy() -> str | None:
    """The py-spy executable, if installed."""
    here = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "py-spy"
    if here.exists():
        return str(here)
    return shutil.which("py-spy")


@dataclass(frozen=True)
class HotSpot:
    """A function and its share of the busy samples."""

    function: str
    inclusive: float
    self_share: float


@dataclass
class Profile:
    """Aggregated stacks of one profiled phase."""

    name: str
    samples: int = 0
    duration: float = 0.0
    rate: int = 100
    inclusive: Counter[str] = field(default_factory=Counter)
    self_time: Counter[str] = field(default_factory=Counter)
    raw: Path | None = None

    @property
    def busy(self) -> float:
        """Fraction of the wall time the process was busy (not waiting in the event loop)."""
        expected = self.duration * self.rate
        return min(1.0, self.samples / expected) if expected else 0.0

    def add(self, stack: list[str], count: int) -> None:
        """Add one stack (outermost frame first) seen ``count`` times."""
        self.samples += count
        for name in set(stack):
            self.inclusive[name] += count
        if stack:
            self.self_time[stack[-1]] += count

    def top(
        self, count: int = 15, *, by: str = "self", project_only: bool = False
    ) -> list[HotSpot]:
        """The functions with the largest share of samples."""
        table = self.self_time if by == "self" else self.inclusive
        spots = []
        for name, hits in table.most_common():
            if project_only and not name.rpartition("(")[2].startswith(("bot/", "handlers/")):
                continue
            if project_only and hits >= 0.995 * self.samples:
                continue  # entry points: always on the stack
            spots.append(
                HotSpot(
                    function=name,
                    inclusive=self.inclusive[name] / self.samples if self.samples else 0.0,
                    self_share=self.self_time[name] / self.samples if self.samples else 0.0,
                )
            )
            if len(spots) >= count:
                break
        return spots

    def to_json(self) -> dict[str, object]:
        """A JSON-serialisable summary."""

        def rows(spots: list[HotSpot]) -> list[dict[str, object]]:
            return [
                {
                    "function": s.function,
                    "inclusive": round(s.inclusive, 4),
                    "self": round(s.self_share, 4),
                }
                for s in spots
            ]

        return {
            "name": self.name,
            "samples": self.samples,
            "duration": round(self.duration, 2),
            "busy": round(self.busy, 3),
            "raw": str(self.raw) if self.raw else None,
            "breakdown": [
                {"label": label, "share": round(self.inclusive[name] / self.samples, 4)}
                for name, label in BREAKDOWN
                if self.samples and self.inclusive[name]
            ],
            "top_self": rows(self.top(20, by="self")),
            "top_inclusive": rows(self.top(25, by="inclusive")),
            "top_project": rows(self.top(20, by="inclusive", project_only=True)),
        }


def _short(frame: str) -> str:
    """``function (file)`` with the file shortened to the package path."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib"):
                path = "stdlib/" + path.split("/", 1)[-1]
            break
    else:
        for root in ("/bot/", "/handlers/", "/bench/", "/tests/"):
            if root in path:
                path = root.strip("/") + "/" + path.split(root, 1)[1]
                break
    return f"{match.group('function')} ({path})"


def parse_raw(text: str, profile: Profile) -> Profile:
    """Add py-spy's raw (collapsed stack) output to ``profile``."""
    for line in text.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        frames = [_short(frame) for frame in stack_text.split(";") if frame]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        profile.add(frames, int(count_text))
    return profile


class Recorder:
    """``py-spy record`` attached to a process for the duration of a ``with`` block."""

    def __init__(self, workspace: Workspace, target: Child, name: str, out_dir: Path) -> None:
        self.workspace = workspace
        self.target = target
        self.name = name
        out_dir.mkdir(parents=True, exist_ok=True)
        self.output = out_dir / f"profile-{name}.txt"
        self.profile = Profile(name)
        self._child: Child | None = None
        self._started = 0.0

    def __enter__(self) -> Recorder:
        executable = py_spy()
        if executable is None:
            return self
        with contextlib.suppress(FileNotFoundError):
            self.output.unlink()
        self._child = self.workspace.spawn(
            f"py-spy-{self.name}",
            [
                executable,
                "record",
                "--pid",
                str(self.target.pid),
                "--rate",
                str(self.profile.rate),
                "--format",
                "raw",
                "--nolineno",
                "--output",
                str(self.output),
            ],
            env={"PATH": "/usr/bin:/bin"},
        )
        self._started = time.monotonic()
        time.sleep(0.3)  # py-spy attaches
        return self

    def __exit__(self, *_exc: object) -> None:
        child = self._child
        if child is None:
            return
        self.profile.duration = time.monotonic() - self._started
        if child.alive():
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGINT)
            try:
                child.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        child.stop()
        if self.output.exists():
            parse_raw(self.output.read_text(encoding="utf-8", errors="replace"), self.profile)
            self.profile.raw = self.output
