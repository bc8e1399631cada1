"""Every inline button's action as a typed value, packed into signed callback data.

A button carries an action such as ``Accept(request_id=12)``; on the wire it is
``acc:12:<mac>``, the prefix and fields joined by colons and an HMAC appended. The wire format
is the one every earlier version sent, so buttons already in guests' chats keep working after
an upgrade. Data that is not signed by this bot, has an unknown prefix or a field that does not
parse unpacks to None and is answered as a stale button, before any handler runs.

The signing key is derived from the bot token, so every instance agrees, and buttons sent
before a token change simply stop working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol, TypeVar

MAC_LENGTH = 8
MAX_DATA = 64 - MAC_LENGTH - 1  # Telegram allows 64 bytes of callback data, the MAC included

T = TypeVar("T")


class Codec(Protocol[T]):
    """How one field of an action is written into callback data and read back."""

    def encode(self, value: T) -> str:
        """The field as text without colons; ValueError if it cannot be written."""
        ...

    def decode(self, text: str) -> T:
        """The field read from ``text``; ValueError if it is not one."""
        ...


@dataclass(frozen=True)
class Number:
    """A non-negative integer of at most ``digits`` digits, optionally within bounds."""

    digits: int = 12
    low: int = 0
    high: int | None = None

    def encode(self, value: int) -> str:
        """The number in decimal."""
        self._check(value, str(value))
        return str(value)

    def decode(self, text: str) -> int:
        """The number ``text`` spells."""
        if not (text.isascii() and text.isdigit()):
            raise ValueError(text)
        self._check(int(text), text)
        return int(text)

    def _check(self, value: int, text: str) -> None:
        if (
            len(text) > self.digits
            or value < self.low
            or (self.high is not None and value > self.high)
        ):
            raise ValueError(text)


@dataclass(frozen=True)
class Flag:
    """A yes/no field written as one of two words."""

    yes: str
    no: str

    def encode(self, value: bool) -> str:
        """``yes`` or ``no``."""
        return self.yes if value else self.no

    def decode(self, text: str) -> bool:
        """True for ``yes``, False for ``no``."""
        if text not in (self.yes, self.no):
            raise ValueError(text)
        return text == self.yes


@dataclass(frozen=True)
class Word:
    """A short text field (a department key, a language code) that matches ``pattern``."""

    pattern: str

    def encode(self, value: str) -> str:
        """The word itself, if it matches."""
        return self.decode(value)

    def decode(self, text: str) -> str:
        """``text``, if it matches."""
        if not re.fullmatch(self.pattern, text):
            raise ValueError(text)
        return text


ID = Number()

ACTIONS: dict[str, type[ButtonAction]] = {}


class ButtonAction:
    """Base of the button actions: a prefix and a codec per field, in field order."""

    prefix: ClassVar[str]
    codecs: ClassVar[tuple[Codec[Any], ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "prefix" not in cls.__dict__:  # a shared shape (``OnRequest``), not an action
            return
        if cls.prefix in ACTIONS or ":" in cls.prefix:
            raise TypeError(f"button prefix {cls.prefix!r} is taken or invalid")
        ACTIONS[cls.prefix] = cls


@dataclass(frozen=True)
class OnRequest(ButtonAction):
    """An action on one request, named by its id."""

    codecs = (ID,)
    request_id: int


class Accept(OnRequest):
    """Take a waiting request (staff)."""

    prefix = "acc"


class Release(OnRequest):
    """Hand an accepted request back (its assignee)."""

    prefix = "rel"


class Done(OnRequest):
    """Mark an accepted request done (its assignee)."""

    prefix = "done"


class NotARequest(OnRequest):
    """Close a request that asks for nothing (staff); the reason is asked first."""

    prefix = "nar"


@dataclass(frozen=True)
class NotARequestBecause(ButtonAction):
    """Close a request as not a request, for one of the quick reasons (staff)."""

    prefix = "narr"
    codecs = (ID, Word(r"[a-z]{1,16}"))
    request_id: int
    reason: str  # a notices.DismissReason


class KeepOpen(OnRequest):
    """Leave the request open after all, instead of closing it as not a request (staff)."""

    prefix = "keep"


class MergeMenu(OnRequest):
    """List the guest's other open requests that this one could be merged into (staff)."""

    prefix = "mrg"


@dataclass(frozen=True)
class MergeInto(ButtonAction):
    """Close a request as a duplicate of another open request of the same guest (staff)."""

    prefix = "mrgi"
    codecs = (ID, ID)
    request_id: int
    into_id: int


class NoteAbout(OnRequest):
    """Write a note about the request's guest, shown on their later cards (staff)."""

    prefix = "note"


class MarkUrgent(OnRequest):
    """Mark a live request urgent (staff)."""

    prefix = "urg"


class MarkNormal(OnRequest):
    """Take a request's urgency back (supervisors)."""

    prefix = "nurg"


class ReplyToGuest(OnRequest):
    """Write to the guest of a request through the bot (its assignee)."""

    prefix = "rpl"


class Cancel(OnRequest):
    """Cancel one of the guest's own requests."""

    prefix = "can"


@dataclass(frozen=True)
class PickDepartment(ButtonAction):
    """Move a waiting request to the department the guest chose."""

    prefix = "dep"
    codecs = (ID, Word(r"[a-z][a-z0-9_]{0,31}"))
    request_id: int
    department: str


@dataclass(frozen=True)
class FollowUpAnswer(ButtonAction):
    """The guest's answer to a follow-up: all good, or not fixed."""

    prefix = "fu"
    codecs = (ID, Flag("y", "n"))
    followup_id: int
    fine: bool


@dataclass(frozen=True)
class Rate(ButtonAction):
    """The guest's 1-5 rating after a good follow-up."""

    prefix = "rate"
    codecs = (ID, Number(digits=1, low=1, high=5))
    followup_id: int
    rating: int


@dataclass(frozen=True)
class SetDuty(ButtonAction):
    """Go on or off duty (staff)."""

    prefix = "duty"
    codecs = (Flag("on", "off"),)
    on: bool


@dataclass(frozen=True)
class SetLanguage(ButtonAction):
    """Choose the language the bot speaks."""

    prefix = "lang"
    codecs = (Word(r"[a-z]{2}"),)
    locale: str


@dataclass(frozen=True)
class Forget(ButtonAction):
    """Erase the guest's data, or keep it."""

    prefix = "forget"
    codecs = (Flag("yes", "no"),)
    confirmed: bool


@dataclass(frozen=True)
class SendToStaff(ButtonAction):
    """Send a question the knowledge base answered on to staff after all (the guest)."""

    prefix = "ask"
    codecs = (ID,)
    question_id: int


def pack(action: ButtonAction) -> str:
    """``action`` as unsigned callback data; ValueError if a field cannot be written or it is
    too long to sign."""
    values = [getattr(action, f.name) for f in fields(action)]  # type: ignore[arg-type]
    if len(values) != len(action.codecs):
        raise TypeError(f"{type(action).__name__} needs one codec per field")
    data = ":".join(
        [action.prefix, *(c.encode(v) for c, v in zip(action.codecs, values, strict=True))]
    )
    if len(data.encode()) > MAX_DATA:
        raise ValueError(f"callback data too long to sign: {data!r}")
    return data


def unpack(data: str) -> ButtonAction | None:
    """The action in unsigned callback data, or None if it is not one this bot knows."""
    prefix, *parts = data.split(":")
    kind = ACTIONS.get(prefix)
    if kind is None or len(parts) != len(kind.codecs):
        return None
    try:
        values = [codec.decode(part) for codec, part in zip(kind.codecs, parts, strict=True)]
    except ValueError:
        return None
    return kind(*values)


class CallbackSigner:
    """Signs actions into callback data and opens signed data back into actions."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_token(cls, token: str) -> CallbackSigner:
        """The signer every instance of the bot with this token shares."""
        return cls(hashlib.sha256(b"concierge callback data\0" + token.encode()).digest())

    def _mac(self, data: str) -> str:
        digest = hmac.new(self._key, data.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:MAC_LENGTH]

    def sign(self, action: ButtonAction) -> str:
        """``action`` as signed callback data."""
        return self.sign_data(pack(action))

    def sign_data(self, data: str) -> str:
        """Packed ``data`` with its signature appended."""
        if len(data.encode()) > MAX_DATA:
            raise ValueError(f"callback data too long to sign: {data!r}")
        return f"{data}:{self._mac(data)}"

    def verify(self, signed: str) -> str | None:
        """The packed data if the signature is right, else None."""
        data, _, mac = signed.rpartition(":")
        if not data or not hmac.compare_digest(mac.encode(), self._mac(data).encode()):
            return None
        return data

    def open(self, signed: str) -> ButtonAction | None:
        """The action in signed callback data; None if forged, unknown or malformed."""
        data = self.verify(signed)
        return unpack(data) if data is not None else None
