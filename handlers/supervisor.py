"""Supervisors: request timelines, the follow-up log and period reports."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import intake
from bot.db import SessionFactory
from bot.deps import ConciergeContext, Deps
from bot.i18n import Translator
from bot.notices import (
    FollowupsUsage,
    LogUsage,
    Notice,
    Prerendered,
    ReportUsage,
    TryAgainLater,
    refused,
)
from bot.notifier import Outgoing
from bot.services import errors, reports
from handlers.common import PRIVATE, reply, staff_id

logger = logging.getLogger(__name__)

View = Callable[[Session, int | None], str]  # a read-only view for the staff member (id)

# Answers being built in worker threads; a reference keeps each task alive until it is done.
_under_way: set[asyncio.Task[None]] = set()


def answers_under_way() -> set[asyncio.Task[None]]:
    """The supervisors' answers still being built (tests wait for them)."""
    return set(_under_way)


async def _answer(
    update: Update,
    context: ConciergeContext,
    build: View,
    usage: Notice,
) -> None:
    """Build a read-only view for the supervisor writing and send it; a bad argument gets the
    command's usage, a refusal (not a supervisor) its explanation.

    A month's report reads a million rows for seconds. That runs in a worker thread with a
    session of its own, and a stored update is handed to a task of its own: the processor goes
    on with other chats' updates meanwhile (guests are acknowledged), while this chat's next
    update waits, as the stored update stays pending until the answer's transaction marks it
    done. A crash meanwhile leaves it pending: it is handled again, like any other update.
    """
    chat = update.effective_chat
    assert chat is not None
    answer = _build_and_send(context.deps, chat.id, staff_id(context), context.t, build, usage)
    processing = intake.current.get()
    if processing is None:  # handled in memory (not a stored update): nothing waits behind it
        await answer
        return
    processing.marked = True  # left pending: the answer's own transaction marks it done
    detached = contextvars.Context()  # neither the update's session nor its intake record
    detached.run(intake.current.set, intake.Processing(processing.update_id, processing.attempt))
    task = asyncio.get_running_loop().create_task(answer, context=detached)
    _under_way.add(task)
    task.add_done_callback(_under_way.discard)


async def _build_and_send(
    deps: Deps,
    chat_id: int,
    reader: int | None,
    t: Translator,
    build: View,
    usage: Notice,
) -> None:
    """Build the text in a worker thread, then send it in a short transaction on the loop."""
    try:
        notice = await asyncio.to_thread(_text, deps.sessions, reader, t, build, usage)
    except Exception:
        logger.exception("a supervisor's view failed")
        notice = TryAgainLater()
    try:
        await deps.send(Outgoing(chat_id, notice, t.locale))
    except intake.AlreadyHandled:
        pass  # another instance answered it once this one's lease had ended
    except SQLAlchemyError as exc:  # still pending: handled again when its lease ends
        logger.warning("could not send a supervisor's view (%s); it is retried", type(exc).__name__)


def _text(
    sessions: SessionFactory,
    reader: int | None,
    t: Translator,
    build: View,
    usage: Notice,
) -> Notice:
    try:
        return Prerendered(reports.read_only(sessions, lambda session: build(session, reader)))
    except reports.BadArgument:
        return usage
    except errors.DomainError as error:
        return refused(error)


def _first_arg(context: ConciergeContext) -> str | None:
    return context.args[0] if context.args else None


async def log(update: Update, context: ConciergeContext) -> None:
    """Show the full timeline of a request: ``/log 12``."""
    arg = (_first_arg(context) or "").lstrip("#")
    if not arg.isdigit():
        await reply(update, context, LogUsage())
        return
    await _answer(
        update,
        context,
        lambda session, reader: reports.timeline(
            session, context.env, staff_id=reader, request_id=int(arg)
        ),
        LogUsage(),
    )


async def followup_log(update: Update, context: ConciergeContext) -> None:
    """Show a day's follow-ups: ``/followups [today|yesterday|YYYY-MM-DD]``."""
    await _answer(
        update,
        context,
        lambda session, reader: reports.followup_log(
            session,
            context.env,
            staff_id=reader,
            day_spec=_first_arg(context),
            now=context.deps.clock.now(),
        ),
        FollowupsUsage(),
    )


async def period_report(update: Update, context: ConciergeContext) -> None:
    """Show a period's figures: ``/report [month|week|today|yesterday|YYYY-MM|YYYY-MM-DD]``."""
    await _answer(
        update,
        context,
        lambda session, reader: reports.period_report(
            session,
            context.env,
            staff_id=reader,
            period_spec=_first_arg(context),
            now=context.deps.clock.now(),
        ),
        ReportUsage(),
    )


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the supervisor handlers."""
    application.add_handlers(
        [
            CommandHandler("log", log, filters=PRIVATE),
            CommandHandler("followups", followup_log, filters=PRIVATE),
            CommandHandler("report", period_report, filters=PRIVATE),
        ]
    )
