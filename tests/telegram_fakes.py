"""Telegram faked at its HTTP boundary for handler tests: a recording request object, update
builders that produce what Telegram sends, and a scheduler that only records wake-ups."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_ID = 123456
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Concierge",
    "username": "concierge_test_bot",
}
_update_ids = itertools.count(1)
_callback_ids = itertools.count(1)


def user(
    user_id: int, first_name: str = "Guest", language_code: str | None = "en"
) -> dict[str, Any]:
    """A Telegram User object."""
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        data["language_code"] = language_code
    return data


def private_chat(user_id: int, first_name: str = "Guest") -> dict[str, Any]:
    """The private chat with a user."""
    return {"id": user_id, "type": "private", "first_name": first_name}


def message_update(
    user_id: int,
    text: str | None = None,
    *,
    first_name: str = "Guest",
    language_code: str | None = "en",
    **extra: Any,
) -> dict[str, Any]:
    """An update with a new message from a user in their private chat."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": private_chat(user_id, first_name),
        "from": user(user_id, first_name, language_code),
        **extra,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": next(_update_ids), "message": message}


def callback_update(
    user_id: int, data: str, message: dict[str, Any], *, language_code: str | None = "en"
) -> dict[str, Any]:
    """An update for a button press on a message the bot sent."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_callback_ids)),
            "from": user(user_id, "Someone", language_code),
            "chat_instance": f"ci-{user_id}",
            "data": data,
            "message": message,
        },
    }


def membership_update(
    user_id: int, status: str, *, old_status: str = "member", first_name: str = "Someone"
) -> dict[str, Any]:
    """The update Telegram sends when a user blocks the bot ("kicked") or starts it again
    ("member") in their private chat."""
    bot = BOT_USER

    def member(state: str) -> dict[str, Any]:
        return {"status": state, "user": bot} | ({"until_date": 0} if state == "kicked" else {})

    return {
        "update_id": next(_update_ids),
        "my_chat_member": {
            "chat": private_chat(user_id, first_name),
            "from": user(user_id, first_name),
            "date": int(time.time()),
            "old_chat_member": member(old_status),
            "new_chat_member": member(status),
        },
    }


@dataclass
class Call:
    """One recorded Bot API call."""

    method: str
    params: dict[str, Any]
    result: Any


@dataclass
class RecordingRequest(BaseRequest):
    """Answers Bot API calls like Telegram would, and records them; no network."""

    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    failures: dict[str, list[tuple[int, str, int | None, int | None]]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)  # what setWebhook set (url, types)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float | None:
        """Tests never wait on the network."""
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Record the call and answer it."""
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        if api_method == "getUpdates" and not self.updates:
            await asyncio.sleep(0.01)  # a long poll with nothing new waits, as on Telegram
        await asyncio.sleep(0)
        failure = self._failure_for(api_method, params)
        if failure is not None:
            status, description, retry_after = failure
            body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
            if retry_after is not None:
                body["parameters"] = {"retry_after": retry_after}
            self.calls.append(Call(api_method, params, body))
            self.changed.set()
            return status, json.dumps(body).encode()
        result = self._answer(api_method, params)
        self.calls.append(Call(api_method, params, result))
        self.changed.set()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            batch = [u for u in self.updates if u["update_id"] >= offset]
            self.updates = batch
            return batch
        if method == "setWebhook":
            self.webhook = {"url": params["url"], "allowed_updates": params.get("allowed_updates")}
        if method == "deleteWebhook":
            self.webhook = {}
        if method == "getWebhookInfo":
            info = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
            return info | {k: v for k, v in self.webhook.items() if v is not None}
        if method == "getMe":
            return {
                **BOT_USER,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if (method.startswith("send") and method != "sendChatAction") or method.startswith("edit"):
            chat_id = int(params.get("chat_id", 0))
            message: dict[str, Any] = {
                "message_id": int(params["message_id"])
                if "message_id" in params
                else next(self._ids),
                "date": int(time.time()),
                "chat": private_chat(chat_id),
                "from": BOT_USER,
            }
            for key in ("text", "caption", "reply_markup"):
                if key in params:
                    message[key] = params[key]
            if method == "sendLocation":
                message["location"] = {
                    "latitude": params["latitude"],
                    "longitude": params["longitude"],
                }
            return message
        return True

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next call of ``method`` (to ``chat_id``, if given) with an error."""
        self.failures.setdefault(method, []).append((status, description, retry_after, chat_id))

    def _failure_for(
        self, method: str, params: dict[str, Any]
    ) -> tuple[int, str, int | None] | None:
        queue = self.failures.get(method, [])
        for index, (status, description, retry_after, chat_id) in enumerate(queue):
            if chat_id is None or int(params.get("chat_id", 0)) == chat_id:
                del queue[index]
                return status, description, retry_after
        return None

    # --- what tests read ---------------------------------------------------------------------

    def sent(self, chat_id: int | None = None, method: str | None = None) -> list[Call]:
        """Calls that sent or edited something, optionally for one chat or method."""
        return [
            c
            for c in self.calls
            if (c.method.startswith("send") or c.method.startswith("edit"))
            and c.result is not None
            and "ok" not in c.result
            and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
            and (method is None or c.method == method)
        ]

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait (without polling) until ``condition`` holds after some call; at most 5 s."""
        async with asyncio.timeout(5):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def sent_calls(self, method: str) -> list[Call]:
        """Every call of ``method``."""
        return [c for c in self.calls if c.method == method]

    def texts(self, chat_id: int) -> list[str]:
        """Texts sent or edited in a chat, in order."""
        return [
            str(c.params.get("text") or c.params.get("caption") or "") for c in self.sent(chat_id)
        ]

    def last_message(self, chat_id: int) -> dict[str, Any]:
        """The last message sent or edited in a chat, as Telegram returned it."""
        calls = self.sent(chat_id)
        assert calls, f"nothing was sent to chat {chat_id}"
        result = calls[-1].result
        assert isinstance(result, dict)
        return result

    def button_data(self, chat_id: int) -> list[str]:
        """Callback data of the buttons of the last message with buttons in a chat."""
        for call in reversed(self.sent(chat_id)):
            markup = call.params.get("reply_markup")
            if markup:
                # Without the signature the bot appends to every button.
                return [
                    b["callback_data"].rpartition(":")[0]
                    for row in markup["inline_keyboard"]
                    for b in row
                ]
        return []

    def alerts(self) -> list[str]:
        """Texts of callback answers shown as alerts."""
        return [
            str(c.params.get("text"))
            for c in self.calls
            if c.method == "answerCallbackQuery" and c.params.get("show_alert")
        ]

    def clear(self) -> None:
        """Forget the calls so far."""
        self.calls.clear()


@dataclass
class RecordingTimers:
    """Stands in for the scheduler: records when the bot asked to be woken."""

    wake_times: list[datetime] = field(default_factory=list)

    def wake_at(self, when: datetime) -> None:
        """Record the wake-up."""
        self.wake_times.append(when)
