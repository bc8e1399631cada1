"""The application under test, driven through ``process_update`` with Telegram recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from bot.app import ConciergeApp, build_application
from bot.clock import FakeClock
from bot.config import HotelConfig
from bot.deps import Deps
from bot.handling import Received, Work
from bot.outbox import Rates
from bot.settings import Settings
from tests.telegram_fakes import RecordingRequest, RecordingTimers, callback_update, message_update

NO_PACING = Rates(private_interval=0, group_interval=0, global_interval=0)


@dataclass
class Bot:
    """The application under test and what it sent."""

    app: ConciergeApp
    telegram: RecordingRequest
    timers: RecordingTimers
    clock: FakeClock

    @property
    def deps(self) -> Deps:
        deps = self.app.bot_data.deps
        assert deps is not None
        return deps

    async def feed(self, update: dict[str, Any]) -> None:
        """Deliver one update as Telegram would, then let the outbox deliver what it caused."""
        with self.deps.sessions() as session:  # one session for the update, as the processor
            work = Work(update_id=None, session=session)  # in memory: not stored, not marked
            await self.app.process_update(Received.of(update, self.app.bot, work))
        await self.deps.sender.drain()

    async def run_timers(self) -> None:
        """Let the timers run at the fake clock's time and deliver what they caused."""
        await self.deps.run_timers()
        await self.deps.sender.drain()

    async def say(
        self, user_id: int, text: str | None = None, language_code: str = "en", **extra: Any
    ) -> None:
        """A user writes to the bot."""
        await self.feed(
            message_update(user_id, text, language_code=language_code, first_name="Anna", **extra)
        )

    async def press(
        self, user_id: int, data: str, on_chat: int | None = None, language_code: str = "en"
    ) -> None:
        """A user presses a button on the last message the bot sent to ``on_chat``."""
        message = self.telegram.last_message(on_chat or user_id)
        signed = self.deps.signer.sign_data(data)
        await self.feed(callback_update(user_id, signed, message, language_code=language_code))


def make_bot(engine: Engine, hotel: HotelConfig, clock: FakeClock) -> Bot:
    telegram = RecordingRequest()
    timers = RecordingTimers()
    settings = Settings.model_validate({"TELEGRAM_BOT_TOKEN": "123456:TEST"})
    app = build_application(
        settings, hotel, engine, clock=clock, request=telegram, timers=timers, rates=NO_PACING
    )
    return Bot(app, telegram, timers, clock)
