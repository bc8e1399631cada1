"""Supervisors: request timelines, the follow-up log and period reports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import intake
from bot.deps import ConciergeContext, Deps
from bot.handling import Work
from bot.i18n import Translator
from bot.notices import (
    CheckoutUsage,
    FollowupsUsage,
    LogUsage,
    Notice,
    Prerendered,
    ReportUsage,
    TryAgainLater,
    refused,
)
from bot.notifier import Outgoing
from bot.services import errors, reports, rooms
from bot.services.common import Env
from handlers.common import PRIVATE, reply, staff_id

logger = logging.getLogger(__name__)

# A read-only view for the staff member (id) who asked, of the command's argument, at a time.
View = Callable[[Session, Env, int | None, str | None, datetime], str]


@dataclass(frozen=True)
class Command:
    """A supervisor's command: a read-only view and the usage a bad argument gets."""

    name: str
    view: View
    usage: Notice


def _request_number(arg: str | None) -> int:
    number = (arg or "").lstrip("#")
    if not number.isdigit():
        raise reports.BadArgument(arg)
    return int(number)


COMMANDS = (
    # /log 12: the full timeline of a request.
    Command(
        "log",
        lambda session, env, reader, arg, _now: reports.timeline(
            session, env, staff_id=reader, request_id=_request_number(arg)
        ),
        LogUsage(),
    ),
    # /followups [today|yesterday|YYYY-MM-DD]: a day's follow-ups.
    Command(
        "followups",
        lambda session, env, reader, arg, now: reports.followup_log(
            session, env, staff_id=reader, day_spec=arg, now=now
        ),
        FollowupsUsage(),
    ),
    # /report [month|week|today|yesterday|YYYY-MM|YYYY-MM-DD]: a period's figures.
    Command(
        "report",
        lambda session, env, reader, arg, now: reports.period_report(
            session, env, staff_id=reader, period_spec=arg, now=now
        ),
        ReportUsage(),
    ),
)

# Answers being built in worker threads; a reference keeps each task alive until it is done.
_under_way: set[asyncio.Task[None]] = set()


def answers_under_way() -> set[asyncio.Task[None]]:
    """The supervisors' answers still being built (tests wait for them)."""
    return set(_under_way)


def _callback(command: Command) -> Callable[[Update, ConciergeContext], Any]:
    async def callback(update: Update, context: ConciergeContext) -> None:
        await _answer(update, context, command)

    callback.__doc__ = f"Answer /{command.name} with its view, built off the event loop."
    return callback


async def _answer(update: Update, context: ConciergeContext, command: Command) -> None:
    """Build a read-only view for the supervisor writing and send it; a bad argument gets the
    command's usage, a refusal (not a supervisor) its explanation.

    A month's report reads a million rows for seconds. That runs in a worker thread with a
    session of its own, and a stored update is detached to a task of its own: the processor goes
    on with other chats' updates meanwhile (guests are acknowledged) and keeps the update
    leased, while this chat's next update waits, as the stored update stays pending until the
    answer's transaction marks it done. A crash meanwhile leaves it pending: it is handled
    again, like any other update.
    """
    chat = update.effective_chat
    assert chat is not None
    reader, t, deps = staff_id(context), context.t, context.deps
    arg = context.args[0] if context.args else None
    now = deps.clock.now()

    async def answer(work: Work) -> None:
        await _build_and_send(
            deps,
            work,
            chat.id,
            t,
            lambda session: command.view(session, deps.env, reader, arg, now),
            command.usage,
        )

    if not context.work.stored:  # handled in memory: nothing waits behind it
        await answer(context.work)
        return
    task = context.work.detach(answer)
    _under_way.add(task)
    task.add_done_callback(_under_way.discard)


async def _build_and_send(
    deps: Deps,
    work: Work,
    chat_id: int,
    t: Translator,
    build: Callable[[Session], str],
    usage: Notice,
) -> None:
    """Build the text in a worker thread, then send it in a short transaction on the loop."""
    try:
        notice = await asyncio.to_thread(_text, deps, build, usage)
    except Exception:
        logger.exception("a supervisor's view failed")
        notice = TryAgainLater()
    try:
        async with deps.transaction(work) as tx:
            tx.outbox.send(Outgoing(chat_id, notice, t.locale))
    except intake.AlreadyHandled:
        pass  # another instance answered it once this one's lease had ended
    except SQLAlchemyError as exc:  # still pending: handled again when its lease ends
        logger.warning("could not send a supervisor's view (%s); it is retried", type(exc).__name__)


def _text(deps: Deps, build: Callable[[Session], str], usage: Notice) -> Notice:
    """The view, finished where it is built in the reader's language (see ``Prerendered``)."""
    try:
        return Prerendered(reports.read_only(deps.sessions, build))
    except reports.BadArgument:
        return usage
    except errors.DomainError as error:
        return refused(error)


async def checkout(update: Update, context: ConciergeContext) -> None:
    """End the stay of the guests in a room: ``/checkout 412``."""
    room = " ".join(context.args or [])
    if not room:
        await reply(update, context, CheckoutUsage())
        return
    try:
        async with context.transaction() as tx:
            rooms.supervisor_checkout(
                tx.session,
                tx.outbox,
                context.env,
                staff_id=staff_id(context),
                room=room,
                now=tx.now,
            )
    except errors.DomainError as error:
        await reply(update, context, refused(error))


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the supervisor handlers: the read-only views, and /checkout."""
    application.add_handlers(
        [
            *(CommandHandler(c.name, _callback(c), filters=PRIVATE) for c in COMMANDS),
            CommandHandler("checkout", checkout, filters=PRIVATE),
        ]
    )
