"""The Telegram layer: thin callbacks that read an update, call a service and answer.

Registration order matters and lives here, in one place:

* group -1: ``common.identify`` looks up who is writing and picks their locale for the update;
* group 0: commands and buttons of every role, then guest messages (text, photo, voice,
  document, location), then the fallbacks for unknown commands and unsupported content;
* the error handler logs with the traceback and answers the user honestly.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from handlers import common, guest, staff, supervisor


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler to ``application`` in the documented order."""
    common.register_identify(application)
    common.register_commands(application)
    staff.register(application)
    supervisor.register(application)
    guest.register(application)
    common.register_fallbacks(application)
    application.add_error_handler(common.on_error)
