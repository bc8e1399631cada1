"""The fake Bot API of the tests, run in a thread, and a tracker of what the bot sends.

The fake runs in a daemon thread of the benchmark process (``FakeBotAPIThread``); the bot is a
separate process. The :class:`Tracker` is the fake's ``on_call`` hook: it runs in the fake's
thread for every answered request and keeps, in arrival order, every message the bot sent or
edited, so that waiting for "all acknowledgements" is a counter comparison, not a scan.

Times are ``time.monotonic()`` of this process (``Call.time`` is when the request reached the
fake); :data:`MONO_TO_WALL` converts them to wall-clock seconds for comparison with times the
bot stored in the database.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.procs import BenchError
from tests.fakebotapi import Call, FakeBotAPI, FakeBotAPIThread, RateLimits

MONO_TO_WALL = time.time() - time.monotonic()

SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendVoice",
        "sendDocument",
        "sendLocation",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "copyMessage",
        "forwardMessage",
    }
)


@dataclass(frozen=True)
class Sent:
    """One message the bot sent (or edited), as it reached the fake."""

    index: int
    time: float
    chat_id: int
    method: str
    text: str
    buttons: tuple[str, ...]
    status: int

    @property
    def ok(self) -> bool:
        """Whether the fake accepted it."""
        return self.status == 200

    @property
    def is_edit(self) -> bool:
        """Whether it was an edit of an earlier message."""
        return self.method.startswith("edit")


Classifier = Callable[[Sent], str | None]


def _buttons(markup: Any) -> tuple[str, ...]:
    if not isinstance(markup, dict):
        return ()
    return tuple(
        str(button.get("callback_data", ""))
        for row in markup.get("inline_keyboard") or []
        for button in row
        if isinstance(button, dict)
    )


@dataclass
class Tracker:
    """Records the bot's sends; ``classify`` names the kinds that are counted."""

    classify: Classifier = field(default=lambda _sent: None)
    sent: list[Sent] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    rejected: int = 0  # 429 answers
    last_call: dict[str, float] = field(default_factory=dict)  # method -> arrival time
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, call: Call) -> None:
        if call.method not in SEND_METHODS:
            self.last_call[call.method] = call.time
            return
        params = call.params
        try:
            chat_id = int(params.get("chat_id") or 0)
        except (TypeError, ValueError):
            chat_id = 0
        text = params.get("text") if call.method != "editMessageCaption" else None
        text = text if isinstance(text, str) else str(params.get("caption") or "")
        sent = Sent(
            index=call.index,
            time=call.time,
            chat_id=chat_id,
            method=call.method,
            text=text,
            buttons=_buttons(params.get("reply_markup")),
            status=call.status,
        )
        with self._lock:
            self.sent.append(sent)
            if call.status == 429:
                self.rejected += 1
            elif call.ok:
                kind = self.classify(sent)
                if kind is not None:
                    self.kinds[kind] += 1

    def count(self, kind: str) -> int:
        """How many accepted sends of ``kind`` were seen."""
        return self.kinds[kind]

    def snapshot(self) -> list[Sent]:
        """The sends so far."""
        with self._lock:
            return list(self.sent)

    def reset(self, classify: Classifier | None = None) -> None:
        """Forget everything (and optionally classify differently from now on)."""
        with self._lock:
            self.sent.clear()
            self.kinds.clear()
            self.rejected = 0
            if classify is not None:
                self.classify = classify


class Fake:
    """A started fake Bot API with a :class:`Tracker` attached."""

    def __init__(self, *, rate_limits: bool = False) -> None:
        self.server = FakeBotAPIThread(
            FakeBotAPI(rate_limits=RateLimits() if rate_limits else None)
        )
        self.tracker = Tracker()
        self.server.start()
        self.server.fake.on_call = self.tracker

    @property
    def base_url(self) -> str:
        """``TELEGRAM_BASE_URL`` for the bot."""
        return self.server.base_url

    @property
    def token(self) -> str:
        """The token the fake accepts."""
        return self.server.token

    def polling(self) -> bool:
        """Whether a ``getUpdates`` long poll is waiting."""
        return self.server.fake.polling > 0

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``condition`` holds (checked in the fake's thread on every change)."""
        if not self.wait_quietly(condition, timeout):
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")

    def wait_quietly(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Like :meth:`wait`; returns whether ``condition`` came to hold in time."""
        try:
            self.server.wait_until(condition, timeout=timeout)
        except AssertionError:
            return False
        return True

    def message(self, user_id: int, text: str, *, language_code: str = "en") -> tuple[int, float]:
        """A user writes ``text``; returns the update id and its push time."""
        update = self.server.user_message(
            user_id, text, first_name=f"G{user_id}", language_code=language_code
        )
        update_id = int(update["update_id"])
        return update_id, self.server.push_time(update_id)

    def close(self) -> None:
        """Stop the server."""
        self.server.fake.on_call = None
        self.server.stop()

    def __enter__(self) -> Fake:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
