"""Tests of the fake Bot API server, driven by python-telegram-bot's real client."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
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

from tests.fakebotapi import Call, FakeBotAPI, FakeBotAPIThread

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
