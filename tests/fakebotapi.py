"""A local fake of the Telegram Bot API for end-to-end tests and benchmarks.

The fake speaks the same HTTP protocol as ``https://api.telegram.org`` closely enough for
python-telegram-bot to run against it unchanged: point the bot's ``base_url`` at
:attr:`FakeBotAPI.base_url` (``http://127.0.0.1:PORT/bot``; the token is appended by the client,
so requests arrive at ``/bot<TOKEN>/<method>``).

The fake plays two roles:

* **Telegram's servers** for the bot: ``getUpdates`` long polling with offsets or webhook
  delivery, message sending and editing with Telegram's result objects and error messages
  (``message is not modified``, ``can't parse entities``, ``bot was blocked by the user``, ...),
  commands, files.
* **Telegram users** for the test: :meth:`FakeBotAPI.user_message`, :meth:`FakeBotAPI.callback`
  and friends build realistic updates and queue them for the bot.

Every request is recorded in :attr:`FakeBotAPI.calls`; :meth:`FakeBotAPI.wait_for_call`,
:meth:`FakeBotAPI.wait_for_message` and :meth:`FakeBotAPI.wait_until` wait (without sleeping)
for the bot to do something; :attr:`FakeBotAPI.polling` tells whether a long poll is waiting.
:meth:`FakeBotAPI.fail_next`, :meth:`FakeBotAPI.delay_next` and :meth:`FakeBotAPI.block_chat`
inject faults.

Flood limits
------------

By default the fake accepts any number of messages. With ``rate_limits=RateLimits()`` (or
``--rate-limits`` standalone) it enforces Telegram's flood limits as token buckets (a generic
cell rate algorithm): about 30 messages a second overall, one a second per private chat after
a burst of three, twenty a minute per group; edits, copies and forwards count like sends. A
message beyond a limit is answered 429 ``Too Many Requests: retry after N`` with
``parameters.retry_after`` (whole seconds until it would be accepted) and is not delivered; it
does not use up the allowance. :attr:`RateLimits.tolerance` forgives arrivals that are a few
milliseconds early, as network jitter makes them.

Webhook mode
------------

Once the bot calls ``setWebhook`` with a URL, queued updates are no longer handed out by
``getUpdates`` (it answers 409, as Telegram does) but POSTed to the webhook as a JSON body
(``Content-Type: application/json``, plus ``X-Telegram-Bot-Api-Secret-Token`` when a
``secret_token`` was set). Delivery follows Telegram's rules:

* an update leaves the queue only when the webhook answers 2xx; any other status, a connection
  error or a timeout (:attr:`FakeBotAPI.webhook_timeout`, 10 s by default) is a failure, recorded
  in ``getWebhookInfo``'s ``last_error_date``/``last_error_message``, and the update is retried
  after a backoff (0.05 s doubling up to 2 s by default, far shorter than Telegram's, so tests
  stay fast). Nothing is lost; ``pending_update_count`` counts updates not yet acknowledged;
* at most ``max_connections`` (default 40, clamped to 1..100) deliveries are in flight at once;
* updates of one chat are delivered in order: a later update of a chat is not sent while an
  earlier one of that chat is pending (in flight or waiting for its retry); other chats go on;
* a non-empty ``allowed_updates`` list drops updates of other types pushed while it is set;
* ``deleteWebhook`` stops delivery (in-flight attempts are cancelled and count as failed): the
  pending updates are available to ``getUpdates`` again, or dropped with
  ``drop_pending_updates``.

Unlike Telegram, the fake accepts ``http://`` webhook URLs and never resolves the host at
``setWebhook`` time, since local bots listen on plain HTTP behind the scenes.

:meth:`FakeBotAPI.set_webhook_targets` emulates a load balancer in front of several bot
instances: the bot registers its public URL (e.g. ``http://lb.invalid/telegram``) and the fake
actually delivers round-robin to the given local URLs; a retry after a failed attempt (connection
refused because the instance was killed, a non-2xx answer, a timeout) goes to the next target.
Every attempt is recorded as a :class:`Delivery` in :attr:`FakeBotAPI.deliveries`;
:meth:`FakeBotAPI.wait_for_delivery` waits for one.

Threads and standalone use
--------------------------

:class:`FakeBotAPI` runs in the caller's event loop; :class:`FakeBotAPIThread` runs it in a
daemon thread with its own loop and offers synchronous, thread-safe versions of the helpers, for
synchronous tests and scripts that drive the bot as a subprocess.

Standalone use (prints the base URL, runs until SIGINT/SIGTERM)::

    python -m tests.fakebotapi --port 8081 --token 123456:TEST \\
        --webhook-target http://127.0.0.1:8001/telegram \\
        --webhook-target http://127.0.0.1:8002/telegram

A standalone server can be driven over HTTP through its control routes:
``POST /_control/updates`` (a raw update as JSON body), ``POST /_control/user_message``
(``{"user_id": 1, "text": "/start"}``, optional ``first_name``, ``language_code``, ``chat_id``),
``POST /_control/callback`` (``{"user_id": 1, "chat_id": 1, "message_id": 2, "data": "x"}``),
``POST /_control/webhook_targets`` (``{"urls": ["http://127.0.0.1:8001/telegram"]}``, ``null``
or ``[]`` to deliver to the URL given in ``setWebhook`` again), ``GET /_control/calls?since=N``,
``GET /_control/deliveries?since=N`` and ``GET /_control/messages/{chat_id}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import errno
import html
import itertools
import json
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

import aiohttp
from aiohttp import web

__all__ = [
    "ApiError",
    "Call",
    "Delivery",
    "FakeBotAPI",
    "FakeBotAPIThread",
    "RateLimits",
    "Upload",
    "main",
]

JSONDict = dict[str, Any]
CallPredicate = Callable[["Call"], bool]
DeliveryPredicate = Callable[["Delivery"], bool]
TextPredicate = Callable[[str], bool]

_P = ParamSpec("_P")
_T = TypeVar("_T")

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
_MAX_BODY_BYTES = 64 * 1024 * 1024

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_BLOCKED = "Forbidden: bot was blocked by the user"
_CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
_CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_URL_RE = re.compile(r"https?://[^/?#\s]+(?:[/?#]\S*)?", re.IGNORECASE)

# Parameters whose string values are free text or identifiers and must never be decoded.
_STRING_FIELDS = frozenset(
    {
        "action",
        "address",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "currency",
        "custom_emoji_id",
        "description",
        "document",
        "emoji",
        "explanation",
        "file_id",
        "first_name",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
        "inline_message_id",
        "inline_query_id",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "next_offset",
        "parse_mode",
        "payload",
        "phone_number",
        "photo",
        "provider_token",
        "question",
        "secret_token",
        "short_description",
        "start_parameter",
        "sticker",
        "text",
        "thumbnail",
        "title",
        "url",
        "vcard",
        "video",
        "video_note",
        "voice",
        "web_app_query_id",
    }
)
_FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy"})
_INT_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_MEDIA_KEYS = ("photo", "voice", "document", "audio", "video", "animation", "sticker", "video_note")
_CONTENT_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "location",
    "venue",
    "contact",
    *_MEDIA_KEYS,
)
_FILE_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
}
_FILE_DIR = {
    "photo": ("photos", ".jpg"),
    "voice": ("voice", ".oga"),
    "document": ("documents", ""),
    "sticker": ("stickers", ".webp"),
    "audio": ("music", ".mp3"),
    "video": ("videos", ".mp4"),
}


def _key(method: str) -> str:
    """Normalise a method name: Telegram method names are case-insensitive."""
    return method.replace("_", "").lower()


# Methods that put a message into a chat (or change one) and count against the flood limits.
_LIMITED_METHODS = frozenset(
    _key(name)
    for name in (
        "sendMessage",
        "sendPhoto",
        "sendVoice",
        "sendDocument",
        "sendLocation",
        "forwardMessage",
        "copyMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    )
)


@dataclass(frozen=True)
class RateLimits:
    """Telegram's flood limits as token buckets: a rate and the burst allowed above it."""

    per_second: float = 30.0  # all chats together
    burst: int = 30
    chat_per_second: float = 1.0  # one private chat
    chat_burst: int = 3
    group_per_minute: float = 20.0  # one group or channel
    group_burst: int = 20
    tolerance: float = 0.05  # seconds an arrival may be early (network jitter)

    def bucket(self, chat_id: int | None) -> tuple[float, float]:
        """Interval between messages and burst tolerance (seconds) for a chat, or overall."""
        if chat_id is None:
            interval, burst = 1 / self.per_second, self.burst
        elif chat_id < 0:
            interval, burst = 60 / self.group_per_minute, self.group_burst
        else:
            interval, burst = 1 / self.chat_per_second, self.chat_burst
        return interval, interval * (burst - 1) + self.tolerance


def _u16(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status plus Telegram's description."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSONDict:
        """The JSON body Telegram sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class Upload:
    """A file uploaded as a multipart part."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Size of the uploaded content in bytes."""
        return len(self.data)


@dataclass(frozen=True)
class Call:
    """One request answered by the fake.

    ``time`` is ``time.monotonic()`` when the request arrived, ``completed`` when the answer was
    produced; ``result`` is the ``result`` of a successful answer, ``None`` for an error, whose
    HTTP status and description are in ``status`` and ``description``.
    """

    index: int
    method: str
    params: JSONDict
    time: float
    result: Any
    status: int = 200
    description: str | None = None
    completed: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the call was answered successfully."""
        return self.status == 200

    def to_json(self) -> JSONDict:
        """A JSON-serialisable view (uploads are summarised)."""
        return {
            "index": self.index,
            "method": self.method,
            "params": _jsonable(self.params),
            "time": self.time,
            "completed": self.completed,
            "status": self.status,
            "description": self.description,
            "result": self.result,
        }


@dataclass(frozen=True)
class Delivery:
    """One attempt of the fake to POST an update to the webhook.

    ``url`` is where the attempt went (a load-balancer target or the webhook URL), ``attempt``
    counts the attempts for this update (1 for the first). ``status`` is the HTTP status of the
    answer, ``None`` when there was none (connection refused, timeout, cancelled); ``error`` is
    the message ``getWebhookInfo`` reports for a failed attempt (``None`` on success). ``time``
    is ``time.monotonic()`` when the attempt started, ``completed`` when it ended.
    """

    index: int
    url: str
    update_id: int
    attempt: int
    time: float
    completed: float
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether the webhook acknowledged the update (answered 2xx)."""
        return self.error is None

    def to_json(self) -> JSONDict:
        """A JSON-serialisable view."""
        return {
            "index": self.index,
            "url": self.url,
            "update_id": self.update_id,
            "attempt": self.attempt,
            "time": self.time,
            "completed": self.completed,
            "status": self.status,
            "error": self.error,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Upload):
        return {"filename": value.filename, "content_type": value.content_type, "size": value.size}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def decode_param(name: str, value: Any) -> Any:
    """Decode one request parameter the way the Bot API interprets it."""
    if not isinstance(value, str) or name in _STRING_FIELDS:
        return value
    stripped = value.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            return value
    if name in _FLOAT_FIELDS and _FLOAT_RE.fullmatch(stripped):
        return float(stripped)
    if _INT_RE.fullmatch(stripped):
        return int(stripped)
    if stripped in ("true", "false"):
        return stripped == "true"
    return value


# --------------------------------------------------------------------------------------------
# Formatting: parse_mode / entities as Telegram applies them


class _EntityError(Exception):
    pass


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.parts: list[str] = []
        self.offset = 0
        self.entities: list[JSONDict] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.offset += _u16(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.offset > start:
            self.entities.append({"offset": start, "length": self.offset - start, "type": kind})
            self.entities[-1].update({k: v for k, v in extra.items() if v})

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode())

    def result(self) -> tuple[str, list[JSONDict]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


_HTML_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_HTML_ATTR_RE = re.compile(r"""([a-zA-Z-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_HTML_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}


@dataclass
class _OpenTag:
    name: str
    start: int
    kind: str | None
    extra: JSONDict


def _parse_html(source: str) -> tuple[str, list[JSONDict]]:
    out = _Builder(source)
    stack: list[_OpenTag] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&":
            ent = _HTML_ENTITY_RE.match(source, i)
            if ent is not None:
                out.add(html.unescape(ent.group(0)))
                i = ent.end()
                continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        tag = _HTML_TAG_RE.match(source, i)
        if tag is None:
            bad = re.match(r"</?([^\s<>]*)", source[i:])
            shown = bad.group(1) if bad else ""
            raise _EntityError(
                f'Unsupported start tag "{shown}" at byte offset {out.byte_offset(i)}'
            )
        closing, name, attrs_text = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
        if closing:
            if not stack:
                raise _EntityError(f"Unexpected end tag at byte offset {out.byte_offset(i)}")
            top = stack.pop()
            if top.name != name:
                raise _EntityError(
                    f"Unmatched end tag at byte offset {out.byte_offset(i)}, expected "
                    f'"</{top.name}>", found "</{name}>"'
                )
            if top.kind is not None:
                out.entity(top.kind, top.start, **top.extra)
        else:
            attrs = {
                m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
                for m in _HTML_ATTR_RE.finditer(attrs_text)
            }
            kind, extra = _html_kind(name, attrs, stack, out.byte_offset(i))
            stack.append(_OpenTag(name, out.offset, kind, extra))
        i = tag.end()
    if stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.result()


def _html_kind(
    name: str, attrs: dict[str, str], stack: list[_OpenTag], byte_offset: int
) -> tuple[str | None, JSONDict]:
    if name == "code" and stack and stack[-1].name == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].extra["language"] = language.removeprefix("language-")
        return None, {}
    if name in _HTML_SIMPLE:
        return _HTML_SIMPLE[name], {}
    if name == "span" and attrs.get("class") == "tg-spoiler":
        return "spoiler", {}
    if name == "a":
        return ("text_link", {"url": attrs["href"]}) if attrs.get("href") else (None, {})
    if name == "blockquote":
        return ("expandable_blockquote" if "expandable" in attrs else "blockquote"), {}
    if name == "tg-emoji" and attrs.get("emoji-id"):
        return "custom_emoji", {"custom_emoji_id": attrs["emoji-id"]}
    raise _EntityError(f'Unsupported start tag "{name}" at byte offset {byte_offset}')


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_MARKS = (
    ("||", "spoiler"),
    ("__", "underline"),
    ("*", "bold"),
    ("_", "italic"),
    ("~", "strikethrough"),
)
_ENTITY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}


def _find_unescaped(source: str, token: str, start: int) -> int:
    i = start
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source.startswith(token, i):
            return i
        i += 1
    return -1


def _unescape_md2(text: str) -> str:
    return re.sub(r"\\([\x01-\x7e])", r"\1", text)


def _parse_markdown_v2(source: str) -> tuple[str, list[JSONDict]]:
    out = _Builder(source)
    stack: list[tuple[str, str, int, int]] = []  # token, kind, utf-16 start, source index
    quote_start: int | None = None
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source) and "\x01" <= source[i + 1] <= "\x7e":
            out.add(source[i + 1])
            i += 2
            continue
        if char == "`":
            fence = "```" if source.startswith("```", i) else "`"
            end = _find_unescaped(source, fence, i + len(fence))
            if end < 0:
                kind = "Pre" if fence == "```" else "Code"
                raise _EntityError(
                    f"Can't find end of {kind} entity at byte offset {out.byte_offset(i)}"
                )
            body = source[i + len(fence) : end]
            start = out.offset
            if fence == "```":
                language = ""
                first, newline, rest = body.partition("\n")
                if newline and first and not re.search(r"\s", first):
                    language, body = first, rest
                out.add(_unescape_md2(body))
                out.entity("pre", start, language=language)
            else:
                out.add(_unescape_md2(body))
                out.entity("code", start)
            i = end + len(fence)
            continue
        if char == ">" and (i == 0 or source[i - 1] == "\n"):
            if quote_start is None:
                quote_start = out.offset
            i += 1
            continue
        if char == "\n" and quote_start is not None and not source.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        mark = next(((tok, kind) for tok, kind in _MD2_MARKS if source.startswith(tok, i)), None)
        if mark is not None:
            token, kind = mark
            if stack and stack[-1][0] == token:
                _, _, start, _ = stack.pop()
                out.entity(kind, start)
            elif any(entry[0] == token for entry in stack):
                open_kind = _ENTITY_NAMES[stack[-1][1]]
                raise _EntityError(
                    f"Can't find end of {open_kind} entity at byte offset "
                    f"{out.byte_offset(stack[-1][3])}"
                )
            else:
                stack.append((token, kind, out.offset, i))
            i += len(token)
            continue
        if char == "[":
            stack.append(("[", "text_link", out.offset, i))
            i += 1
            continue
        if char == "]" and stack and stack[-1][0] == "[":
            if not source.startswith("(", i + 1):
                raise _EntityError(
                    f"Can't find end of TextUrl entity at byte offset "
                    f"{out.byte_offset(stack[-1][3])}"
                )
            close = _find_unescaped(source, ")", i + 2)
            if close < 0:
                raise _EntityError(
                    f"Can't find end of TextUrl entity at byte offset "
                    f"{out.byte_offset(stack[-1][3])}"
                )
            _, _, start, _ = stack.pop()
            out.entity("text_link", start, url=_unescape_md2(source[i + 2 : close]))
            i = close + 1
            continue
        if char in _MD2_RESERVED:
            raise _EntityError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(char)
        i += 1
    if stack:
        token, kind, _, index = stack[-1]
        raise _EntityError(
            f"Can't find end of {_ENTITY_NAMES[kind]} entity at byte offset "
            f"{out.byte_offset(index)}"
        )
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    return out.result()


_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


def _parse_markdown(source: str) -> tuple[str, list[JSONDict]]:
    out = _Builder(source)
    marks = {"*": "bold", "_": "italic"}
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source) and source[i + 1] in "*_`[":
            out.add(source[i + 1])
            i += 2
            continue
        if char in marks or char == "`":
            token = "```" if source.startswith("```", i) else char
            end = source.find(token, i + len(token))
            if end >= 0:
                start = out.offset
                out.add(source[i + len(token) : end])
                kind = marks.get(char) or ("pre" if token == "```" else "code")
                out.entity(kind, start)
                i = end + len(token)
                continue
        elif char == "[":
            match = _MD_LINK_RE.match(source, i)
            if match is not None:
                start = out.offset
                out.add(match.group(1))
                out.entity("text_link", start, url=match.group(2))
                i = match.end()
                continue
        else:
            out.add(char)
            i += 1
            continue
        raise _EntityError(
            f"Can't find end of the entity starting at byte offset {out.byte_offset(i)}"
        )
    return out.result()


def _strip(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace like Telegram, moving and clipping entities."""
    lead = len(text) - len(text.lstrip())
    stripped = text.strip()
    shift = _u16(text[:lead])
    size = _u16(stripped)
    result: list[JSONDict] = []
    for entity in entities:
        start = max(0, int(entity["offset"]) - shift)
        end = min(size, int(entity["offset"]) + int(entity["length"]) - shift)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def format_text(
    text: str, parse_mode: str | None, entities: list[JSONDict] | None = None
) -> tuple[str, list[JSONDict]]:
    """Apply ``parse_mode`` (or explicit ``entities``) to ``text`` like the Bot API does."""
    if entities:
        return _strip(text, [dict(e) for e in entities])
    mode = (parse_mode or "").lower()
    parsers = {"html": _parse_html, "markdownv2": _parse_markdown_v2, "markdown": _parse_markdown}
    if mode and mode not in parsers:
        raise _bad(f"unsupported parse_mode {parse_mode}")
    if not mode:
        return _strip(text, [])
    try:
        plain, found = parsers[mode](text)
    except _EntityError as exc:
        raise _bad(f"can't parse entities: {exc}") from None
    return _strip(plain, found)


def _inline_buttons(markup: Any) -> Iterable[JSONDict]:
    if isinstance(markup, dict):
        for row in markup.get("inline_keyboard") or []:
            for button in row if isinstance(row, list) else []:
                if isinstance(button, dict):
                    yield button


def _validate_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        for button in _inline_buttons(markup):
            if not str(button.get("text", "")).strip():
                raise _bad("BUTTON_TEXT_INVALID")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
                raise _bad("BUTTON_URL_INVALID")
            actions = set(button) - {"text", "icon_custom_emoji_id", "style"}
            if not actions:
                raise _bad("text buttons are unallowed in the inline keyboard")
    elif "keyboard" in markup:
        if not isinstance(markup["keyboard"], list):
            raise _bad("can't parse reply keyboard markup JSON object")
    elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
        raise _bad("can't parse reply keyboard markup JSON object")


def _is_inline(markup: Any) -> bool:
    return isinstance(markup, dict) and "inline_keyboard" in markup


def _message_view(message: JSONDict, markup: Any) -> JSONDict:
    """A bot message as the transcript helpers return it."""
    view = copy.deepcopy(message)
    view.setdefault("text", None)
    view.setdefault("caption", None)
    view["reply_markup"] = copy.deepcopy(markup) if isinstance(markup, dict) else None
    return view


def _text_matcher(predicate: TextPredicate | str) -> TextPredicate:
    if isinstance(predicate, str):
        needle = predicate
        return lambda text: needle in text
    return predicate


def _call_matcher(predicate: CallPredicate | str) -> CallPredicate:
    if isinstance(predicate, str):
        wanted = _key(predicate)
        return lambda call: _key(call.method) == wanted
    return predicate


def _delivery_matcher(predicate: DeliveryPredicate | int) -> DeliveryPredicate:
    if isinstance(predicate, int):
        update_id = predicate
        return lambda delivery: delivery.ok and delivery.update_id == update_id
    return predicate


@dataclass
class _Stored:
    message: JSONDict
    markup: Any
    outgoing: bool
    deleted: bool = False


@dataclass
class _FileInfo:
    file_id: str
    file_unique_id: str
    kind: str
    size: int
    path: str
    data: bytes | None = None
    media: JSONDict = field(default_factory=dict)


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None
    remaining: int


@dataclass(frozen=True)
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: tuple[str, ...] | None


@dataclass
class _Pending:
    """Webhook delivery state of one queued update."""

    chat: int | None
    attempts: int = 0
    retry_at: float = 0.0
    target: int | None = None


def _update_type(update: JSONDict) -> str | None:
    """The update's kind (``message``, ``callback_query``, ...)."""
    return next((name for name in update if name != "update_id"), None)


def _ordering_key(update: JSONDict) -> int | None:
    """The chat whose updates must be delivered in order (the user's for chat-less updates)."""
    kind = _update_type(update)
    payload = update.get(kind) if kind is not None else None
    if not isinstance(payload, dict):
        return None
    chat = payload.get("chat")
    if not isinstance(chat, dict) and isinstance(payload.get("message"), dict):
        chat = payload["message"].get("chat")
    if isinstance(chat, dict) and isinstance(chat.get("id"), int):
        return int(chat["id"])
    user = payload.get("from", payload.get("user"))
    if isinstance(user, dict) and isinstance(user.get("id"), int):
        return int(user["id"])
    return None


def _delivery_error(exc: BaseException) -> str:
    """The ``last_error_message`` Telegram reports for a failed connection."""
    if isinstance(exc, asyncio.CancelledError):
        return "Delivery cancelled"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "Failed to resolve host: Name or service not known"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "Connection timed out"
    if isinstance(exc, TimeoutError):
        return "Read timeout expired"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if exc.os_error.errno == errno.ECONNREFUSED:
            return "Connection refused"
        return f"Connection failed: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "Connection closed by the webhook"
    return f"Connection error: {type(exc).__name__}: {exc}"


def _check_webhook_url(url: str) -> None:
    if not _WEBHOOK_URL_RE.fullmatch(url):
        raise ValueError(f"not an http(s) URL: {url!r}")


_Handler = Callable[[JSONDict], Coroutine[Any, Any, Any]]


class FakeBotAPI:
    """A fake Telegram Bot API server running in the current event loop.

    Public state: ``base_url`` / ``base_file_url`` (after :meth:`start`), ``calls`` (every
    request, in order of completion), ``webhook_url``, ``deliveries`` (every webhook delivery
    attempt, in order of completion), ``on_call`` (an optional callback invoked with each
    recorded :class:`Call`), and the webhook tuning ``webhook_timeout``,
    ``webhook_retry_initial`` and ``webhook_retry_max`` (seconds; the keyword arguments of the
    same names set them), and ``rate_limits`` (``None``: no flood limits; see
    :class:`RateLimits`). Not thread-safe: use :class:`FakeBotAPIThread` from other threads.
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_id: int = 123456,
        bot_username: str = "concierge_test_bot",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bot_first_name: str = "Concierge",
        webhook_timeout: float = 10.0,
        webhook_retry_initial: float = 0.05,
        webhook_retry_max: float = 2.0,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.host = host
        self.port = port
        self.base_url = ""
        self.base_file_url = ""
        self.calls: list[Call] = []
        self.on_call: Callable[[Call], None] | None = None
        self.deliveries: list[Delivery] = []
        self.webhook_timeout = webhook_timeout
        self.webhook_retry_initial = webhook_retry_initial
        self.webhook_retry_max = webhook_retry_max
        self.rate_limits = rate_limits
        self._tat: dict[int | None, float] = {}  # theoretical arrival time; None is overall
        self._webhook: _Webhook | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._webhook_targets: list[str] | None = None
        self._round_robin = 0
        self._pending: dict[int, _Pending] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._dispatch_wakeup = asyncio.Event()
        self._client: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._changed = asyncio.Event()
        self._updates: list[JSONDict] = []
        self._pushed_at: dict[int, float] = {}
        self._next_update_id = 1
        self._poll_generation = 0
        self._polling = 0
        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, JSONDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._store: dict[tuple[int, int], _Stored] = {}
        self._outgoing: dict[int, list[int]] = {}
        self._files: dict[str, _FileInfo] = {}
        self._files_by_path: dict[str, _FileInfo] = {}
        self._photo_sets: dict[str, list[JSONDict]] = {}
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(1)
        self._callbacks: dict[str, bool] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, JSONDict] = {}
        self._blocked: set[int] = set()
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._methods: dict[str, tuple[str, _Handler]] = {}
        for name, handler in self._method_table().items():
            self._methods[_key(name)] = (name, handler)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> FakeBotAPI:
        """Bind the server (port 0 picks a free port) and set ``base_url``."""
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        app.router.add_post("/_control/updates", self._control_updates)
        app.router.add_post("/_control/user_message", self._control_user_message)
        app.router.add_post("/_control/callback", self._control_callback)
        app.router.add_get("/_control/calls", self._control_calls)
        app.router.add_get("/_control/messages/{chat_id}", self._control_messages)
        app.router.add_post("/_control/webhook_targets", self._control_webhook_targets)
        app.router.add_get("/_control/deliveries", self._control_deliveries)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._closing = False
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        self.base_url = f"http://{host}:{self.port}/bot"
        self.base_file_url = f"http://{host}:{self.port}/file/bot"
        if self._webhook is not None:
            self._start_dispatcher()
        return self

    async def stop(self) -> None:
        """Answer pending long polls and delays, stop webhook delivery, then close the server."""
        self._closing = True
        self._fire()
        await self._stop_delivery()
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---------------------------------------------------------------- test helpers

    def push_update(self, update: JSONDict) -> int:
        """Assign the next ``update_id`` to ``update`` and queue it for the bot.

        The bot gets it from ``getUpdates`` or, with a webhook set, by webhook delivery. An
        update whose type the webhook's ``allowed_updates`` excludes is dropped, as by Telegram.
        """
        update_id = self._next_update_id
        self._next_update_id += 1
        update["update_id"] = update_id
        self._pushed_at[update_id] = time.monotonic()
        allowed = self._webhook.allowed_updates if self._webhook is not None else None
        if not allowed or _update_type(update) in allowed:
            self._updates.append(update)
            self._dispatch_wakeup.set()
        self._fire()
        return update_id

    @property
    def polling(self) -> int:
        """Number of ``getUpdates`` requests currently waiting for updates."""
        return self._polling

    def push_time(self, update_id: int) -> float:
        """``time.monotonic()`` when the update was queued (compare with ``Call.time``)."""
        return self._pushed_at[update_id]

    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed (by an offset or a 2xx webhook answer)."""
        return copy.deepcopy(self._updates)

    @property
    def webhook_url(self) -> str:
        """The URL set with ``setWebhook`` ("" when no webhook is set)."""
        return self._webhook.url if self._webhook is not None else ""

    def webhook_info(self) -> JSONDict:
        """What ``getWebhookInfo`` answers now."""
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is None:
            return info
        if self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        info["max_connections"] = self._webhook.max_connections
        if self._webhook.allowed_updates:
            info["allowed_updates"] = list(self._webhook.allowed_updates)
        return info

    @property
    def webhook_targets(self) -> list[str] | None:
        """The load-balancer targets set by :meth:`set_webhook_targets` (``None``: none)."""
        return None if self._webhook_targets is None else list(self._webhook_targets)

    def set_webhook_targets(self, urls: list[str] | None) -> None:
        """Deliver webhook updates round-robin to ``urls`` instead of the ``setWebhook`` URL.

        This emulates a load balancer in front of several bot instances that all registered the
        same public URL. A retry after a failed attempt goes to the target after the one that
        failed. ``None`` (or an empty list) delivers to the ``setWebhook`` URL again. Updates
        waiting for a retry are retried right away.
        """
        targets = list(urls) if urls else None
        for url in targets or []:
            _check_webhook_url(url)
        self._webhook_targets = targets
        self._round_robin = 0
        for pending in self._pending.values():
            pending.retry_at = 0.0
            pending.target = None
        self._dispatch_wakeup.set()
        self._fire()

    def user_message(
        self,
        user_id: int,
        text: str,
        first_name: str = "Guest",
        language_code: str = "en",
        chat_id: int | None = None,
        *,
        username: str | None = None,
        reply_to_message_id: int | None = None,
        push: bool = True,
    ) -> JSONDict:
        """A user sends ``text``; commands get a ``bot_command`` entity."""
        content: JSONDict = {"text": text}
        command = _BOT_COMMAND_RE.match(text)
        if command is not None and (len(text) == command.end() or text[command.end()].isspace()):
            content["entities"] = [
                {"offset": 0, "length": _u16(command.group(0)), "type": "bot_command"}
            ]
        return self._user_update(
            user_id,
            content,
            first_name,
            language_code,
            chat_id,
            username,
            reply_to_message_id,
            push,
        )

    def user_photo(
        self,
        user_id: int,
        caption: str | None = None,
        first_name: str = "Guest",
        language_code: str = "en",
        chat_id: int | None = None,
        *,
        width: int = 1280,
        height: int = 960,
        username: str | None = None,
        push: bool = True,
    ) -> JSONDict:
        """A user sends a photo (several PhotoSize entries, largest last)."""
        content: JSONDict = {"photo": self._new_photo(width, height, None)}
        if caption:
            content["caption"] = caption
        return self._user_update(
            user_id, content, first_name, language_code, chat_id, username, None, push
        )

    def user_voice(
        self,
        user_id: int,
        duration: int = 3,
        first_name: str = "Guest",
        language_code: str = "en",
        chat_id: int | None = None,
        *,
        caption: str | None = None,
        username: str | None = None,
        push: bool = True,
    ) -> JSONDict:
        """A user sends a voice note."""
        info = self._new_file("voice", 6000 * max(duration, 1), None)
        voice: JSONDict = {
            "file_id": info.file_id,
            "file_unique_id": info.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": info.size,
        }
        info.media = voice
        content: JSONDict = {"voice": copy.deepcopy(voice)}
        if caption:
            content["caption"] = caption
        return self._user_update(
            user_id, content, first_name, language_code, chat_id, username, None, push
        )

    def user_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        first_name: str = "Guest",
        language_code: str = "en",
        chat_id: int | None = None,
        *,
        username: str | None = None,
        push: bool = True,
    ) -> JSONDict:
        """A user shares a location."""
        content: JSONDict = {"location": {"latitude": latitude, "longitude": longitude}}
        return self._user_update(
            user_id, content, first_name, language_code, chat_id, username, None, push
        )

    def user_sticker(
        self,
        user_id: int,
        emoji: str = "👍",
        first_name: str = "Guest",
        language_code: str = "en",
        chat_id: int | None = None,
        *,
        username: str | None = None,
        push: bool = True,
    ) -> JSONDict:
        """A user sends a sticker."""
        info = self._new_file("sticker", 24_000, None)
        sticker: JSONDict = {
            "file_id": info.file_id,
            "file_unique_id": info.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "HotelFakeStickers",
            "file_size": info.size,
        }
        info.media = sticker
        return self._user_update(
            user_id,
            {"sticker": copy.deepcopy(sticker)},
            first_name,
            language_code,
            chat_id,
            username,
            None,
            push,
        )

    def callback(
        self,
        user_id: int,
        message: JSONDict,
        data: str,
        language_code: str = "en",
        first_name: str = "Guest",
        *,
        strict: bool = True,
        push: bool = True,
    ) -> JSONDict:
        """A user presses the inline button with ``data`` on the bot ``message``.

        The update carries the message's current state. With ``strict`` (the default) the message
        must exist and carry a button with that callback data, as in a real client.
        """
        chat_id = int(message["chat"]["id"])
        message_id = int(message["message_id"])
        stored = self._store.get((chat_id, message_id))
        if stored is not None and not stored.deleted:
            current = copy.deepcopy(stored.message)
        elif strict:
            raise LookupError(f"message {message_id} in chat {chat_id} does not exist")
        else:
            current = {k: copy.deepcopy(v) for k, v in message.items() if v is not None}
            if not _is_inline(current.get("reply_markup")):
                current.pop("reply_markup", None)
        if strict and not any(
            b.get("callback_data") == data for b in _inline_buttons(current.get("reply_markup"))
        ):
            raise LookupError(f"message {message_id} has no button with callback_data {data!r}")
        query_id = str(4_200_000_000_000_000_000 + next(self._callback_counter))
        self._callbacks[query_id] = False
        query: JSONDict = {
            "id": query_id,
            "from": self._user(user_id, first_name, language_code, None),
            "message": current,
            "chat_instance": str(abs(chat_id * 7_919 + self.bot_id) % 10**19),
            "data": data,
        }
        update: JSONDict = {"callback_query": query}
        if push:
            self.push_update(update)
        return update

    def press_button(
        self,
        user_id: int,
        button_text: str,
        chat_id: int | None = None,
        language_code: str = "en",
        first_name: str = "Guest",
    ) -> JSONDict:
        """Press the callback button labelled ``button_text`` on the newest message with it."""
        target = user_id if chat_id is None else chat_id
        for message_id in reversed(self._outgoing.get(target, [])):
            stored = self._store[(target, message_id)]
            if stored.deleted:
                continue
            for button in _inline_buttons(stored.message.get("reply_markup")):
                if button.get("text") == button_text and "callback_data" in button:
                    return self.callback(
                        user_id,
                        stored.message,
                        str(button["callback_data"]),
                        language_code=language_code,
                        first_name=first_name,
                    )
        raise LookupError(f"no bot message in chat {target} has a button {button_text!r}")

    def messages_to(self, chat_id: int) -> list[JSONDict]:
        """Current state (after edits, without deleted ones) of the bot's messages to a chat.

        Each dict is the Telegram Message plus guaranteed ``text``, ``caption`` and
        ``reply_markup`` keys (``None`` when absent; ``reply_markup`` is the markup as sent,
        including reply keyboards, which Telegram does not echo back).
        """
        views = []
        for message_id in self._outgoing.get(chat_id, []):
            stored = self._store[(chat_id, message_id)]
            if not stored.deleted:
                views.append(_message_view(stored.message, stored.markup))
        return views

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method (name matched case-insensitively)."""
        wanted = _key(method)
        return [call for call in self.calls if _key(call.method) == wanted]

    def commands(self, language_code: str = "", scope: JSONDict | None = None) -> list[JSONDict]:
        """The command list set for a scope and language."""
        return copy.deepcopy(self._commands.get(self._command_key(scope, language_code), []))

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error (429 gets retry_after)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = self._default_description(status, retry_after)
        fault = _Fault(status, description, retry_after, times)
        self._faults.setdefault(_key(method), deque()).append(fault)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` wait ``seconds`` before being handled."""
        self._delays.setdefault(_key(method), deque()).extend([seconds] * times)

    def block_chat(self, chat_id: int) -> None:
        """Make sends and edits to ``chat_id`` fail with 403 as if the user blocked the bot."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Undo :meth:`block_chat`."""
        self._blocked.discard(chat_id)

    async def wait_for_call(
        self,
        predicate: CallPredicate | str,
        timeout: float = 10.0,  # noqa: ASYNC109 - the documented helper signature
        since: int = 0,
    ) -> Call:
        """First recorded call at index >= ``since`` matching ``predicate`` (or a method name)."""
        matches = _call_matcher(predicate)

        def pick(call: Call) -> Call | None:
            return call if matches(call) else None

        return await self._wait_calls(pick, timeout, since, "matching call")

    async def wait_for_message(
        self,
        chat_id: int,
        predicate_on_text: TextPredicate | str,
        timeout: float = 10.0,  # noqa: ASYNC109 - the documented helper signature
        since: int = 0,
    ) -> JSONDict:
        """Message (as in :meth:`messages_to`) of the first send/edit to ``chat_id`` matching.

        ``predicate_on_text`` gets the text or caption ("" when neither); a string matches as a
        substring. ``since`` is a call index, e.g. ``len(fake.calls)`` taken earlier.
        """
        matches = _text_matcher(predicate_on_text)

        def pick(call: Call) -> JSONDict | None:
            message = call.result
            if not call.ok or not isinstance(message, dict) or "message_id" not in message:
                return None
            if message.get("chat", {}).get("id") != chat_id:
                return None
            if not matches(message.get("text") or message.get("caption") or ""):
                return None
            markup = message.get("reply_markup") or call.params.get("reply_markup")
            return _message_view(message, markup)

        return await self._wait_calls(pick, timeout, since, f"message to chat {chat_id}")

    async def wait_for_delivery(
        self,
        predicate: DeliveryPredicate | int,
        timeout: float = 10.0,  # noqa: ASYNC109 - same convention as the other waits
        since: int = 0,
    ) -> Delivery:
        """First delivery attempt at index >= ``since`` matching ``predicate``.

        An ``int`` predicate matches the successful delivery of that ``update_id``.
        """
        matches = _delivery_matcher(predicate)
        what = "matching delivery"
        if isinstance(predicate, int):
            what = f"successful delivery of update {predicate}"
        cursor = since

        def scan() -> Delivery | None:
            nonlocal cursor
            while cursor < len(self.deliveries):
                delivery = self.deliveries[cursor]
                cursor += 1
                if matches(delivery):
                    return delivery
            return None

        return await self._wait(scan, timeout, f"{what} since delivery #{since}")

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - same convention as the other waits
    ) -> None:
        """Wait until ``condition()`` holds; it is re-checked whenever the fake's state changes."""
        await self._wait(lambda: True if condition() else None, timeout, "condition to hold")

    # ---------------------------------------------------------------- internals: plumbing

    def _fire(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_changed(self, seconds: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await self._wait_changed(remaining)

    async def _wait_calls(
        self, pick: Callable[[Call], _T | None], seconds: float, since: int, what: str
    ) -> _T:
        cursor = since

        def scan() -> _T | None:
            nonlocal cursor
            while cursor < len(self.calls):
                found = pick(self.calls[cursor])
                cursor += 1
                if found is not None:
                    return found
            return None

        return await self._wait(scan, seconds, f"{what} since call #{since}")

    async def _wait(self, find: Callable[[], _T | None], seconds: float, what: str) -> _T:
        deadline = time.monotonic() + seconds
        while True:
            found = find()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                break
            await self._wait_changed(remaining)
        recent = "\n".join(
            f"  #{c.index} {c.method} {c.status} {_jsonable(c.params)!r:.300}"
            for c in self.calls[-15:]
        )
        state = "the fake was stopped" if self._closing else f"{seconds}s passed"
        message = f"no {what}; {state}. Last calls:\n{recent or '  (none)'}"
        if self.deliveries:
            message += "\nLast webhook deliveries:\n" + "\n".join(
                f"  #{d.index} update {d.update_id} -> {d.url}: {d.error or d.status}"
                for d in self.deliveries[-15:]
            )
        raise AssertionError(message)

    # ---------------------------------------------------------------- internals: webhook delivery

    def _start_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="FakeBotAPI webhook")
        self._dispatch_wakeup.set()

    async def _stop_delivery(self) -> None:
        """Stop the dispatcher and cancel in-flight attempts (their updates stay queued)."""
        tasks = list(self._in_flight.values())
        if self._dispatcher is not None:
            tasks.append(self._dispatcher)
            self._dispatcher = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pending.clear()

    async def _dispatch(self) -> None:
        while self._webhook is not None and not self._closing:
            self._dispatch_wakeup.clear()
            wake_in = self._start_deliveries(self._webhook)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dispatch_wakeup.wait(), wake_in)

    def _start_deliveries(self, webhook: _Webhook) -> float | None:
        """Start every delivery allowed now; returns the delay until a retry becomes due."""
        now = time.monotonic()
        wake_in: float | None = None
        queued = {update["update_id"] for update in self._updates}
        for update_id in [u for u in self._pending if u not in queued]:
            if update_id not in self._in_flight:
                del self._pending[update_id]
        earlier: set[int] = set()
        for update in self._updates:
            if len(self._in_flight) >= webhook.max_connections:
                break
            update_id = update["update_id"]
            pending = self._pending.get(update_id)
            if pending is None:
                pending = self._pending[update_id] = _Pending(_ordering_key(update))
            if pending.chat is not None:
                if pending.chat in earlier:
                    continue
                earlier.add(pending.chat)
            if update_id in self._in_flight:
                continue
            if pending.retry_at > now:
                due = pending.retry_at - now
                wake_in = due if wake_in is None else min(wake_in, due)
                continue
            targets = self._webhook_targets or [webhook.url]
            if pending.target is None:
                pending.target = self._round_robin % len(targets)
                self._round_robin += 1
            else:
                pending.target = (pending.target + 1) % len(targets)
            pending.attempts += 1
            body = json.dumps(update, ensure_ascii=False).encode()
            self._in_flight[update_id] = asyncio.create_task(
                self._deliver(webhook, update_id, targets[pending.target], body, pending.attempts),
                name=f"FakeBotAPI webhook update {update_id}",
            )
        return wake_in

    def _client_session(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._client

    async def _deliver(
        self, webhook: _Webhook, update_id: int, url: str, body: bytes, attempt: int
    ) -> None:
        started = time.monotonic()
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers[_SECRET_HEADER] = webhook.secret_token
        status: int | None = None
        error: str | None = None
        try:
            async with self._client_session().post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                allow_redirects=False,
            ) as response:
                status = response.status
                await response.read()
                if not 200 <= status < 300:
                    reason = f" {response.reason}" if response.reason else ""
                    error = f"Wrong response from the webhook: {status}{reason}"
        except asyncio.CancelledError as exc:
            error = _delivery_error(exc)
            raise
        except Exception as exc:
            error = _delivery_error(exc)
        finally:
            self._delivered(update_id, url, attempt, started, status, error)

    def _delivered(
        self,
        update_id: int,
        url: str,
        attempt: int,
        started: float,
        status: int | None,
        error: str | None,
    ) -> None:
        self._in_flight.pop(update_id, None)
        self.deliveries.append(
            Delivery(
                index=len(self.deliveries),
                url=url,
                update_id=update_id,
                attempt=attempt,
                time=started,
                completed=time.monotonic(),
                status=status,
                error=error,
            )
        )
        if error is None:
            self._pending.pop(update_id, None)
            for index, update in enumerate(self._updates):
                if update["update_id"] == update_id:
                    del self._updates[index]
                    break
        else:
            self._webhook_error = (_now(), error)
            pending = self._pending.get(update_id)
            if pending is not None:
                backoff = self.webhook_retry_initial * 2 ** min(attempt - 1, 30)
                pending.retry_at = time.monotonic() + min(backoff, self.webhook_retry_max)
        self._dispatch_wakeup.set()
        self._fire()

    @staticmethod
    def _default_description(status: int, retry_after: int | None) -> str:
        if status == 429:
            return f"Too Many Requests: retry after {retry_after}"
        if status == 403:
            return _BLOCKED
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return f"Error {status}"

    def _take_fault(self, key: str) -> _Fault | None:
        queue = self._faults.get(key)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        return fault

    def _check_flood(self, method: str, params: JSONDict, now: float) -> None:
        """Raise 429 if this message would exceed a flood limit; else count it."""
        limits = self.rate_limits
        if limits is None or _key(method) not in _LIMITED_METHODS:
            return
        try:
            chat_id: int | None = self._resolve_chat(params.get("chat_id"))
        except ApiError:
            return  # the method itself answers the bad chat_id
        keys = (None, chat_id)
        wait = 0.0
        for key in keys:
            _interval, tolerance = limits.bucket(key)
            wait = max(wait, self._tat.get(key, now) - tolerance - now)
        if wait > 0:
            retry = max(1, int(-(-wait // 1)))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        for key in keys:
            interval, _tolerance = limits.bucket(key)
            self._tat[key] = max(self._tat.get(key, now), now) + interval

    def _take_delay(self, key: str) -> float:
        queue = self._delays.get(key)
        return queue.popleft() if queue else 0.0

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: JSONDict = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("JSON body must be an object")
                raw.update(body)
            else:
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        raw[name] = Upload(value.filename, value.content_type, value.file.read())
                    elif isinstance(value, bytes | bytearray):
                        raw[name] = bytes(value).decode()
                    else:
                        raw[name] = value
        return {name: decode_param(name, value) for name, value in raw.items()}

    def _record(
        self,
        method: str,
        params: JSONDict,
        received: float,
        result: Any,
        error: ApiError | None,
    ) -> Call:
        call = Call(
            index=len(self.calls),
            method=method,
            params=params,
            time=received,
            result=copy.deepcopy(result) if error is None else None,
            status=200 if error is None else error.status,
            description=None if error is None else error.description,
            completed=time.monotonic(),
        )
        self.calls.append(call)
        self._fire()
        if self.on_call is not None:
            self.on_call(call)
        return call

    async def _handle(self, request: web.Request) -> web.Response:
        received = time.monotonic()
        match = re.fullmatch(r"/bot([^/]+)/([^/]*)", request.path)
        if match is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        token, method = match.groups()
        entry = self._methods.get(_key(method))
        result: Any = None
        error: ApiError | None = None
        params: JSONDict = {}
        try:
            params = await self._read_params(request)
        except ValueError as exc:
            error = _bad(f"can't parse request: {exc}")
        if error is not None:
            pass
        elif token != self.token:
            error = ApiError(401, "Unauthorized")
        elif entry is None:
            error = ApiError(404, "Not Found: method not found")
        else:
            method = entry[0]
            try:
                delay = self._take_delay(_key(method))
                if delay > 0:
                    await self._sleep(delay)
                fault = self._take_fault(_key(method))
                if fault is not None:
                    raise ApiError(fault.status, fault.description, fault.retry_after)
                self._check_flood(method, params, received)
                result = await entry[1](params)
            except ApiError as exc:
                error = exc
        self._record(method, params, received, result, error)
        if error is not None:
            return web.json_response(error.body(), status=error.status)
        return web.json_response({"ok": True, "result": result})

    # ---------------------------------------------------------------- internals: model

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _user(
        self, user_id: int, first_name: str, language_code: str | None, username: str | None
    ) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        if user_id not in self._chats or self._chats[user_id]["type"] == "private":
            chat: JSONDict = {"id": user_id, "type": "private", "first_name": first_name}
            if username:
                chat["username"] = username
            self._chats[user_id] = chat
        return copy.deepcopy(user)

    def _chat(self, chat_id: int) -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": "Guest"}
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "type": kind, "title": f"Group {-chat_id}"}
            self._chats[chat_id] = chat
        return copy.deepcopy(chat)

    def _resolve_chat(self, value: Any, name: str = "chat_id") -> int:
        if value is None or value == "":
            raise _bad(f"{name} is empty")
        if isinstance(value, bool):
            raise _bad("chat not found")
        if isinstance(value, int):
            return value
        text = str(value)
        if _INT_RE.fullmatch(text):
            return int(text)
        for chat_id, chat in self._chats.items():
            if text.startswith("@") and chat.get("username") == text[1:]:
                return chat_id
        raise _bad("chat not found")

    def _allocate_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _user_update(
        self,
        user_id: int,
        content: JSONDict,
        first_name: str,
        language_code: str,
        chat_id: int | None,
        username: str | None,
        reply_to_message_id: int | None,
        push: bool,
    ) -> JSONDict:
        user = self._user(user_id, first_name, language_code, username)
        target = user_id if chat_id is None else chat_id
        message: JSONDict = {
            "message_id": self._allocate_message_id(target),
            "from": user,
            "chat": self._chat(target),
            "date": _now(),
            **content,
        }
        if reply_to_message_id is not None:
            replied = self._store.get((target, reply_to_message_id))
            if replied is not None:
                message["reply_to_message"] = self._reply_copy(replied.message)
        self._store[(target, message["message_id"])] = _Stored(copy.deepcopy(message), None, False)
        update: JSONDict = {"message": message}
        if push:
            self.push_update(update)
        return update

    @staticmethod
    def _reply_copy(message: JSONDict) -> JSONDict:
        return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}

    def _new_file(self, kind: str, size: int, data: bytes | None, name: str = "") -> _FileInfo:
        number = next(self._file_counter)
        folder, suffix = _FILE_DIR.get(kind, ("documents", ""))
        path = f"{folder}/file_{number}{suffix}"
        if name and kind == "document":
            path = f"{folder}/file_{number}_{re.sub(r'[^A-Za-z0-9._-]', '_', name)}"
        info = _FileInfo(
            file_id=f"{_FILE_PREFIX.get(kind, _FILE_PREFIX['document'])}{number:06X}ZmFrZQ",
            file_unique_id=f"AQAD{number:06X}",
            kind=kind,
            size=size if data is None else len(data),
            path=path,
            data=data,
        )
        self._files[info.file_id] = info
        self._files_by_path[info.path] = info
        return info

    def _new_photo(self, width: int, height: int, data: bytes | None) -> list[JSONDict]:
        sizes: list[JSONDict] = []
        biggest = max(width, height, 1)
        for limit in (90, 320, 800, 1280):
            scale = min(1.0, limit / biggest)
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            if sizes and (w, h) == (sizes[-1]["width"], sizes[-1]["height"]):
                continue
            last = limit >= biggest or limit == 1280
            info = self._new_file("photo", max(1, w * h // 8), data if last else None)
            sizes.append(
                {
                    "file_id": info.file_id,
                    "file_unique_id": info.file_unique_id,
                    "file_size": info.size,
                    "width": w,
                    "height": h,
                }
            )
            if last:
                break
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def _media(self, kind: str, value: Any, params: JSONDict) -> Any:
        """Resolve an InputFile parameter (upload, URL or file_id) into a Telegram media object."""
        if value is None or value == "":
            raise _bad(f"there is no {kind} in the request")
        data: bytes | None = None
        name = "document"
        mime = "application/octet-stream"
        if isinstance(value, Upload):
            data = value.data
            name = value.filename or name
            mime = value.content_type or mime
        elif isinstance(value, str) and re.match(r"https?://", value):
            name = value.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or name
        elif isinstance(value, str) and value in self._files:
            known = self._files[value]
            if "photo" in (kind, known.kind):
                if kind != known.kind:
                    raise _bad("type of file mismatch")
                return copy.deepcopy(self._photo_sets[value])
            if kind == known.kind and known.media:
                return copy.deepcopy(known.media)
            if kind != "document":
                raise _bad("type of file mismatch")
            name = str(known.media.get("file_name") or known.path.rsplit("/", 1)[-1])
            mime = str(known.media.get("mime_type") or mime)
            return self._media_object(kind, known, params, name, mime)
        else:
            raise _bad("wrong file identifier/HTTP URL specified")
        if kind == "photo":
            return self._new_photo(800, 600, data)
        info = self._new_file(kind, 20_000 if data is None else len(data), data, name)
        info.media = self._media_object(kind, info, params, name, mime)
        return copy.deepcopy(info.media)

    @staticmethod
    def _media_object(
        kind: str, info: _FileInfo, params: JSONDict, name: str, mime: str
    ) -> JSONDict:
        media: JSONDict = {"file_id": info.file_id, "file_unique_id": info.file_unique_id}
        if kind == "voice":
            media["duration"] = int(params.get("duration") or 1)
            media["mime_type"] = "audio/ogg"
        elif kind == "document":
            media["file_name"] = name
            media["mime_type"] = mime
        media["file_size"] = info.size
        return media

    def _check_blocked(self, chat_id: int) -> None:
        if chat_id in self._blocked:
            raise ApiError(403, _BLOCKED)

    def _formatted(
        self, params: JSONDict, field_name: str, mode_field: str, entities_field: str
    ) -> tuple[str, list[JSONDict]]:
        value = params.get(field_name)
        if value is None:
            return "", []
        entities = params.get(entities_field)
        return format_text(
            str(value),
            params.get(mode_field),
            entities if isinstance(entities, list) else None,
        )

    def _caption(self, params: JSONDict) -> JSONDict:
        caption, entities = self._formatted(params, "caption", "parse_mode", "caption_entities")
        if _u16(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        content: JSONDict = {}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    def _send(self, params: JSONDict, content: JSONDict) -> JSONDict:
        chat_id = self._resolve_chat(params.get("chat_id"))
        self._check_blocked(chat_id)
        markup = params.get("reply_markup")
        _validate_markup(markup)
        reply_to = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id")
            allow_missing = bool(reply_parameters.get("allow_sending_without_reply"))
        replied: _Stored | None = None
        if reply_to:
            replied = self._store.get((chat_id, int(reply_to)))
            if (replied is None or replied.deleted) and not allow_missing:
                raise _bad("message to be replied not found")
        message: JSONDict = {
            "message_id": self._allocate_message_id(chat_id),
            "from": self._bot_user(),
            "chat": self._chat(chat_id),
            "date": _now(),
        }
        if replied is not None and not replied.deleted:
            message["reply_to_message"] = self._reply_copy(replied.message)
        message.update(content)
        if _is_inline(markup):
            message["reply_markup"] = copy.deepcopy(markup)
        self._store[(chat_id, message["message_id"])] = _Stored(
            copy.deepcopy(message), copy.deepcopy(markup), True
        )
        self._outgoing.setdefault(chat_id, []).append(message["message_id"])
        return message

    def _editable(self, params: JSONDict) -> _Stored | None:
        if params.get("inline_message_id"):
            return None
        chat_id = self._resolve_chat(params.get("chat_id"))
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad("message identifier is not specified")
        stored = self._store.get((chat_id, message_id))
        if stored is None or stored.deleted:
            raise _bad("message to edit not found")
        self._check_blocked(chat_id)
        if not stored.outgoing:
            raise _bad("message can't be edited")
        return stored

    @staticmethod
    def _edit_markup(params: JSONDict) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        _validate_markup(markup)
        if not _is_inline(markup):
            raise _bad("inline keyboard expected")
        return dict(markup)

    @staticmethod
    def _apply_edit(stored: _Stored, changes: JSONDict, markup: JSONDict | None) -> JSONDict:
        message = stored.message
        unchanged = all(message.get(k) == v for k, v in changes.items())
        if unchanged and message.get("reply_markup") == markup:
            raise _bad(_NOT_MODIFIED)
        for name, value in changes.items():
            if value is None:
                message.pop(name, None)
            else:
                message[name] = copy.deepcopy(value)
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = copy.deepcopy(markup)
        stored.markup = copy.deepcopy(markup)
        message["edit_date"] = _now()
        return copy.deepcopy(message)

    @staticmethod
    def _command_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope_value = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope_value, sort_keys=True), str(language_code or "")

    # ---------------------------------------------------------------- Bot API methods

    def _method_table(self) -> dict[str, _Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setMyDescription": self._set_bot_text("description"),
            "getMyDescription": self._get_bot_text("description"),
            "setMyShortDescription": self._set_bot_text("short_description"),
            "getMyShortDescription": self._get_bot_text("short_description"),
            "setMyName": self._set_bot_text("name"),
            "getMyName": self._get_bot_text("name"),
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendVoice": self._send_voice,
            "sendDocument": self._send_document,
            "sendLocation": self._send_location,
            "sendChatAction": self._send_chat_action,
            "forwardMessage": self._forward_message,
            "copyMessage": self._copy_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }

    async def _true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook is not None:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        self._polling += 1
        self._fire()
        try:
            while True:
                if generation != self._poll_generation:
                    raise ApiError(409, _CONFLICT_POLL)
                if self._webhook is not None:
                    raise ApiError(409, _CONFLICT_SET_WEBHOOK)
                if self._updates or self._closing:
                    return copy.deepcopy(self._updates[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                await self._wait_changed(remaining)
        finally:
            self._polling -= 1
            self._fire()

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "").strip()
        if not url:
            return await self._delete_webhook(params)
        if not _WEBHOOK_URL_RE.fullmatch(url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        secret = str(secret) if secret not in (None, "") else None
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = params.get("max_connections")
        if not isinstance(max_connections, int) or isinstance(max_connections, bool):
            max_connections = 40
        allowed = params.get("allowed_updates")
        if allowed is not None and not (
            isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
        ):
            raise _bad("can't parse allowed updates: array of strings expected")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = _Webhook(
            url=url,
            secret_token=secret,
            max_connections=min(max(max_connections, 1), 100),
            allowed_updates=tuple(allowed) if allowed else None,
        )
        self._webhook_error = None
        for pending in self._pending.values():
            pending.retry_at = 0.0
        self._start_dispatcher()
        self._fire()
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self._webhook = None
        await self._stop_delivery()
        self._webhook_error = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._fire()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return self.webhook_info()

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        cleaned: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand")
            name = str(command.get("command", "")).removeprefix("/")
            description = str(command.get("description", "")).strip()
            if not _COMMAND_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = self._command_key(params.get("scope"), params.get("language_code"))
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(
            self._command_key(params.get("scope"), params.get("language_code")), None
        )
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands(str(params.get("language_code") or ""), params.get("scope"))

    def _set_bot_text(self, name: str) -> _Handler:
        async def handler(params: JSONDict) -> bool:
            key = (name, str(params.get("language_code") or ""))
            value = str(params.get(name) or "")
            if value:
                self._bot_texts[key] = value
            else:
                self._bot_texts.pop(key, None)
            return True

        return handler

    def _get_bot_text(self, name: str) -> _Handler:
        async def handler(params: JSONDict) -> JSONDict:
            language = str(params.get("language_code") or "")
            value = self._bot_texts.get((name, language), self._bot_texts.get((name, ""), ""))
            if name == "name" and not value:
                value = self.bot_first_name
            return {name: value}

        return handler

    async def _set_chat_menu_button(self, params: JSONDict) -> bool:
        chat = params.get("chat_id")
        button = params.get("menu_button")
        key = None if chat is None else self._resolve_chat(chat)
        self._menu_buttons[key] = button if isinstance(button, dict) else {"type": "default"}
        return True

    async def _get_chat_menu_button(self, params: JSONDict) -> JSONDict:
        chat = params.get("chat_id")
        key = None if chat is None else self._resolve_chat(chat)
        default = self._menu_buttons.get(None, {"type": "commands"})
        return copy.deepcopy(self._menu_buttons.get(key, default))

    async def _send_message(self, params: JSONDict) -> JSONDict:
        if params.get("text") is None:
            raise _bad("message text is empty")
        text, entities = self._formatted(params, "text", "parse_mode", "entities")
        if not text:
            raise _bad("message text is empty")
        if _u16(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        options = params.get("link_preview_options")
        if isinstance(options, dict) and options:
            content["link_preview_options"] = options
        return self._send(params, content)

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        self._resolve_chat(params.get("chat_id"))
        caption = self._caption(params)
        photo = self._media("photo", params.get("photo"), params)
        return self._send(params, {"photo": photo, **caption})

    async def _send_voice(self, params: JSONDict) -> JSONDict:
        self._resolve_chat(params.get("chat_id"))
        caption = self._caption(params)
        voice = self._media("voice", params.get("voice"), params)
        return self._send(params, {"voice": voice, **caption})

    async def _send_document(self, params: JSONDict) -> JSONDict:
        self._resolve_chat(params.get("chat_id"))
        caption = self._caption(params)
        document = self._media("document", params.get("document"), params)
        return self._send(params, {"document": document, **caption})

    async def _send_location(self, params: JSONDict) -> JSONDict:
        latitude, longitude = params.get("latitude"), params.get("longitude")
        if not isinstance(latitude, int | float) or not -90 <= latitude <= 90:
            raise _bad("wrong latitude")
        if not isinstance(longitude, int | float) or not -180 <= longitude <= 180:
            raise _bad("wrong longitude")
        location: JSONDict = {"latitude": float(latitude), "longitude": float(longitude)}
        for name in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            if params.get(name) is not None:
                location[name] = params[name]
        return self._send(params, {"location": location})

    async def _send_chat_action(self, params: JSONDict) -> bool:
        chat_id = self._resolve_chat(params.get("chat_id"))
        self._check_blocked(chat_id)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _source(self, params: JSONDict, what: str) -> _Stored:
        from_chat = self._resolve_chat(params.get("from_chat_id"), "from_chat_id")
        message_id = params.get("message_id")
        stored = self._store.get((from_chat, message_id if isinstance(message_id, int) else 0))
        if stored is None or stored.deleted:
            raise _bad(f"message to {what} not found")
        return stored

    async def _forward_message(self, params: JSONDict) -> JSONDict:
        source = self._source(params, "forward")
        content = {k: source.message[k] for k in _CONTENT_KEYS if k in source.message}
        sender = source.message.get("from", {})
        content["forward_origin"] = {
            "type": "user",
            "sender_user": copy.deepcopy(sender),
            "date": source.message.get("date", _now()),
        }
        return self._send({k: v for k, v in params.items() if k != "reply_markup"}, content)

    async def _copy_message(self, params: JSONDict) -> JSONDict:
        source = self._source(params, "copy")
        content = {k: source.message[k] for k in _CONTENT_KEYS if k in source.message}
        if "caption" in params and any(k in content for k in _MEDIA_KEYS):
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption(params))
        message = self._send(params, copy.deepcopy(content))
        return {"message_id": message["message_id"]}

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        text, entities = self._formatted(params, "text", "parse_mode", "entities")
        if not text:
            raise _bad("message text is empty")
        if _u16(text) > MAX_TEXT_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        markup = self._edit_markup(params)
        stored = self._editable(params)
        if stored is None:
            return True
        if "text" not in stored.message:
            raise _bad("there is no text in the message to edit")
        return self._apply_edit(stored, {"text": text, "entities": entities or None}, markup)

    async def _edit_message_caption(self, params: JSONDict) -> JSONDict | bool:
        caption = self._caption(params)
        markup = self._edit_markup(params)
        stored = self._editable(params)
        if stored is None:
            return True
        if not any(k in stored.message for k in _MEDIA_KEYS):
            raise _bad("there is no caption in the message to edit")
        changes = {
            "caption": caption.get("caption"),
            "caption_entities": caption.get("caption_entities"),
        }
        return self._apply_edit(stored, changes, markup)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = self._edit_markup(params)
        stored = self._editable(params)
        if stored is None:
            return True
        return self._apply_edit(stored, {}, markup)

    async def _delete_message(self, params: JSONDict) -> bool:
        chat_id = self._resolve_chat(params.get("chat_id"))
        message_id = params.get("message_id")
        stored = self._store.get((chat_id, message_id if isinstance(message_id, int) else 0))
        if stored is None or stored.deleted:
            raise _bad("message to delete not found")
        stored.deleted = True
        return True

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self._callbacks.get(query_id, True):
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        return True

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._chat(self._resolve_chat(params.get("chat_id")))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_file(self, params: JSONDict) -> JSONDict:
        info = self._files.get(str(params.get("file_id") or ""))
        if info is None:
            raise _bad("invalid file_id")
        return {
            "file_id": info.file_id,
            "file_unique_id": info.file_unique_id,
            "file_size": info.size,
            "file_path": info.path,
        }

    # ---------------------------------------------------------------- file download & control

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        info = self._files_by_path.get(request.match_info["path"])
        if info is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        data = info.data if info.data is not None else bytes(i % 251 for i in range(info.size))
        return web.Response(body=data, content_type="application/octet-stream")

    async def _control_updates(self, request: web.Request) -> web.Response:
        update = await request.json()
        return web.json_response({"update_id": self.push_update(update)})

    async def _control_user_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        update = self.user_message(
            int(body["user_id"]),
            str(body["text"]),
            first_name=str(body.get("first_name", "Guest")),
            language_code=str(body.get("language_code", "en")),
            chat_id=body.get("chat_id"),
        )
        return web.json_response(update)

    async def _control_callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        message = {"chat": {"id": int(body["chat_id"])}, "message_id": int(body["message_id"])}
        try:
            update = self.callback(
                int(body["user_id"]),
                message,
                str(body["data"]),
                language_code=str(body.get("language_code", "en")),
            )
        except LookupError as exc:
            return web.json_response({"error": str(exc)}, status=404)
        return web.json_response(update)

    async def _control_calls(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response([call.to_json() for call in self.calls[since:]])

    async def _control_messages(self, request: web.Request) -> web.Response:
        return web.json_response(self.messages_to(int(request.match_info["chat_id"])))

    async def _control_webhook_targets(self, request: web.Request) -> web.Response:
        body = await request.json()
        urls = body.get("urls") if isinstance(body, dict) else None
        if urls is not None and not (
            isinstance(urls, list) and all(isinstance(url, str) for url in urls)
        ):
            return web.json_response({"error": "urls must be a list of strings"}, status=400)
        try:
            self.set_webhook_targets(urls)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"urls": self.webhook_targets})

    async def _control_deliveries(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response([d.to_json() for d in self.deliveries[since:]])


class FakeBotAPIThread:
    """Runs a :class:`FakeBotAPI` in a daemon thread with its own event loop.

    All helpers are synchronous and thread-safe: they run inside the server's loop.
    """

    def __init__(self, fake: FakeBotAPI | None = None) -> None:
        """Serve ``fake`` (built with the options wanted), by default one with no limits."""
        self.fake = fake if fake is not None else FakeBotAPI()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot``, the ``base_url`` for python-telegram-bot."""
        return self.fake.base_url

    @property
    def token(self) -> str:
        """The token the fake accepts."""
        return self.fake.token

    @property
    def port(self) -> int:
        """The bound port."""
        return self.fake.port

    def start(self) -> FakeBotAPIThread:
        """Start the loop thread and bind the server; returns once it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("already started")
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self.fake.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._thread = threading.Thread(target=run, name="FakeBotAPI", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the server and the loop thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.fake.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeBotAPIThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("FakeBotAPIThread is not started")

        async def invoke() -> _T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(invoke(), loop).result()

    def _await(self, coro: Coroutine[Any, Any, _T], timeout: float) -> _T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("FakeBotAPIThread is not started")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout + 30)

    @property
    def calls(self) -> list[Call]:
        """A snapshot of the recorded calls."""
        return self._run(list, self.fake.calls)

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method."""
        return self._run(self.fake.calls_of, method)

    def push_update(self, update: JSONDict) -> int:
        """Queue a raw update; returns its update_id."""
        return self._run(self.fake.push_update, update)

    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed."""
        return self._run(self.fake.pending_updates)

    def push_time(self, update_id: int) -> float:
        """``time.monotonic()`` when the update was queued."""
        return self._run(self.fake.push_time, update_id)

    @property
    def webhook_url(self) -> str:
        """The URL set with ``setWebhook`` ("" when no webhook is set)."""
        return self._run(lambda: self.fake.webhook_url)

    def webhook_info(self) -> JSONDict:
        """What ``getWebhookInfo`` answers now."""
        return self._run(self.fake.webhook_info)

    def set_webhook_targets(self, urls: list[str] | None) -> None:
        """Deliver webhook updates round-robin over ``urls``; ``None`` restores the URL."""
        self._run(self.fake.set_webhook_targets, urls)

    @property
    def deliveries(self) -> list[Delivery]:
        """A snapshot of the recorded webhook delivery attempts."""
        return self._run(list, self.fake.deliveries)

    def wait_for_delivery(
        self, predicate: DeliveryPredicate | int, timeout: float = 10.0, since: int = 0
    ) -> Delivery:
        """Blocking :meth:`FakeBotAPI.wait_for_delivery` (the predicate runs in the loop)."""
        return self._await(self.fake.wait_for_delivery(predicate, timeout, since), timeout)

    def user_message(
        self,
        user_id: int,
        text: str,
        first_name: str = "Guest",
        language_code: str = "en",
        chat_id: int | None = None,
        **kwargs: Any,
    ) -> JSONDict:
        """A user sends ``text`` (see :meth:`FakeBotAPI.user_message`)."""
        return self._run(
            self.fake.user_message, user_id, text, first_name, language_code, chat_id, **kwargs
        )

    def user_photo(self, user_id: int, caption: str | None = None, **kwargs: Any) -> JSONDict:
        """A user sends a photo."""
        return self._run(self.fake.user_photo, user_id, caption, **kwargs)

    def user_voice(self, user_id: int, duration: int = 3, **kwargs: Any) -> JSONDict:
        """A user sends a voice note."""
        return self._run(self.fake.user_voice, user_id, duration, **kwargs)

    def user_location(
        self, user_id: int, latitude: float, longitude: float, **kwargs: Any
    ) -> JSONDict:
        """A user shares a location."""
        return self._run(self.fake.user_location, user_id, latitude, longitude, **kwargs)

    def user_sticker(self, user_id: int, emoji: str = "👍", **kwargs: Any) -> JSONDict:
        """A user sends a sticker."""
        return self._run(self.fake.user_sticker, user_id, emoji, **kwargs)

    def callback(
        self,
        user_id: int,
        message: JSONDict,
        data: str,
        language_code: str = "en",
        **kwargs: Any,
    ) -> JSONDict:
        """A user presses an inline button (see :meth:`FakeBotAPI.callback`)."""
        return self._run(self.fake.callback, user_id, message, data, language_code, **kwargs)

    def press_button(
        self, user_id: int, button_text: str, chat_id: int | None = None, **kwargs: Any
    ) -> JSONDict:
        """Press the callback button labelled ``button_text``."""
        return self._run(self.fake.press_button, user_id, button_text, chat_id, **kwargs)

    def messages_to(self, chat_id: int) -> list[JSONDict]:
        """Current state of the bot's messages to a chat."""
        return self._run(self.fake.messages_to, chat_id)

    def commands(self, language_code: str = "", scope: JSONDict | None = None) -> list[JSONDict]:
        """The command list set for a scope and language."""
        return self._run(self.fake.commands, language_code, scope)

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error."""
        self._run(self.fake.fail_next, method, status, description, retry_after, times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Delay the next ``times`` calls of ``method``."""
        self._run(self.fake.delay_next, method, seconds, times)

    def block_chat(self, chat_id: int) -> None:
        """Make sends to ``chat_id`` fail with 403."""
        self._run(self.fake.block_chat, chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Undo :meth:`block_chat`."""
        self._run(self.fake.unblock_chat, chat_id)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Blocking :meth:`FakeBotAPI.wait_until` (the condition runs in the server thread)."""
        self._await(self.fake.wait_until(condition, timeout), timeout)

    @property
    def polling(self) -> int:
        """Number of ``getUpdates`` requests currently waiting."""
        return self._run(lambda: self.fake.polling)

    def wait_for_call(
        self, predicate: CallPredicate | str, timeout: float = 10.0, since: int = 0
    ) -> Call:
        """Blocking :meth:`FakeBotAPI.wait_for_call` (the predicate runs in the server thread)."""
        return self._await(self.fake.wait_for_call(predicate, timeout, since), timeout)

    def wait_for_message(
        self,
        chat_id: int,
        predicate_on_text: TextPredicate | str,
        timeout: float = 10.0,
        since: int = 0,
    ) -> JSONDict:
        """Blocking :meth:`FakeBotAPI.wait_for_message`."""
        return self._await(
            self.fake.wait_for_message(chat_id, predicate_on_text, timeout, since), timeout
        )


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeBotAPI(
        args.token,
        args.bot_id,
        args.username,
        args.host,
        args.port,
        bot_first_name=args.name,
        rate_limits=RateLimits() if args.rate_limits else None,
    )
    if args.webhook_target:
        fake.set_webhook_targets(args.webhook_target)
    if args.verbose:
        fake.on_call = lambda call: print(
            json.dumps(call.to_json(), ensure_ascii=False), flush=True
        )
    await fake.start()
    print(fake.base_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the fake standalone until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakebotapi", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--bot-id", type=int, default=123456)
    parser.add_argument("--username", default="concierge_test_bot")
    parser.add_argument("--name", default="Concierge", help="the bot's first_name")
    parser.add_argument(
        "--webhook-target",
        action="append",
        metavar="URL",
        help="deliver webhook updates here instead of the setWebhook URL (repeatable: "
        "round-robin over the targets, like a load balancer)",
    )
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="enforce Telegram's flood limits (30/s overall, 1/s per private chat after a "
        "burst of 3, 20/min per group) and answer 429 beyond them",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every call as JSON")
    args = parser.parse_args(argv)
    for url in args.webhook_target or []:
        try:
            _check_webhook_url(url)
        except ValueError as exc:
            parser.error(f"--webhook-target: {exc}")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
