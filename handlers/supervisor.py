"""Supervisors: request timelines, the follow-up log and period reports."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import messages
from bot.deps import ConciergeContext
from bot.services import errors, reports
from handlers.common import PRIVATE, reply


async def log(update: Update, context: ConciergeContext) -> None:
    """Show the full timeline of a request: ``/log 12``."""
    user = update.effective_user
    assert user is not None
    arg = (context.args or [""])[0].lstrip("#")
    if not arg.isdigit():
        await reply(update, context, messages.log_usage(context.t))
        return
    try:
        with context.deps.sessions() as session:
            text = reports.timeline(session, context.env, telegram_id=user.id, request_id=int(arg))
    except errors.DomainError as error:
        text = messages.error_text(context.t, error)
    await reply(update, context, text)


async def followup_log(update: Update, context: ConciergeContext) -> None:
    """Show a day's follow-ups: ``/followups [today|yesterday|YYYY-MM-DD]``."""
    user = update.effective_user
    assert user is not None
    try:
        with context.deps.sessions() as session:
            text = reports.followup_log(
                session,
                context.env,
                telegram_id=user.id,
                day_spec=context.args[0] if context.args else None,
                now=context.deps.clock.now(),
            )
    except reports.BadDay:
        text = messages.followups_usage(context.t)
    except errors.DomainError as error:
        text = messages.error_text(context.t, error)
    await reply(update, context, text)


async def period_report(update: Update, context: ConciergeContext) -> None:
    """Show a period's figures: ``/report [month|week|today|yesterday|YYYY-MM|YYYY-MM-DD]``."""
    user = update.effective_user
    assert user is not None
    try:
        with context.deps.sessions() as session:
            text = reports.period_report(
                session,
                context.env,
                telegram_id=user.id,
                period_spec=context.args[0] if context.args else None,
                now=context.deps.clock.now(),
            )
    except reports.BadPeriod:
        text = messages.report_usage(context.t)
    except errors.DomainError as error:
        text = messages.error_text(context.t, error)
    await reply(update, context, text)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the supervisor handlers."""
    application.add_handlers(
        [
            CommandHandler("log", log, filters=PRIVATE),
            CommandHandler("followups", followup_log, filters=PRIVATE),
            CommandHandler("report", period_report, filters=PRIVATE),
        ]
    )
