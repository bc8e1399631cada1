"""Button presses, routed by the type of their action to the callback registered for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.buttons import ACTIONS, ButtonAction
from bot.deps import ConciergeContext

A = TypeVar("A", bound=ButtonAction)
ButtonCallback = Callable[[Update, ConciergeContext, A], Awaitable[None]]
StaleCallback = Callable[[Update, ConciergeContext], Awaitable[None]]


class Buttons:
    """Which callback answers each kind of button.

    ``handlers.common.identify`` has already checked the signature and unpacked the action
    (a press it cannot open is answered as stale there), so one handler dispatches by type.
    """

    def __init__(self, stale: StaleCallback) -> None:
        self._stale = stale
        self._routes: dict[type[ButtonAction], ButtonCallback[Any]] = {}

    def on(self, kind: type[A], callback: ButtonCallback[A]) -> None:
        """Let ``callback`` answer presses of ``kind``."""
        if kind in self._routes:
            raise ValueError(f"{kind.__name__} already has a callback")
        self._routes[kind] = callback

    def missing(self) -> list[str]:
        """Prefixes of the actions nobody answers."""
        return sorted(prefix for prefix, kind in ACTIONS.items() if kind not in self._routes)

    def handler(self) -> CallbackQueryHandler[ConciergeContext, None]:
        """The one handler for every press; refuses to exist while an action has no callback."""
        if missing := self.missing():
            raise RuntimeError("buttons without a callback: " + ", ".join(missing))
        return CallbackQueryHandler(self._dispatch)

    async def _dispatch(self, update: Update, context: ConciergeContext) -> None:
        action = context.button
        callback = self._routes.get(type(action)) if action is not None else None
        if callback is None:
            await self._stale(update, context)
            return
        await callback(update, context, action)
