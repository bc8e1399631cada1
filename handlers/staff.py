"""Staff: shifts, their tasks, and the Accept / Done / Release buttons."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.buttons import Accept, Done, Release, ReplyToGuest, SetDuty
from bot.deps import ConciergeContext
from bot.notices import StaffTasks, refused, snippet_of
from bot.services import errors, requests, staff, threads
from handlers.buttons import ButtonCallback, Buttons
from handlers.common import PRIVATE, press, reply, request_button, staff_id


async def duty(update: Update, context: ConciergeContext) -> None:
    """Show the duty status (``/duty``) or set it (``/duty on``, ``/duty off``)."""
    arg = context.args[0].lower() if context.args else ""
    try:
        async with context.transaction() as tx:
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
        await reply(update, context, refused(error))


async def on_duty_button(update: Update, context: ConciergeContext, button: SetDuty) -> None:
    """Switch duty from the button."""
    who = staff_id(context)
    await press(update, context, staff.set_duty, staff_id=who, on=button.on)


async def my_tasks(update: Update, context: ConciergeContext) -> None:
    """List the requests the staff member has accepted."""
    try:
        with context.session() as session:
            _member, found = requests.tasks(session, staff_id=staff_id(context))
    except errors.DomainError as error:
        await reply(update, context, refused(error))
        return
    listed = tuple((r.id, r.room, snippet_of(r), r.media_kind) for r in found if r.id is not None)
    await reply(update, context, StaffTasks(listed))


on_accept: ButtonCallback[Accept] = request_button(
    requests.accept, "Take a request; the first press wins."
)
on_release: ButtonCallback[Release] = request_button(
    requests.release, "Hand a request back so that it is offered again."
)
on_done: ButtonCallback[Done] = request_button(requests.mark_done, "Mark a request done.")
on_reply: ButtonCallback[ReplyToGuest] = request_button(
    threads.ask_reply, "Take the staff member's next text as a message to the guest."
)


def register(application: Application[Any, Any, Any, Any, Any, Any], buttons: Buttons) -> None:
    """Add the staff handlers."""
    application.add_handlers(
        [
            CommandHandler("duty", duty, filters=PRIVATE),
            CommandHandler("tasks", my_tasks, filters=PRIVATE),
        ]
    )
    buttons.on(SetDuty, on_duty_button)
    buttons.on(Accept, on_accept)
    buttons.on(Release, on_release)
    buttons.on(Done, on_done)
    buttons.on(ReplyToGuest, on_reply)
