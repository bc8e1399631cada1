"""Signed callback data: buttons carry an HMAC, so a client cannot forge or replay foreign ones.

Every button's ``callback_data`` is signed when the message is sent and checked before any
handler runs. The key is derived from the bot token, so every instance agrees, and buttons
sent before a token change simply stop working (they are answered as stale).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAC_LENGTH = 8
MAX_DATA = 64 - MAC_LENGTH - 1  # Telegram allows 64 bytes of callback data
SIGNED_SUFFIX = ":[A-Za-z0-9_-]{" + str(MAC_LENGTH) + "}"


class CallbackSigner:
    """Signs and verifies callback data."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_token(cls, token: str) -> CallbackSigner:
        """The signer every instance of the bot with this token shares."""
        return cls(hashlib.sha256(b"concierge callback data\0" + token.encode()).digest())

    def _mac(self, data: str) -> str:
        digest = hmac.new(self._key, data.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:MAC_LENGTH]

    def sign(self, data: str) -> str:
        """``data`` with its signature appended."""
        if len(data.encode()) > MAX_DATA:
            raise ValueError(f"callback data too long to sign: {data!r}")
        return f"{data}:{self._mac(data)}"

    def verify(self, signed: str) -> str | None:
        """The data if the signature is right, else None."""
        data, _, mac = signed.rpartition(":")
        if not data or not hmac.compare_digest(mac.encode(), self._mac(data).encode()):
            return None
        return data


def pattern(body: str) -> str:
    """A handler pattern for signed data whose unsigned part matches ``body``."""
    return "^" + body + SIGNED_SUFFIX + "$"
