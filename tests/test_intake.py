"""Durable intake: updates stored before they are confirmed, handled once, in order per chat."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram.error import InvalidToken

from bot import intake
from bot.app import processor_for
from bot.buttons import Cancel
from bot.db import make_engine, session_factory
from bot.models import InboundStatus, InboundUpdate, OutboxMessage, Request
from bot.runner import LEASE, Poller, Processor, WebhookServer
from tests.harness import Bot
from tests.telegram_fakes import callback_update, message_update

GUEST = 5001


def store(engine: Engine, *updates: dict[str, Any], now: Any) -> int:
    with session_factory(engine)() as session:
        count = intake.store(session, updates, now)
        session.commit()
        return count


def inbound(engine: Engine) -> list[InboundUpdate]:
    with Session(engine) as session:
        return list(session.exec(select(InboundUpdate).order_by(col(InboundUpdate.update_id))))


def request_count(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Request)).all())


def test_an_update_is_stored_once(engine: Engine, bot: Bot) -> None:
    update = message_update(GUEST, "towels")
    assert store(engine, update, now=bot.clock.now()) == 1
    assert store(engine, update, now=bot.clock.now()) == 0
    [row] = inbound(engine)
    assert (row.update_id, row.chat_id, row.status) == (
        update["update_id"],
        GUEST,
        InboundStatus.PENDING,
    )


def test_chat_of_every_kind_of_update() -> None:
    message = message_update(7, "hi")
    assert intake.chat_of(message) == 7
    assert intake.chat_of(callback_update(8, "x", message["message"])) == 7
    assert (
        intake.chat_of({"update_id": 1, "my_chat_member": {"from": {"id": 9}, "chat": {"id": 9}}})
        == 9
    )
    assert intake.chat_of({"update_id": 1}) is None


async def test_processor_handles_stored_updates_and_marks_them_done(
    engine: Engine, bot: Bot
) -> None:
    store(
        engine,
        message_update(GUEST, "/start room-412"),
        message_update(GUEST, "towels"),
        now=bot.clock.now(),
    )
    processor = processor_for(bot.app)

    assert await processor.drain() == 2
    await bot.deps.sender.drain()

    assert {r.status for r in inbound(engine)} == {InboundStatus.DONE}
    assert bot.telegram.texts(GUEST)[-1].startswith("Request #1 received and saved.")
    assert await processor.drain() == 0


async def test_a_dead_instances_update_is_taken_over_after_its_lease(
    engine: Engine, bot: Bot
) -> None:
    store(engine, message_update(GUEST, "towels"), now=bot.clock.now())
    with session_factory(engine)() as session:  # an instance claims it, then dies
        intake.claim(session, owner="dead", now=bot.clock.now(), lease=LEASE)
        session.commit()
    processor = processor_for(bot.app)
    assert await processor.drain() == 0
    bot.clock.advance(LEASE.total_seconds() + 1)
    assert await processor.drain() == 1
    assert request_count(engine) == 1


async def test_handling_an_update_twice_changes_nothing(engine: Engine, bot: Bot) -> None:
    update = message_update(GUEST, "towels")
    store(engine, update, now=bot.clock.now())
    with session_factory(engine)() as session:
        [stale] = intake.claim(
            session, owner="slow", now=bot.clock.now(), lease=timedelta(seconds=1)
        )
        session.commit()
    bot.clock.advance(2)
    assert await processor_for(bot.app).drain() == 1  # a second instance handles it
    # The slow instance wakes up and handles its (stale) copy: the transaction is refused.
    await processor_for(bot.app)._process(stale)
    assert request_count(engine) == 1
    with Session(engine) as session:
        acks = [m for m in session.exec(select(OutboxMessage)).all() if m.chat_id == GUEST]
    assert len(acks) == 2  # one acknowledgement and one room question, not twice that


async def test_a_failing_update_is_retried_then_given_up_with_an_apology(
    engine: Engine, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services import requests

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(requests, "submit", broken)
    store(engine, message_update(GUEST, "towels"), now=bot.clock.now())
    processor = processor_for(bot.app)
    for attempt in range(1, intake.MAX_ATTEMPTS + 1):
        assert await processor.drain() == 1, attempt
        row = inbound(engine)[0]
        assert row.attempts == attempt
        bot.clock.advance(400)
    assert inbound(engine)[0].status == InboundStatus.FAILED
    await bot.deps.sender.drain()
    texts = bot.telegram.texts(GUEST)
    assert texts[0].startswith("Sorry, a technical problem on our side delays your message.")
    assert texts[-1].startswith("Sorry, something went wrong on our side")
    assert len(texts) == 2  # told once when it failed, once when it was given up


async def test_polling_confirms_a_batch_only_after_it_is_stored(engine: Engine, bot: Bot) -> None:
    first, second = message_update(GUEST, "towels"), message_update(GUEST, "pillow")
    bot.telegram.updates = [first, second]
    processor = processor_for(bot.app)
    poller = Poller(bot.deps, processor, bot.deps.env.i18n)
    task = asyncio.create_task(poller.run())
    try:
        await bot.telegram.wait_until(lambda: len(bot.telegram.sent_calls("getUpdates")) >= 2)
    finally:
        poller.stop()
        task.cancel()
    calls = bot.telegram.sent_calls("getUpdates")
    assert "offset" not in calls[0].params
    assert calls[1].params["offset"] == second["update_id"] + 1
    assert [r.update_id for r in inbound(engine)] == [first["update_id"], second["update_id"]]


async def test_polling_stops_when_telegram_rejects_the_token(bot: Bot) -> None:
    bot.telegram.fail_next("getUpdates", 401, "Unauthorized")
    poller = Poller(bot.deps, processor_for(bot.app), bot.deps.env.i18n)

    with pytest.raises(InvalidToken):  # ends the run with a clear error, not endless retries
        await asyncio.wait_for(poller.run(), 5)


async def test_polling_keeps_updates_with_telegram_while_the_database_is_down(
    bot: Bot, hotel: Any, clock: Any
) -> None:
    from tests.harness import make_bot

    broken = make_bot(make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"), hotel, clock)
    await broken.app.initialize()
    try:
        update = message_update(GUEST, "towels", language_code="en")
        broken.telegram.updates = [update]
        poller = Poller(broken.deps, processor_for(broken.app), broken.deps.env.i18n)
        task = asyncio.create_task(poller.run())
        await broken.telegram.wait_until(lambda: bool(broken.telegram.texts(GUEST)))
        poller.stop()
        await asyncio.wait_for(task, 5)
    finally:
        await broken.app.shutdown()
    assert len(broken.telegram.sent_calls("getUpdates")) == 1  # never confirmed
    assert broken.telegram.texts(GUEST) == [
        "Sorry, a technical problem on our side delays your message. It is not lost: it will be "
        "handled as soon as the problem is fixed. If it is urgent, please contact Front desk "
        "directly."
    ]


@pytest.fixture
async def webhook(bot: Bot) -> Any:
    server = WebhookServer(
        bot.deps, processor_for(bot.app), "s3cret-s3cret-s3cret", "/telegram", ("127.0.0.1", 0)
    )
    async with TestClient(TestServer(server.app())) as client:
        yield client


async def test_webhook_checks_the_secret_and_stores_before_answering(
    webhook: Any, engine: Engine
) -> None:
    update = message_update(GUEST, "towels")
    wrong = await webhook.post(
        "/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
    )
    assert wrong.status == 403
    missing = await webhook.post("/telegram", json=update)
    assert missing.status == 403
    assert inbound(engine) == []
    right = await webhook.post(
        "/telegram",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-s3cret-s3cret"},
    )
    assert right.status == 200
    assert [r.update_id for r in inbound(engine)] == [update["update_id"]]
    garbage = await webhook.post(
        "/telegram", data=b"{", headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-s3cret-s3cret"}
    )
    assert garbage.status == 400
    health = await webhook.get("/healthz")
    assert (health.status, await health.json()) == (200, {"status": "ok"})


async def test_webhook_answers_503_when_it_cannot_store(hotel: Any, clock: Any) -> None:
    from tests.harness import make_bot

    broken = make_bot(make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"), hotel, clock)
    server = WebhookServer(
        broken.deps,
        processor_for(broken.app),
        "s3cret-s3cret-s3cret",
        "/telegram",
        ("127.0.0.1", 0),
    )
    async with TestClient(TestServer(server.app())) as client:
        response = await client.post(
            "/telegram",
            json=message_update(GUEST, "towels"),
            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-s3cret-s3cret"},
        )
        assert response.status == 503
        health = await client.get("/healthz")
        assert health.status == 503


async def test_a_refused_button_answer_does_not_fail_a_handled_update(
    engine: Engine, bot: Bot
) -> None:
    """After a crash a refused press is handled again; Telegram refuses the second answer."""
    await bot.say(GUEST, "towels")
    ack = bot.telegram.last_message(GUEST)
    press = callback_update(GUEST, bot.deps.signer.sign(Cancel(99)), ack)  # no such request
    store(engine, press, now=bot.clock.now())
    bot.telegram.fail_next(
        "answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired"
    )

    assert await processor_for(bot.app).drain() == 1

    assert [r.status for r in inbound(engine)] == [InboundStatus.DONE]


async def test_a_processors_heartbeat_keeps_the_lease_of_an_update_under_way(
    engine: Engine, bot: Bot
) -> None:
    """While one update takes long, the heartbeat renews its lease: no other instance takes it,
    however long past one lease; had the processor died, it would be taken within a lease."""
    store(engine, message_update(GUEST, "towels"), now=bot.clock.now())
    release, started = asyncio.Event(), asyncio.Event()
    renewed: list[int] = []

    async def slow(update: Any) -> None:
        started.set()
        await release.wait()

    processor = Processor(bot.deps, "live", slow, lambda payload, _work: payload)  # type: ignore[arg-type, return-value]
    draining = asyncio.create_task(processor.drain())
    await asyncio.wait_for(started.wait(), 5)
    with session_factory(engine)() as session:
        for _ in range(3):
            bot.clock.advance(LEASE.total_seconds() - 1)
            renewed.append(processor.renew_leases())
            assert intake.claim(session, owner="other", now=bot.clock.now(), lease=LEASE) == []
        bot.clock.advance(LEASE.total_seconds() + 1)
        assert len(intake.claim(session, owner="other", now=bot.clock.now(), lease=LEASE)) == 1
        session.rollback()
    release.set()
    assert await draining == 1
    assert renewed == [1, 1, 1]
