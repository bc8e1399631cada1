"""The aiohttp transport under python-telegram-bot: what reaches the server, and failures."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot.telegram_http import AiohttpRequest, JsonApi
from tests.telegram_fakes import RecordingRequest

TOKEN = "123456:TEST"
TOO_MANY_REQUESTS = (
    429,
    {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    },
)


@dataclass
class Server:
    """A tiny Bot API: records what it gets and answers as told."""

    url: str = ""
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answer: tuple[int, dict[str, Any]] | None = None
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type.startswith("multipart/"):
            fields: dict[str, Any] = {}
            async for part in await request.multipart():
                fields[part.name or ""] = (part.filename, await part.read())  # type: ignore[union-attr]
        elif request.content_type == "application/json":
            fields = await request.json()
        else:
            fields = dict(await request.post())
        if method == "getMe":
            me = {"id": 123456, "is_bot": True, "first_name": "Concierge", "username": "c_bot"}
            return web.json_response({"ok": True, "result": me})
        self.received.append((method, fields))
        await asyncio.sleep(self.delay)
        if self.answer is not None:
            status, body = self.answer
            return web.json_response(body, status=status)
        chat = fields.get("chat_id", "1")
        message = {
            "message_id": len(self.received),
            "date": 0,
            "chat": {"id": int(chat[1] if isinstance(chat, tuple) else chat), "type": "private"},
            "text": str(fields.get("text", "")),
        }
        return web.json_response({"ok": True, "result": message})


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/bot"
    yield state
    await runner.cleanup()


def bot_for(url: str, **timeouts: float) -> Bot:
    return Bot(TOKEN, base_url=url, request=AiohttpRequest(4, **timeouts))


def api_for(url: str) -> JsonApi:
    request = AiohttpRequest(4)
    return JsonApi(Bot(TOKEN, base_url=url, request=request), request)


async def test_a_message_with_buttons_arrives_as_one_json_object(
    server: Server,
) -> None:
    async with bot_for(server.url) as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Accept", callback_data="acc:1")]])
        sent = await bot.send_message(
            chat_id=42, text="Request #1 · Housekeeping", reply_markup=markup
        )

    assert sent.text == "Request #1 · Housekeeping" and sent.chat_id == 42
    method, fields = server.received[-1]
    assert method == "sendMessage"
    assert fields == {
        "chat_id": 42,
        "text": "Request #1 · Housekeeping",
        "reply_markup": {"inline_keyboard": [[{"text": "Accept", "callback_data": "acc:1"}]]},
    }


async def test_a_call_left_as_json_sends_what_bots_own_method_sends(server: Server) -> None:
    markup = {"inline_keyboard": [[{"text": "Accept", "callback_data": "acc:1"}]]}
    api = api_for(server.url)
    async with api.bot as bot:
        await bot.send_message(
            chat_id=42, text="Room 101", reply_markup=InlineKeyboardMarkup.de_json(markup, bot)
        )
        answer = await api.send_message(
            {"chat_id": 42, "text": "Room 101", "reply_markup": markup, "reply_to": None}
        )
        server.answer = TOO_MANY_REQUESTS
        with pytest.raises(RetryAfter):
            await api.send_message({"chat_id": 42, "text": "Room 101"})

    (first, by_bot), (second, by_call) = server.received[:2]
    assert first == second == "sendMessage"
    assert by_call == by_bot  # the None parameter is left out, as Bot's methods do
    assert answer["message_id"] == 2 and answer["chat"]["id"] == 42  # the answer, as JSON


async def test_the_long_poll_has_a_connection_of_its_own() -> None:
    calls, updates = RecordingRequest(), RecordingRequest()
    updates.updates = [{"update_id": 7, "message": {"message_id": 1, "text": "towels"}}]
    api = JsonApi(Bot(TOKEN, request=calls, get_updates_request=updates), calls, updates)
    async with api.bot:
        polled = await api.get_updates({"timeout": 0, "offset": None}, read_timeout=1)
        sent = await api.send_message({"chat_id": 42, "text": "Room 101"})

    assert polled[0]["update_id"] == 7  # the updates, as JSON
    assert [c.method for c in updates.calls] == ["getUpdates"]  # a 25 s poll never holds …
    assert "sendMessage" in [c.method for c in calls.calls]  # … a connection messages need
    assert sent["chat"]["id"] == 42
    assert "offset" not in updates.calls[0].params  # None parameters are left out


def test_the_running_bot_logs_no_warning_for_its_json_calls() -> None:
    script = (
        "import asyncio\n"
        "from telegram import Bot\n"
        "from bot.telegram_http import JsonApi\n"
        "from tests.telegram_fakes import RecordingRequest\n"
        "async def main():\n"
        "    request = RecordingRequest()\n"
        "    api = JsonApi(Bot('123456:TEST', request=request), request, request)\n"
        "    async with api.bot:\n"
        "        await api.send_message({'chat_id': 1, 'text': 'hi'})\n"
        "        await api.get_updates({'timeout': 0}, read_timeout=1)\n"
        "    print(' '.join(c.method for c in request.calls))\n"
        "asyncio.run(main())\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "default", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["getMe", "sendMessage", "getUpdates"]  # the calls were made …
    assert run.stderr == ""  # … and python-telegram-bot said nothing about how


async def test_an_uploaded_file_goes_as_multipart(server: Server) -> None:
    async with bot_for(server.url) as bot:
        await bot.send_document(
            chat_id=42, document=InputFile(b"night report", filename="report.txt"), caption="hi"
        )

    method, fields = server.received[-1]
    assert method == "sendDocument"
    assert fields["document"] == ("report.txt", b"night report")
    assert fields["caption"] == (None, b"hi")


async def test_telegram_errors_keep_their_meaning(server: Server) -> None:
    async with bot_for(server.url) as bot:
        server.answer = TOO_MANY_REQUESTS
        with pytest.raises(RetryAfter) as too_many:
            await bot.send_message(chat_id=42, text="hello")
        assert "retry in 7 seconds" in str(too_many.value).lower()

        server.answer = (
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
        )
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(chat_id=42, text="hello")


async def test_a_slow_answer_times_out(server: Server) -> None:
    server.delay = 1.0
    async with bot_for(server.url, read_timeout=0.2) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(chat_id=42, text="hello")


async def test_an_unreachable_server_is_a_network_error(unused_tcp_port: int) -> None:
    bot = bot_for(f"http://127.0.0.1:{unused_tcp_port}/bot")
    try:
        with pytest.raises(NetworkError, match="aiohttp"):
            await bot.initialize()  # asks getMe
    finally:
        await bot.shutdown()


async def test_the_transport_must_be_initialized_and_can_be_again(server: Server) -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(server.url + TOKEN + "/getMe", "POST")
    await request.initialize()
    await request.shutdown()
    await request.initialize()
    status, _body = await request.do_request(server.url + TOKEN + "/getMe", "POST")
    await request.shutdown()
    assert status == 200
