"""The five measurements: ingest, latency, timers, outbound and scale.

Each scenario starts what it needs (a fresh fake Bot API, a fresh database, the bot process),
drives it, reads what reached the fake and what the bot stored, and returns a
:class:`~bench.results.Section` of measures with their goals. Everything it starts is stopped
before it returns, also when it fails.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import col

from bench import seed
from bench.concierge import (
    STAFF_BASE,
    Concierge,
    StaffMember,
    guest_id,
)
from bench.fake import MONO_TO_WALL, Fake, Sent
from bench.load import (
    CpuMeter,
    Layout,
    Pushed,
    classify_request_messages,
    open_loop,
    parse_tag,
    push_all,
)
from bench.procs import PYTHON, BenchError, Child, Database, Workspace, base_env
from bench.profiling import Profile, Recorder
from bench.results import Section, mib, ms, percentile, secs, spread
from bot.models import FollowUp, InboundUpdate, Offer, OutboxMessage, Request

FAST = 1000.0  # TELEGRAM_MESSAGES_PER_SECOND for ingest, latency and timers


@dataclass(frozen=True)
class Sizes:
    """How much load each scenario applies."""

    ingest: int = 1000
    zones: int = 100
    rates: tuple[int, ...] = (10, 50, 200)
    durations: tuple[float, ...] = (20.0, 20.0, 5.0)
    profile_seconds: float = 6.0
    timers: int = 10_000
    timer_window: float = 60.0
    timer_lead: float = 6.0
    timer_grace: float = 10.0
    restart_wait: float = 75.0
    settle: float = 1.0
    ingest_rounds: int = 9  # the machine drifts: five rounds moved the median by ±0.05 run to run
    idle: float = 3.0
    staff_cli: int = 2  # staff registered with `concierge staff add`; the rest are seeded
    overdue: int = 1000
    outbound_chats: int = 1000
    outbound_per_chat: int = 3
    pending: int = 100_000
    month_requests: int = 1_000_000
    month_guests: int = 20_000
    baseline_start: bool = True


QUICK = Sizes(
    ingest=40,
    zones=10,
    durations=(1.0, 0.4, 0.1),
    profile_seconds=0.5,
    timers=200,
    timer_window=1.0,
    timer_lead=2.0,
    timer_grace=1.0,
    restart_wait=5.0,
    settle=0.1,
    ingest_rounds=3,
    idle=0.5,
    staff_cli=0,
    overdue=50,
    outbound_chats=20,
    pending=2000,
    month_requests=20_000,
    month_guests=500,
    baseline_start=False,
)


@dataclass
class Context:
    """What every scenario gets."""

    workspace: Workspace
    database: Database
    sizes: Sizes
    results: Path
    profile: bool
    profiles: list[Profile] = field(default_factory=list)

    @property
    def sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.database.kind == "sqlite"

    @property
    def pg_database(self) -> str | None:
        """The PostgreSQL database name (for measuring its server processes)."""
        return None if self.sqlite else self.database.database_name

    def tag(self, name: str) -> str:
        """A file-name-safe label for this database and ``name``."""
        return f"{self.database.kind}-{name}"


@contextlib.contextmanager
def concierge(
    ctx: Context,
    fake: Fake,
    *,
    layout: Layout | None = None,
    messages_per_second: float | None = FAST,
    guests: int = 0,
    followup_delay: int = 1800,
) -> Iterator[Concierge]:
    """A fresh database and hotel. Of the staff of ``layout``, the first ``sizes.staff_cli``
    are registered with ``concierge staff add`` and the others written straight into the
    database, like ``guests`` guests with their rooms. The bot is not started yet; it is
    stopped when the block ends."""
    ctx.database.reset()
    hotel = Concierge(
        ctx.workspace,
        ctx.database,
        fake,
        departments=layout.departments if layout else None,
        messages_per_second=messages_per_second,
        followup_delay=followup_delay,
    )
    try:
        if layout is not None:
            staff_cli = ctx.sizes.staff_cli
            hotel.add_staff(layout.staff[:staff_cli])
            rest = layout.staff[staff_cli:]
            now = datetime.now(UTC)
            with ctx.database.engine() as engine:
                if rest:
                    seed.bulk_insert(
                        engine,
                        seed.Staff,
                        seed.staff(
                            ((m.telegram_id, m.name, m.department) for m in rest),
                            now,
                            on_duty=False,
                        ),
                    )
                if guests:
                    seed.bulk_insert(
                        engine, seed.Guest, seed.guests((guest_id(i) for i in range(guests)), now)
                    )
        yield hotel
    finally:
        hotel.stop()


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def _first_by_chat(sent: list[Sent], kind: Callable[[Sent], bool]) -> dict[int, Sent]:
    first: dict[int, Sent] = {}
    for s in sent:
        if s.ok and kind(s) and s.chat_id not in first:
            first[s.chat_id] = s
    return first


def _duplicates(sent: list[Sent], kind: Callable[[Sent], bool]) -> int:
    per_chat = Counter(s.chat_id for s in sent if s.ok and kind(s))
    return sum(n - 1 for n in per_chat.values() if n > 1)


# ------------------------------------------------------------------------------ ingest


@dataclass(frozen=True)
class Burst:
    """``count`` requests queued at once and the time until the last one was answered."""

    count: int
    first_push: float
    last_push: float
    done: float
    cpu: dict[str, float]

    @property
    def seconds(self) -> float:
        """From the first message queued to the last answer at the fake."""
        return self.done - self.first_push

    @property
    def rate(self) -> float:
        """Requests handled per second."""
        return self.count / self.seconds if self.seconds > 0 else math.nan


def _burst(
    fake: Fake,
    messages: list[tuple[int, int, str]],
    kind: str,
    processes: dict[str, int],
    timeout: float,
    database: str | None = None,
) -> Burst:
    tracker = fake.tracker
    meter = CpuMeter(processes, database)
    meter.start()
    pushed = push_all(fake, messages)
    fake.wait(lambda: tracker.count(kind) >= len(messages), timeout, f"{len(messages)} {kind}s")
    cpu = meter.stop()
    sent = tracker.snapshot()
    done = max(s.time for s in sent if s.ok and tracker.classify(s) == kind)
    return Burst(len(messages), pushed[0].time, pushed[-1].time, done, cpu)


@contextlib.contextmanager
def echo_bot(ctx: Context, fake: Fake, count: int) -> Iterator[Child]:
    """The minimal python-telegram-bot echo bot, polling ``fake``, its ``count`` guests
    welcomed (so that a burst's messages are answered as the Concierge's are: by a bot that
    has seen the guest before)."""
    env = base_env()
    env.update(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_BASE_URL=fake.base_url)
    child = ctx.workspace.spawn("echo-bot", [PYTHON, "-m", "bench.echo_bot"], env)
    try:
        deadline = time.monotonic() + 60
        while not fake.polling():
            child.check()
            if time.monotonic() > deadline:
                raise BenchError("the echo bot did not start polling")
            time.sleep(0.01)
        tracker = fake.tracker
        tracker.reset(lambda s: "welcome" if s.text.startswith("/start") else None)
        push_all(fake, [(i, guest_id(i), f"/start room-{100 + i}") for i in range(count)])
        fake.wait(lambda: tracker.count("welcome") >= count, 120, "echoed /start")
        yield child
    finally:
        child.stop()


@dataclass
class Pair:
    """One round of the ingest: an echo burst and, right after it, a Concierge burst."""

    floor: Burst
    concierge: Burst
    cards: int  # staff cards at the fake by the Concierge burst's last acknowledgement

    @property
    def ratio(self) -> float:
        """The Concierge's rate over the echo bot's, in this round."""
        return self.concierge.rate / self.floor.rate


def ingest(ctx: Context) -> Section:
    """Requests per second end to end, against the echo floor in the same run.

    The two bots run side by side, each on its own fake server, and take turns: an echo burst,
    then a Concierge burst, nine times. The machine's speed drifts over seconds (a shared
    machine), so each round's ratio compares bursts a few seconds apart, and the result is the
    median round.
    """
    section = Section("Ingest")
    count = ctx.sizes.ingest
    layout = Layout.zones(ctx.sizes.zones)
    repeat = ctx.sizes.ingest_rounds
    extra = max(2, count // 2) if ctx.profile else 0
    echoed = [(i, guest_id(i), layout.text(i)) for i in range(count)]
    with (
        Fake() as echo_fake,
        echo_bot(ctx, echo_fake, count) as echo,
        Fake() as fake,
        concierge(ctx, fake, layout=layout, guests=repeat * count + extra) as hotel,
    ):
        bot = hotel.start()
        hotel.on_duty(layout.staff)
        tracker = fake.tracker
        pairs: list[Pair] = []
        for round_ in range(repeat):  # the Concierge's bursts come from new guests each time
            echo_fake.tracker.reset(lambda s: "echo" if s.text.startswith("Two towels") else None)
            floor = _burst(
                echo_fake, echoed, "echo", {"bot": echo.pid, "fake": os.getpid()}, timeout=300
            )
            time.sleep(ctx.sizes.settle)
            tracker.reset(classify_request_messages)
            first = round_ * count
            messages = [(i, guest_id(i), layout.text(i)) for i in range(first, first + count)]
            burst = _burst(
                fake,
                messages,
                "ack",
                {"bot": bot.pid, "fake": os.getpid()},
                timeout=60 + count,
                database=ctx.pg_database,
            )
            pairs.append(Pair(floor, burst, tracker.count("card")))
            # The next round starts from a quiet bot: the staff cards still paced go out first.
            fake.wait(lambda: tracker.count("card") >= count, 120 + count, "staff cards")
            time.sleep(ctx.sizes.settle)
        with ctx.database.engine() as engine:
            stored = _count(engine, Request)
            offered = _count(engine, Offer)
        if extra:
            tracker.reset(classify_request_messages)
            first = repeat * count
            more = [(i, guest_id(i), layout.text(i)) for i in range(first, first + extra)]
            with Recorder(ctx.workspace, bot, ctx.tag("ingest"), ctx.results) as recorder:
                _burst(fake, more, "ack", {"bot": bot.pid}, timeout=120 + count)
            ctx.profiles.append(recorder.profile)
    pairs.sort(key=lambda pair: pair.ratio)
    middle = pairs[len(pairs) // 2]
    rates = sorted(p.concierge.rate for p in pairs)
    floors = sorted(p.floor.rate for p in pairs)
    rate, floor_rate = rates[len(rates) // 2], floors[len(floors) // 2]
    section.add(
        "guest requests/s end to end (stored, routed, offered, acknowledged)",
        f"{rate:.1f} req/s (median of {len(rates)}: " + ", ".join(f"{r:.0f}" for r in rates) + ")",
        data={
            "rate": rate,
            "rates": [p.concierge.rate for p in pairs],
            "seconds": middle.concierge.seconds,
            "count": count,
            "stored": stored,
            "offered": offered,
            "cards_delivered_by_then": middle.cards,
            "cpu": middle.concierge.cpu,
        },
    )
    section.add(
        "echo floor: the same messages through a minimal python-telegram-bot echo bot",
        f"{floor_rate:.1f} msg/s (median of {len(floors)}: "
        + ", ".join(f"{r:.0f}" for r in floors)
        + ")",
        data={
            "rate": floor_rate,
            "rates": [p.floor.rate for p in pairs],
            "seconds": middle.floor.seconds,
            "cpu": middle.floor.cpu,
        },
    )
    section.add(
        "ratio to the echo floor (median of the rounds)",
        f"{middle.ratio:.2f} (rounds: " + ", ".join(f"{p.ratio:.2f}" for p in pairs) + ")",
        "≥ 0.5",
        middle.ratio >= 0.5,
        ratio=middle.ratio,
        ratios=[p.ratio for p in pairs],
    )
    cpu, floor_cpu = middle.concierge.cpu, middle.floor.cpu
    section.notes.append(
        f"{repeat} rounds, each a burst of {count} messages through the echo bot and then a "
        f"burst of {count} requests through the Concierge, from {count} new guests each "
        f"(rooms known), each routed to one of {ctx.sizes.zones} zones with one staff member "
        f"on duty; TELEGRAM_MESSAGES_PER_SECOND={FAST:g}; end = the last acknowledgement at "
        f"the fake (it is committed with the request, its routing and its offer). CPU during "
        f"the median round's bursts (share of one core): bot {cpu.get('bot', 0):.0%}, fake "
        f"server {cpu.get('fake', 0):.0%}"
        + (f", PostgreSQL {cpu['postgres']:.0%}" if "postgres" in cpu else "")
        + f"; echo bot {floor_cpu.get('bot', 0):.0%}, fake {floor_cpu.get('fake', 0):.0%}. "
        f"Stored {stored}, offers {offered} over the {repeat} rounds; in the median round "
        f"{middle.cards} of {count} staff cards had reached the fake by the last "
        f"acknowledgement (paced per chat); each round started after the one before had "
        f"delivered all its cards."
    )
    return section


# ------------------------------------------------------------------------------ latency


STAGES = (
    ("poll", "queued at the fake → stored by the bot's long poll"),
    ("queue", "stored → its handling transaction starts"),
    ("handle", "handling starts → the acknowledgement is claimed for sending"),
    ("send", "claimed → the sendMessage reaches the fake"),
)


@dataclass
class LatencyRun:
    """One open-loop run at a fixed rate."""

    rate: float
    count: int
    achieved: float
    ack: list[float]
    card: list[float]
    missing_ack: int
    missing_card: int
    busy_cards: int
    cpu: dict[str, float]
    stages: dict[str, list[float]] = field(default_factory=dict)


def _stages(engine: Engine, pushed: list[Pushed], sent: list[Sent]) -> dict[str, list[float]]:
    """Where each acknowledgement's time went, from the times the bot stored: the update's
    ``received_at`` and ``handled_at`` (the start of the transaction that handled it, which is
    also the acknowledgement's ``created_at``) and the outbox row's ``send_at`` (when it was
    claimed, or its pacing slot)."""
    by_update = {p.update_id: p for p in pushed}
    by_user = {p.user_id: p for p in pushed}
    acks = _first_by_chat(sent, lambda s: classify_request_messages(s) == "ack")
    with engine.connect() as connection:
        updates = {
            int(r[0]): (r[1], r[2])
            for r in connection.execute(
                select(
                    InboundUpdate.update_id, InboundUpdate.received_at, InboundUpdate.handled_at
                ).where(col(InboundUpdate.update_id).in_(list(by_update)))  # type: ignore[call-overload]
            )
        }
        claimed: dict[int, datetime] = {}
        for chat_id, send_at, payload in connection.execute(
            select(OutboxMessage.chat_id, OutboxMessage.send_at, OutboxMessage.payload)  # type: ignore[call-overload]
            .where(col(OutboxMessage.chat_id).in_(list(by_user)))
            .order_by(col(OutboxMessage.id))
        ):
            kind = ((payload or {}).get("notice") or {}).get("kind")
            if kind == "request_ack" and chat_id not in claimed and send_at is not None:
                claimed[int(chat_id)] = send_at
    stages: dict[str, list[float]] = {name: [] for name, _ in STAGES}
    for update_id, (received, handled) in updates.items():
        push = by_update[update_id]
        send_at, ack = claimed.get(push.user_id), acks.get(push.user_id)
        if received is None or handled is None or send_at is None or ack is None:
            continue
        pushed_wall = push.time + MONO_TO_WALL
        stages["poll"].append(received.timestamp() - pushed_wall)
        stages["queue"].append((handled - received).total_seconds())
        stages["handle"].append((send_at - handled).total_seconds())
        stages["send"].append(ack.time + MONO_TO_WALL - send_at.timestamp())
    return stages


def _latencies(pushed: list[Pushed], sent: list[Sent]) -> tuple[list[float], list[float], int]:
    by_index = {p.index: p for p in pushed}
    by_user = {p.user_id: p for p in pushed}
    ack_first = _first_by_chat(sent, lambda s: classify_request_messages(s) == "ack")
    acks = [s.time - by_user[chat].time for chat, s in ack_first.items() if chat in by_user]
    cards: list[float] = []
    per_staff: dict[int, list[float]] = defaultdict(list)
    seen: set[int] = set()
    for s in sent:
        if not s.ok or classify_request_messages(s) != "card":
            continue
        index = parse_tag(s.text)
        if index is None or index not in by_index or index in seen:
            continue
        seen.add(index)
        cards.append(s.time - by_index[index].time)
        per_staff[s.chat_id].append(s.time)
    # Cards beyond a burst of three within three seconds may have waited for per-chat pacing.
    busy = 0
    for times in per_staff.values():
        times.sort()
        for k in range(3, len(times)):
            if times[k] - times[k - 3] < 3.0:
                busy += 1
    return acks, cards, busy


def _latency_run(
    ctx: Context, fake: Fake, bot: Child, layout: Layout, rate: float, first: int, count: int
) -> LatencyRun:
    tracker = fake.tracker
    tracker.reset(classify_request_messages)
    messages = [(i, guest_id(i), layout.text(i)) for i in range(first, first + count)]
    meter = CpuMeter({"bot": bot.pid, "fake": os.getpid()}, ctx.pg_database)
    meter.start()
    pushed = open_loop(fake, rate, messages)
    span = pushed[-1].time - pushed[0].time
    achieved = (count - 1) / span if count > 1 and span > 0 else rate
    timeout = 120 + count / 5
    fake.wait(
        lambda: tracker.count("ack") >= count and tracker.count("card") >= count,
        timeout,
        f"{count} acknowledgements and staff cards",
    )
    cpu = meter.stop()
    sent = tracker.snapshot()
    acks, cards, busy = _latencies(pushed, sent)
    with ctx.database.engine() as engine:
        stages = _stages(engine, pushed, sent)
    return LatencyRun(
        rate,
        count,
        achieved,
        acks,
        cards,
        count - len(acks),
        count - len(cards),
        busy,
        cpu,
        stages,
    )


def latency(ctx: Context) -> Section:
    """p50/p95/p99 from a guest's message at the fake to the staff card and the acknowledgement."""
    section = Section("Latency")
    sizes = ctx.sizes
    zones = max(sizes.zones, 10)
    layout = Layout.zones(zones)
    counts = [max(2, round(r * d)) for r, d in zip(sizes.rates, sizes.durations, strict=True)]
    profiled = 50 if ctx.profile and 50 in sizes.rates else None
    extra = max(2, round(50 * sizes.profile_seconds)) if profiled else 0
    runs: list[LatencyRun] = []
    with (
        Fake() as fake,
        concierge(ctx, fake, layout=layout, guests=sum(counts) + extra) as hotel,
    ):
        bot = hotel.start()
        hotel.on_duty(layout.staff)
        first = 0
        for rate, count in zip(sizes.rates, counts, strict=True):
            runs.append(_latency_run(ctx, fake, bot, layout, rate, first, count))
            first += count
            time.sleep(sizes.settle)  # let the bot go idle between runs
        if profiled:
            with Recorder(ctx.workspace, bot, ctx.tag("latency-50"), ctx.results) as recorder:
                _latency_run(ctx, fake, bot, layout, profiled, first, extra)
            ctx.profiles.append(recorder.profile)
    for run in runs:
        for what, values, missing in (
            ("acknowledgement", run.ack, run.missing_ack),
            ("staff offer", run.card, run.missing_card),
        ):
            goal, met = "—", None
            if run.rate == 50 and ctx.sqlite:
                goal = "p99 < 50 ms"
                met = not missing and percentile(values, 99) < 0.050
            elif run.rate == 50:
                goal = "(goal set for SQLite)"
            section.add(
                f"{run.rate:g} req/s → {what} p50 / p95 / p99",
                spread(values) + (f" ({missing} missing)" if missing else ""),
                goal,
                met,
                rate=run.rate,
                achieved=run.achieved,
                count=run.count,
                p50=percentile(values, 50),
                p95=percentile(values, 95),
                p99=percentile(values, 99),
                max=max(values) if values else math.nan,
                missing=missing,
                cpu=run.cpu,
                stages={
                    name: {
                        "p50": percentile(values, 50),
                        "p99": percentile(values, 99),
                    }
                    for name, values in run.stages.items()
                }
                if what == "acknowledgement"
                else {},
            )
    section.notes.append(
        "open-loop arrivals at a constant rate ("
        + ", ".join(
            f"{r.count} requests at {r.achieved:.1f}/s, bot CPU {r.cpu.get('bot', 0):.0%}"
            + (f", PostgreSQL {r.cpu['postgres']:.0%}" if "postgres" in r.cpu else "")
            for r in runs
        )
        + f"), from distinct guests with known rooms, spread over {zones} zones with one staff "
        f"member each; TELEGRAM_MESSAGES_PER_SECOND={FAST:g}. Latency = arrival of the bot's "
        "sendMessage at the fake minus the time the guest's message was queued at the fake "
        "(long-poll pickup included). The same bot serves the three rates in turn."
    )
    for run in runs:
        section.notes.append(
            f"where an acknowledgement's time went at {run.rate:g} req/s (p50 / p99): "
            + "; ".join(
                f"{label} {ms(percentile(run.stages.get(name, []), 50))} / "
                f"{ms(percentile(run.stages.get(name, []), 99))}"
                for name, label in STAGES
            )
        )
    busy = sum(r.busy_cards for r in runs)
    if busy:
        section.notes.append(
            f"{busy} staff cards came more than three within three seconds to one staff chat, "
            "so they may include per-chat pacing (Telegram's limit), not only bot time."
        )
    return section


# ------------------------------------------------------------------------------ timers


SKIPPED = "maximum number of running instances reached"


def _question(sent: Sent) -> bool:
    return not sent.is_edit and sent.text.startswith("Hello again!")


def _seed_followups(engine: Engine, count: int, due: list[datetime], now: datetime) -> None:
    seed.bulk_insert(engine, seed.Guest, seed.guests((guest_id(i) for i in range(count)), now))
    seed.bulk_insert(
        engine, seed.Request, seed.done_requests(count, guest_count=count, done_at=now)
    )
    seed.followups_due(engine, range(1, count + 1), due, now)
    seed.analyze(engine)


def _followup_times(engine: Engine) -> list[tuple[int, datetime, datetime | None, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(FollowUp.id, FollowUp.due_at, FollowUp.sent_at, FollowUp.status)  # type: ignore[call-overload]
        ).all()
    return [(int(r[0]), r[1], r[2], str(r[3])) for r in rows]


def _lateness(values: list[tuple[float, bool]], q: float | None) -> tuple[float, bool]:
    """Percentile ``q`` (``None``: the maximum) of ``(lateness, exact)`` pairs; lateness of a
    follow-up not sent by the end of the wait is a lower bound (``exact`` False)."""
    if not values:
        return math.nan, True
    ordered = sorted(values)
    if q is None:
        return ordered[-1]
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _lateness_cells(values: list[tuple[float, bool]]) -> tuple[str, float, float, float]:
    picks = [_lateness(values, q) for q in (50, 99, None)]
    text = " / ".join(("" if exact else "≥ ") + ms(v) for v, exact in picks)
    return text, picks[0][0], picks[1][0], picks[2][0]


def _sent_over_time(
    rows: list[tuple[int, datetime, datetime | None, str]], since: datetime
) -> list[tuple[float, int]]:
    """How many follow-ups had been marked sent, by second after ``since``."""
    times = sorted((s - since).total_seconds() for _i, _d, s, _st in rows if s is not None)
    out: list[tuple[float, int]] = []
    for k, t in enumerate(times, start=1):
        second = math.floor(t)
        if out and out[-1][0] == second:
            out[-1] = (second, k)
        else:
            out.append((second, k))
    return out


def timers(ctx: Context) -> Section:
    """Lateness of follow-ups due within a minute; a restart with overdue ones."""
    section = Section("Timers")
    sizes = ctx.sizes
    count, window = sizes.timers, sizes.timer_window
    with Fake() as fake, concierge(ctx, fake) as hotel:
        now = datetime.now(UTC)
        first_due = now + timedelta(seconds=sizes.timer_lead)
        due = [first_due + timedelta(seconds=window * (k + 0.5) / count) for k in range(count)]
        with ctx.database.engine() as engine:
            _seed_followups(engine, count, due, now)
        tracker = fake.tracker
        tracker.reset(lambda s: "question" if _question(s) else None)
        hotel.start()
        late_start = max(0.0, hotel.ready_at + MONO_TO_WALL - first_due.timestamp())
        wait = (due[-1] - datetime.now(UTC)).total_seconds() + sizes.timer_grace
        complete = fake.wait_quietly(lambda: tracker.count("question") >= count, wait)
        ended = time.time()
        sent = tracker.snapshot()
        with ctx.database.engine() as engine:
            rows = _followup_times(engine)
    skipped = hotel.log_text().count(SKIPPED)
    marked = [
        ((s.timestamp() if s else ended) - d.timestamp(), s is not None) for _i, d, s, _st in rows
    ]
    arrivals = _first_by_chat(sent, _question)
    at_fake = []
    for i, d, _s, _st in rows:
        arrival = arrivals.get(guest_id(i - 1))
        when = arrival.time + MONO_TO_WALL if arrival else ended
        at_fake.append((when - d.timestamp(), arrival is not None))
    duplicates = _duplicates(sent, _question)
    sent_count = sum(1 for _v, exact in marked if exact)
    text, p50, p99, worst = _lateness_cells(marked)
    section.add(
        f"{count:,} follow-ups due within {window:g} s: lateness p50 / p99 / max "
        "(marked sent − due)",
        text + (f" ({count - sent_count:,} not sent by the end)" if sent_count < count else ""),
        "p99 ≤ 1 s, max ≤ 2 s",
        sent_count == count and p99 <= 1.0 and worst <= 2.0,
        p50=p50,
        p99=p99,
        max=worst,
        sent=sent_count,
        waited=wait,
        skipped=skipped,
        sent_over_time=_sent_over_time(rows, first_due),
    )
    text, p50, p99, worst = _lateness_cells(at_fake)
    delivered = sum(1 for _v, exact in at_fake if exact)
    section.add(
        "the same, question at the fake − due",
        text
        + (f" ({count - delivered:,} not there by the end)" if delivered < count else "")
        + f"; {duplicates} sent twice",
        "p99 ≤ 1 s, max ≤ 2 s",
        delivered == count and p99 <= 1.0 and worst <= 2.0 and not duplicates,
        p50=p50,
        p99=p99,
        max=worst,
        delivered=delivered,
        duplicates=duplicates,
    )
    if late_start > 0:
        section.notes.append(f"the bot was ready {late_start:.1f} s after the first due time")
    if not complete:
        section.notes.append(
            f"the wait ended {sizes.timer_grace:g} s after the last due time with "
            f"{count - sent_count:,} follow-ups not marked sent and {count - delivered:,} "
            "questions not at the fake; their lateness counts as the time until then (≥)."
        )
    if skipped:
        section.notes.append(
            f"the bot logged {skipped} time(s) that APScheduler skipped the timer job "
            f"(“{SKIPPED}”)."
        )
    section.notes.append(
        f"follow-ups written into the database before the bot starts (done requests of "
        f"distinct guests), due evenly over {window:g} s from {sizes.timer_lead:g} s after the "
        f"bot is started; TELEGRAM_MESSAGES_PER_SECOND={FAST:g} so that the questions are not "
        f"held back by Telegram's 30/s (at 30/s, {count:,} questions take "
        f"{count / 30:.0f} s to deliver whatever the timers do)."
    )
    restart(ctx, section)
    return section


def restart(ctx: Context, section: Section) -> None:
    """The bot was down while ``overdue`` follow-ups fell due; it is started again."""
    count = ctx.sizes.overdue
    with Fake() as fake, concierge(ctx, fake) as hotel:
        hotel.start()
        hotel.stop()  # the bot ran before and is down now
        now = datetime.now(UTC)
        due = [
            now - timedelta(minutes=10) + timedelta(seconds=300 * k / count) for k in range(count)
        ]
        with ctx.database.engine() as engine:
            _seed_followups(engine, count, due, now)
        tracker = fake.tracker
        tracker.reset(lambda s: "question" if _question(s) else None)
        hotel.start()
        started = hotel.started_at
        complete = fake.wait_quietly(
            lambda: tracker.count("question") >= count, ctx.sizes.restart_wait
        )
        time.sleep(ctx.sizes.settle)  # anything sent twice would come now
        sent = tracker.snapshot()
        with ctx.database.engine() as engine:
            rows = _followup_times(engine)
    skipped = hotel.log_text().count(SKIPPED)
    questions = sorted(s.time - started for s in sent if s.ok and _question(s))
    within = sum(1 for t in questions if t <= 5.0)
    last = questions[-1] if questions else math.nan
    marked = sorted(s.timestamp() - (started + MONO_TO_WALL) for _i, _d, s, _st in rows if s)
    duplicates = _duplicates(sent, _question)
    unsent = count - len(_first_by_chat(sent, _question))
    if complete:
        result = f"{secs(last)} (all marked sent after {secs(max(marked))})"
    else:
        result = f"{within:,} within 5 s, {unsent:,} not sent after {ctx.sizes.restart_wait:g} s"
    section.add(
        f"restart with {count:,} overdue: all questions at the fake after",
        result + f"; {duplicates} sent twice",
        "all within 5 s, none twice",
        complete and last <= 5.0 and not duplicates,
        seconds=last,
        marked=max(marked) if marked else math.nan,
        first_marked=marked[0] if marked else math.nan,
        first_arrival=questions[0] if questions else math.nan,
        ready=hotel.ready_at - started,
        within_5s=within,
        duplicates=duplicates,
        unsent=unsent,
        skipped=skipped,
        arrivals=[round(t, 3) for t in questions[:: max(1, len(questions) // 50)]],
    )
    if skipped:
        section.notes.append(
            f"restart: the bot logged {skipped} time(s) that APScheduler skipped the timer job."
        )
    if marked and questions:
        section.notes.append(
            f"restart: the bot was ready to poll after {secs(hotel.ready_at - started)}; the "
            f"first pass over the overdue follow-ups started at {secs(marked[0])} (their "
            f"sent_at) and its first question reached the fake at {secs(questions[0])}; "
            f"{within:,} questions arrived within 5 s."
        )
    section.notes.append(
        f"restart: {count:,} follow-ups due 5 to 10 minutes ago written while the bot was down; "
        "times from the start of the new process (Python start-up and migration check "
        f"included); TELEGRAM_MESSAGES_PER_SECOND={FAST:g} (at the default 30/s, "
        f"{count:,} questions need {count / 30:.0f} s)."
    )


# ------------------------------------------------------------------------------ outbound


def outbound(ctx: Context) -> Section:
    """A burst of messages to many chats at the default pacing, against Telegram's limits."""
    section = Section("Outbound")
    chats, per_chat = ctx.sizes.outbound_chats, ctx.sizes.outbound_per_chat
    total = chats * per_chat
    allowed = 30.0
    with Fake(rate_limits=True) as fake, concierge(ctx, fake, messages_per_second=None) as hotel:
        hotel.start()
        tracker = fake.tracker
        tracker.reset(lambda s: "notice" if s.text.startswith("Notice ") else None)
        now = datetime.now(UTC)
        rows = (
            {
                "chat_id": guest_id(c),
                "payload": {"text": f"Notice {k + 1}/{per_chat} for chat {c}"},
                "status": "pending",
                "attempts": 0,
                "not_before": now,
                "created_at": now,
            }
            for k in range(per_chat)
            for c in range(chats)
        )
        with ctx.database.engine() as engine:
            seed.bulk_insert(engine, OutboxMessage, rows)
        queued = time.monotonic()
        fake.wait(
            lambda: tracker.count("notice") >= total,
            total / allowed * 3 + 60,
            f"{total} messages",
        )
        time.sleep(0.5)
        sent = tracker.snapshot()
        with ctx.database.engine() as engine, engine.connect() as connection:
            slots: dict[str, datetime | None] = {
                str((payload or {}).get("text", "")): send_at
                for send_at, payload in connection.execute(
                    select(OutboxMessage.send_at, OutboxMessage.payload)  # type: ignore[call-overload]
                )
            }
    delivered = [s for s in sent if s.ok and s.text.startswith("Notice ")]
    first, last = min(s.time for s in delivered), max(s.time for s in delivered)
    rate = (len(delivered) - 1) / (last - first) if last > first else math.nan
    rejected = sum(1 for s in sent if s.status == 429)
    per_chat_seen: dict[int, list[str]] = defaultdict(list)
    for s in delivered:
        per_chat_seen[s.chat_id].append(s.text)
    out_of_order = sum(1 for texts in per_chat_seen.values() if texts != sorted(texts))
    duplicates = sum(len(t) - len(set(t)) for t in per_chat_seen.values())
    accepted = sorted(s.time for s in sent if s.ok)
    peak = _peak(accepted, 1.0)
    arrival = {s.text: s.time for s in delivered}
    behind = [
        arrival[text] + MONO_TO_WALL - slot.timestamp()
        for text, slot in slots.items()
        if text in arrival and slot is not None
    ]
    by_chat: dict[int, list[float]] = defaultdict(list)
    for s in sent:
        if s.ok:
            by_chat[s.chat_id].append(s.time)
    refusals = [
        {
            "at": round(s.time - first, 3),
            "chat": s.chat_id,
            "sent_in_previous_1s": sum(1 for t in accepted if s.time - 1.0 <= t < s.time),
            "to_chat_in_previous_3s": sum(
                1 for t in by_chat[s.chat_id] if s.time - 3.0 <= t < s.time
            ),
        }
        for s in sent
        if s.status == 429
    ]
    section.add(
        f"{total:,} messages to {chats:,} chats at the default pacing: achieved rate",
        f"{rate:.1f} msg/s = {rate / allowed:.2f} of the allowed {allowed:g}/s; {rejected} × 429",
        "≥ 0.9 of allowed, no 429",
        rate / allowed >= 0.9 and not rejected,
        rate=rate,
        ratio=rate / allowed,
        rejected=rejected,
        seconds=last - first,
        first_after=first - queued,
        out_of_order=out_of_order,
        duplicates=duplicates,
        peak_1s=peak,
        refusals=refusals,
        behind_slot_p50=percentile(behind, 50),
        behind_slot_p99=percentile(behind, 99),
        behind_slot_max=max(behind) if behind else math.nan,
    )
    section.notes.append(
        f"{per_chat} messages per chat written straight into the outbox of the running bot "
        "(the sender finds them at its next poll, within 0.5 s); TELEGRAM_MESSAGES_PER_SECOND "
        "unset (30); the fake enforces Telegram's limits (30/s overall with a burst of 30, "
        "1/s per private chat with a burst of 3, edits counting) and answers 429 with "
        f"retry_after beyond them. First message {first - queued:.2f} s after the rows were "
        f"committed; {len(delivered)} delivered in {last - first:.1f} s; "
        f"{out_of_order} chats out of order, {duplicates} duplicates; at most {peak} messages "
        f"within one second; messages reached the fake {ms(percentile(behind, 50))} (p50) / "
        f"{ms(percentile(behind, 99))} (p99) / {ms(max(behind) if behind else math.nan)} (max) "
        "after the pacing slot the sender had given them (outbox.send_at). The per-chat limit "
        f"does not bind here ({per_chat} per chat), so the allowed rate is the overall 30/s."
    )
    if refusals:
        worst = max(refusals, key=lambda r: int(r["sent_in_previous_1s"]))
        section.notes.append(
            f"{len(refusals)} messages were refused with 429, the first "
            f"{refusals[0]['at']:.1f} s into the burst; before the worst one the fake had "
            f"accepted {worst['sent_in_previous_1s']} messages within the previous second "
            f"(overall limit), and {worst['to_chat_in_previous_3s']} to that chat within 3 s."
        )
    return section


def _peak(times: list[float], window: float) -> int:
    """The most events within any ``window`` seconds (``times`` sorted)."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] < t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


# ------------------------------------------------------------------------------ scale


def _db_size(ctx: Context, engine: Engine) -> int | None:
    if ctx.sqlite:
        path = Path(engine.url.database or "")
        return sum(
            p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
    with engine.connect() as connection:
        return int(
            connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        )


def _start_and_measure(hotel: Concierge, idle: float) -> tuple[float, int | None]:
    hotel.start()
    startup = hotel.ready_at - hotel.started_at
    time.sleep(idle)
    assert hotel.process is not None
    return startup, hotel.process.peak_rss()


def scale(ctx: Context) -> Section:
    """Start-up and memory with many pending follow-ups; supervisor views over a month."""
    section = Section("Scale")
    sizes = ctx.sizes
    count = sizes.pending
    baseline: tuple[float, int | None] | None = None
    if sizes.baseline_start:
        with Fake() as fake, concierge(ctx, fake) as hotel:
            baseline = _start_and_measure(hotel, sizes.idle)
    with Fake() as fake, concierge(ctx, fake) as hotel:
        now = datetime.now(UTC)
        guests = min(count, 10_000)
        with ctx.database.engine() as engine:
            seed.bulk_insert(
                engine, seed.Guest, seed.guests((guest_id(i) for i in range(guests)), now)
            )
            seed.bulk_insert(
                engine, seed.Request, seed.done_requests(count, guest_count=guests, done_at=now)
            )
            due = (now + timedelta(days=7) * (k + 1) / count for k in range(count))
            seed.followups_due(engine, range(1, count + 1), due, now)
            seed.analyze(engine)
        startup, rss = _start_and_measure(hotel, sizes.idle)
    base = ""
    if baseline is not None:
        base = f" (empty database: {secs(baseline[0])}, {mib(baseline[1])})"
    section.add(
        f"start-up time and peak RSS with {count:,} pending follow-ups",
        f"{secs(startup)}, {mib(rss)}{base}",
        startup=startup,
        peak_rss=rss,
        baseline_startup=baseline[0] if baseline else None,
        baseline_rss=baseline[1] if baseline else None,
    )
    section.notes.append(
        "start-up = from starting `concierge run` until it asks Telegram to drop the webhook, "
        "right before polling (imports, migration check, getMe, first timer pass scheduled); "
        f"peak RSS = VmHWM of the bot process after {sizes.idle:g} s of running. Follow-ups due "
        "over the next 7 days."
    )
    reports(ctx, section)
    return section


def reports(ctx: Context, section: Section) -> None:
    """``/log N``, ``/report MONTH`` and ``/followups DAY`` with a month of requests in the
    database: the last calendar month in the hotel's time zone."""
    sizes = ctx.sizes
    count = sizes.month_requests
    supervisor = StaffMember(STAFF_BASE + 999, "Sofia", "front_desk", role="supervisor")
    tz = ZoneInfo("Europe/Rome")
    this_month = datetime.now(UTC).astimezone(tz).date().replace(day=1)
    month_start = (this_month - timedelta(days=1)).replace(day=1)
    days = (this_month - month_start).days
    end = datetime.combine(this_month, datetime.min.time(), tzinfo=tz)
    month = f"{month_start:%Y-%m}"
    busy_day = (end - timedelta(days=2)).astimezone(tz).date()
    with Fake() as fake, concierge(ctx, fake, messages_per_second=None) as hotel:
        with ctx.database.engine() as engine:
            if ctx.sizes.staff_cli:
                hotel.add_staff([supervisor])
            else:
                seed.bulk_insert(
                    engine,
                    seed.Staff,
                    (
                        {**row, "role": "supervisor", "on_duty": False}
                        for row in seed.staff(
                            [(supervisor.telegram_id, supervisor.name, supervisor.department)],
                            datetime.now(UTC),
                        )
                    ),
                )
            seeded_at = time.monotonic()
            counts = seed.month(
                engine,
                requests=count,
                guests_count=sizes.month_guests,
                end=end,
                days=days,
                staff_id=1,
            )
            seeding = time.monotonic() - seeded_at
            start = datetime.combine(busy_day, datetime.min.time(), tzinfo=tz)
            with engine.connect() as connection:
                # The month is 'days' times 24 hours before 'end': off by the hour of a
                # daylight saving change, so count what the report will count.
                month_rows = int(
                    connection.execute(
                        select(func.count())
                        .select_from(Request)
                        .where(
                            col(Request.created_at)
                            >= datetime.combine(month_start, datetime.min.time(), tzinfo=tz),
                            col(Request.created_at) < end,
                        )
                    ).scalar_one()
                )
                day_rows = int(
                    connection.execute(
                        select(func.count())
                        .select_from(FollowUp)
                        .where(
                            col(FollowUp.sent_at) >= start,
                            col(FollowUp.sent_at) < start + timedelta(days=1),
                        )
                    ).scalar_one()
                )
            size = _db_size(ctx, engine)
        hotel.start()
        tracker = fake.tracker
        chat = supervisor.telegram_id
        probe_guest = 1  # a guest of the month, Telegram id 1

        def classify(s: Sent) -> str | None:
            if s.chat_id == chat:
                return "supervisor"
            if s.chat_id == probe_guest and s.text.startswith("Request #"):
                return "probe"
            return None

        middle = count // 2
        log_times: list[float] = []
        log_ok = True
        for number in (middle, 1, count, count // 4, 3 * count // 4):
            tracker.reset(classify)
            _uid, asked = fake.message(chat, f"/log {number}")
            fake.wait(lambda: tracker.count("supervisor") >= 1, 120, "the /log answer")
            log_reply = tracker.snapshot()[0]
            log_times.append(log_reply.time - asked)
            log_ok = log_ok and log_reply.text.startswith(f"Request #{number}")
            time.sleep(1.1)  # Telegram's per-chat limit: one answer a second
        log_seconds = percentile(log_times, 50)

        report_times: list[float] = []
        report_probes: list[float] = []
        report_ok = True
        for _ in range(5):
            tracker.reset(classify)
            _uid, asked = fake.message(chat, f"/report {month}")
            time.sleep(0.05)
            _uid, probed = fake.message(probe_guest, "Two towels please (probe)")
            fake.wait(
                lambda: tracker.count("supervisor") >= 1 and tracker.count("probe") >= 1,
                120,
                "the /report answer and the guest's acknowledgement",
            )
            answers = [s for s in tracker.snapshot() if s.ok]
            report_reply = next(s for s in answers if s.chat_id == chat)
            report_times.append(report_reply.time - asked)
            report_probes.append(next(s for s in answers if s.chat_id == probe_guest).time - probed)
            report_ok = report_ok and report_reply.text.startswith("Report for ")
            report_ok = report_ok and f"Requests created: {month_rows:,}" in report_reply.text
            time.sleep(1.1)
        report_seconds = percentile(report_times, 50)

        tracker.reset(classify)
        assert hotel.process is not None
        recorder = (
            Recorder(ctx.workspace, hotel.process, ctx.tag("followups"), ctx.results)
            if ctx.profile
            else contextlib.nullcontext()
        )
        with recorder:
            _uid, asked = fake.message(chat, f"/followups {busy_day.isoformat()}")
            time.sleep(0.05)
            _uid, probed = fake.message(probe_guest, "Two towels please (probe)")
            fake.wait(lambda: tracker.count("probe") >= 1, 300, "the guest's acknowledgement")
            fake.wait(lambda: tracker.count("supervisor") >= 1, 300, "the /followups answer")
        if isinstance(recorder, Recorder):
            ctx.profiles.append(recorder.profile)
        quiet_until = time.monotonic() + 2.0
        seen = 0
        while time.monotonic() < quiet_until or tracker.count("supervisor") != seen:
            if tracker.count("supervisor") != seen:
                seen = tracker.count("supervisor")
                quiet_until = time.monotonic() + 2.0
            time.sleep(0.1)
        sent = tracker.snapshot()
    parts = [s for s in sent if s.chat_id == chat and s.ok]
    probe = next(s for s in sent if s.chat_id == probe_guest and s.ok)
    first_part = parts[0].time - asked
    last_part = parts[-1].time - asked
    burst = max(
        (sum(1 for q in parts if p.time <= q.time < p.time + 1.0) for p in parts), default=0
    )
    characters = sum(len(p.text) for p in parts)
    section.add(
        f"/log N with {count:,} requests in the database (median of {len(log_times)})",
        ms(log_seconds)
        + f" (max {ms(max(log_times))})"
        + ("" if log_ok else " (unexpected answer)"),
        log_seconds=log_seconds,
        log_times=log_times,
    )
    section.add(
        f"/followups for a busy day ({day_rows:,} follow-ups)",
        f"first part after {secs(first_part)}, {len(parts)} messages "
        f"({characters:,} characters) by {secs(last_part)}; a guest's acknowledgement "
        f"meanwhile took {secs(probe.time - probed)}",
        first_part=first_part,
        last_part=last_part,
        parts=len(parts),
        characters=characters,
        max_parts_within_1s=burst,
        probe_ack=probe.time - probed,
        day_rows=day_rows,
    )
    section.add(
        f"/report {month} with {month_rows:,} requests in the month (median of "
        f"{len(report_times)})",
        secs(report_seconds)
        + f" (max {secs(max(report_times))})"
        + ("" if report_ok else " (unexpected answer)")
        + f"; a guest's acknowledgement meanwhile {secs(percentile(report_probes, 50))}"
        + f" (max {secs(max(report_probes))})",
        "< 5 s",
        report_ok and report_seconds < 5.0,
        report_seconds=report_seconds,
        report_times=report_times,
        report_probe_acks=report_probes,
        month_rows=month_rows,
    )
    section.notes.append(
        f"{counts['requests']:,} closed requests over the {days} days of {month} "
        f"({counts['followups']:,} answered follow-ups, {counts['events']:,} events, "
        f"{counts['guests']:,} guests) generated in the database in {seeding:.0f} s; database "
        f"size {mib(size)}. /log asks for five requests (first, last, middle, quarters), one a "
        f"second; /report {month} five times, one a second, each followed 50 ms later by a guest's "
        f"request; /followups for "
        f"{busy_day.isoformat()}; the guest's request is queued 50 ms after /followups."
        f" {burst} parts of the /followups answer reached the "
        "supervisor's chat within one second (Telegram allows about one a second per chat)."
    )


SCENARIOS: dict[str, Callable[[Context], Section]] = {
    "ingest": ingest,
    "latency": latency,
    "timers": timers,
    "outbound": outbound,
    "scale": scale,
}
