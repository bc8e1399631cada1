"""Signed room payloads for the ``/start`` deep link of a printed room card.

A card's QR code opens ``https://t.me/<bot>?start=<payload>``; Telegram hands the payload to
the bot as ``/start <payload>``. It allows at most 64 characters of ``A-Z a-z 0-9 _ -``, so the
payload is the room, written in that alphabet, followed by a truncated HMAC:

``R<room><mac>``
    for a room written only with ``A-Z a-z 0-9 _ -`` (``412``, ``12A``, ``A-101``): the room
    as it is, e.g. ``R412`` + 12 characters of MAC;
``U<base64><mac>``
    for any other room (a space, ``/``, a letter outside ASCII): its UTF-8 bytes in URL-safe
    base64 without padding, e.g. ``Suite 3`` is ``UU3VpdGUgMw`` + MAC.

The MAC is the first 12 characters (72 bits) of the URL-safe base64 of
HMAC-SHA256(key, tag + room text): forging one means guessing it through ``/start`` messages.
It covers the tag too, so a payload cannot be re-read in the other form. The key comes from
the ``ROOM_LINK_SECRET`` setting (``secret_key``) or, when it is not set, from the bot token
with its own label (``room_key``), never the one of the buttons
(``bot.buttons.CallbackSigner``), so a button's signature cannot be passed off as a room's.
Cards signed with the token's key stop working when the token changes: reprint them then, or
set ``ROOM_LINK_SECRET`` first (and reprint once).

A room has at most ``MAX_ROOM_LENGTH`` characters (the guests' ``room`` column) and at most
``MAX_ROOM_BYTES`` bytes in UTF-8: every room of up to 16 characters in Latin, Cyrillic or
Greek script fits (the longest payload is 1 + 51 + 12 = 64 characters); rooms in scripts of 3
bytes a character (e.g. CJK) fit up to 12 characters.

``verify`` reads only the signed form. The older unsigned ``room-412`` payload, which anyone
can type, is for the caller to recognise and trust accordingly; and the caller still checks
the room against the hotel's ``room_pattern``, which may have changed since the card was
printed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

MAX_PAYLOAD = 64  # Telegram's limit for a deep-link payload
MAC_LENGTH = 12
MAX_ROOM_LENGTH = 16
MAX_ROOM_BYTES = 38  # base64 of 38 bytes is 51 characters: 1 + 51 + 12 = 64
PLAIN = "R"
ENCODED = "U"

_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def room_key(token: str) -> bytes:
    """The room-link key every instance of the bot with this token shares."""
    return hashlib.sha256(b"concierge room link\0" + token.encode()).digest()


def secret_key(secret: str) -> bytes:
    """The room-link key made from ``ROOM_LINK_SECRET``, which outlives a change of token."""
    return hashlib.sha256(b"concierge room link secret\0" + secret.encode()).digest()


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_LENGTH]


def sign(room: str, key: bytes) -> str:
    """The signed deep-link payload for ``room``; ValueError if the room cannot be one."""
    if not room or len(room) > MAX_ROOM_LENGTH or len(room.encode()) > MAX_ROOM_BYTES:
        raise ValueError(
            f"room {room!r} must have 1 to {MAX_ROOM_LENGTH} characters "
            f"and at most {MAX_ROOM_BYTES} bytes in UTF-8"
        )
    if _ALPHABET.fullmatch(room):
        body = PLAIN + room
    else:
        body = ENCODED + base64.urlsafe_b64encode(room.encode()).decode().rstrip("=")
    return body + _mac(key, body)


def verify(payload: str, key: bytes) -> str | None:
    """The room a payload made by ``sign`` with ``key`` carries; None for anything else.

    Tampered, forged, truncated or malformed payloads, and those signed with another key,
    all give None. The signature is compared in constant time before anything is decoded.
    """
    if len(payload) > MAX_PAYLOAD or not _ALPHABET.fullmatch(payload):
        return None
    body, mac = payload[:-MAC_LENGTH], payload[-MAC_LENGTH:]
    if len(body) < 2 or not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        return None
    tag, text = body[0], body[1:]
    if tag == PLAIN:
        room = text
    elif tag == ENCODED:
        try:
            room = base64.b64decode(text + "=" * (-len(text) % 4), b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    else:
        return None
    return room if room and len(room) <= MAX_ROOM_LENGTH else None


def deep_link(bot_username: str, payload: str) -> str:
    """The ``t.me`` link that opens the bot and sends ``/start <payload>``."""
    return f"https://t.me/{bot_username.removeprefix('@')}?start={payload}"
