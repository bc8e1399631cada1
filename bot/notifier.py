"""Outgoing messages as values.

Services never talk to Telegram: they put ``Outgoing`` messages — a notice (``bot.notices``)
for a reader in a chat, in the reader's locale — into the ``Outbox`` of their transaction;
``Deps.transaction`` writes them into the durable outbox (``bot.outbox``) in the same commit,
and the sender (``bot.delivery``) renders each into a ``Rendered`` Telegram message
(``bot.render``) and delivers it. That is the one way out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.buttons import ButtonAction, pack
from bot.notices import Notice

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


@dataclass(frozen=True)
class Button:
    """An inline button and the action it stands for, signed when it is sent."""

    text: str
    action: ButtonAction

    def __post_init__(self) -> None:
        pack(self.action)  # refuse now what could not be sent later

    @property
    def data(self) -> str:
        """The action as unsigned callback data."""
        return pack(self.action)


@dataclass(frozen=True)
class Media:
    """A photo, voice note, document or location to show before a text."""

    kind: Literal["photo", "voice", "document", "location"]
    file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    caption: str = ""


# What ``Outgoing.remove`` takes away from the message ``edit_message_id``: the whole message,
# or only its buttons.
Removal = Literal["message", "buttons"]


@dataclass(frozen=True)
class Outgoing:
    """One notice to send to a chat, or to show by editing a message of it when
    ``edit_message_id`` (or ``edit_offer_id``) is set; ``locale``: the reader's.

    With ``remove`` (and no notice), the message ``edit_message_id`` is deleted, or its buttons
    are. ``request_id``: the request a message without a notice is about (a guest's photo
    shown to staff), as a notice's ``request_id`` says it for the others.
    """

    chat_id: int
    notice: Notice | None = None  # None: only the media
    locale: str = ""
    media: Media | None = None
    edit_message_id: int | None = None
    edit_offer_id: int | None = None  # edit the message shown for this offer, once it is known
    offer_id: int | None = None  # remember the sent message on this offer, to edit it later
    remove: Removal | None = None
    request_id: int | None = None


@dataclass(frozen=True)
class Rendered:
    """An ``Outgoing`` message as the Telegram channel sends it: text and buttons."""

    chat_id: int
    text: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    media: Media | None = None
    edit_message_id: int | None = None
    edit_offer_id: int | None = None  # edit the message shown for this offer, once it is known
    offer_id: int | None = None  # remember the sent message on this offer, to edit it later
    remove: Removal | None = None  # delete ``edit_message_id``, or only its buttons


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
