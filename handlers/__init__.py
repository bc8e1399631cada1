"""The Telegram layer: thin callbacks that read an update, call a service and answer.

Registration order matters and lives here, in one place:

* group -1: ``common.identify`` looks up who is writing and picks their locale for the update;
* group 0: commands of every role, then guest messages (text, photo, voice, document,
  location), then a chat's membership (blocked the bot, or started it again), then one handler
  for every button press, routed by the type of its action (each module says
  ``buttons.on(Accept, on_accept)``), then the fallbacks for unknown commands and unsupported
  content;
* the error handler logs with the traceback and answers the user honestly.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from handlers import common, guest, membership, staff, supervisor
from handlers.buttons import Buttons


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler to ``application`` in the documented order."""
    buttons = Buttons(stale=common.stale_button)
    common.register_identify(application)
    common.register_commands(application, buttons)
    staff.register(application, buttons)
    supervisor.register(application)
    guest.register(application, buttons)
    membership.register(application)
    common.register_fallbacks(application, buttons)
    application.add_error_handler(common.on_error)
