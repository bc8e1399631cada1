"""Shared handlers: who is writing, /start, /help, /language, fallbacks and errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar, cast, overload

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from telegram import CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import intake
from bot.buttons import ButtonAction, SetLanguage
from bot.deps import ConciergeContext
from bot.notices import (
    DelayedByOutage,
    EditNotForwarded,
    GuestHelp,
    Notice,
    StaffHelp,
    StaffWelcome,
    TryAgainLater,
    UnknownCommand,
    Unsupported,
    YourId,
    refused,
)
from bot.notifier import Outbox, Outgoing
from bot.services import guests
from bot.services.actors import Actor
from bot.services.actors import identify as identify_actor
from bot.services.common import Env, Person
from bot.services.errors import DomainError
from bot.texts import render
from handlers.buttons import Buttons

log = logging.getLogger(__name__)

PRIVATE = filters.ChatType.PRIVATE


def person_of(update: Update) -> Person:
    """The sender of ``update`` as plain values."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None:
        raise ValueError("update without a sender")
    return Person(
        telegram_id=user.id,
        chat_id=chat.id if chat else user.id,
        first_name=user.first_name or "",
        language_code=user.language_code,
    )


async def reply(update: Update, context: ConciergeContext, notice: Notice) -> None:
    """Answer in the chat the update came from, in the sender's language."""
    chat = update.effective_chat
    if chat is not None:
        await context.send(Outgoing(chat.id, notice, context.t.locale))


async def for_sender(
    update: Update, context: ConciergeContext, service: Callable[..., object], **values: Any
) -> None:
    """Run ``service`` for the sender of ``update`` (as ``person``) in a transaction of its own,
    with the hotel's env and the transaction's ``now``."""
    async with context.transaction() as tx:
        service(tx.session, tx.outbox, context.env, person=person_of(update), now=tx.now, **values)


def text_of(context: ConciergeContext, notice: Notice) -> str:
    """``notice``'s text for the sender, for answers outside the outbox (a button's alert)."""
    return render(notice, context.t, context.env.hotel)[0]


async def answer(query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press, best effort.

    The answer is outside the update's transaction: an update handled again after a crash
    answers the same query a second time, which Telegram refuses ("query is too old"). That
    must not turn a handled update into a failed one.
    """
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:
        log.warning("could not answer a button press: %s", exc)


def staff_id(context: ConciergeContext) -> int | None:
    """The sender's staff id, if they are active staff (services refuse None)."""
    return _ids(context.actor)[0]


def guest_id(context: ConciergeContext) -> int | None:
    """The sender's guest id, if they are a known guest (services refuse None)."""
    return _ids(context.actor)[1]


def _ids(actor: Actor | None) -> tuple[int | None, int | None]:
    if actor is None:
        return None, None
    return (
        actor.staff.id if actor.staff is not None else None,
        actor.guest.id if actor.guest is not None else None,
    )


async def press(
    update: Update, context: ConciergeContext, service: Callable[..., object], **values: Any
) -> None:
    """Run a button's ``service`` for the presser in a transaction of its own (with the hotel's
    env and the transaction's ``now``); alert them if the button no longer applies."""
    query = update.callback_query
    assert query is not None
    try:
        async with context.transaction() as tx:
            service(tx.session, tx.outbox, context.env, now=tx.now, **values)
    except DomainError as error:
        await answer(query, text_of(context, refused(error)), alert=True)
        return
    await answer(query)


class StaffAction(Protocol):
    """A service that acts on a request for the staff member who pressed its button."""

    def __call__(
        self,
        session: Session,
        out: Outbox,
        env: Env,
        *,
        staff_id: int | None,
        request_id: int,
        now: datetime,
    ) -> object: ...


class GuestAction(Protocol):
    """A service that acts on a request for the guest who pressed its button."""

    def __call__(
        self,
        session: Session,
        out: Outbox,
        env: Env,
        *,
        guest_id: int | None,
        request_id: int,
        now: datetime,
    ) -> object: ...


class OnRequest(Protocol):
    """A button's action on one request."""

    request_id: int


R = TypeVar("R", bound=ButtonAction)
Callback = Callable[[Update, ConciergeContext, R], Coroutine[Any, Any, None]]


@overload
def request_button(action: StaffAction, doc: str) -> Callback[Any]: ...
@overload
def request_button(action: GuestAction, doc: str, *, by_guest: Literal[True]) -> Callback[Any]: ...
def request_button(
    action: Callable[..., object], doc: str, *, by_guest: bool = False
) -> Callback[Any]:
    """A button callback running ``action`` on the request its button names, for the staff
    member (or, ``by_guest``, the guest) who pressed it."""

    async def callback(update: Update, context: ConciergeContext, button: Any) -> None:
        request_id = cast(OnRequest, button).request_id
        presser = {"guest_id": guest_id(context)} if by_guest else {"staff_id": staff_id(context)}
        await press(update, context, action, request_id=request_id, **presser)

    callback.__doc__ = doc
    return callback


def pressed_message_id(update: Update) -> int | None:
    """The id of the message whose button was pressed."""
    query = update.callback_query
    return query.message.message_id if query is not None and query.message is not None else None


async def identify(update: Update, context: ConciergeContext) -> None:
    """Look up the sender and choose the locale; refuse buttons whose signature is wrong."""
    user = update.effective_user
    if user is None:
        return
    try:
        with context.session() as session:
            context.actor = identify_actor(
                session, context.env, telegram_id=user.id, language_code=user.language_code
            )
    except SQLAlchemyError as exc:
        log.exception("database unavailable while identifying a sender")
        context.work.error = exc  # a stored update is left pending, to be retried
        context.t = context.env.t(context.env.i18n.negotiate(user.language_code))
        await _say_sorry(update, context)
        raise ApplicationHandlerStop from None
    query = update.callback_query
    if query is not None:
        context.button = context.deps.signer.open(query.data or "")
        if context.button is None:  # forged, from an unknown version, or malformed
            await stale_button(update, context)
            raise ApplicationHandlerStop


async def start(update: Update, context: ConciergeContext) -> None:
    """Greet a guest (with an optional room deep link) or a staff member."""
    actor = context.actor
    if actor is not None and actor.staff is not None:
        staff = actor.staff
        welcome = StaffWelcome(staff.name, staff.department, staff.is_supervisor, staff.on_duty)
        await reply(update, context, welcome)
        return
    payload = context.args[0] if context.args else None
    await for_sender(update, context, guests.start, payload=payload)


def help_for(context: ConciergeContext) -> StaffHelp | GuestHelp:
    """The help for the sender's role."""
    actor = context.actor
    if actor is not None and actor.staff is not None:
        return StaffHelp(actor.staff.is_supervisor)
    return GuestHelp()


async def show_help(update: Update, context: ConciergeContext) -> None:
    """Show what the sender can do."""
    await reply(update, context, help_for(context))


async def language(update: Update, context: ConciergeContext) -> None:
    """Offer the languages as buttons."""
    async with context.transaction() as tx:
        guests.language_menu(
            tx.outbox, context.env, chat_id=person_of(update).chat_id, locale=context.t.locale
        )


async def language_chosen(update: Update, context: ConciergeContext, button: SetLanguage) -> None:
    """Save the language picked from the buttons."""
    query = update.callback_query
    assert query is not None
    await for_sender(
        update, context, guests.set_language, staff_id=staff_id(context), locale=button.locale
    )
    await answer(query)


async def my_id(update: Update, context: ConciergeContext) -> None:
    """Tell the sender their Telegram id (staff need it to be registered)."""
    await reply(update, context, YourId(person_of(update).telegram_id))


async def edited(update: Update, context: ConciergeContext) -> None:
    """Explain that edits of sent messages are not passed on."""
    await reply(update, context, EditNotForwarded())


async def unknown_command(update: Update, context: ConciergeContext) -> None:
    """Answer an unknown command with the help."""
    actor = context.actor
    staff = actor.staff if actor is not None else None
    supervisor = staff is not None and staff.is_supervisor
    await reply(update, context, UnknownCommand(staff is not None, supervisor))


async def unsupported(update: Update, context: ConciergeContext) -> None:
    """Answer stickers, games, polls and the like politely."""
    await reply(update, context, Unsupported())


async def stale_button(update: Update, context: ConciergeContext) -> None:
    """Answer a button this version of the bot does not know."""
    query = update.callback_query
    if query is not None:
        await answer(query, text_of(context, refused(DomainError())), alert=True)


async def _say_sorry(update: Update, context: ConciergeContext) -> None:
    """Apologise directly: the database may be what failed, so not through the outbox."""
    chat = update.effective_chat
    if chat is None or chat.type != chat.PRIVATE:
        return
    # A stored update is retried automatically; one handled in memory is not.
    stored = context.work.stored
    text = text_of(context, DelayedByOutage() if stored else TryAgainLater())
    try:
        await context.bot.send_message(chat_id=chat.id, text=text)
    except TelegramError:
        log.warning("could not tell chat %s about the failure", chat.id)


async def on_error(update: object, context: ConciergeContext) -> None:
    """Log the failure with its traceback and tell the user honestly."""
    work = context.work
    if context.error is not None:
        work.error = context.error
    if isinstance(context.error, intake.AlreadyHandled):
        return  # another instance handled this update first
    log.error("error while handling an update", exc_info=context.error)
    if work.attempt > 1:
        return  # the guest was told on the first attempt; the update is retried
    if isinstance(update, Update):
        if update.callback_query is not None:
            await answer(update.callback_query, text_of(context, TryAgainLater())[:190], alert=True)
            return
        await _say_sorry(update, context)


def register_identify(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Identify the sender before any other handler runs."""
    application.add_handler(TypeHandler(Update, identify), group=-1)


def register_commands(
    application: Application[Any, Any, Any, Any, Any, Any], buttons: Buttons
) -> None:
    """Commands and buttons every role has."""
    application.add_handlers(
        [
            CommandHandler("start", start, filters=PRIVATE),
            CommandHandler("help", show_help, filters=PRIVATE),
            CommandHandler("language", language, filters=PRIVATE),
            CommandHandler("myid", my_id, filters=PRIVATE),
        ]
    )
    buttons.on(SetLanguage, language_chosen)


def register_fallbacks(
    application: Application[Any, Any, Any, Any, Any, Any], buttons: Buttons
) -> None:
    """Last in group 0: every button press by its action, unknown commands, unsupported
    content."""
    application.add_handlers(
        [
            buttons.handler(),
            MessageHandler(PRIVATE & filters.UpdateType.EDITED_MESSAGE, edited),
            MessageHandler(PRIVATE & filters.COMMAND, unknown_command),
            MessageHandler(PRIVATE & filters.UpdateType.MESSAGE, unsupported),
        ]
    )
