"""A chat's membership: the user blocked the bot, or started it again.

Telegram sends a ``my_chat_member`` update in both cases; the sender stores the same "kicked"
update for a chat that refused a message (see ``bot.delivery``), so both reach the same use
case, each in a transaction of its own.
"""

from __future__ import annotations

from typing import Any

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import Application, ChatMemberHandler

from bot.deps import ConciergeContext
from bot.services import unreachable


async def membership_changed(update: Update, context: ConciergeContext) -> None:
    """Take a blocked chat's owner off duty or mark them unreachable; undo it when they return."""
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    chat_id, status = change.chat.id, change.new_chat_member.status
    if status == ChatMember.BANNED:  # "kicked": the user blocked the bot
        async with context.transaction() as tx:
            unreachable.chat_blocked(tx.session, tx.outbox, context.env, chat_id, tx.now)
    elif status == ChatMember.MEMBER:  # they started it again
        async with context.transaction() as tx:
            unreachable.chat_unblocked(tx.session, chat_id, tx.now)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the membership handler."""
    application.add_handler(ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER))
