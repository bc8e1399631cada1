"""What handlers and jobs need, behind a typed context instead of string keys."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram.ext import Application, CallbackContext, ExtBot

from bot import intake, timers
from bot import outbox as durable_outbox
from bot.buttons import ButtonAction, CallbackSigner
from bot.clock import Clock
from bot.db import SessionFactory
from bot.delivery import Sender
from bot.handling import Received, Work
from bot.i18n import Translator
from bot.notifier import Outbox, Outgoing
from bot.scheduling import Timers, TimerScheduler
from bot.services import requests
from bot.services.actors import Actor
from bot.services.common import Env
from bot.timers.kinds import HANDLERS

log = logging.getLogger(__name__)


@dataclass
class Tx:
    """One unit of work: a session, its outbox and the time it started."""

    session: Session
    outbox: Outbox
    now: datetime


@dataclass
class Deps:
    """The bot's collaborators, built once by the composition root."""

    env: Env
    sessions: SessionFactory
    sender: Sender
    timers: Timers
    clock: Clock
    signer: CallbackSigner
    owner: str = "local"
    _timer_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @contextmanager
    def session(self, work: Work | None = None) -> Iterator[Session]:
        """The session of the update ``work`` handles, or a new one closed at the end.

        If the body raises, what it did in the update's session is rolled back, so that the
        next step of the update (an apology, another transaction) starts clean.
        """
        shared = work.session if work is not None else None
        if shared is None:
            with self.sessions() as session:
                yield session
            return
        try:
            yield shared
        except BaseException:
            shared.rollback()
            raise

    @asynccontextmanager
    async def transaction(self, work: Work | None = None) -> AsyncIterator[Tx]:
        """Run a service in a transaction whose messages join the durable outbox in its commit.

        For a stored update (``work``), the same commit marks it done, once. After the commit
        the sender is woken and timers are armed. If the body raises, the transaction rolls
        back and nothing is sent.
        """
        outbox = Outbox()
        unmarked = work.update_id if work is not None and not work.done else None
        with self.session(work) as session:
            tx = Tx(session, outbox, self.clock.now())
            yield tx
            durable_outbox.enqueue(session, outbox.messages, tx.now)
            if unmarked is not None:
                intake.mark_done(session, unmarked, tx.now)
            session.commit()
        if work is not None and unmarked is not None:
            work.done = True
        for when in outbox.wake_times:
            self.timers.wake_at(when)
        if outbox.messages:
            self.sender.wake()

    async def run_timers(self, *, sweep: bool = True) -> None:
        """Fire the timers that are due and, in a ``sweep``, offer requests nobody holds.

        Works through the due timers batch by batch until a batch comes back short, so a
        backlog (after downtime) is cleared at once rather than a batch per wake-up.
        """
        async with self._timer_lock:
            try:
                await timers.run(self.transaction, self.env, HANDLERS, owner=self.owner)
                if sweep:
                    async with self.transaction() as tx:
                        requests.offer_waiting(tx.session, tx.outbox, self.env, tx.now)
            except Exception:
                log.exception("timer pass failed; the next sweep retries")


class BotData:
    """``application.bot_data``: holds the dependencies once they are built."""

    def __init__(self) -> None:
        self.deps: Deps | None = None
        self.scheduler: TimerScheduler | None = None
        self.engine: Engine | None = None


class ConciergeContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """Callback context with typed dependencies and the per-update actor and translator."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.actor: Actor | None = None
        self.button: ButtonAction | None = None  # a pressed button's action, once verified
        self.work = Work(update_id=None)  # an update handled in memory, unless it is stored
        self._translator: Translator | None = None

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> ConciergeContext:
        """The context of ``update``, with the work of handling it when it is a stored one."""
        context = super().from_update(update, application)
        if isinstance(update, Received):
            context.work = update.work
        return context

    @property
    def deps(self) -> Deps:
        """The bot's dependencies."""
        deps = self.bot_data.deps
        if deps is None:
            raise RuntimeError("dependencies are not built yet")
        return deps

    def session(self) -> AbstractContextManager[Session]:
        """The update's session, for reads."""
        return self.deps.session(self.work)

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A transaction of the update's work; its commit marks a stored update done."""
        return self.deps.transaction(self.work)

    async def send(self, *messages: Outgoing) -> None:
        """Send messages that change no state (help, usage, reports), through the outbox."""
        async with self.transaction() as tx:
            for message in messages:
                tx.outbox.send(message)

    @property
    def env(self) -> Env:
        """Hotel configuration and catalogs."""
        return self.deps.env

    @property
    def t(self) -> Translator:
        """Translator for the sender of this update."""
        if self._translator is None:
            locale = self.actor.locale if self.actor else None
            self._translator = self.env.i18n.translator(locale)
        return self._translator

    @t.setter
    def t(self, value: Translator) -> None:
        self._translator = value
