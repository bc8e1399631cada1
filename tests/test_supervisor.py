"""Supervisors' views off the event loop: a slow report holds up no other chat."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import intake
from bot.app import processor_for
from bot.db import session_factory
from bot.models import InboundStatus, InboundUpdate, Role
from bot.queue import LEASE
from bot.services import reports
from handlers import supervisor
from tests.conftest import Desk, register
from tests.harness import Bot
from tests.telegram_fakes import message_update

GUEST, MARIA, SOFIA = 5001, 1001, 1009


@pytest.fixture
def staffed(desk: Desk) -> None:
    register(desk, MARIA, "Maria", "housekeeping")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)


def status_of(engine: Engine, update: dict[str, Any]) -> InboundStatus:
    with Session(engine) as session:
        row = session.get(InboundUpdate, update["update_id"])
        assert row is not None
        return InboundStatus(row.status)


async def test_a_report_being_computed_holds_up_no_other_chat(
    engine: Engine, bot: Bot, staffed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    figures = reports.period_figures

    def slow_figures(*args: Any, **kwargs: Any) -> Any:
        # A safety net, not a measure: the test releases it as soon as the guest is answered.
        if not release.wait(timeout=30):
            raise AssertionError("the report was never released")
        return figures(*args, **kwargs)

    monkeypatch.setattr(reports, "period_figures", slow_figures)
    report = message_update(SOFIA, "/report")
    after_report = message_update(SOFIA, "/help")
    guest = message_update(GUEST, "Two towels please")
    with session_factory(engine)() as session:
        intake.store(session, [report, after_report, guest], bot.clock.now())
        session.commit()
    processor = processor_for(bot.app)

    try:
        # The report waits in its worker thread; the guest's message is handled meanwhile.
        assert await processor.drain() == 2
        await bot.deps.sender.drain()
        assert bot.telegram.texts(GUEST)[0].startswith("Request #1 received")
        assert bot.telegram.texts(SOFIA) == []  # the supervisor's chat keeps its order
        assert status_of(engine, report) == InboundStatus.PENDING
        assert await processor.drain() == 0  # nor does /help overtake the report
    finally:
        release.set()
    await asyncio.gather(*supervisor.answers_under_way())
    assert status_of(engine, report) == InboundStatus.DONE
    assert await processor.drain() == 1
    await bot.deps.sender.drain()
    report_text, help_text = bot.telegram.texts(SOFIA)
    assert report_text.startswith("Report for November 2026\n")
    assert "/report" in help_text


async def test_a_report_being_computed_keeps_its_update_leased_until_it_is_answered(
    engine: Engine, bot: Bot, staffed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    computed: list[int] = []
    figures = reports.period_figures

    def slow_figures(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        if not release.wait(timeout=30):
            raise AssertionError("the report was never released")
        return figures(*args, **kwargs)

    monkeypatch.setattr(reports, "period_figures", slow_figures)
    report = message_update(SOFIA, "/report")
    with session_factory(engine)() as session:
        intake.store(session, [report], bot.clock.now())
        session.commit()
    processor, other_instance = processor_for(bot.app), processor_for(bot.app)

    try:
        assert await processor.drain() == 1
        for _beat in range(3):  # the heartbeat renews the lease while the view is built …
            bot.clock.advance(LEASE.total_seconds() - 1)
            assert processor.renew_leases() == 1
        bot.clock.advance(1)
        assert await other_instance.drain() == 0  # … so no other instance computes it again
    finally:
        release.set()
    await asyncio.gather(*supervisor.answers_under_way())
    assert status_of(engine, report) == InboundStatus.DONE
    assert computed == [1]
    await asyncio.sleep(0)  # the task's done callback runs
    assert processor.renew_leases() == 0  # released once answered
    await bot.deps.sender.drain()
    assert bot.telegram.texts(SOFIA)[0].startswith("Report for November 2026\n")
