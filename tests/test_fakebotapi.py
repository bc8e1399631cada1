"""Tests of the fake Bot API server, driven by python-telegram-bot's real client."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakebotapi import Call, Delivery, FakeBotAPI, FakeBotAPIThread, RateLimits

ROOT = Path(__file__).resolve().parent.parent
GUEST = 4242


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as client:
        yield client


def yes_no() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="yes"),
                InlineKeyboardButton("No", callback_data="no"),
            ]
        ]
    )


async def test_get_me(fake: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == fake.bot_id
    assert me.is_bot
    assert me.username == "concierge_test_bot"
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.base_url.endswith("/bot")


async def test_wrong_token_raises_invalid_token(fake: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=fake.base_url):
            pass
    assert fake.calls[-1].status == 401


async def test_raw_http_routes(fake: FakeBotAPI) -> None:
    base = f"{fake.base_url}{fake.token}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/noSuchMethod") as response:
            assert response.status == 404
            body = await response.json()
            assert body == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        async with session.get(f"{fake.base_url}1:BAD/getMe") as response:
            assert response.status == 401
            assert (await response.json())["description"] == "Unauthorized"
        async with session.get(f"{base}/GETME") as response:
            assert (await response.json())["result"]["id"] == fake.bot_id
        async with session.get(f"{base}/sendMessage?chat_id=5&text=via+query") as response:
            assert (await response.json())["result"]["text"] == "via query"
        payload = {"chat_id": 5, "text": "[json] body", "reply_markup": {"keyboard": [["A"]]}}
        async with session.post(f"{base}/sendmessage", json=payload) as response:
            result = (await response.json())["result"]
            assert result["text"] == "[json] body"
            assert "reply_markup" not in result  # Telegram echoes inline keyboards only
    assert [c.method for c in fake.calls[-2:]] == ["sendMessage", "sendMessage"]
    assert fake.calls[-2].params == {"chat_id": 5, "text": "via query"}
    assert fake.messages_to(5)[1]["reply_markup"] == {"keyboard": [["A"]]}


async def test_send_message_round_trips_inline_keyboard(fake: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(GUEST, "Need anything?", reply_markup=yes_no())
    assert sent.message_id == 1
    assert sent.chat.id == GUEST
    assert sent.from_user is not None
    assert sent.from_user.id == fake.bot_id
    assert sent.reply_markup == yes_no()
    call = fake.calls[-1]
    assert call.method == "sendMessage"
    assert call.params["chat_id"] == GUEST
    assert call.params["reply_markup"] == yes_no().to_dict()
    second = await bot.send_message(
        GUEST, "Reply keyboard", reply_markup=ReplyKeyboardMarkup([["A"]])
    )
    assert second.message_id == 2
    assert second.reply_markup is None
    transcript = fake.messages_to(GUEST)
    assert [m["text"] for m in transcript] == ["Need anything?", "Reply keyboard"]
    assert transcript[0]["reply_markup"] == yes_no().to_dict()
    assert transcript[1]["reply_markup"]["keyboard"] == [[{"text": "A"}]]
    assert (await bot.send_message(GUEST + 1, "other chat")).message_id == 1


async def test_parse_modes_render_like_telegram(fake: FakeBotAPI, bot: Bot) -> None:
    html = await bot.send_message(GUEST, "<b>Room</b> 12 &amp; <i>spa</i>", parse_mode="HTML")
    assert html.text == "Room 12 & spa"
    assert [(e.type, e.offset, e.length) for e in html.entities] == [
        ("bold", 0, 4),
        ("italic", 10, 3),
    ]
    md = await bot.send_message(GUEST, r"*Late* checkout at 12\.00", parse_mode="MarkdownV2")
    assert md.text == "Late checkout at 12.00"
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: character '\.' is reserved"):
        await bot.send_message(GUEST, "Checkout at 12.00", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(GUEST, "Dear <Guest>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(GUEST, "   ")


async def test_get_updates_returns_pushed_update(fake: FakeBotAPI, bot: Bot) -> None:
    pushed = fake.user_message(GUEST, "/start@concierge_test_bot room12", language_code="de")
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    message = updates[0].message
    assert message is not None
    assert message.text == "/start@concierge_test_bot room12"
    assert message.chat.type == "private"
    assert message.from_user is not None
    assert message.from_user.language_code == "de"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 25)]
    plain = fake.user_message(GUEST, "hello /start")
    assert "entities" not in plain["message"]
    assert plain["message"]["message_id"] == 2


async def test_get_updates_long_polls(fake: FakeBotAPI, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_until(lambda: fake.polling == 1)
    assert not poll.done()
    started = time.monotonic()
    update_id = fake.user_message(GUEST, "anyone there?")["update_id"]
    updates = await poll
    assert time.monotonic() - started < 1.0
    answered = fake.calls_of("getUpdates")[-1]
    assert answered.time < fake.push_time(update_id) <= answered.completed
    assert updates[0].message is not None
    assert updates[0].message.text == "anyone there?"
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()


async def test_get_updates_times_out_empty(fake: FakeBotAPI, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=dt.timedelta(seconds=0.3)) == ()
    assert 0.25 <= time.monotonic() - started < 2.0


async def test_offsets_confirm_updates(fake: FakeBotAPI, bot: Bot) -> None:
    ids = [fake.user_message(GUEST, f"m{n}")["update_id"] for n in range(4)]
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert [u["update_id"] for u in fake.pending_updates()] == ids[1:]
    assert await bot.get_updates(offset=ids[-1] + 1) == ()
    assert fake.pending_updates() == []
    newer = fake.user_message(GUEST, "after")["update_id"]
    assert newer == ids[-1] + 1
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [newer]


async def test_edit_message_text(fake: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(GUEST, "Choose", reply_markup=yes_no())
    edited = await bot.edit_message_text("Thanks!", chat_id=GUEST, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "Thanks!"
    assert edited.edit_date is not None
    assert edited.reply_markup is None
    transcript = fake.messages_to(GUEST)
    assert len(transcript) == 1
    assert transcript[0]["text"] == "Thanks!"
    assert transcript[0]["reply_markup"] is None
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=GUEST, message_id=99)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Thanks!", chat_id=GUEST, message_id=sent.message_id)
    await bot.edit_message_reply_markup(GUEST, sent.message_id, reply_markup=yes_no())
    assert fake.messages_to(GUEST)[0]["reply_markup"] == yes_no().to_dict()
    assert await bot.delete_message(GUEST, sent.message_id)
    assert fake.messages_to(GUEST) == []
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(GUEST, sent.message_id)


async def test_callback_query_flow(fake: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(GUEST, "Extra towels?", reply_markup=yes_no())
    stored = fake.messages_to(GUEST)[0]
    pushed = fake.callback(GUEST, stored, "yes")
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.id == pushed["callback_query"]["id"]
    assert query.data == "yes"
    assert query.from_user.id == GUEST
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert query.message.reply_markup == yes_no()
    assert await query.answer("Noted")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer()
    with pytest.raises(LookupError):
        fake.callback(GUEST, stored, "maybe")
    second = fake.press_button(GUEST, "No")
    assert second["callback_query"]["data"] == "no"
    assert second["callback_query"]["id"] != query.id


async def test_media_updates_and_files(fake: FakeBotAPI, bot: Bot) -> None:
    fake.user_photo(GUEST, caption="broken lamp")
    fake.user_voice(GUEST, duration=4)
    fake.user_location(GUEST, 48.2, 16.37)
    fake.user_sticker(GUEST)
    photo, voice, location, sticker = [u.message for u in await bot.get_updates()]
    assert photo is not None
    assert voice is not None
    assert location is not None
    assert sticker is not None
    assert photo.caption == "broken lamp"
    assert photo.photo[-1].width == 1280
    assert len({size.file_id for size in photo.photo}) == len(photo.photo)
    assert voice.voice is not None
    assert fake.calls_of("getUpdates")[-1].result[1]["message"]["voice"]["duration"] == 4
    assert location.location is not None
    assert location.location.latitude == pytest.approx(48.2)
    assert sticker.sticker is not None
    file = await bot.get_file(photo.photo[-1].file_id)
    assert file.file_path is not None
    assert file.file_path.startswith(fake.base_file_url)
    assert len(await file.download_as_bytearray()) == file.file_size
    echoed = await bot.send_photo(GUEST, photo.photo[-1].file_id, caption="forwarded")
    assert [p.file_id for p in echoed.photo] == [p.file_id for p in photo.photo]
    uploaded = await bot.send_document(GUEST, b"invoice", filename="invoice.txt")
    assert uploaded.document is not None
    assert uploaded.document.file_name == "invoice.txt"
    assert fake.calls[-1].params["document"].data == b"invoice"
    await bot.send_voice(GUEST, voice.voice.file_id)
    await bot.send_location(GUEST, 48.2, 16.37)
    assert fake.calls[-1].params["latitude"] == pytest.approx(48.2)
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(GUEST, "no-such-file-id")
    media = ("photo", "document", "voice", "location")
    kinds = [next(k for k in media if m.get(k)) for m in fake.messages_to(GUEST)]
    assert kinds == ["photo", "document", "voice", "location"]


async def test_commands_and_webhook(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands([("start", "Start"), ("help", "Help")], language_code="de")
    assert [c.command for c in await bot.get_my_commands(language_code="de")] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    assert fake.commands("de")[0] == {"command": "start", "description": "Start"}
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start", "uppercase is invalid")])
    await bot.delete_my_commands(language_code="de")
    assert fake.commands("de") == []
    await bot.set_webhook("https://example.invalid/hook")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    with pytest.raises(Conflict):
        await bot.get_updates()
    fake.user_message(GUEST, "dropped")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    chat = await bot.get_chat(GUEST)
    assert chat.id == GUEST
    assert await bot.send_chat_action(GUEST, "typing")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_next_retry_after(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter, match="Retry in 7"):
            await bot.send_message(GUEST, "flood")
    assert (await bot.send_message(GUEST, "ok now")).text == "ok now"
    assert [c.status for c in fake.calls_of("send_message")] == [429, 429, 200]
    fake.fail_next("getMe", 502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limits_answer_429_beyond_telegram_limits() -> None:
    limits = RateLimits(per_second=1, burst=5, chat_per_second=0.1, chat_burst=3, tolerance=0)
    async with (
        FakeBotAPI(rate_limits=limits) as fake,
        Bot(fake.token, base_url=fake.base_url) as bot,
    ):
        sent = [await bot.send_message(GUEST, f"m{i}") for i in range(3)]  # the chat's burst
        with pytest.raises(RetryAfter, match="Retry in 10"):
            await bot.send_message(GUEST, "too soon for this chat")
        with pytest.raises(RetryAfter):  # an edit counts like a send
            await bot.edit_message_text("edited", chat_id=GUEST, message_id=sent[0].message_id)
        await bot.send_message(GUEST + 1, "another chat")
        await bot.send_message(GUEST + 2, "a third chat")  # five in all: the overall burst
        with pytest.raises(RetryAfter, match="Retry in 1"):
            await bot.send_message(GUEST + 3, "too soon overall")
        assert await bot.get_me()  # other methods are not limited
        assert [c.status for c in fake.calls_of("sendMessage")] == [200] * 3 + [429] + [200] * 2 + [
            429
        ]
        rejected = [c for c in fake.calls if c.status == 429]
        assert all(c.description.startswith("Too Many Requests: retry after") for c in rejected)  # type: ignore[union-attr]
        assert [m["text"] for m in fake.messages_to(GUEST)] == ["m0", "m1", "m2"]
        assert fake.messages_to(GUEST + 3) == []


async def test_rate_limits_allow_again_after_the_wait() -> None:
    # Two a second: "at once" stays well inside the half second even on a loaded machine.
    limits = RateLimits(chat_per_second=2, chat_burst=1, tolerance=0)
    async with (
        FakeBotAPI(rate_limits=limits) as fake,
        Bot(fake.token, base_url=fake.base_url) as bot,
    ):
        await bot.send_message(GUEST, "first")
        with pytest.raises(RetryAfter):
            await bot.send_message(GUEST, "second, at once")
        await asyncio.sleep(0.55)
        assert (await bot.send_message(GUEST, "second, later")).text == "second, later"
    async with FakeBotAPI() as unlimited, Bot(unlimited.token, base_url=unlimited.base_url) as bot:
        assert unlimited.rate_limits is None  # no limits unless asked for
        for i in range(40):
            await bot.send_message(GUEST, f"flood {i}")
        assert all(c.ok for c in unlimited.calls)


async def test_block_chat_forbidden(fake: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(GUEST, "before")
    fake.block_chat(GUEST)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(GUEST, "after")
    with pytest.raises(Forbidden):
        await bot.edit_message_text("edit", chat_id=GUEST, message_id=sent.message_id)
    assert (await bot.send_message(GUEST + 1, "someone else")).text == "someone else"
    fake.unblock_chat(GUEST)
    assert (await bot.send_message(GUEST, "again")).message_id == 2


async def test_delay_next_times_out_but_delivers(fake: FakeBotAPI, bot: Bot) -> None:
    fake.delay_next("sendMessage", 0.5)
    since = len(fake.calls)
    with pytest.raises(TimedOut):
        await bot.send_message(GUEST, "slow", read_timeout=0.1)
    message = await fake.wait_for_message(GUEST, "slow", timeout=5, since=since)
    assert message["message_id"] == 1
    call = await fake.wait_for_call("sendMessage", since=since)
    assert call.completed - call.time >= 0.45


async def test_wait_helpers(fake: FakeBotAPI, bot: Bot) -> None:
    async def later() -> None:
        await bot.send_message(GUEST, "first")
        await bot.send_photo(GUEST, b"img", caption="your receipt")

    task = asyncio.create_task(later())
    found = await fake.wait_for_message(GUEST, lambda text: "receipt" in text, timeout=5)
    assert found["caption"] == "your receipt"
    assert found["text"] is None
    await task
    call = await fake.wait_for_call(lambda c: c.method == "sendMessage")
    assert isinstance(call, Call)
    assert call.result["text"] == "first"
    with pytest.raises(AssertionError, match="sendPhoto"):
        await fake.wait_for_call("editMessageText", timeout=0.05)
    with pytest.raises(AssertionError):
        await fake.wait_for_message(GUEST, "never", timeout=0.05)


async def test_application_polling_end_to_end(fake: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Welcome! Towels?", reply_markup=yes_no())

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"You chose {query.data}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app = Application.builder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5)
        try:
            fake.user_message(GUEST, "/start")
            welcome = await fake.wait_for_message(GUEST, "Welcome")
            assert welcome["reply_markup"] == yes_no().to_dict()
            since = len(fake.calls)
            fake.press_button(GUEST, "Yes")
            edited = await fake.wait_for_message(GUEST, "You chose yes", since=since)
            assert edited["message_id"] == welcome["message_id"]
            await fake.wait_for_call("answerCallbackQuery")
            fake.user_message(GUEST, "hi")
            await fake.wait_for_message(GUEST, "echo: hi")
        finally:
            await app.updater.stop()
            await app.stop()
    assert fake.pending_updates() == []
    assert [m["text"] for m in fake.messages_to(GUEST)] == ["You chose yes", "echo: hi"]


BOT_SCRIPT = textwrap.dedent(
    """
    import os
    from telegram.ext import Application, MessageHandler, filters

    async def echo(update, context):
        await update.effective_message.reply_text("got " + update.effective_message.text)

    app = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(timeout=5)
    """
)


@pytest.fixture
def threaded_fake() -> Iterator[FakeBotAPIThread]:
    with FakeBotAPIThread() as server:
        yield server


def test_threaded_wrapper_drives_subprocess_bot(threaded_fake: FakeBotAPIThread) -> None:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": threaded_fake.token,
        "TELEGRAM_BASE_URL": threaded_fake.base_url,
    }
    proc = subprocess.Popen([sys.executable, "-c", BOT_SCRIPT], env=env, cwd=ROOT)
    try:
        threaded_fake.wait_until(lambda: threaded_fake.fake.polling > 0, timeout=30)
        threaded_fake.user_message(GUEST, "hello")
        reply = threaded_fake.wait_for_message(GUEST, lambda text: text == "got hello")
        assert reply["chat"]["id"] == GUEST
        threaded_fake.fail_next("sendMessage", 429, retry_after=1)
        since = len(threaded_fake.calls)
        threaded_fake.user_message(GUEST, "again")
        threaded_fake.wait_for_call(lambda c: c.status == 429, since=since)
        assert [m["text"] for m in threaded_fake.messages_to(GUEST)] == ["got hello"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert threaded_fake.calls_of("getMe")


def test_threaded_wrapper_sync_helpers() -> None:
    server = FakeBotAPIThread().start()
    try:
        update_id = server.push_update({"message": {"message_id": 1, "date": 0, "chat": {}}})
        assert server.pending_updates()[0]["update_id"] == update_id
        server.block_chat(GUEST)

        async def use_bot() -> None:
            async with Bot(server.token, base_url=server.base_url) as client:
                assert len(await client.get_updates(offset=update_id + 1)) == 0
                with pytest.raises(Forbidden):
                    await client.send_message(GUEST, "blocked")
                await client.send_message(GUEST + 1, "fine")

        asyncio.run(use_bot())
        assert server.messages_to(GUEST + 1)[0]["text"] == "fine"
        with pytest.raises(AssertionError):
            server.wait_for_message(GUEST, "blocked", timeout=0.05)
    finally:
        server.stop()


# ------------------------------------------------------------------------------------- webhooks

HOLD = "hold"
WebhookAnswer = int | str


@dataclass(frozen=True)
class Received:
    """One POST that reached a :class:`Hook`."""

    update: dict[str, Any]
    headers: dict[str, str]

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


class Hook:
    """A bot's webhook endpoint: records every POST and answers as scripted.

    ``status`` is the default answer; ``plan(update_id, ...)`` scripts the answers to the next
    attempts for one update: an HTTP status, or ``HOLD`` to keep the request open until
    :meth:`release` (it is then answered 200).
    """

    def __init__(self, path: str = "/telegram") -> None:
        self.path = path
        self.port = 0
        self.status = 200
        self.received: list[Received] = []
        self.active = 0
        self.max_active = 0
        self._plans: dict[int, deque[WebhookAnswer]] = {}
        self._released = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def start(self, port: int = 0) -> Hook:
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Hook:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def plan(self, update_id: int, *answers: WebhookAnswer) -> None:
        self._plans.setdefault(update_id, deque()).extend(answers)

    def release(self) -> None:
        self._released.set()

    def ids(self) -> list[int]:
        return [r.update_id for r in self.received]

    async def wait_until(self, condition: Callable[[], bool], seconds: float = 10.0) -> None:
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(condition)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.received.append(Received(update, dict(request.headers)))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await self._notify()
        try:
            plan = self._plans.get(int(update["update_id"]))
            answer = plan.popleft() if plan else self.status
            if answer == HOLD:
                await self._released.wait()
                answer = 200
            return web.json_response({}, status=int(answer))
        finally:
            self.active -= 1
            await self._notify()


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    async with Hook() as endpoint:
        yield endpoint


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def attempts_of(fake: FakeBotAPI, update_id: int) -> list[Delivery]:
    return [d for d in fake.deliveries if d.update_id == update_id]


async def test_webhook_posts_update_with_secret_header(
    fake: FakeBotAPI, bot: Bot, hook: Hook
) -> None:
    assert await bot.set_webhook(hook.url, secret_token="s3cret_Token-1")
    assert fake.webhook_url == hook.url
    pushed = fake.user_message(GUEST, "towels please")
    delivery = await fake.wait_for_delivery(pushed["update_id"])
    assert (delivery.url, delivery.status, delivery.attempt) == (hook.url, 200, 1)
    (received,) = hook.received
    assert received.headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret_Token-1"
    assert received.headers["Content-Type"] == "application/json"
    assert received.update == pushed
    update = Update.de_json(received.update, bot)
    assert update.message is not None
    assert update.message.text == "towels please"
    assert fake.pending_updates() == []
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()

    assert await bot.set_webhook(hook.url)
    second = fake.user_message(GUEST, "no secret now")["update_id"]
    await fake.wait_for_delivery(second)
    assert "X-Telegram-Bot-Api-Secret-Token" not in hook.received[-1].headers
    with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed characters"):
        await bot.set_webhook(hook.url, secret_token=fake.token)
    with pytest.raises(BadRequest, match=r"(?i)HTTPS URL must be provided"):
        await bot.set_webhook("ftp://example.invalid/hook")
    assert fake.webhook_url == hook.url


async def test_webhook_redelivers_after_error_status(
    fake: FakeBotAPI, bot: Bot, hook: Hook
) -> None:
    await bot.set_webhook(hook.url)
    first = fake.user_message(GUEST, "first", push=False)
    second = fake.user_message(GUEST, "second", push=False)
    other = fake.user_message(GUEST + 1, "other chat", push=False)
    first_id = fake.push_update(first)
    hook.plan(first_id, 500, 502)
    second_id, other_id = fake.push_update(second), fake.push_update(other)
    await fake.wait_for_delivery(second_id)
    attempts = attempts_of(fake, first_id)
    assert [(d.attempt, d.status) for d in attempts] == [(1, 500), (2, 502), (3, 200)]
    assert attempts[0].error == "Wrong response from the webhook: 500 Internal Server Error"
    assert attempts[1].time - attempts[0].completed >= 0.04
    assert attempts[2].time - attempts[1].completed >= 0.09
    (other_delivery,) = attempts_of(fake, other_id)
    assert other_delivery.completed < attempts[-1].time  # the other chat did not wait
    (second_delivery,) = attempts_of(fake, second_id)
    assert second_delivery.time >= attempts[-1].completed  # the same chat did
    assert sorted(set(hook.ids())) == [first_id, second_id, other_id]
    assert fake.pending_updates() == []
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 502 Bad Gateway"


async def test_webhook_redelivers_to_closed_port_until_it_opens(fake: FakeBotAPI, bot: Bot) -> None:
    port = free_port()
    late = Hook()
    await bot.set_webhook(f"http://127.0.0.1:{port}/telegram", max_connections=3)
    ids = [fake.user_message(GUEST + n, f"m{n}")["update_id"] for n in range(3)]
    await fake.wait_until(lambda: len(fake.deliveries) >= 6)
    assert {d.error for d in fake.deliveries} == {"Connection refused"}
    assert {d.status for d in fake.deliveries} == {None}
    info = fake.webhook_info()
    assert info["pending_update_count"] == 3
    assert info["last_error_message"] == "Connection refused"
    assert abs(info["last_error_date"] - time.time()) < 60
    await late.start(port)
    try:
        await fake.wait_until(lambda: not fake.pending_updates())
        assert sorted(late.ids()) == ids
    finally:
        await late.stop()


async def test_webhook_timeout_counts_as_failure() -> None:
    async with FakeBotAPI(webhook_timeout=0.2) as fake, Hook() as endpoint:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.set_webhook(endpoint.url)
        update_id = fake.push_update(fake.user_message(GUEST, "slow bot", push=False))
        endpoint.plan(update_id, HOLD)
        await fake.wait_for_delivery(update_id)
        timed_out, ok = attempts_of(fake, update_id)
        assert (timed_out.status, timed_out.error) == (None, "Read timeout expired")
        assert timed_out.completed - timed_out.time >= 0.15
        assert (ok.attempt, ok.status) == (2, 200)
        assert endpoint.ids() == [update_id, update_id]


async def test_webhook_keeps_chat_order_while_other_chats_proceed(
    fake: FakeBotAPI, bot: Bot, hook: Hook
) -> None:
    await bot.set_webhook(hook.url)
    a1 = fake.push_update(fake.user_message(GUEST, "a1", push=False))
    hook.plan(a1, HOLD)
    a2 = fake.user_message(GUEST, "a2")["update_id"]
    b1 = fake.user_message(GUEST + 1, "b1")["update_id"]
    b2 = fake.user_message(GUEST + 1, "b2")["update_id"]
    await fake.wait_for_delivery(b2)
    await hook.wait_until(lambda: a1 in hook.ids())
    assert sorted(hook.ids()) == [a1, b1, b2]
    assert hook.ids().index(b1) < hook.ids().index(b2)
    assert [u["update_id"] for u in fake.pending_updates()] == [a1, a2]
    assert fake.webhook_info()["pending_update_count"] == 2
    hook.release()
    await fake.wait_for_delivery(a2)
    assert hook.ids()[-1] == a2
    assert attempts_of(fake, a2)[0].time >= attempts_of(fake, a1)[0].completed


async def test_webhook_max_connections(fake: FakeBotAPI, bot: Bot, hook: Hook) -> None:
    await bot.set_webhook(hook.url, max_connections=2)
    ids = []
    for n in range(5):
        update = fake.user_message(GUEST + n, f"m{n}", push=False)
        ids.append(fake.push_update(update))
        hook.plan(ids[-1], HOLD)
    await hook.wait_until(lambda: len(hook.received) == 2)
    assert hook.active == 2
    hook.release()
    await fake.wait_until(lambda: not fake.pending_updates())
    assert sorted(hook.ids()) == ids
    assert hook.max_active == 2
    assert fake.webhook_info()["max_connections"] == 2


async def test_webhook_load_balancer_round_robin_and_failover(fake: FakeBotAPI, bot: Bot) -> None:
    first, second = await Hook().start(), await Hook().start()
    try:
        await bot.set_webhook("http://lb.invalid/telegram", secret_token="lb")
        fake.set_webhook_targets([first.url, second.url])
        assert fake.webhook_targets == [first.url, second.url]
        ids = [fake.user_message(GUEST + n, f"m{n}")["update_id"] for n in range(4)]
        await fake.wait_until(lambda: not fake.pending_updates())
        assert (sorted(first.ids()), sorted(second.ids())) == ([ids[0], ids[2]], [ids[1], ids[3]])
        assert [attempts_of(fake, i)[0].url for i in ids] == [first.url, second.url] * 2
        assert {r.headers["X-Telegram-Bot-Api-Secret-Token"] for r in first.received} == {"lb"}

        await second.stop()  # the instance behind the second target dies
        since = len(fake.deliveries)
        later = [fake.user_message(GUEST + n, f"later {n}")["update_id"] for n in range(4)]
        await fake.wait_until(lambda: not fake.pending_updates())
        assert sorted(first.ids()[2:]) == later
        assert sorted(second.ids()) == [ids[1], ids[3]]
        recent = fake.deliveries[since:]
        failed = [d for d in recent if d.url == second.url]
        assert failed
        assert all(not d.ok and d.status is None for d in failed)
        for delivery in failed:
            retry = next(
                d for d in recent if d.update_id == delivery.update_id and d.index > delivery.index
            )
            assert (retry.url, retry.ok) == (first.url, True)
        assert sorted(d.update_id for d in recent if d.ok) == later
        assert (await bot.get_webhook_info()).url == "http://lb.invalid/telegram"
    finally:
        await first.stop()
        await second.stop()


async def test_webhook_targets_none_restores_set_url(
    fake: FakeBotAPI, bot: Bot, hook: Hook
) -> None:
    other = await Hook().start()
    try:
        await bot.set_webhook(hook.url)
        fake.set_webhook_targets([other.url])
        routed = fake.user_message(GUEST, "to the target")["update_id"]
        await fake.wait_for_delivery(routed)
        fake.set_webhook_targets(None)
        assert fake.webhook_targets is None
        direct = fake.user_message(GUEST, "to the URL")["update_id"]
        await fake.wait_for_delivery(direct)
        assert (other.ids(), hook.ids()) == ([routed], [direct])
        with pytest.raises(ValueError, match="http"):
            fake.set_webhook_targets(["127.0.0.1:9/no-scheme"])
    finally:
        await other.stop()


async def test_get_webhook_info_reports_pending_and_errors(
    fake: FakeBotAPI, bot: Bot, hook: Hook
) -> None:
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.max_connections) == ("", 0, None)
    hook.status = 500
    await bot.set_webhook(hook.url, allowed_updates=["message", "callback_query"])
    ids = [fake.user_message(GUEST + n, f"m{n}")["update_id"] for n in range(3)]
    fake.push_update({"edited_message": {"message_id": 1, "date": 0, "chat": {"id": GUEST}}})
    await fake.wait_until(lambda: {d.update_id for d in fake.deliveries} == set(ids))
    info = await bot.get_webhook_info()
    assert info.url == hook.url
    assert info.has_custom_certificate is False
    assert info.pending_update_count == 3
    assert info.max_connections == 40
    assert info.allowed_updates == ("message", "callback_query")
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.last_error_date is not None
    hook.status = 200
    await fake.wait_until(lambda: not fake.pending_updates())
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert sorted(set(hook.ids())) == ids  # the edited_message was not allowed


async def test_delete_webhook_returns_updates_to_get_updates(
    fake: FakeBotAPI, bot: Bot, hook: Hook
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_until(lambda: fake.polling == 1)
    hook.status = 503
    await bot.set_webhook(hook.url)
    with pytest.raises(Conflict, match="terminated by setWebhook request"):
        await poll
    ids = [fake.user_message(GUEST, f"m{n}")["update_id"] for n in range(2)]
    await fake.wait_until(lambda: any(d.update_id == ids[0] for d in fake.deliveries))
    assert await bot.delete_webhook()
    attempts = len(fake.deliveries)
    assert [u.update_id for u in await bot.get_updates()] == ids
    newer = fake.user_message(GUEST, "while polling")["update_id"]
    assert [u.update_id for u in await bot.get_updates(offset=ids[-1])] == [ids[-1], newer]
    assert len(fake.deliveries) == attempts

    hook.status = 200
    await bot.set_webhook(hook.url)
    await fake.wait_until(lambda: not fake.pending_updates())
    assert set(hook.ids()) == {*ids, newer}
    hook.status = 500
    dropped = fake.user_message(GUEST, "dropped")["update_id"]
    await fake.wait_until(lambda: any(d.update_id == dropped for d in fake.deliveries))
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    assert fake.webhook_info() == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }


async def test_application_webhook_instances_behind_load_balancer(fake: FakeBotAPI) -> None:
    def build(name: str) -> Application[Any, Any, Any, Any, Any, Any]:
        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text(f"{name}: {update.effective_message.text}")

        app = Application.builder().token(fake.token).base_url(fake.base_url).build()
        app.add_handler(MessageHandler(filters.TEXT, echo))
        return app

    instances = {"a": build("a"), "b": build("b")}
    ports = {name: free_port() for name in instances}
    fake.set_webhook_targets([f"http://127.0.0.1:{port}/telegram" for port in ports.values()])
    started: list[Application[Any, Any, Any, Any, Any, Any]] = []
    try:
        for name, app in instances.items():
            await app.initialize()
            started.append(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_webhook(
                listen="127.0.0.1",
                port=ports[name],
                url_path="telegram",
                webhook_url="http://lb.invalid/telegram",
                secret_token="lb-secret",
            )
        for n in range(4):
            fake.user_message(GUEST + n, f"hi {n}")
        replies = [await fake.wait_for_message(GUEST + n, f"hi {n}") for n in range(4)]
        assert sorted(r["text"] for r in replies) == ["a: hi 0", "a: hi 2", "b: hi 1", "b: hi 3"]

        updater = instances["b"].updater
        assert updater is not None
        await updater.stop()  # instance b is killed
        since = len(fake.deliveries)
        for n in range(4):
            fake.user_message(GUEST + n, f"later {n}")
        replies = [await fake.wait_for_message(GUEST + n, f"later {n}") for n in range(4)]
        assert [r["text"] for r in replies] == [f"a: later {n}" for n in range(4)]
        assert any(not d.ok for d in fake.deliveries[since:])
        assert fake.pending_updates() == []
    finally:
        for app in started:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()


class _SyncHook(BaseHTTPRequestHandler):
    server: _SyncHookServer

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SyncHookServer(ThreadingHTTPServer):
    """A synchronous webhook endpoint answering 200, serving in a daemon thread."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SyncHook)
        self.received: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/telegram"


def test_threaded_wrapper_webhook_helpers(threaded_fake: FakeBotAPIThread) -> None:
    endpoint = _SyncHookServer()
    endpoint.thread.start()
    try:

        async def set_webhook() -> None:
            async with Bot(threaded_fake.token, base_url=threaded_fake.base_url) as client:
                await client.set_webhook("http://lb.invalid/telegram")

        threaded_fake.set_webhook_targets([endpoint.url])
        asyncio.run(set_webhook())
        assert threaded_fake.webhook_url == "http://lb.invalid/telegram"
        update_id = threaded_fake.user_message(GUEST, "sync")["update_id"]
        delivery = threaded_fake.wait_for_delivery(update_id)
        assert (delivery.url, delivery.status) == (endpoint.url, 200)
        assert threaded_fake.deliveries == [delivery]
        assert [u["update_id"] for u in endpoint.received] == [update_id]
        assert threaded_fake.webhook_info()["pending_update_count"] == 0
    finally:
        endpoint.shutdown()
        endpoint.server_close()


async def test_standalone_cli_webhook_targets(hook: Hook) -> None:
    other = await Hook().start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakebotapi",
        "--port",
        "0",
        "--webhook-target",
        hook.url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        base_url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        root = base_url.removesuffix("/bot")
        async with aiohttp.ClientSession() as session:
            params = {"url": "http://lb.invalid/telegram", "secret_token": "cli"}
            async with session.post(f"{base_url}123456:TEST/setWebhook", data=params) as response:
                assert (await response.json())["result"] is True
            message = {"user_id": GUEST, "text": "via cli"}
            async with session.post(f"{root}/_control/user_message", json=message) as response:
                first = (await response.json())["update_id"]
            await hook.wait_until(lambda: first in hook.ids())
            assert hook.received[0].headers["X-Telegram-Bot-Api-Secret-Token"] == "cli"

            body = {"urls": [other.url]}
            async with session.post(f"{root}/_control/webhook_targets", json=body) as response:
                assert await response.json() == {"urls": [other.url]}
            async with session.post(f"{root}/_control/user_message", json=message) as response:
                second = (await response.json())["update_id"]
            await other.wait_until(lambda: second in other.ids())
            async with session.get(f"{root}/_control/deliveries?since=1") as response:
                (delivery,) = await response.json()
            assert (delivery["url"], delivery["update_id"], delivery["status"]) == (
                other.url,
                second,
                200,
            )
            async with session.post(
                f"{root}/_control/webhook_targets", json={"urls": 5}
            ) as response:
                assert response.status == 400
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        await other.stop()
