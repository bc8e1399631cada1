"""Supervisors: request timelines, the follow-up log and period reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import messages
from bot.deps import ConciergeContext
from bot.i18n import Translator
from bot.services import errors, reports
from handlers.common import PRIVATE, reply, staff_id


async def _answer(
    update: Update,
    context: ConciergeContext,
    build: Callable[[Session, int | None], str],
    usage: Callable[[Translator], str],
) -> None:
    """Build a read-only view for the supervisor writing and send it; a bad argument gets the
    command's usage, a refusal (not a supervisor) its explanation."""
    try:
        with context.deps.session() as session:
            text = build(session, staff_id(context))
    except reports.BadArgument:
        text = usage(context.t)
    except errors.DomainError as error:
        text = messages.error_text(context.t, error)
    await reply(update, context, text)


def _first_arg(context: ConciergeContext) -> str | None:
    return context.args[0] if context.args else None


async def log(update: Update, context: ConciergeContext) -> None:
    """Show the full timeline of a request: ``/log 12``."""
    arg = (_first_arg(context) or "").lstrip("#")
    if not arg.isdigit():
        await reply(update, context, messages.log_usage(context.t))
        return
    await _answer(
        update,
        context,
        lambda session, reader: reports.timeline(
            session, context.env, staff_id=reader, request_id=int(arg)
        ),
        messages.log_usage,
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
        messages.followups_usage,
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
        messages.report_usage,
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
