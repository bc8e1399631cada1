"""The composition root: builds the Application from settings. Nothing here runs at import."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from typing import Any

from sqlalchemy.engine import Engine
from telegram import Bot, BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot.clock import Clock, SystemClock
from bot.config import HotelConfig
from bot.db import session_factory
from bot.delivery import Sender
from bot.deps import BotData, ConciergeContext, Deps
from bot.i18n import I18n, Translator
from bot.outbox import Rates
from bot.scheduling import Timers, TimerScheduler
from bot.services.common import Env
from bot.services.unreachable import chat_blocked
from bot.settings import Settings
from handlers import register

log = logging.getLogger(__name__)

ConciergeApp = Application[Any, ConciergeContext, Any, Any, BotData, Any]


def build_application(
    settings: Settings,
    hotel: HotelConfig,
    engine: Engine,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    timers: Timers | None = None,
    rates: Rates | None = None,
) -> ConciergeApp:
    """Wire settings, hotel config, database, scheduler and handlers into an Application.

    ``request`` replaces the HTTP layer (tests record calls with it); ``timers`` replaces the
    scheduler (tests record wake-ups and run timers by hand); ``rates`` replaces Telegram's
    limits used for pacing.
    """
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .context_types(ContextTypes(context=ConciergeContext, bot_data=BotData))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application: ConciergeApp = builder.build()
    sessions = session_factory(engine)
    env = Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))
    scheduler: TimerScheduler | None = None
    if timers is None:

        async def run_due() -> None:
            await deps.run_timers()

        scheduler = TimerScheduler(run_due, hotel.timings.sweep_interval)
        timers = scheduler
    clock = clock or SystemClock()
    sender = Sender(
        application.bot,
        sessions,
        clock,
        owner=instance_name(),
        rates=rates or Rates(),
        on_blocked=lambda session, out, chat_id, now: chat_blocked(session, out, env, chat_id, now),
    )
    deps = Deps(env=env, sessions=sessions, sender=sender, timers=timers, clock=clock)
    application.bot_data.deps = deps
    application.bot_data.scheduler = scheduler
    application.bot_data.engine = engine
    register(application)
    return application


async def _post_init(application: ConciergeApp) -> None:
    """Start the scheduler, run due work at once, and publish the command menu."""
    data = application.bot_data
    deps = data.deps
    assert deps is not None
    if data.scheduler is not None:
        data.scheduler.start()
    data.sender_task = asyncio.create_task(deps.sender.run(), name="outbox-sender")
    # One pass right away: follow-ups that fell due while the bot was down are sent now.
    deps.timers.wake_at(deps.clock.now())
    await _publish_commands(application, deps.env.i18n.default, deps.env.i18n.offered, deps)


async def _publish_commands(
    application: ConciergeApp, default: str, offered: tuple[str, ...], deps: Deps
) -> None:
    try:
        for code in (None, *offered):
            t = deps.env.t(code or default)
            await application.bot.set_my_commands(_guest_commands(t), language_code=code)
    except TelegramError as exc:
        log.warning("could not publish the command menu: %s", exc)


def _guest_commands(t: Translator) -> list[BotCommand]:
    _ = t.gettext
    return [
        BotCommand("requests", _("your open requests")),
        BotCommand("room", _("set your room number")),
        BotCommand("language", _("change the language")),
        BotCommand("help", _("what I can do")),
    ]


async def _post_shutdown(application: ConciergeApp) -> None:
    """Stop the scheduler and close database connections."""
    data = application.bot_data
    if data.deps is not None:
        await data.deps.sender.stop()
    if data.sender_task is not None:
        data.sender_task.cancel()
    if data.scheduler is not None:
        data.scheduler.shutdown()
    if data.engine is not None:
        data.engine.dispose()


async def check_telegram(settings: Settings) -> str:
    """Ask the Bot API who we are; raises ``InvalidToken`` or ``NetworkError`` before polling."""
    async with Bot(
        settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_base_url
    ) as bot:
        return bot.username


def instance_name() -> str:
    """A name for this process in leases: host, pid and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def run_polling(application: ConciergeApp) -> None:
    """Run with long polling until interrupted."""
    application.run_polling(allowed_updates=Update.ALL_TYPES)
