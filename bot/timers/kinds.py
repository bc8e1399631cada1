"""Every timer kind the bot knows, with its handler: the one place a kind is registered."""

from __future__ import annotations

from collections.abc import Mapping

from bot.services import followup_timeout, followups, rooms
from bot.timers.engine import Handler

HANDLERS: Mapping[str, Handler] = {
    followups.ASK: followups.ask_due,  # send the check-in question
    followup_timeout.EXPIRE: followup_timeout.expire_due,  # nobody answered it in time
    rooms.EXPIRE: rooms.expire_due,  # the guest's stay is over: forget the room
}
