"""Staff: shifts, their tasks, and the Accept / Done / Release buttons."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import messages
from bot.callbacks import pattern
from bot.deps import ConciergeContext
from bot.services import errors, requests, staff
from handlers.common import PRIVATE, match_groups, press, reply, request_button, staff_id


async def duty(update: Update, context: ConciergeContext) -> None:
    """Show the duty status (``/duty``) or set it (``/duty on``, ``/duty off``)."""
    arg = context.args[0].lower() if context.args else ""
    try:
        async with context.deps.transaction() as tx:
            if arg in ("on", "off"):
                staff.set_duty(
                    tx.session,
                    tx.outbox,
                    context.env,
                    staff_id=staff_id(context),
                    on=arg == "on",
                    now=tx.now,
                )
            else:
                staff.show_duty(tx.session, tx.outbox, context.env, staff_id=staff_id(context))
    except errors.DomainError as error:
        await reply(update, context, messages.error_text(context.t, error))


async def on_duty_button(update: Update, context: ConciergeContext) -> None:
    """Switch duty from the button."""
    (state,) = match_groups(context)
    who = staff_id(context)
    await press(
        update,
        context,
        lambda tx: staff.set_duty(
            tx.session, tx.outbox, context.env, staff_id=who, on=state == "on", now=tx.now
        ),
    )


async def my_tasks(update: Update, context: ConciergeContext) -> None:
    """List the requests the staff member has accepted."""
    try:
        with context.deps.session() as session:
            _member, found = requests.tasks(session, staff_id=staff_id(context))
    except errors.DomainError as error:
        await reply(update, context, messages.error_text(context.t, error))
        return
    await reply(update, context, messages.staff_tasks(context.env.hotel, context.t, found))


on_accept = request_button(requests.accept, "Take a request; the first press wins.")
on_release = request_button(requests.release, "Hand a request back so that it is offered again.")
on_done = request_button(requests.mark_done, "Mark a request done.")


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the staff handlers."""
    application.add_handlers(
        [
            CommandHandler("duty", duty, filters=PRIVATE),
            CommandHandler("tasks", my_tasks, filters=PRIVATE),
            CallbackQueryHandler(on_duty_button, pattern=pattern(r"duty:(on|off)")),
            CallbackQueryHandler(on_accept, pattern=pattern(r"acc:(\d{1,12})")),
            CallbackQueryHandler(on_release, pattern=pattern(r"rel:(\d{1,12})")),
            CallbackQueryHandler(on_done, pattern=pattern(r"done:(\d{1,12})")),
        ]
    )
