"""The Telegram channel's rendering: a stored notice becomes text and buttons in its reader's
locale, just before the sender sends it.

This is the one place where notices turn into words: a translation step (say, of a guest's
free text into the reader's language) or a second channel (a web page reading the same
notices) plugs in here, not in the use cases.
"""

from __future__ import annotations

from bot.config import HotelConfig
from bot.i18n import I18n
from bot.notices import Notice
from bot.notifier import Outgoing, Rendered
from bot.texts import Rendering, render


class Renderer:
    """Renders ``Outgoing`` notices for Telegram with the hotel's config and catalogs."""

    def __init__(self, hotel: HotelConfig, i18n: I18n) -> None:
        self._hotel = hotel
        self._i18n = i18n  # its translators are built once, at start-up

    def __call__(self, message: Outgoing) -> Rendered:
        """``message`` as the Telegram message to send."""
        text, buttons = self.render(message.notice, message.locale)
        return Rendered(
            chat_id=message.chat_id,
            text=text,
            buttons=buttons,
            media=message.media,
            edit_message_id=message.edit_message_id,
            edit_offer_id=message.edit_offer_id,
            offer_id=message.offer_id,
            remove=message.remove,
        )

    def render(self, notice: Notice | None, locale: str) -> Rendering:
        """``notice`` as text and button rows for a reader of ``locale``."""
        if notice is None:
            return "", ()
        return render(notice, self._i18n.translator(locale), self._hotel)

    def text(self, notice: Notice, locale: str) -> str:
        """``notice``'s text alone (for answers that are not messages, e.g. a button's alert)."""
        return self.render(notice, locale)[0]
