"""Waking the process when follow-ups fall due.

The database holds every follow-up; the scheduler holds one job that fires at the earliest
due time (passes at least ``PASS_SPACING`` apart), re-armed after each pass, plus a periodic
sweep as a safety net that also offers requests nobody holds. Jobs have fixed ids,
so restarting never duplicates them, and a late job still runs (no misfire is ever dropped).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

TIMER_JOB = "concierge-timers"
SWEEP_JOB = "concierge-sweep"
PASS_SPACING = timedelta(milliseconds=200)


class Timers(Protocol):
    """What the rest of the bot needs from the scheduler."""

    def wake_at(self, when: datetime) -> None:
        """Make sure due work runs at ``when`` or earlier."""
        ...


class TimerScheduler:
    """APScheduler in the bot's event loop, driving ``run_due``."""

    def __init__(
        self,
        run_due: Callable[[], Awaitable[None]],
        sweep: Callable[[], Awaitable[None]],
        sweep_seconds: int,
        spacing: timedelta = PASS_SPACING,
    ) -> None:
        self._run_due = run_due
        self._sweep = sweep
        self._sweep_seconds = sweep_seconds
        self._spacing = spacing
        self._last_pass = datetime.min.replace(tzinfo=UTC)
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    def start(self) -> None:
        """Start the scheduler with its periodic sweep."""
        self._scheduler.add_job(
            self._sweep,
            IntervalTrigger(seconds=self._sweep_seconds),
            id=SWEEP_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=3,
        )
        self._scheduler.start()

    def wake_at(self, when: datetime) -> None:
        """Arm the timer job for ``when`` unless it is already armed earlier.

        Passes are at least ``spacing`` apart: follow-ups falling due close together are sent
        in one pass instead of a pass each, at most ``spacing`` late.
        """
        when = max(when, self._last_pass + self._spacing)
        job = self._scheduler.get_job(TIMER_JOB)
        if job is not None and job.next_run_time is not None and job.next_run_time <= when:
            return
        self._scheduler.add_job(
            self._pass,
            DateTrigger(run_date=when, timezone=UTC),
            id=TIMER_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            # A pass re-arms this job while it runs; with one instance allowed, APScheduler
            # would skip that run. Passes serialise on a lock in ``Deps.run_timers``.
            max_instances=3,
        )

    async def _pass(self) -> None:
        self._last_pass = datetime.now(UTC)
        await self._run_due()

    def shutdown(self) -> None:
        """Stop without waiting for running jobs (their work is in the database)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
