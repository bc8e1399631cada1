"""The durable outbox and its sender: order per chat, pacing, leases, retries, blocked chats."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram import Bot

from bot import outbox
from bot.app import processor_for
from bot.buttons import CallbackSigner
from bot.clock import Clock, FakeClock, SystemClock
from bot.db import bookkeeping, session_factory
from bot.delivery import Sender, claim_spacing
from bot.i18n import I18n
from bot.models import (
    Event,
    Guest,
    InboundUpdate,
    Offer,
    OutboxMessage,
    OutboxStatus,
    Pacing,
    Request,
    RequestStatus,
    Role,
    Staff,
    as_utc,
)
from bot.notices import Prerendered, RequestAck
from bot.notifier import Outgoing
from bot.outbox import Rates
from bot.queue import LEASE
from bot.render import Renderer
from bot.services.common import Env, Person
from bot.telegram_http import AiohttpRequest, JsonApi
from tests.conftest import Desk, accept, guest_writes, mark_done, register, set_duty
from tests.fakebotapi import FakeBotAPI, RateLimits
from tests.harness import Bot as App
from tests.telegram_fakes import RecordingRequest

NO_PACING = Rates(private_interval=0, group_interval=0, global_interval=0)


def put(engine: Engine, *messages: Outgoing, now: object) -> None:
    with session_factory(engine)() as session:
        outbox.enqueue(session, messages, now)  # type: ignore[arg-type]
        session.commit()


def claim(
    engine: Engine, owner: str, clock: FakeClock, rates: Rates = NO_PACING
) -> list[OutboxMessage]:
    with session_factory(engine)() as session:
        rows = outbox.claim(session, owner=owner, now=clock.now(), rates=rates).rows
        session.commit()
        return rows


def test_private_chat_pacing_allows_a_short_burst_then_one_a_second(
    engine: Engine, clock: FakeClock
) -> None:
    put(engine, *(Outgoing(7, Prerendered(str(n))) for n in range(5)), now=clock.now())
    start = clock.now()
    rates = Rates(global_interval=0)
    slots: list[float] = []
    with session_factory(engine)() as session:
        while len(slots) < 5:
            claimed = outbox.claim(
                session, owner="a", now=clock.now(), rates=rates, horizon=timedelta(seconds=10)
            )
            if not claimed.rows:  # the chat must wait: not leased early, but said when
                assert claimed.next_at is not None
                clock.advance((claimed.next_at - clock.now()).total_seconds())
                continue
            (row,) = claimed.rows
            slots.append((row.send_at - start).total_seconds())  # type: ignore[operator]
            session.get_one(OutboxMessage, row.id).status = OutboxStatus.SENT
            session.flush()
        session.commit()
    assert slots == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_a_chat_waiting_for_its_pacing_does_not_hold_up_the_others(
    engine: Engine, clock: FakeClock
) -> None:
    """A staff member's fourth card in a burst waits a second; a guest's acknowledgement
    written meanwhile still leaves at once (Telegram's 30 a second overall)."""
    put(engine, *(text_to(7, f"card {n}") for n in range(4)), now=clock.now())
    rates = Rates()
    with session_factory(engine)() as session:
        for _ in range(4):
            claimed = outbox.claim(session, owner="a", now=clock.now(), rates=rates)
            for row in claimed.rows:
                session.get_one(OutboxMessage, row.id).status = OutboxStatus.SENT
            session.flush()
        session.commit()
    put(engine, text_to(8, "we have your request"), now=clock.now())

    with session_factory(engine)() as session:
        claimed = outbox.claim(session, owner="a", now=clock.now(), rates=rates)
        session.commit()

    assert [row.payload["notice"]["text"] for row in claimed.rows] == ["we have your request"]
    (ack,) = claimed.rows
    assert ack.send_at is not None and ack.send_at - clock.now() <= timedelta(seconds=0.1)
    assert claimed.next_at is not None
    assert (claimed.next_at - clock.now()).total_seconds() == pytest.approx(1.0, abs=0.1)


def test_a_paced_chats_queued_messages_wait_with_the_time_their_turn_comes(
    engine: Engine, clock: FakeClock
) -> None:
    """Past its burst, a chat's queued cards carry the time the next may go, so claims in
    between (every few milliseconds in a busy hotel) do not read them; they leave in order."""
    put(engine, *(text_to(7, f"card {n}") for n in range(6)), now=clock.now())
    rates = Rates()
    texts: list[str] = []

    def claim_and_send() -> outbox.Claimed:
        with session_factory(engine)() as session:
            claimed = outbox.claim(session, owner="a", now=clock.now(), rates=rates)
            for row in claimed.rows:
                session.get_one(OutboxMessage, row.id).status = OutboxStatus.SENT
                texts.append(row.payload["notice"]["text"])
            session.commit()
        return claimed

    def waiting() -> set[datetime]:
        return {as_utc(r.not_before) for r in rows(engine) if r.status == OutboxStatus.PENDING}

    for _ in range(3):  # the chat's burst
        claim_and_send()
    start = clock.now()
    assert texts == ["card 0", "card 1", "card 2"]
    paused = claim_and_send()
    assert paused.rows == [] and paused.next_at is not None
    assert waiting() == {paused.next_at}  # all three remaining, with their chat's next turn
    assert (paused.next_at - start).total_seconds() == pytest.approx(1.0, abs=0.1)

    for turn in (3, 4, 5):
        clock.advance((paused.next_at - clock.now()).total_seconds())
        paused = claim_and_send()
        assert len(paused.rows) == 1 and texts[-1] == f"card {turn}"  # one a turn, in order
        if turn < 5:
            assert paused.next_at is not None and waiting() == {paused.next_at}
    assert texts == [f"card {n}" for n in range(6)]


def test_a_busy_senders_claims_are_spaced_by_what_they_cost() -> None:
    # Claims as cheap as at 50 requests a second come every 10 ms; a burst's dearer ones
    # further apart, so that claiming stays a small share of the time, but never past 30 ms.
    assert claim_spacing(0.0005) == pytest.approx(0.01)
    assert claim_spacing(0.002) == pytest.approx(0.016)
    assert claim_spacing(0.003) == pytest.approx(0.024)
    assert claim_spacing(0.5) == pytest.approx(0.03)


def test_a_claim_says_when_a_retry_falls_due(engine: Engine, clock: FakeClock) -> None:
    put(engine, text_to(7, "first"), now=clock.now())
    assert len(claim(engine, "a", clock, Rates())) == 1  # the chat's pacing has a row now
    with session_factory(engine)() as session:
        row = session.exec(select(OutboxMessage)).one()
        row.lease_owner, row.lease_until = None, None
        row.not_before = clock.now() + timedelta(seconds=5)  # as after a failed attempt
        session.add(row)
        session.commit()

    with session_factory(engine)() as session:
        claimed = outbox.claim(session, owner="a", now=clock.now(), rates=Rates())
    assert claimed.rows == []
    assert claimed.next_at == clock.now() + timedelta(seconds=5)


def test_global_pacing_spreads_a_burst_to_many_chats(engine: Engine, clock: FakeClock) -> None:
    put(engine, *(text_to(1000 + n, "hi") for n in range(90)), now=clock.now())
    rates = Rates()
    with session_factory(engine)() as session:
        rows = outbox.claim(
            session,
            owner="a",
            now=clock.now(),
            rates=rates,
            horizon=timedelta(seconds=2),
            limit=200,
        ).rows
        session.commit()
    offsets = sorted((r.send_at - clock.now()).total_seconds() for r in rows)  # type: ignore[operator]
    assert len(rows) == 61  # one every 1/30 s, up to two seconds ahead
    per_second = sum(1 for o in offsets if o < 1.0)
    assert per_second <= 33
    assert all(b - a >= 1 / 30 - 1e-6 for a, b in itertools.pairwise(offsets))


@pytest.mark.parametrize("chats", [1, 12])
def test_pacing_and_leases_are_kept_per_chat_from_one_claim_to_the_next(
    engine: Engine, clock: FakeClock, chats: int
) -> None:
    put(
        engine,
        *(text_to(100 + c, f"{n}") for n in range(3) for c in range(chats)),
        now=clock.now(),
    )
    start = clock.now()
    rates = Rates(global_interval=0, private_interval=1.0, private_burst=1)
    offsets: list[list[float]] = []
    with session_factory(engine)() as session:
        for _ in range(3):
            claimed = outbox.claim(
                session, owner="a", now=clock.now(), rates=rates, horizon=timedelta(seconds=10)
            )
            session.commit()
            fresh = select(OutboxMessage).execution_options(populate_existing=True)
            stored = {r.id: r for r in session.exec(fresh)}
            assert all(stored[r.id].lease_owner == "a" for r in claimed.rows)
            offsets.append(
                [(stored[r.id].send_at - start).total_seconds() for r in claimed.rows]  # type: ignore[operator]
            )
            for row in claimed.rows:
                session.get_one(OutboxMessage, row.id).status = OutboxStatus.SENT
            session.commit()
            # Nothing more may go before the next second, and the claim says so.
            assert claim(engine, "b", clock, rates) == []
            assert claimed.next_at is None or claimed.next_at > clock.now()
            clock.advance(1.0)
    assert offsets == [[0.0] * chats, [1.0] * chats, [2.0] * chats]  # a second apart in each chat


@pytest.fixture
def telegram() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture
async def sender(
    engine: Engine, env: Env, clock: FakeClock, telegram: RecordingRequest
) -> AsyncIterator[Sender]:
    bot = Bot("123456:TEST", request=telegram, get_updates_request=telegram)
    await bot.initialize()
    yield make_sender(JsonApi(bot, telegram), engine, env, clock)
    await bot.shutdown()


def make_sender(
    api: JsonApi,
    engine: Engine,
    env: Env,
    clock: Clock,
    poll_interval: float = 0.5,
    database_in_thread: bool = False,
    rates: Rates = NO_PACING,
) -> Sender:
    return Sender(
        api,
        session_factory(engine),
        clock,
        owner="test",
        rates=rates,
        signer=CallbackSigner.for_token("123456:TEST"),
        render=Renderer(env.hotel, env.i18n),
        poll_interval=poll_interval,
        database_in_thread=database_in_thread,
    )


def text_to(chat_id: int, text: str) -> Outgoing:
    """A message of finished text (as a supervisor's view is) to ``chat_id``."""
    return Outgoing(chat_id, Prerendered(text))


def rows(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


async def test_429_waits_exactly_retry_after_and_does_not_stall_other_chats(
    engine: Engine, clock: FakeClock, sender: Sender, telegram: RecordingRequest
) -> None:
    put(
        engine,
        text_to(1, "to the busy chat"),
        text_to(2, "to another chat"),
        now=clock.now(),
    )
    telegram.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7, chat_id=1
    )

    await sender.drain()

    assert telegram.texts(2) == ["to another chat"]
    busy = rows(engine)[0]
    assert (busy.status, busy.not_before) == (
        OutboxStatus.PENDING,
        clock.now() + timedelta(seconds=7),
    )
    clock.advance(6.9)
    await sender.drain()
    assert telegram.texts(1) == []
    clock.advance(0.1)
    await sender.drain()
    assert telegram.texts(1) == ["to the busy chat"]


async def test_server_errors_and_timeouts_are_retried_with_backoff(
    engine: Engine, clock: FakeClock, sender: Sender, telegram: RecordingRequest
) -> None:
    put(engine, text_to(1, "hello"), now=clock.now())
    telegram.fail_next("sendMessage", 502, "Bad Gateway")
    telegram.fail_next("sendMessage", 500, "Internal Server Error")
    await sender.drain()
    first = rows(engine)[0]
    assert first.attempts == 1 and first.status == OutboxStatus.PENDING
    assert timedelta(seconds=0.3) <= first.not_before - clock.now() <= timedelta(seconds=0.7)
    clock.advance(1)
    await sender.drain()
    second = rows(engine)[0]
    assert second.attempts == 2
    assert timedelta(seconds=0.7) <= second.not_before - clock.now() <= timedelta(seconds=1.3)
    clock.advance(2)
    await sender.drain()
    assert telegram.texts(1) == ["hello"]
    assert rows(engine)[0].status == OutboxStatus.SENT


async def test_a_message_older_than_a_day_is_given_up(
    engine: Engine, clock: FakeClock, sender: Sender, telegram: RecordingRequest
) -> None:
    put(engine, text_to(1, "hello"), now=clock.now())
    clock.advance(25 * 3600)
    telegram.fail_next("sendMessage", 502, "Bad Gateway")
    await sender.drain()
    assert rows(engine)[0].status == OutboxStatus.FAILED


GUEST = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en")


async def test_staff_cards_are_edited_once_delivered(
    durable_desk: Desk, sender: Sender, telegram: RecordingRequest
) -> None:
    register(durable_desk, 1001, "Maria", "housekeeping")
    register(durable_desk, 1002, "Luca", "housekeeping")
    guest_writes(durable_desk, GUEST, "towels")
    accept(durable_desk, 1002, 1)

    await sender.drain()

    card = telegram.sent(1001, "sendMessage")[0]
    edit = telegram.sent(1001, "editMessageText")[0]
    assert edit.params["message_id"] == card.result["message_id"]
    assert "Luca" in edit.params["text"]
    luca_edit = telegram.sent(1002, "editMessageText")[0]
    assert [
        b["callback_data"].rpartition(":")[0]
        for b in luca_edit.params["reply_markup"]["inline_keyboard"][0]
    ] == [
        "done:1",
        "rel:1",
    ]


async def test_an_edit_whose_card_never_arrived(
    durable_desk: Desk, engine: Engine, sender: Sender, telegram: RecordingRequest
) -> None:
    register(durable_desk, 1001, "Maria", "housekeeping")
    register(durable_desk, 1002, "Luca", "housekeeping")
    guest_writes(durable_desk, GUEST, "towels")
    telegram.fail_next(
        "sendMessage", 400, "Bad Request: can't parse entities", chat_id=1001
    )  # Maria's card
    await sender.drain()
    accept(durable_desk, 1001, 1)
    await sender.drain()
    # Maria never got the card: the edit with Done/Release is sent as a new message instead.
    assert [
        b["callback_data"].rpartition(":")[0]
        for b in telegram.sent(1001, "sendMessage")[-1].params["reply_markup"]["inline_keyboard"][0]
    ] == ["done:1", "rel:1"]
    with Session(engine) as session:
        mine = session.exec(select(Offer).where(Offer.staff_id == 2)).first()
        assert mine is not None and mine.message_id is not None


async def test_unchanged_edit_counts_as_sent(
    engine: Engine, clock: FakeClock, sender: Sender, telegram: RecordingRequest
) -> None:
    put(engine, Outgoing(1, Prerendered("same"), edit_message_id=10), now=clock.now())
    telegram.fail_next(
        "editMessageText",
        400,
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same",
    )
    await sender.drain()
    assert rows(engine)[0].status == OutboxStatus.SENT


async def handle_stored_updates(bot: App, sender: Sender) -> None:
    """Let the processor handle what the sender stored (a refused chat), then deliver."""
    await processor_for(bot.app).drain()
    await sender.drain()


async def test_a_guest_who_blocked_the_bot_is_marked_and_not_retried(
    durable_desk: Desk,
    engine: Engine,
    clock: FakeClock,
    sender: Sender,
    telegram: RecordingRequest,
    bot: App,
) -> None:
    register(durable_desk, 1001, "Maria", "housekeeping")
    guest_writes(durable_desk, GUEST, "towels")
    telegram.fail_next(
        "sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=GUEST.chat_id
    )

    await sender.drain()
    await handle_stored_updates(bot, sender)

    to_guest = [r for r in rows(engine) if r.chat_id == GUEST.chat_id]
    assert {r.status for r in to_guest} == {OutboxStatus.FAILED}
    assert (
        len([c for c in telegram.calls if c.params.get("chat_id") == GUEST.chat_id]) == 1
    )  # no retry storm
    with Session(engine) as session:
        assert session.exec(select(Guest)).one().blocked_at == clock.now()
    # The request goes on: Maria takes it and finishes it.
    accept(durable_desk, 1001, 1)
    mark_done(durable_desk, 1001, 1)
    await sender.drain()
    with Session(engine) as session:
        assert session.get(Request, 1).status == RequestStatus.DONE  # type: ignore[union-attr]
    kinds = durable_desk.read(
        lambda s: [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))]
    )
    assert "guest_unreachable" in kinds


async def test_staff_who_blocked_the_bot_go_off_duty_and_their_work_is_handed_on(
    durable_desk: Desk,
    engine: Engine,
    clock: FakeClock,
    sender: Sender,
    telegram: RecordingRequest,
    bot: App,
) -> None:
    register(durable_desk, 1001, "Maria", "housekeeping")
    register(durable_desk, 1002, "Luca", "housekeeping", on_duty=False)
    register(durable_desk, 1009, "Sofia", "front_desk", role=Role.SUPERVISOR)
    guest_writes(durable_desk, GUEST, "towels")
    clock.advance(60)  # past the burst window: a request of its own
    guest_writes(durable_desk, GUEST, "pillow")
    await sender.drain()
    accept(durable_desk, 1001, 1)
    set_duty(durable_desk, 1002, on=True)
    telegram.clear()
    telegram.fail_next(
        "editMessageText", 403, "Forbidden: bot was blocked by the user", chat_id=1001
    )

    await sender.drain()
    await handle_stored_updates(bot, sender)

    with Session(engine) as session:
        maria = session.exec(select(Staff).where(Staff.telegram_id == 1001)).one()
        assert (maria.on_duty, maria.blocked_at) == (False, clock.now())
        first = session.get(Request, 1)
        assert first is not None and (first.status, first.assignee_id) == (RequestStatus.OPEN, None)
    assert telegram.texts(1009)[-1] == (
        "⚠️ Maria (Housekeeping) has blocked the bot and is now off duty. 2 requests of theirs were handed on."
    )
    assert any(text.startswith("Request #1") and "towels" in text for text in telegram.texts(1002))


@pytest.mark.parametrize("in_thread", [False, True], ids=["on-the-loop", "in-a-thread"])
async def test_a_running_sender_records_every_outcome_of_deliveries_that_overlap(
    engine: Engine,
    env: Env,
    clock: FakeClock,
    sender: Sender,
    telegram: RecordingRequest,
    in_thread: bool,
) -> None:
    chats = range(100, 140)
    put(engine, *(text_to(chat, f"hello {chat}") for chat in chats), now=clock.now())
    telegram.fail_next("sendMessage", 500, "Internal Server Error", chat_id=105)
    telegram.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=106)
    sender = make_sender(sender.api, engine, env, clock, database_in_thread=in_thread)

    running = asyncio.create_task(sender.run())
    try:
        await telegram.wait_until(lambda: len(telegram.calls) >= len(chats))
        for _ in range(200):  # outcomes are written by the recorder task, right after
            recorded = rows(engine)
            if all(r.lease_owner is None for r in recorded):
                break
            await asyncio.sleep(0.01)
    finally:
        await sender.stop()
        running.cancel()

    by_chat = {r.chat_id: r for r in rows(engine)}
    assert all(r.lease_owner is None for r in by_chat.values())
    assert by_chat[105].status == OutboxStatus.PENDING and by_chat[105].attempts == 1
    assert by_chat[106].status == OutboxStatus.FAILED
    sent = [c for c in chats if by_chat[c].status == OutboxStatus.SENT]
    assert sent == [c for c in chats if c not in (105, 106)]
    assert all(by_chat[c].message_id is not None for c in sent)


@pytest.mark.parametrize("in_thread", [False, True], ids=["on-the-loop", "in-a-thread"])
async def test_a_chats_next_message_leaves_once_the_one_before_is_recorded_not_at_the_next_poll(
    engine: Engine,
    env: Env,
    clock: FakeClock,
    sender: Sender,
    telegram: RecordingRequest,
    in_thread: bool,
) -> None:
    put(
        engine,
        *(text_to(7, f"part {n}") for n in range(1, 4)),
        text_to(8, "other"),
        now=clock.now(),
    )
    patient = make_sender(
        sender.api, engine, env, clock, poll_interval=60, database_in_thread=in_thread
    )

    running = asyncio.create_task(patient.run())
    try:  # in order, one after another, well before the minute's poll
        await telegram.wait_until(lambda: len(telegram.texts(7)) == 3)
    finally:
        await patient.stop()
        running.cancel()

    assert telegram.texts(7) == ["part 1", "part 2", "part 3"]
    assert telegram.texts(8) == ["other"]


async def test_a_message_left_for_its_chats_pacing_leaves_on_time_not_at_the_next_poll(
    engine: Engine, env: Env, sender: Sender, telegram: RecordingRequest
) -> None:
    clock = SystemClock()
    put(engine, *(text_to(7, f"card {n}") for n in range(1, 4)), now=clock.now())
    paced = make_sender(
        sender.api,
        engine,
        env,
        clock,
        poll_interval=60,
        rates=Rates(private_interval=0.1, private_burst=1, global_interval=0),
    )

    arrived: list[float] = []
    running = asyncio.create_task(paced.run())
    try:  # a tenth of a second apart, well before the minute's poll
        for count in (1, 2, 3):
            await telegram.wait_until(lambda count=count: len(telegram.texts(7)) == count)  # type: ignore[misc]
            arrived.append(time.monotonic())
    finally:
        await paced.stop()
        running.cancel()

    assert telegram.texts(7) == ["card 1", "card 2", "card 3"]
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(arrived))


def test_only_bookkeeping_commits_skip_waiting_for_the_disk(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no per-transaction durability setting")
    with Session(engine) as session:
        bookkeeping(session)
        assert session.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        session.commit()
        # the next transaction on the same connection is durable again
        assert session.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


class TimedRequest(RecordingRequest):
    """The recording fake, noting when (by the test's clock) each message reached Telegram;
    ``late`` makes the network hold one of them ``seconds`` on its way, ``gate`` holds every
    send until it is set."""

    def __init__(self, clock: FakeClock, late: int | None = None, seconds: float = 0.0) -> None:
        super().__init__()
        self.clock = clock
        self.late, self.seconds = late, seconds
        self.arrivals: list[tuple[int, datetime]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()

    async def do_request(
        self, url: str, method: str, request_data: Any = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        if url.rsplit("/", 1)[-1] in ("sendMessage", "editMessageText"):
            self.waiting.set()
            await self.gate.wait()
            if len(self.arrivals) + 1 == self.late:
                self.clock.advance(self.seconds)
            self.arrivals.append((int(request_data.parameters["chat_id"]), self.clock.now()))
        return await super().do_request(url, method, request_data, *args, **kwargs)


def flood_refusals(arrivals: list[tuple[int, datetime]]) -> list[str]:
    """The messages Telegram's flood limits (as the fake Bot API enforces them) would refuse."""
    limits, tat, refused = RateLimits(), dict[int | None, float](), []
    for chat, when in arrivals:
        at = when.timestamp()
        keys = (None, chat)
        if any(tat.get(key, at) - limits.bucket(key)[1] > at for key in keys):
            refused.append(f"chat {chat} at {when:%S.%f}")
            continue
        for key in keys:
            tat[key] = max(tat.get(key, at), at) + limits.bucket(key)[0]
    return refused


async def send_everything(sender: Sender, engine: Engine, clock: FakeClock) -> None:
    """Drain the outbox as time goes on, a twentieth of a second at a time."""
    for _ in range(400):
        await sender.drain()
        if all(row.status != OutboxStatus.PENDING for row in rows(engine)):
            return
        clock.advance(0.05)
    raise AssertionError("the outbox did not empty")


@pytest.fixture
async def timed_bot() -> AsyncIterator[Callable[[TimedRequest], Awaitable[JsonApi]]]:
    bots: list[Bot] = []

    async def api(request: TimedRequest) -> JsonApi:
        bot = Bot("123456:TEST", request=request, get_updates_request=request)
        await bot.initialize()
        bots.append(bot)
        return JsonApi(bot, request)

    yield api
    for bot in bots:
        await bot.shutdown()


async def test_a_send_delayed_by_the_network_does_not_let_the_chats_next_ones_catch_up(
    engine: Engine, env: Env, clock: FakeClock, timed_bot: Any
) -> None:
    """A staff chat's first card reaches Telegram two seconds late: the cards queued behind it
    are paced from when it arrived, not from when it was planned, so they do not catch up
    and four arrive inside one second."""
    telegram = TimedRequest(clock, late=1, seconds=2.0)
    put(engine, *(text_to(7, f"card {n}") for n in range(8)), now=clock.now())
    sender = make_sender(await timed_bot(telegram), engine, env, clock, rates=Rates())

    await send_everything(sender, engine, clock)

    assert telegram.texts(7) == [f"card {n}" for n in range(8)]
    assert flood_refusals(telegram.arrivals) == []


async def test_a_message_taken_over_from_a_killed_sender_counts_its_lost_send(
    engine: Engine, env: Env, clock: FakeClock, timed_bot: Any
) -> None:
    """The killed instance sent a card late, then died before recording it; the restarted one
    sends it again, and paces the chat as if the lost send had just happened."""
    telegram = TimedRequest(clock)
    put(engine, *(text_to(7, f"card {n}") for n in range(4)), now=clock.now())
    with session_factory(engine)() as session:
        assert len(outbox.claim(session, owner="killed", now=clock.now(), rates=Rates()).rows)
        session.commit()
    lost = (7, clock.advance(0.9))  # its send reached Telegram, the process died
    clock.advance(0.1)
    with session_factory(engine)() as session:  # restarted alone, as on SQLite
        outbox.release_all(session)
        session.commit()
    sender = make_sender(await timed_bot(telegram), engine, env, clock, rates=Rates())

    await send_everything(sender, engine, clock)

    assert telegram.texts(7) == [f"card {n}" for n in range(4)]  # card 0 twice, with the lost one
    assert flood_refusals([lost, *telegram.arrivals]) == []


async def test_a_senders_heartbeat_keeps_the_lease_of_a_send_under_way(
    engine: Engine, env: Env, clock: FakeClock, timed_bot: Any
) -> None:
    telegram = TimedRequest(clock)
    telegram.gate.clear()  # the send hangs on the network
    put(engine, text_to(1, "slow to leave"), now=clock.now())
    sender = make_sender(await timed_bot(telegram), engine, env, clock, poll_interval=60)
    running = asyncio.create_task(sender.run())
    try:
        await asyncio.wait_for(telegram.waiting.wait(), 5)
        for _ in range(3):  # well past one lease, renewed by each heartbeat
            clock.advance(LEASE.total_seconds() - 1)
            assert sender.renew_leases() == 1
            assert claim(engine, "other-instance", clock) == []
        clock.advance(LEASE.total_seconds() + 1)  # had it died: taken over
        assert [r.payload["notice"]["text"] for r in claim(engine, "other-instance", clock)] == [
            "slow to leave"
        ]
    finally:
        telegram.gate.set()
        await sender.stop()
        running.cancel()


def test_instances_pacing_a_new_chat_at_once_keep_the_later_time(
    engine: Engine, clock: FakeClock
) -> None:
    """Two claimers both find no pacing row for a chat and both write one: no error, and the
    later time stands (on PostgreSQL this was a unique violation on ``pacing_pkey``)."""
    first, second = session_factory(engine)(), session_factory(engine)()
    try:
        mine = outbox._Pacings(first, [4242], clock.now())
        theirs = outbox._Pacings(second, [4242], clock.now())
        mine.tat[4242] = clock.now() + timedelta(seconds=2)
        mine.save()
        first.commit()
        theirs.tat[4242] = clock.now() + timedelta(seconds=1)
        theirs.save()
        second.commit()
    finally:
        first.close()
        second.close()
    with Session(engine) as session:
        stored = session.get_one(Pacing, 4242)
    assert as_utc(stored.tat) == clock.now() + timedelta(seconds=2)


async def test_a_502_html_page_is_one_warning_and_the_message_is_retried(
    engine: Engine, env: Env, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    put(engine, text_to(1, "hello"), now=clock.now())
    async with FakeBotAPI(token="123456:TEST") as fake:
        request = AiohttpRequest(4)
        bot = Bot("123456:TEST", base_url=fake.base_url, request=request)
        async with bot:
            sender = make_sender(JsonApi(bot, request), engine, env, clock)
            fake.fail_next("sendMessage", 502, html=True)
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                await sender.drain()
            row = rows(engine)[0]
            assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)  # retried later
            warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert [(r.levelno, r.exc_info) for r in warnings] == [(logging.WARNING, None)]
            assert "Bad Gateway (502" in warnings[0].getMessage()
            clock.advance(1)
            await sender.drain()
        assert [m["text"] for m in fake.messages_to(1)] == ["hello"]
    assert rows(engine)[0].status == OutboxStatus.SENT


async def test_a_refused_chat_becomes_telegrams_kicked_update_in_the_intake(
    engine: Engine, clock: FakeClock, sender: Sender, telegram: RecordingRequest
) -> None:
    put(
        engine,
        text_to(5003, "hello"),
        text_to(5003, "again"),
        now=clock.now(),
    )
    telegram.fail_next("sendMessage", 400, "Bad Request: chat not found", chat_id=5003)
    woken: list[bool] = []
    sender.updates_stored = lambda: woken.append(True)

    await sender.drain()

    assert [r.status for r in rows(engine)] == [OutboxStatus.FAILED] * 2  # the chat is dropped
    with Session(engine) as session:
        (stored,) = session.exec(select(InboundUpdate)).all()
    first = rows(engine)[0]
    assert (stored.update_id, stored.chat_id, stored.status) == (-first.id, 5003, "pending")  # type: ignore[operator]
    change = stored.payload["my_chat_member"]
    assert (change["chat"]["id"], change["new_chat_member"]["status"]) == (5003, "kicked")
    assert woken == [True]  # the processor is told


async def test_a_row_stored_before_notices_existed_is_sent_as_it_was_written(
    engine: Engine, clock: FakeClock, sender: Sender, telegram: RecordingRequest
) -> None:
    legacy = {
        "text": "Richiesta #1 · Pulizie",
        "buttons": [[["Accetta", "acc:1"], ["?", "no-such-action"]]],
        "offer_id": 5,
    }
    with session_factory(engine)() as session:
        session.add(
            OutboxMessage(
                chat_id=1001,
                payload=legacy,
                status=OutboxStatus.PENDING,
                attempts=0,
                not_before=clock.now(),
                created_at=clock.now(),
            )
        )
        session.commit()

    await sender.drain()

    sent = telegram.sent(1001, "sendMessage")[0]
    assert sent.params["text"] == "Richiesta #1 · Pulizie"
    keyboard = sent.params["reply_markup"]["inline_keyboard"]
    assert [
        [(b["text"], b["callback_data"].rpartition(":")[0]) for b in row] for row in keyboard
    ] == [
        [("Accetta", "acc:1")]  # an action this version does not know is left out
    ]


async def test_a_notice_is_rendered_when_it_is_sent_in_the_readers_language(
    engine: Engine, clock: FakeClock, sender: Sender, telegram: RecordingRequest
) -> None:
    notice = RequestAck(request_id=7, department="housekeeping", tier="department")
    put(engine, Outgoing(5001, notice, "it"), Outgoing(5002, notice, "de"), now=clock.now())
    stored = [row.payload for row in rows(engine)]
    assert stored[0] == {
        "locale": "it",
        "notice": {
            "kind": "request_ack",
            "request_id": 7,
            "department": "housekeeping",
            "tier": "department",
            "choices": [],
            "urgent": False,
        },
    }

    await sender.drain()

    italian = I18n("en").translator("it").gettext
    assert telegram.sent(5001, "sendMessage")[0].params["text"] == italian(
        "Request #{number} received — {department} is on it."
    ).format(number=7, department="Governante")
    assert telegram.sent(5002, "sendMessage")[0].params["text"].startswith("Anfrage #7")
