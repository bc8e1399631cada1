"""Staff: shifts, their tasks, /guest, and the buttons on request cards."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.buttons import (
    Accept,
    Done,
    KeepOpen,
    MarkNormal,
    MarkUrgent,
    MergeInto,
    MergeMenu,
    NotARequest,
    NotARequestBecause,
    NoteAbout,
    Release,
    ReplyToGuest,
    SetDuty,
)
from bot.deps import ConciergeContext
from bot.notices import StaffTasks, refused, snippet_of
from bot.services import cards, errors, priority, requests, staff, threads
from handlers.buttons import ButtonCallback, Buttons
from handlers.common import (
    PRIVATE,
    press,
    pressed_message_id,
    reply,
    request_button,
    staff_id,
)


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
on_not_a_request: ButtonCallback[NotARequest] = request_button(
    cards.ask_dismiss, "Ask why a request is not one, before closing it."
)
on_merge_menu: ButtonCallback[MergeMenu] = request_button(
    cards.merge_choices, "List the guest's other open requests to merge this one into."
)
on_note: ButtonCallback[NoteAbout] = request_button(
    cards.ask_note, "Take the staff member's next text as a note about the guest."
)

on_mark_urgent: ButtonCallback[MarkUrgent] = request_button(
    priority.mark_urgent, "Mark a request urgent: its cards say so and the supervisors are told."
)
on_mark_normal: ButtonCallback[MarkNormal] = request_button(
    priority.mark_normal, "Take a request's urgency back (supervisors)."
)


async def on_not_a_request_because(
    update: Update, context: ConciergeContext, button: NotARequestBecause
) -> None:
    """Close a request as not a request, for the quick reason pressed."""
    await press(
        update,
        context,
        cards.dismiss,
        staff_id=staff_id(context),
        request_id=button.request_id,
        reason=button.reason,
        message_id=pressed_message_id(update),
    )


async def on_keep_open(update: Update, context: ConciergeContext, button: KeepOpen) -> None:
    """Leave the request open after all."""
    await press(
        update,
        context,
        cards.keep_open,
        staff_id=staff_id(context),
        request_id=button.request_id,
        message_id=pressed_message_id(update),
    )


async def on_merge_into(update: Update, context: ConciergeContext, button: MergeInto) -> None:
    """Close a request as a duplicate of the one pressed."""
    await press(
        update,
        context,
        cards.merge,
        staff_id=staff_id(context),
        request_id=button.request_id,
        into_id=button.into_id,
        message_id=pressed_message_id(update),
    )


async def guest_in_room(update: Update, context: ConciergeContext) -> None:
    """Show the guests of a room with their requests of this stay and notes: ``/guest 412``."""
    try:
        async with context.transaction() as tx:
            cards.guest_lookup(
                tx.session,
                tx.outbox,
                context.env,
                staff_id=staff_id(context),
                room=" ".join(context.args or []),
                now=tx.now,
            )
    except errors.DomainError as error:
        await reply(update, context, refused(error))


on_reply: ButtonCallback[ReplyToGuest] = request_button(
    threads.ask_reply, "Take the staff member's next text as a message to the guest."
)


def register(application: Application[Any, Any, Any, Any, Any, Any], buttons: Buttons) -> None:
    """Add the staff handlers."""
    application.add_handlers(
        [
            CommandHandler("duty", duty, filters=PRIVATE),
            CommandHandler("tasks", my_tasks, filters=PRIVATE),
            CommandHandler("guest", guest_in_room, filters=PRIVATE),
        ]
    )
    buttons.on(SetDuty, on_duty_button)
    buttons.on(Accept, on_accept)
    buttons.on(Release, on_release)
    buttons.on(Done, on_done)
    buttons.on(NotARequest, on_not_a_request)
    buttons.on(NotARequestBecause, on_not_a_request_because)
    buttons.on(KeepOpen, on_keep_open)
    buttons.on(MergeMenu, on_merge_menu)
    buttons.on(MergeInto, on_merge_into)
    buttons.on(NoteAbout, on_note)
    buttons.on(MarkUrgent, on_mark_urgent)
    buttons.on(MarkNormal, on_mark_normal)
    buttons.on(ReplyToGuest, on_reply)
