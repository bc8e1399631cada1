"""The durable timer engine on a real database: scheduled by key, cancelled, fired once in the
transaction of its handler, retried and given up alone, shared by instances."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import timers
from bot.db import alembic_config, session_factory
from bot.models import Event, Staff, Timer, TimerStatus
from bot.notices import Prerendered
from bot.notifier import Outbox, Outgoing
from bot.services.common import Env, Person
from bot.services.followup_timeout import EXPIRE
from bot.services.followups import ASK
from bot.timers import Due, Handler
from bot.timers.engine import FIRST_RETRY
from tests.conftest import Desk, done_request, followup_sent, run_timers

GUEST = Person(telegram_id=5004, chat_id=5004, first_name="Ada", language_code="en")
REMINDER = "test.reminder"


@dataclass
class Reminders:
    """A timer kind of the test: each due reminder sends its text to chat 1."""

    batches: list[list[str]] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # keys whose handling raises

    def handle(
        self, _s: Session, out: Outbox, _env: Env, _now: datetime, batch: Sequence[Due]
    ) -> None:
        keys = [due.key for due in batch]
        self.batches.append(keys)
        if self.broken & set(keys):
            raise RuntimeError("the printer is on fire")
        for due in batch:
            out.send(Outgoing(chat_id=1, notice=Prerendered(str(due.payload["text"]))))

    @property
    def handlers(self) -> dict[str, Handler]:
        return {REMINDER: self.handle}


def remind(desk: Desk, key: str, after: float, text: str = "") -> None:
    """Schedule the reminder ``key`` in ``after`` seconds, in a committed transaction."""
    desk(
        lambda s, out, _env, now: timers.schedule(
            s, out, REMINDER, key, now + timedelta(seconds=after), {"text": text or key}, now=now
        )
    )


def fire(desk: Desk, reminders: Reminders) -> timers.Pass:
    return desk(lambda s, out, env, now: timers.fire_due(s, out, env, now, reminders.handlers))


def timer(desk: Desk, key: str) -> Timer:
    return desk.read(lambda s: s.exec(select(Timer).where(Timer.key == key)).one())


def sent_texts(desk: Desk) -> list[str]:
    return [m.text for m in desk.rendered()]


def test_scheduling_a_key_again_moves_it_and_one_timer_fires(desk: Desk) -> None:
    reminders = Reminders()
    remind(desk, "wake:412", 600, "first")
    remind(desk, "wake:412", 60, "moved")
    assert desk.outbox.wake_times == [desk.clock.now() + timedelta(seconds=60)]

    desk.clock.advance(60)
    assert fire(desk, reminders).fired == {REMINDER: 1}
    assert sent_texts(desk) == ["moved"]
    desk.clock.advance(600)
    assert fire(desk, reminders).fired == {}
    assert desk.read(lambda s: len(s.exec(select(Timer)).all())) == 1


def test_a_fired_key_scheduled_again_fires_again(desk: Desk) -> None:
    reminders = Reminders()
    remind(desk, "wake:412", 10)
    desk.clock.advance(10)
    fire(desk, reminders)
    remind(desk, "wake:412", 10, "tomorrow")
    desk.clock.advance(10)
    fire(desk, reminders)
    assert sent_texts(desk) == ["tomorrow"]
    assert reminders.batches == [["wake:412"], ["wake:412"]]


def test_cancelled_timers_never_fire(desk: Desk) -> None:
    reminders = Reminders()
    for key in ("request:4:accept", "request:4:done", "request:41:accept", "wake:412"):
        remind(desk, key, 30)
    assert desk(lambda s, *_: timers.cancel(s, "wake:412")) is True
    assert desk(lambda s, *_: timers.cancel(s, "wake:999")) is False
    assert desk(lambda s, *_: timers.cancel_prefix(s, "request:4:")) == 2
    desk.clock.advance(30)

    fire(desk, reminders)

    assert reminders.batches == [["request:41:accept"]]
    assert timer(desk, "request:4:done").status == TimerStatus.CANCELLED


def test_due_timers_of_a_kind_come_to_its_handler_as_one_batch_in_due_order(desk: Desk) -> None:
    reminders = Reminders()
    remind(desk, "late", 30)
    remind(desk, "early", 10)
    remind(desk, "not yet", 3600)
    desk.clock.advance(60)

    done = fire(desk, reminders)

    assert reminders.batches == [["early", "late"]]
    assert done.next_due == desk.clock.now() - timedelta(seconds=60) + timedelta(seconds=3600)
    assert desk.outbox.wake_times[-1] == done.next_due


def test_a_crash_before_the_commit_fires_the_timer_again_and_after_it_never(
    engine: Engine, desk: Desk
) -> None:
    reminders = Reminders()
    remind(desk, "wake:412", 10)
    desk.clock.advance(10)
    with session_factory(engine)() as session:  # fired, then the process dies: no commit
        timers.fire_due(session, Outbox(), desk.env, desk.clock.now(), reminders.handlers)
        session.rollback()
    assert timer(desk, "wake:412").status == TimerStatus.PENDING

    assert fire(desk, reminders).fired == {REMINDER: 1}
    assert fire(desk, reminders).fired == {}
    fired = timer(desk, "wake:412")
    assert (fired.status, fired.fired_at, fired.attempts) == (
        TimerStatus.FIRED,
        desk.clock.now(),
        1,
    )


def test_a_timer_of_an_unknown_kind_is_given_up_without_holding_up_the_others(
    desk: Desk,
) -> None:
    reminders = Reminders()
    remind(desk, "wake:412", 10)
    desk(
        lambda s, out, _env, now: timers.schedule(
            s, out, "kind.of.a.newer.version", "x:1", now, {}, now=now
        )
    )
    desk.clock.advance(10)

    assert fire(desk, reminders).fired == {REMINDER: 1}
    unknown = timer(desk, "x:1")
    assert unknown.status == TimerStatus.FAILED
    assert unknown.last_error == "no handler for kind 'kind.of.a.newer.version'"


@dataclass
class Unit:
    session: Session
    outbox: Outbox
    now: datetime


class Runner:
    """The pass as the bot runs it: each transaction commits and keeps its messages."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.sent: list[str] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Unit]:
        with self.desk.sessions() as session:
            unit = Unit(session, Outbox(), self.desk.clock.now())
            yield unit
            session.commit()
        self.sent += [self.desk.render(m).text for m in unit.outbox.messages]

    async def run(self, reminders: Reminders) -> None:
        await timers.run(self.transaction, self.desk.env, reminders.handlers, owner="test:1")


async def test_a_failing_timer_is_retried_with_backoff_then_given_up_and_the_others_fire(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    reminders = Reminders(broken={"broken"})
    for key in ("a", "broken", "b"):
        remind(desk, key, 10)
    desk.clock.advance(10)
    bot = Runner(desk)

    await bot.run(reminders)

    assert sorted(bot.sent) == ["a", "b"]
    broken = timer(desk, "broken")
    assert broken.status == TimerStatus.PENDING
    assert (broken.attempts, broken.last_error) == (1, "RuntimeError: the printer is on fire")
    assert broken.due_at == desk.clock.now() + FIRST_RETRY

    delays = []
    with caplog.at_level(logging.WARNING, logger="bot.timers.engine"):
        for _ in range(timers.MAX_ATTEMPTS - 1):
            before = timer(desk, "broken").due_at
            desk.clock.advance((before - desk.clock.now()).total_seconds())
            await bot.run(reminders)
            delays.append(timer(desk, "broken").due_at - before)
    given_up = timer(desk, "broken")
    assert (given_up.status, given_up.attempts) == (TimerStatus.FAILED, timers.MAX_ATTEMPTS)
    backoff = [FIRST_RETRY * 2**n for n in range(1, timers.MAX_ATTEMPTS - 1)]
    assert delays == [*backoff, timedelta(0)]  # doubling, then kept where it failed
    assert any(r.levelno == logging.ERROR and "given up" in r.message for r in caplog.records)
    assert sorted(bot.sent) == ["a", "b"]  # never sent twice


def test_instances_share_due_timers_on_postgresql(engine: Engine, desk: Desk) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serves one instance")
    reminders = Reminders()
    for n in range(10):
        remind(desk, f"r{n}", 10)
    desk.clock.advance(10)
    now = desk.clock.now()
    sessions = session_factory(engine)
    with sessions() as first, sessions() as second:
        timers.fire_due(first, Outbox(), desk.env, now, reminders.handlers, limit=6)
        timers.fire_due(second, Outbox(), desk.env, now, reminders.handlers, limit=6)
        first.commit()
        second.commit()
    first_batch, second_batch = reminders.batches
    assert len(first_batch) == 6 and len(second_batch) == 4
    assert not set(first_batch) & set(second_batch)


def test_an_upgraded_database_keeps_its_waiting_follow_ups(
    engine: Engine, desk: Desk, maria_housekeeping: Staff
) -> None:
    followup_sent(desk, GUEST, "towels")  # asked, waiting for the answer
    done_request(desk, GUEST, "pillow")  # not asked yet
    config = alembic_config(engine)
    command.downgrade(config, "0003")
    command.upgrade(config, "head")
    assert desk.read(lambda s: {(t.kind, t.key) for t in s.exec(select(Timer))}) == {
        (EXPIRE, "followup:1:expire"),
        (ASK, "followup:2:ask"),
    }

    desk.clock.advance(3600)
    assert run_timers(desk).fired == {ASK: 1, EXPIRE: 1}
    kinds = desk.read(lambda s: [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))])
    assert kinds[-3:] == ["followup_sent", "followup_unanswered", "closed"]
    pending = desk.read(
        lambda s: [t.key for t in s.exec(select(Timer).where(Timer.status == TimerStatus.PENDING))]
    )
    assert pending == ["followup:2:expire"]  # the new question's answer timeout
