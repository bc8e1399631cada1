"""The alarm clock of the timer engine: it wakes the process when timers fall due.

The ``timers`` table is the record of what is due (``bot.timers``); the scheduler holds one
APScheduler job that rings at the earliest due time it was told of (passes at least
``PASS_SPACING`` apart), re-armed after each pass from the table, plus a periodic sweep as a
safety net that also offers requests nobody holds. Jobs have fixed ids, so restarting never
duplicates them, and a late job still runs (no misfire is ever dropped). Times are read from
the injected clock, so tests ring the alarm by hand (``ring``) at a fake time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock

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
    """APScheduler in the bot's event loop, ringing ``run_due`` at the armed time."""

    def __init__(
        self,
        run_due: Callable[[], Awaitable[None]],
        sweep: Callable[[], Awaitable[None]],
        sweep_seconds: int,
        clock: Clock,
        spacing: timedelta = PASS_SPACING,
    ) -> None:
        self._run_due = run_due
        self._sweep = sweep
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self._spacing = spacing
        self._last_pass = datetime.min.replace(tzinfo=UTC)
        self._armed: datetime | None = None
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    @property
    def armed_at(self) -> datetime | None:
        """When the next pass will run, if one is armed."""
        return self._armed

    @property
    def alarm_at(self) -> datetime | None:
        """When APScheduler rings the alarm, if it is set."""
        job = self._scheduler.get_job(TIMER_JOB)
        return None if job is None else job.trigger.run_date

    @property
    def sweep_interval(self) -> timedelta | None:
        """How often the sweep runs, once started."""
        job = self._scheduler.get_job(SWEEP_JOB)
        return None if job is None else job.trigger.interval

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
        """Arm the alarm for ``when`` unless it is already armed earlier.

        Passes are at least ``spacing`` apart: timers falling due close together fire in one
        pass instead of a pass each, at most ``spacing`` late.
        """
        when = max(when, self._last_pass + self._spacing)
        if self._armed is not None and self._armed <= when and self.alarm_at is not None:
            return
        self._armed = when
        self._scheduler.add_job(
            self.ring,
            DateTrigger(run_date=when, timezone=UTC),
            id=TIMER_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            # A pass re-arms this job while it runs; with one instance allowed, APScheduler
            # would skip that run. Passes serialise on a lock in ``Deps.run_timers``.
            max_instances=3,
        )

    async def ring(self) -> bool:
        """Run a pass if the armed time has come by the clock (the alarm's job); True if so."""
        now = self._clock.now()
        if self._armed is None or now < self._armed:
            return False
        self._armed = None
        self._last_pass = now
        await self._run_due()
        return True

    def shutdown(self) -> None:
        """Stop without waiting for running jobs (their work is in the database)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
