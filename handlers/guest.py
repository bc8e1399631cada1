"""Guests: requests in any form, /requests, /room and the guest's buttons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from telegram import Message, Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.buttons import Cancel, FollowUpAnswer, Forget, PickDepartment, Rate, SendToStaff
from bot.deps import ConciergeContext
from bot.notices import Unsupported
from bot.services import answers, followups, guests, privacy, prompts, requests
from bot.services.requests import Content
from handlers.buttons import ButtonCallback, Buttons
from handlers.common import (
    PRIVATE,
    for_sender,
    guest_id,
    help_for,
    person_of,
    press,
    pressed_message_id,
    reply,
    request_button,
    staff_id,
)

REQUEST_CONTENT = (
    filters.TEXT & ~filters.COMMAND
    | filters.PHOTO
    | filters.VOICE
    | filters.Document.ALL
    | filters.LOCATION
)


def content_of(message: Message) -> Content:
    """What the guest sent, as plain values."""
    replied = message.reply_to_message
    base = Content(
        text=message.text or message.caption or "",
        message_id=message.message_id,
        reply_to=replied.message_id if replied is not None else None,
        media_group_id=message.media_group_id,
    )
    if message.photo:
        return replace(base, media_kind="photo", file_id=message.photo[-1].file_id)
    if message.voice:
        return replace(base, media_kind="voice", file_id=message.voice.file_id)
    if message.document:
        return replace(base, media_kind="document", file_id=message.document.file_id)
    if message.location:
        return replace(
            base,
            media_kind="location",
            latitude=message.location.latitude,
            longitude=message.location.longitude,
        )
    return base


async def on_message(update: Update, context: ConciergeContext) -> None:
    """Store what a guest wrote as a request and acknowledge it; a staff member's text answers
    what the bot asked them (``services.prompts``), else they get their help."""
    message = update.effective_message
    assert message is not None
    if context.actor is not None and context.actor.staff is not None:
        if message.text is None:
            await reply(update, context, help_for(context))
            return
        async with context.transaction() as tx:
            prompts.answer(
                tx.session,
                tx.outbox,
                context.env,
                staff_id=staff_id(context),
                text=message.text,
                now=tx.now,
            )
        return
    known = context.actor.guest if context.actor is not None else None
    await for_sender(update, context, requests.submit, content=content_of(message), known=known)


async def on_sticker(update: Update, context: ConciergeContext) -> None:
    """Answer a guest's sticker in kind; staff get the usual answer to unsupported content."""
    if context.actor is not None and context.actor.staff is not None:
        await reply(update, context, Unsupported())
        return
    known = context.actor.guest if context.actor is not None else None
    await for_sender(update, context, requests.sticker, known=known)


async def list_requests(update: Update, context: ConciergeContext) -> None:
    """Show the guest's open requests with Cancel buttons."""
    await for_sender(update, context, requests.open_for_guest)


async def room(update: Update, context: ConciergeContext) -> None:
    """Set the guest's room: ``/room 412``, or ``/room`` to be asked."""
    await for_sender(update, context, guests.set_room, room=" ".join(context.args or []) or None)


on_cancel: ButtonCallback[Cancel] = request_button(
    requests.cancel, "Cancel one of the guest's requests.", by_guest=True
)


async def on_pick(update: Update, context: ConciergeContext, button: PickDepartment) -> None:
    """Move a waiting request to the department the guest picked."""
    await press(
        update,
        context,
        requests.pick_department,
        guest_id=guest_id(context),
        request_id=button.request_id,
        department=button.department,
    )


async def _on_followup_button(
    update: Update,
    context: ConciergeContext,
    service: Callable[..., object],
    followup_id: int,
    **choice: Any,
) -> None:
    """Run a follow-up button's ``service`` for the guest who pressed it; the answer replaces
    the pressed message."""
    await press(
        update,
        context,
        service,
        guest_id=guest_id(context),
        followup_id=followup_id,
        message_id=pressed_message_id(update),
        **choice,
    )


async def on_followup(update: Update, context: ConciergeContext, button: FollowUpAnswer) -> None:
    """Record the guest's answer to a follow-up."""
    await _on_followup_button(
        update, context, followups.answer, button.followup_id, fine=button.fine
    )


async def on_rating(update: Update, context: ConciergeContext, button: Rate) -> None:
    """Record the guest's rating."""
    await _on_followup_button(
        update, context, followups.rate, button.followup_id, rating=button.rating
    )


async def on_send_to_staff(update: Update, context: ConciergeContext, button: SendToStaff) -> None:
    """Send a question the bot answered on to staff after all; the answer says so."""
    await press(
        update,
        context,
        answers.send_to_staff,
        guest_id=guest_id(context),
        question_id=button.question_id,
        message_id=pressed_message_id(update),
    )


async def forget_me(update: Update, context: ConciergeContext) -> None:
    """Ask the guest to confirm that their data should be erased."""
    if context.actor is not None and context.actor.staff is not None:
        await reply(update, context, help_for(context))
        return
    async with context.transaction() as tx:
        privacy.ask_to_forget(
            tx.outbox, context.env, person=person_of(update), locale=context.t.locale
        )


async def on_forget(update: Update, context: ConciergeContext, button: Forget) -> None:
    """Erase (or keep) the guest's data, as they confirmed."""
    await press(
        update,
        context,
        privacy.forget,
        person=person_of(update),
        guest_id=guest_id(context),
        confirmed=button.confirmed,
        message_id=pressed_message_id(update),
    )


def register(application: Application[Any, Any, Any, Any, Any, Any], buttons: Buttons) -> None:
    """Add the guest handlers."""
    application.add_handlers(
        [
            CommandHandler("requests", list_requests, filters=PRIVATE),
            CommandHandler("room", room, filters=PRIVATE),
            CommandHandler("forgetme", forget_me, filters=PRIVATE),
            MessageHandler(PRIVATE & filters.UpdateType.MESSAGE & REQUEST_CONTENT, on_message),
            MessageHandler(PRIVATE & filters.UpdateType.MESSAGE & filters.Sticker.ALL, on_sticker),
        ]
    )
    buttons.on(Forget, on_forget)
    buttons.on(Cancel, on_cancel)
    buttons.on(PickDepartment, on_pick)
    buttons.on(FollowUpAnswer, on_followup)
    buttons.on(Rate, on_rating)
    buttons.on(SendToStaff, on_send_to_staff)
