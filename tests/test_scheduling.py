"""The timer scheduler: passes when follow-ups fall due, spaced so that close ones share one."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bot.scheduling import TimerScheduler


async def test_a_pass_runs_when_due_and_passes_close_together_are_spaced() -> None:
    passes: list[float] = []
    sweeps: list[float] = []
    changed = asyncio.Event()

    async def run_due() -> None:
        passes.append(time.monotonic())
        changed.set()

    async def sweep() -> None:
        sweeps.append(time.monotonic())

    scheduler = TimerScheduler(run_due, sweep, 3600, spacing=timedelta(milliseconds=300))
    scheduler.start()
    try:
        started = time.monotonic()
        scheduler.wake_at(datetime.now(UTC) + timedelta(milliseconds=100))
        async with asyncio.timeout(5):
            while len(passes) < 1:
                changed.clear()
                await changed.wait()
            scheduler.wake_at(datetime.now(UTC))  # due at once, right after a pass
            scheduler.wake_at(datetime.now(UTC))  # and again: still one pass
            while len(passes) < 2:
                changed.clear()
                await changed.wait()
        await asyncio.sleep(0.4)  # no third pass was asked for
    finally:
        scheduler.shutdown()

    assert passes[0] - started >= 0.09
    assert passes[1] - passes[0] >= 0.29  # the second waited for the spacing
    assert len(passes) == 2
    assert sweeps == []  # the sweep has its own job and interval
