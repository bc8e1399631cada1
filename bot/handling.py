"""The handling of one update: what the processor and the handlers tell each other.

The processor makes a ``Work`` for every stored update it claims and hands it to the
Application inside the update itself (``Received``); ``ConciergeContext.from_update`` puts it
on the context, where handlers reach it as ``context.work``. Everything the two sides share
is on it, explicitly: the update's session (reads and transactions of one update share it),
whether a transaction marked the update done, the error that ended the handling, and a task
the update was handed to (``detach``), which the processor keeps the update leased for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from sqlmodel import Session
from telegram import Bot, Update


@dataclass
class Work:
    """One update being handled.

    ``update_id`` is None for an update handled in memory (not stored): nothing marks it done
    and nothing retries it. ``session`` is shared by everything that handles the update
    (None: each use opens its own).
    """

    update_id: int | None
    attempt: int = 1
    session: Session | None = None
    done: bool = False  # a transaction marked the stored update done
    error: BaseException | None = None
    detached: asyncio.Task[None] | None = None

    @property
    def stored(self) -> bool:
        """Whether the update is a stored one, retried if its handling fails."""
        return self.update_id is not None

    def detach(self, job: Callable[[Work], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
        """Finish the update in a task of its own: ``job`` gets a work of its own (no shared
        session) for the same update, and its transaction marks the update done.

        The processor goes on with other chats meanwhile and keeps the update leased until the
        task ends; this chat's next update waits, as the update stays pending until then.
        """
        twin = Work(self.update_id, self.attempt)
        self.detached = asyncio.get_running_loop().create_task(job(twin))
        return self.detached


class Received(Update):
    """A Telegram update together with the work of handling it."""

    __slots__ = ("_work",)
    _work: Work

    @classmethod
    def of(cls, payload: dict[str, Any], bot: Bot, work: Work) -> Received:
        """The update of ``payload``, handled as ``work``."""
        update = cast(Received, cls.de_json(payload, bot))
        update._work = work
        return update

    @property
    def work(self) -> Work:
        """The work of handling this update."""
        return self._work
