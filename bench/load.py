"""Simulated guests and staff: the benchmark hotel's layout, bursts and open-loop arrivals.

In the benchmark hotel every request is offered to exactly one on-duty staff member: the
hotel has one department per zone, each with one staff member, and request ``i`` names zone
``i mod zones`` so that routing spreads requests round-robin. With at least as many zones as
requests per second, no staff chat gets more than about one card a second, which is what
Telegram allows per chat and what the bot's pacing enforces; the offer latency then measures
the bot, not Telegram's limit. (With one or two staff for every request, each of them could
receive only one card a second, and offers would queue for minutes at 50 requests a second.)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from bench.concierge import (
    FRONT_DESK,
    GUEST_BASE,
    STAFF_BASE,
    Department,
    StaffMember,
)
from bench.fake import Fake, Sent


@dataclass(frozen=True)
class Layout:
    """Departments (the first is the fallback) and the staff on duty."""

    departments: list[Department]
    staff: list[StaffMember]

    @classmethod
    def zones(cls, count: int) -> Layout:
        """The front desk plus ``count`` zones with one staff member each."""
        zones = [Department(f"zone{k:03d}", f"Zone {k}", f"zone{k:03d}") for k in range(count)]
        staff = [StaffMember(STAFF_BASE + k, f"Staff{k}", zone.key) for k, zone in enumerate(zones)]
        return cls([FRONT_DESK, *zones], staff)

    def text(self, index: int) -> str:
        """The text of request ``index``: routed to zone ``index mod zones``, tagged ``[r…]``."""
        zone = self.departments[1 + index % (len(self.departments) - 1)]
        return f"Two towels please, {zone.keyword} [r{index}]"


def tag(index: int) -> str:
    """The tag that identifies request ``index`` in a staff card."""
    return f"[r{index}]"


def parse_tag(text: str) -> int | None:
    """The request index tagged in ``text``."""
    start = text.find("[r")
    if start < 0:
        return None
    end = text.find("]", start)
    digits = text[start + 2 : end]
    return int(digits) if end > 0 and digits.isdigit() else None


def classify_request_messages(sent: Sent) -> str | None:
    """``ack`` for a guest's acknowledgement, ``card`` for a new staff card."""
    if sent.is_edit or not sent.text.startswith("Request #"):
        return None
    if sent.chat_id >= GUEST_BASE:
        return "ack"
    if sent.chat_id >= STAFF_BASE:
        return "card"
    return None


@dataclass(frozen=True)
class Pushed:
    """A guest message queued at the fake."""

    index: int
    user_id: int
    update_id: int
    time: float


@dataclass
class CpuMeter:
    """CPU time used by processes between ``start`` and ``stop``, as a share of one core.

    With ``database`` it also measures the PostgreSQL server processes serving that database
    (their process title names it), which share the machine's cores with the bot.
    """

    pids: dict[str, int]
    database: str | None = None

    def __post_init__(self) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in self.pids.items()}
        self._before: dict[str, float] = {}
        self._postgres: dict[int, float] = {}
        self._started = 0.0
        self.shares: dict[str, float] = {}

    @staticmethod
    def _seconds(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def _cpu(self) -> dict[str, float]:
        out = {}
        for name, process in self._processes.items():
            try:
                out[name] = self._seconds(process)
            except psutil.Error:
                out[name] = 0.0
        return out

    def _postgres_cpu(self) -> dict[int, float]:
        out: dict[int, float] = {}
        if self.database is None:
            return out
        for process in psutil.process_iter(["name", "cmdline"]):
            title = " ".join(process.info.get("cmdline") or [])
            if process.info.get("name") == "postgres" and f" {self.database} " in f"{title} ":
                try:
                    out[process.pid] = self._seconds(process)
                except psutil.Error:
                    continue
        return out

    def start(self) -> None:
        """Start measuring."""
        self._before = self._cpu()
        self._postgres = self._postgres_cpu()
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Stop; returns each process's share of one core over the interval."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        after = self._cpu()
        self.shares = {n: (after[n] - self._before.get(n, 0.0)) / elapsed for n in after}
        postgres = self._postgres_cpu()
        if postgres:
            used = sum(t - self._postgres.get(pid, 0.0) for pid, t in postgres.items())
            self.shares["postgres"] = used / elapsed
        return self.shares


def push_all(fake: Fake, messages: Iterable[tuple[int, int, str]]) -> list[Pushed]:
    """Queue ``(index, user_id, text)`` messages as fast as possible."""
    pushed = []
    for index, user_id, text in messages:
        update_id, when = fake.message(user_id, text)
        pushed.append(Pushed(index, user_id, update_id, when))
    return pushed


def open_loop(fake: Fake, rate: float, messages: list[tuple[int, int, str]]) -> list[Pushed]:
    """Queue messages at a constant ``rate`` per second, whatever the bot does (open loop)."""
    pushed = []
    start = time.monotonic() + 0.02
    for k, (index, user_id, text) in enumerate(messages):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        update_id, when = fake.message(user_id, text)
        pushed.append(Pushed(index, user_id, update_id, when))
    return pushed
