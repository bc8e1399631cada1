"""Running the bot: polling or webhook intake, the update processor, the sender and timers.

One asyncio loop runs, side by side: the intake (long polling, or an HTTP server for the
webhook), the processor that handles stored updates, the outbox sender and the scheduler.
SIGINT and SIGTERM stop it cleanly; SIGKILL loses nothing that was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import InvalidToken, TelegramError

from bot import intake, outbox, queue
from bot.db import bookkeeping
from bot.deps import Deps
from bot.handling import Work
from bot.i18n import I18n
from bot.notices import DelayedByOutage, TryAgainLater
from bot.notifier import Outgoing
from bot.texts import render

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25
CLAIM_BATCH = 50  # stored updates leased per claim
# Handling takes milliseconds and the heartbeat renews it meanwhile; marking done guards a
# late twin.
LEASE = queue.LEASE
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Processor:
    """Handles stored updates through the Application, in every instance."""

    def __init__(
        self,
        deps: Deps,
        owner: str,
        handle: Callable[[Update], Awaitable[None]],
        make_update: Callable[[dict[str, Any], Work], Update],
        poll_interval: float = 0.5,
    ) -> None:
        self._deps = deps
        self._owner = owner
        self._handle = handle
        self._make_update = make_update
        self._poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._held = queue.Held(intake.QUEUE, owner, LEASE)  # claimed, not yet handled

    def wake(self) -> None:
        """New updates were stored."""
        self._wakeup.set()

    def stop(self) -> None:
        """Stop after the update under way."""
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        """Claim and handle updates until stopped."""
        heartbeat = asyncio.create_task(queue.heartbeat(self._beat), name="intake-heartbeat")
        try:
            while not self._stopping:
                self._wakeup.clear()
                try:
                    await self.drain()  # returns after a claim came back empty
                except SQLAlchemyError as exc:
                    log.warning("cannot read stored updates (%s); retrying", _first_line(exc))
                # Updates stored meanwhile have set the event: then this does not wait.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
        finally:
            heartbeat.cancel()

    async def _beat(self) -> None:
        if self._held.keys:
            self.renew_leases()

    def renew_leases(self) -> int:
        """Extend the leases of the updates claimed and not yet handled (the heartbeat)."""
        with self._deps.sessions() as session:
            bookkeeping(session)
            renewed = self._held.renew(session, self._deps.clock.now())
            session.commit()
            return renewed

    async def drain(self) -> int:
        """Handle every stored update that is due now; return how many were handled.

        Updates stored meanwhile wake ``run`` again; a claim is repeated at once only when it
        may have left some behind: a full batch, or a chat with more than its oldest update.
        """
        count = 0
        while not self._stopping:
            with self._deps.sessions() as session:
                bookkeeping(session)  # a lease: a database crash loses only the claim
                now = self._deps.clock.now()
                rows = intake.claim(
                    session, owner=self._owner, now=now, lease=LEASE, limit=CLAIM_BATCH
                )
                session.commit()
            self._held.add(rows)
            detached: set[int] = set()
            try:
                for row in rows:
                    if self._stopping:
                        break
                    work = await self._process(row)
                    if work.detached is not None:
                        detached.add(row.update_id)
                        self._hold_until_done(row, work.detached)
                    else:
                        self._held.discard([row])
                    count += 1
                    # Handling blocks the loop on the database: let the sender and the poller
                    # run between updates, so acknowledgements go out while a burst is handled.
                    await asyncio.sleep(0)
            finally:  # a row not handled (stopping, a database error) waits for its lease's end
                self._held.discard(row for row in rows if row.update_id not in detached)
            if len(rows) < CLAIM_BATCH:
                with self._deps.sessions() as session:
                    if not intake.waiting_in(session, (row.chat_id for row in rows)):
                        return count
        return count

    def _hold_until_done(self, row: Any, task: asyncio.Task[None]) -> None:
        """Keep renewing the lease of an update handed to ``task`` until the task ends: its
        transaction marks the update done, or, if it fails, the lease ends and the update is
        handled again."""
        task.add_done_callback(lambda _task: self._held.discard([row]))

    async def _process(self, row: Any) -> Work:
        """Handle one stored update; its work says how it ended."""
        with self._deps.sessions() as session:  # shared by everything handling the update
            work = Work(update_id=row.update_id, attempt=row.attempts, session=session)
            try:
                await self._handle(self._make_update(row.payload, work))
            except Exception as exc:  # the Application already reports handler errors
                work.error = exc
        if work.done or work.detached is not None:
            return work  # marked done by the handler's transaction, or by the detached task's
        failed = work.error is not None and not isinstance(work.error, intake.AlreadyHandled)
        now = self._deps.clock.now()
        with self._deps.sessions() as session:
            if failed:
                if not intake.retry_later(session, row, repr(work.error), now):
                    log.error("giving up update %s after %s attempts", row.update_id, row.attempts)
                    outbox.enqueue(session, self._give_up_notice(row.payload), now)
            else:
                with contextlib.suppress(intake.AlreadyHandled):
                    intake.mark_done(session, row.update_id, now)
            session.commit()
        return work

    def _give_up_notice(self, payload: dict[str, Any]) -> list[Outgoing]:
        """Ask the sender to send again, in their language, when their update cannot be handled."""
        message = payload.get("message") or {}
        chat = message.get("chat") or {}
        if chat.get("type") != "private":
            return []
        i18n = self._deps.env.i18n
        locale = i18n.negotiate((message.get("from") or {}).get("language_code"))
        return [Outgoing(int(chat["id"]), TryAgainLater(), locale)]


class Poller:
    """Long polling that confirms a batch to Telegram only after it is stored."""

    def __init__(self, deps: Deps, processor: Processor, i18n: I18n) -> None:
        self._deps = deps
        self._processor = processor
        self._i18n = i18n
        self._stopping = asyncio.Event()
        self._apologised: set[int] = set()

    def stop(self) -> None:
        """Stop polling; the update batch not yet asked for stays with Telegram."""
        self._stopping.set()

    async def run(self) -> None:
        """Poll until stopped. ``InvalidToken`` ends the run."""
        api = self._deps.sender.api
        offset: int | None = None
        failures = 0
        while not self._stopping.is_set():
            try:
                # As JSON: it is stored as such, and parsed once, when it is handled.
                payloads = await api.get_updates(
                    {
                        "offset": offset,
                        "timeout": POLL_TIMEOUT,
                        "allowed_updates": Update.ALL_TYPES,
                    },
                    read_timeout=POLL_TIMEOUT + 10,
                )
                failures = 0
            except InvalidToken:
                raise
            except TelegramError as exc:
                failures += 1
                log.warning("getUpdates failed (%s); retrying", exc)
                await self._pause(min(30.0, 0.5 * 2**failures))
                continue
            if not payloads:
                continue
            if not await self._store(payloads):
                return  # stopping: the batch stays unconfirmed with Telegram
            # Asking with this offset confirms the batch: it is committed by now.
            offset = max(int(p["update_id"]) for p in payloads) + 1
            self._processor.wake()

    async def _store(self, payloads: list[dict[str, Any]]) -> bool:
        """Store the batch, retrying while the database is down; False if stopped first."""
        failures = 0
        while True:
            try:
                with self._deps.sessions() as session:
                    intake.store(session, payloads, self._deps.clock.now())
                    session.commit()
                self._apologised.clear()
                return True
            except SQLAlchemyError as exc:
                failures += 1
                log.error(
                    "cannot store %s updates (%s); Telegram keeps them meanwhile",
                    len(payloads),
                    _first_line(exc),
                )
                await apologise(self._deps, self._i18n, payloads, self._apologised)
                if await self._pause(min(30.0, 0.5 * 2**failures)):
                    return False

    async def _pause(self, seconds: float) -> bool:
        """Wait; True if stopping meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()


async def apologise(deps: Deps, i18n: I18n, payloads: list[dict[str, Any]], told: set[int]) -> None:
    """Tell each private chat once that its message waits for a technical problem to clear.

    The database is down, so this is the one message sent without the outbox.
    """
    for payload in payloads:
        message = payload.get("message") or {}
        chat = message.get("chat") or {}
        if chat.get("type") != "private" or chat.get("id") in told:
            continue
        told.add(int(chat["id"]))
        language = (message.get("from") or {}).get("language_code")
        t = i18n.translator(i18n.negotiate(language))
        with contextlib.suppress(TelegramError):
            await deps.sender.api.bot.send_message(
                chat_id=chat["id"], text=render(DelayedByOutage(), t, deps.env.hotel)[0]
            )


class WebhookServer:
    """Receives updates over HTTPS (behind a proxy) and stores them before answering 200."""

    def __init__(
        self, deps: Deps, processor: Processor, secret: str, path: str, listen: tuple[str, int]
    ) -> None:
        self._deps = deps
        self._processor = processor
        self._secret = secret.encode()
        self._path = path
        self._listen = listen
        self._runner: web.AppRunner | None = None
        # Sets the webhook with this instance's secret; run once, at the first wrong secret.
        self.reset_webhook: Callable[[], Awaitable[None]] | None = None
        self._reset: asyncio.Task[None] | None = None

    def app(self) -> web.Application:
        """The aiohttp application: the webhook path and ``/healthz``."""
        app = web.Application(client_max_size=2**20)
        app.router.add_post(self._path, self.receive)
        app.router.add_get("/healthz", self.health)
        return app

    async def start(self) -> None:
        """Start listening."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._listen[0], self._listen[1])
        await site.start()
        log.info("webhook listening on %s:%s%s", self._listen[0], self._listen[1], self._path)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def receive(self, request: web.Request) -> web.Response:
        """Check the secret, store the update, then answer 200 (never before the insert)."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            self._set_webhook_again()
            return web.Response(status=403, text="forbidden")
        try:
            payload = await request.json()
            int(payload["update_id"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            return web.Response(status=400, text="not a Telegram update")
        try:
            with self._deps.sessions() as session:
                intake.store(session, [payload], self._deps.clock.now())
                session.commit()
        except SQLAlchemyError as exc:
            log.error("cannot store an update (%s); Telegram will send it again", _first_line(exc))
            return web.Response(status=503, text="database unavailable")
        self._processor.wake()
        return web.Response(status=200, text="ok")

    def _set_webhook_again(self) -> None:
        """Telegram may hold another secret (``WEBHOOK_SECRET`` changed while the webhook
        stayed set): give it this instance's, once per run, whoever sent the wrong one."""
        if self.reset_webhook is None or self._reset is not None:
            return
        log.warning("a webhook request with a wrong secret; setting the webhook again")
        self._reset = asyncio.create_task(self._reset_webhook(self.reset_webhook))

    async def _reset_webhook(self, reset: Callable[[], Awaitable[None]]) -> None:
        try:
            await reset()
        except TelegramError as exc:
            log.warning("could not set the webhook again: %s", exc)

    async def health(self, _request: web.Request) -> web.Response:
        """200 when the database answers, 503 otherwise."""
        try:
            with self._deps.sessions() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok"})


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


class StopSignals:
    """SIGINT and SIGTERM set an event instead of killing the process; install it first thing."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, self.event.set)

    def close(self) -> None:
        """Give the signals back to their default handlers."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.remove_signal_handler(sig)
