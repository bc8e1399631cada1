"""What a request costs when it arrives alone rather than in a burst, in-process.

``python -m bench.alone`` measures the CPU time (``resource.getrusage``) of:

1. a fixed piece of pure Python (JSON round trips, about 0.3 ms) run 300 times back to back and
   300 times each after a 20 ms sleep: what this machine charges for waking up, with no
   Concierge code involved;
2. one guest request through the Concierge's own path (store the update, claim and handle it,
   claim, send and record its two messages; Telegram replaced by the recording fake of the
   tests), 100 requests back to back and 100 each after a 20 ms sleep, on a fresh SQLite
   database with the benchmark's hotel (100 zones, one staff member each).

Each is run three times in turn, interleaved, and the lowest round of each is kept (the
machine is shared: a neighbour's load only ever adds).

At 50 requests a second each request arrives about 20 ms after the one before, so the second
figure of each pair is what the bot pays per request there; the first is what it pays in a
burst. Exit code 0; the figures go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench import seed
from bench.concierge import guest_id, hotel_toml
from bench.load import Layout
from bot import intake
from bot.app import build_application, processor_for
from bot.config import load_hotel_config
from bot.db import make_engine, upgrade
from bot.settings import Settings
from tests.harness import NO_PACING
from tests.telegram_fakes import RecordingRequest, RecordingTimers, message_update

GAP = 0.02  # seconds between requests at 50 a second


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def _charged(into: list[float]) -> Iterator[None]:
    start = _cpu()
    yield
    into.append(_cpu() - start)


def _unit(data: dict[str, object]) -> None:
    for _ in range(4):
        json.loads(json.dumps(data))


def pure_python(count: int = 300, repeat: int = 3) -> tuple[float, float]:
    """Milliseconds of CPU per unit: back to back, and each after a ``GAP`` sleep (the
    lowest of ``repeat`` interleaved rounds of each)."""
    data: dict[str, object] = {f"k{i}": [i, str(i) * 5, {"a": i}] for i in range(30)}
    rounds: dict[float, list[float]] = {0.0: [], GAP: []}
    for gap in [0.0, GAP] * repeat:
        spent: list[float] = []
        for _ in range(count):
            if gap:
                time.sleep(gap)
            with _charged(spent):
                _unit(data)
        rounds[gap].append(1000 * sum(spent) / count)
    return min(rounds[0.0]), min(rounds[GAP])


async def concierge(count: int = 100, repeat: int = 3) -> tuple[float, float]:
    """Milliseconds of CPU per request: back to back, and each after a ``GAP`` sleep (the
    lowest of ``repeat`` interleaved rounds of each, after one round to warm up)."""
    workdir = Path(tempfile.mkdtemp(prefix="concierge-alone-"))
    engine = make_engine(f"sqlite:///{workdir / 'concierge.db'}")
    upgrade(engine)
    layout = Layout.zones(100)
    config = workdir / "hotel.toml"
    config.write_text(hotel_toml(layout.departments), encoding="utf-8")
    now = datetime.now(UTC)
    members = ((m.telegram_id, m.name, m.department) for m in layout.staff)
    seed.bulk_insert(engine, seed.Staff, seed.staff(members, now, on_duty=True))
    seed.bulk_insert(
        engine, seed.Guest, seed.guests((guest_id(i) for i in range((1 + 2 * repeat) * count)), now)
    )
    settings = Settings.model_validate({"TELEGRAM_BOT_TOKEN": "123456:BENCH"})
    app = build_application(
        settings,
        load_hotel_config(config),
        engine,
        request=RecordingRequest(),
        timers=RecordingTimers(),
        rates=NO_PACING,
    )
    rounds: dict[float, list[float]] = {0.0: [], GAP: []}
    async with app:
        deps = app.bot_data.deps
        assert deps is not None
        processor = processor_for(app)

        async def one(index: int) -> None:
            payload = message_update(
                guest_id(index), layout.text(index), first_name=f"G{guest_id(index)}"
            )
            with deps.sessions() as session:
                intake.store(session, [payload], deps.clock.now())
                session.commit()
            await processor.drain()
            await deps.sender.drain()

        for round_, gap in enumerate([0.0] + [0.0, GAP] * repeat):
            spent: list[float] = []
            for index in range(round_ * count, (round_ + 1) * count):
                if gap:
                    await asyncio.sleep(gap)
                with _charged(spent):
                    await one(index)
            if round_:  # the first one warms up
                rounds[gap].append(1000 * sum(spent) / count)
    engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    if not repeat:
        return 0.0, 0.0
    return min(rounds[0.0]), min(rounds[GAP])


def main(argv: list[str] | None = None) -> None:
    """Print both pairs of figures; with ``--requests N`` only run N requests back to back
    (for an instruction count: see docs/benchmarks.md)."""
    parser = argparse.ArgumentParser(prog="python -m bench.alone", description=__doc__)
    parser.add_argument("--requests", type=int, help="only run this many requests, print nothing")
    args = parser.parse_args(argv)
    if args.requests:
        asyncio.run(concierge(count=args.requests, repeat=0))
        return
    idle = f"{GAP * 1000:.0f} ms idle"
    burst, alone = pure_python()
    print(f"pure Python unit:      {burst:.2f} ms back to back, {alone:.2f} ms after {idle}")
    burst, alone = asyncio.run(concierge())
    print(f"one Concierge request: {burst:.2f} ms back to back, {alone:.2f} ms after {idle}")


if __name__ == "__main__":
    main()
