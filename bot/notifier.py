"""The one place outbound Telegram messages leave the bot.

Services never talk to Telegram: they put ``Outgoing`` messages into the ``Outbox`` of their
transaction. Once the transaction has committed, the ``Notifier`` delivers them in order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import update
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.db import SessionFactory
from bot.models import Offer

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


@dataclass(frozen=True)
class Button:
    """An inline button; ``data`` is the callback payload (at most 64 bytes)."""

    text: str
    data: str

    def __post_init__(self) -> None:
        if len(self.data.encode()) > 64:
            raise ValueError(f"callback data too long: {self.data!r}")


@dataclass(frozen=True)
class Media:
    """A photo, voice note, document or location to show before a text."""

    kind: Literal["photo", "voice", "document", "location"]
    file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    caption: str = ""


@dataclass(frozen=True)
class Outgoing:
    """One message to send, or to edit when ``edit_message_id`` is set."""

    chat_id: int
    text: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    media: Media | None = None
    edit_message_id: int | None = None
    offer_id: int | None = None  # remember the sent message on this offer, to edit it later

    def markup(self) -> InlineKeyboardMarkup | None:
        """The inline keyboard, if any."""
        if not self.buttons:
            return None
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.text, callback_data=b.data) for b in row]
                for row in self.buttons
            ]
        )


@dataclass
class Outbox:
    """What one transaction wants to happen once it has committed."""

    messages: list[Outgoing] = field(default_factory=list)
    wake_times: list[datetime] = field(default_factory=list)

    def send(self, message: Outgoing) -> None:
        """Queue ``message``."""
        self.messages.append(message)

    def wake(self, at: datetime) -> None:
        """Ask the timer scheduler to run at ``at`` (or earlier)."""
        self.wake_times.append(at)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters, at line or word breaks."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


class Notifier:
    """Delivers outgoing messages through the Bot API, one after the other."""

    def __init__(self, bot: Bot, sessions: SessionFactory) -> None:
        self._bot = bot
        self._sessions = sessions

    async def deliver(self, messages: Sequence[Outgoing]) -> None:
        """Send or edit every message; a failure is logged and does not stop the others."""
        for message in messages:
            try:
                sent = await self._deliver_one(message)
            except Forbidden:
                log.warning("chat %s has blocked the bot; message not delivered", message.chat_id)
                continue
            except TelegramError as exc:
                log.warning("delivery to chat %s failed: %s", message.chat_id, exc)
                continue
            if sent is not None and message.offer_id is not None:
                self._remember_offer_message(message.offer_id, sent.message_id)

    async def _deliver_one(self, message: Outgoing) -> Message | None:
        if message.edit_message_id is not None:
            return await self._edit(message, message.edit_message_id)
        if message.media is not None:
            await self._send_media(message.chat_id, message.media)
            if not message.text:
                return None
        last: Message | None = None
        parts = split_text(message.text)
        for index, part in enumerate(parts):
            last = await self._bot.send_message(
                chat_id=message.chat_id,
                text=part,
                reply_markup=message.markup() if index == len(parts) - 1 else None,
            )
        return last

    async def _edit(self, message: Outgoing, message_id: int) -> Message | None:
        text = (
            message.text
            if len(message.text) <= TEXT_LIMIT
            else message.text[: TEXT_LIMIT - 1] + "…"
        )
        try:
            result = await self._bot.edit_message_text(
                chat_id=message.chat_id,
                message_id=message_id,
                text=text,
                reply_markup=message.markup(),
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return None
            raise
        return result if isinstance(result, Message) else None

    async def _send_media(self, chat_id: int, media: Media) -> None:
        caption = media.caption[:CAPTION_LIMIT] or None
        if media.kind == "location" and media.latitude is not None and media.longitude is not None:
            await self._bot.send_location(
                chat_id=chat_id, latitude=media.latitude, longitude=media.longitude
            )
        elif media.kind == "photo" and media.file_id:
            await self._bot.send_photo(chat_id=chat_id, photo=media.file_id, caption=caption)
        elif media.kind == "voice" and media.file_id:
            await self._bot.send_voice(chat_id=chat_id, voice=media.file_id, caption=caption)
        elif media.kind == "document" and media.file_id:
            await self._bot.send_document(chat_id=chat_id, document=media.file_id, caption=caption)

    def _remember_offer_message(self, offer_id: int, message_id: int) -> None:
        with self._sessions() as session:
            session.execute(
                update(Offer).where(Offer.id == offer_id).values(message_id=message_id)  # type: ignore[arg-type]
            )
            session.commit()
