"""The composition root: builds the Application from settings and runs it. Nothing here runs at
import time."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from telegram import Bot, BotCommand, Update
from telegram.error import RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot.buttons import CallbackSigner
from bot.clock import Clock, SystemClock
from bot.config import HotelConfig
from bot.db import checkpoint_wal, session_factory
from bot.delivery import HTTP_CONNECTIONS, Sender
from bot.deps import BotData, ConciergeContext, Deps
from bot.handling import Received
from bot.i18n import I18n, Translator
from bot.outbox import Rates
from bot.render import Renderer
from bot.runner import Poller, Processor, StopSignals, WebhookServer
from bot.scheduling import Timers, TimerScheduler
from bot.services.common import Env
from bot.settings import Settings
from bot.telegram_http import AiohttpRequest, JsonApi, retry_seconds
from handlers import register

log = logging.getLogger(__name__)

T = TypeVar("T")
ConciergeApp = Application[Any, ConciergeContext, Any, Any, BotData, Any]


def instance_name() -> str:
    """A name for this process in leases: host, pid and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


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
    """Wire settings, hotel config, database, sender, scheduler and handlers together.

    ``request`` replaces the HTTP layer (tests record calls with it); ``timers`` replaces the
    scheduler (tests record wake-ups and run timers by hand); ``rates`` replaces Telegram's
    limits used for pacing.
    """
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .context_types(ContextTypes(context=ConciergeContext, bot_data=BotData))
        .updater(None)
    )
    # The sender makes at most HTTP_CONNECTIONS requests at once; the rest of the pool serves
    # button answers and apologies sent directly. The long poll has a connection of its own.
    calls = request or AiohttpRequest(HTTP_CONNECTIONS + 4, pool_timeout=5.0)
    updates = request or AiohttpRequest(1)
    application: ConciergeApp = builder.request(calls).get_updates_request(updates).build()
    sessions = session_factory(engine)
    env = Env(
        hotel=hotel,
        i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages),
        room_key=settings.room_link_key,
    )
    clock = clock or SystemClock()
    scheduler: TimerScheduler | None = None
    if timers is None:

        async def run_due() -> None:
            await deps.run_timers(sweep=False)

        async def sweep() -> None:
            await deps.run_timers()

        scheduler = TimerScheduler(run_due, sweep, hotel.timings.sweep_interval, clock)
        timers = scheduler
    owner = instance_name()
    signer = CallbackSigner.for_token(settings.telegram_bot_token.get_secret_value())
    sender = Sender(
        JsonApi(application.bot, calls, updates),
        sessions,
        clock,
        owner=owner,
        rates=rates or Rates(global_interval=1 / settings.messages_per_second),
        signer=signer,
        render=Renderer(hotel, env.i18n),
        database_in_thread=engine.dialect.name == "postgresql",
    )
    deps = Deps(
        env=env,
        sessions=sessions,
        sender=sender,
        timers=timers,
        clock=clock,
        signer=signer,
        owner=owner,
    )
    application.bot_data.deps = deps
    application.bot_data.scheduler = scheduler
    application.bot_data.engine = engine
    register(application)
    return application


def processor_for(application: ConciergeApp) -> Processor:
    """The processor that feeds stored updates to ``application``."""
    deps = application.bot_data.deps
    assert deps is not None
    return Processor(
        deps,
        deps.owner,
        application.process_update,
        lambda payload, work: Received.of(payload, application.bot, work),
    )


async def serve(application: ConciergeApp, settings: Settings, *, webhook: bool) -> None:
    """Run until SIGINT/SIGTERM: intake, processor, sender and timers.

    Raises ``InvalidToken`` if Telegram rejects the token while polling.
    """
    data = application.bot_data
    deps = data.deps
    assert deps is not None
    signals = StopSignals()
    try:
        await _serve(application, settings, deps, signals.event, webhook=webhook)
    finally:
        signals.close()
    if data.engine is not None:
        data.engine.dispose()


async def _serve(
    application: ConciergeApp,
    settings: Settings,
    deps: Deps,
    stopping: asyncio.Event,
    *,
    webhook: bool,
) -> None:
    data = application.bot_data
    processor = processor_for(application)
    deps.sender.updates_stored = processor.wake  # a chat that refused a message, as an update
    poller: Poller | None = None
    server: WebhookServer | None = None
    async with application:
        if data.scheduler is not None:
            data.scheduler.start()
        # One pass right away: follow-ups that fell due while the bot was down are sent now.
        deps.timers.wake_at(deps.clock.now())
        tasks = [
            asyncio.create_task(deps.sender.run(), name="sender"),
            asyncio.create_task(processor.run(), name="processor"),
        ]
        if data.engine is not None and data.engine.dialect.name == "sqlite":
            tasks.append(asyncio.create_task(checkpoint_wal(data.engine), name="checkpoints"))
        if webhook:
            assert settings.webhook_url is not None and settings.webhook_secret is not None
            secret = settings.webhook_secret.get_secret_value()
            server = WebhookServer(
                deps, processor, secret, urlsplit(settings.webhook_url).path or "/", settings.listen
            )
            url = settings.webhook_url

            async def reset_webhook() -> None:
                await set_webhook(application.bot, url, secret, anyway=True)

            server.reset_webhook = reset_webhook
            await server.start()
            await set_webhook(application.bot, url, secret)
        else:
            await patiently(application.bot.delete_webhook, "deleteWebhook")
            poller = Poller(deps, processor, deps.env.i18n)
            tasks.append(asyncio.create_task(poller.run(), name="poller"))
        await _publish_commands(application, deps)
        # What start-up built (modules, configuration, catalogs) lives as long as the process:
        # out of the collector's way, full collections stay short and do not stall the loop.
        gc.freeze()
        stop = asyncio.create_task(stopping.wait(), name="signals")
        done, _pending = await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
        log.info("stopping")
        if poller is not None:
            poller.stop()
        processor.stop()
        if server is not None:
            await server.stop()
        await deps.sender.stop()
        if data.scheduler is not None:
            data.scheduler.shutdown()
        for task in [stop, *tasks]:
            task.cancel()
        for task in done:
            if task is not stop and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)


Sleep = Callable[[float], Awaitable[None]]
START_ATTEMPTS = 5  # of each start-up call refused with 429


async def patiently(
    call: Callable[[], Awaitable[T]], what: str, *, sleep: Sleep = asyncio.sleep
) -> T:
    """Make a start-up call of the Bot API; a 429 (instances starting together share the bot's
    limits) waits the ``retry_after`` Telegram asks for and tries again."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt == START_ATTEMPTS:
                raise
            seconds = retry_seconds(exc)
            log.warning("%s: Telegram asks to wait %.0f s; trying again then", what, seconds)
            await sleep(seconds)
    raise AssertionError("unreachable")


async def set_webhook(
    bot: Bot, url: str, secret: str, *, anyway: bool = False, sleep: Sleep = asyncio.sleep
) -> bool:
    """Point Telegram's webhook at ``url``, unless it already is (for every update type);
    ``anyway``: also then, to give Telegram this instance's secret. True if it was set.

    Telegram does not show the secret; an instance whose webhook gets the wrong one sets it
    again (``WebhookServer.reset_webhook``), so a changed ``WEBHOOK_SECRET`` takes effect.
    """
    if not anyway:
        info = await patiently(bot.get_webhook_info, "getWebhookInfo", sleep=sleep)
        if info.url == url and set(info.allowed_updates or ()) == set(Update.ALL_TYPES):
            log.info("the webhook is set already")
            return False
    await patiently(
        lambda: bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES),
        "setWebhook",
        sleep=sleep,
    )
    return True


async def _publish_commands(
    application: ConciergeApp, deps: Deps, *, sleep: Sleep = asyncio.sleep
) -> None:
    i18n = deps.env.i18n
    try:
        for code in (None, *i18n.offered):
            commands = _guest_commands(deps.env.t(code or i18n.default))
            await patiently(
                functools.partial(application.bot.set_my_commands, commands, language_code=code),
                "setMyCommands",
                sleep=sleep,
            )
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


async def check_telegram(settings: Settings) -> str:
    """Ask the Bot API who we are; raises ``InvalidToken`` or ``NetworkError`` before running."""
    token = settings.telegram_bot_token.get_secret_value()
    async with Bot(token, base_url=settings.telegram_base_url, request=AiohttpRequest()) as bot:
        return bot.username
