"""The timer scheduler: passes when timers fall due, spaced so that close ones share one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from bot.clock import FakeClock
from bot.scheduling import TimerScheduler

MS = timedelta(milliseconds=1)
# Far ahead of the wall clock: APScheduler's own timer, which reads the wall clock, never rings
# during a test, so the test rings the alarm itself when the fake clock says so.
START = datetime(2100, 1, 4, 9, 0, tzinfo=UTC)


@asynccontextmanager
async def running(
    run_due: Callable[[], Awaitable[None]],
    sweep: Callable[[], Awaitable[None]],
    sweep_seconds: int,
    clock: FakeClock,
    spacing: timedelta = 200 * MS,
) -> AsyncIterator[TimerScheduler]:
    """A started scheduler, shut down at the end."""
    scheduler = TimerScheduler(run_due, sweep, sweep_seconds, clock, spacing)
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown()


class Recorder:
    """The scheduler's two jobs, recording when (by the clock) they ran."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.passes: list[datetime] = []
        self.sweeps: list[datetime] = []

    async def run_due(self) -> None:
        self.passes.append(self.clock.now())

    async def sweep(self) -> None:
        self.sweeps.append(self.clock.now())


async def test_a_pass_runs_when_due_and_passes_close_together_are_spaced() -> None:
    clock = FakeClock(START)
    jobs = Recorder(clock)
    async with running(jobs.run_due, jobs.sweep, 3600, clock, 300 * MS) as scheduler:
        await passes_spaced(scheduler, clock)
    assert jobs.passes == [START + 100 * MS, START + 400 * MS]
    assert jobs.sweeps == []  # the sweep has its own job and interval


async def passes_spaced(scheduler: TimerScheduler, clock: FakeClock) -> None:
    scheduler.wake_at(START + 100 * MS)
    assert scheduler.alarm_at == START + 100 * MS  # APScheduler rings then
    clock.advance(0.09)
    assert not await scheduler.ring()  # not due yet by the clock: no pass
    clock.advance(0.01)
    assert await scheduler.ring()

    scheduler.wake_at(clock.now())  # due at once, right after a pass
    scheduler.wake_at(clock.now())  # and again: still one pass
    assert scheduler.alarm_at == START + 400 * MS  # the second waits for the spacing
    clock.advance(0.29)
    assert not await scheduler.ring()
    clock.advance(0.01)
    assert await scheduler.ring()

    clock.advance(0.4)
    assert not await scheduler.ring()  # no third pass was asked for


async def test_an_earlier_time_moves_the_alarm_and_a_later_one_does_not() -> None:
    clock = FakeClock(START)
    jobs = Recorder(clock)
    async with running(jobs.run_due, jobs.sweep, 3600, clock) as scheduler:
        scheduler.wake_at(START + timedelta(minutes=30))
        scheduler.wake_at(START + timedelta(minutes=5))
        scheduler.wake_at(START + timedelta(hours=24))
        assert scheduler.alarm_at == START + timedelta(minutes=5)

        clock.advance(300)
        assert await scheduler.ring()
    assert jobs.passes == [START + timedelta(minutes=5)]


async def test_the_sweep_is_a_job_of_its_own_at_its_interval() -> None:
    clock = FakeClock(START)
    jobs = Recorder(clock)
    async with running(jobs.run_due, jobs.sweep, 60, clock) as scheduler:
        assert scheduler.sweep_interval == timedelta(seconds=60)
        assert scheduler.alarm_at is None  # nothing to wake for yet
