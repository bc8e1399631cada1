"""The floor: a minimal python-telegram-bot echo bot, with python-telegram-bot's defaults.

It long-polls ``TELEGRAM_BASE_URL`` with ``TELEGRAM_BOT_TOKEN`` and answers every text message
with the same text. No database, no outbox, no pacing: whatever the Concierge does on top of
receiving and answering costs time relative to this.

    TELEGRAM_BOT_TOKEN=123456:TEST TELEGRAM_BASE_URL=http://127.0.0.1:8081/bot \\
        python -m bench.echo_bot
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer with the same text."""
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


def main() -> None:
    """Poll until SIGINT or SIGTERM."""
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
