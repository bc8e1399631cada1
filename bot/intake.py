"""Durable intake: every Telegram update is stored before Telegram learns it was received.

Polling asks for the next batch (which confirms the previous one) only after the previous batch
is committed; webhook mode answers 2xx only after the insert. Updates are deduplicated by their
``update_id`` (Telegram's ids are not always increasing). A processor in any instance claims the
oldest pending update of each chat with a lease, so a chat's updates are handled in order and a
dead instance's claims are taken over when the lease ends. The transaction that applies an
update also marks it done, so handling it again after a crash changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from bot.models import InboundStatus, InboundUpdate
from bot.queue import LeasedQueue

MAX_ATTEMPTS = 5

_INBOUND = InboundUpdate.__table__  # type: ignore[attr-defined]


class AlreadyHandled(Exception):
    """Another instance handled this update first; the transaction must not commit."""


def chat_of(payload: dict[str, Any]) -> int | None:
    """The chat (or, failing that, the user) an update belongs to, for ordering."""
    for key in (
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "my_chat_member",
    ):
        if key in payload:
            return int(payload[key]["chat"]["id"])
    query = payload.get("callback_query")
    if query is not None:
        message = query.get("message")
        if message and "chat" in message:
            return int(message["chat"]["id"])
        return int(query["from"]["id"])
    for value in payload.values():
        if isinstance(value, dict) and isinstance(value.get("from"), dict):
            return int(value["from"]["id"])
    return None


def chat_refused(key: int, chat_id: int, bot_id: int, now: datetime) -> dict[str, Any]:
    """The update Telegram sends when a user blocks the bot (``my_chat_member``, "kicked"),
    for a chat that refused a message (key: the refused outbox row, unique and positive).

    Its ``update_id`` is ``-key``: storing it twice is storing it once, and it cannot collide
    with Telegram's ids, which are positive.
    """
    user = {"id": chat_id, "is_bot": False, "first_name": ""}
    bot = {"id": bot_id, "is_bot": True, "first_name": ""}
    return {
        "update_id": -key,
        "my_chat_member": {
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": user,
            "date": int(now.timestamp()),
            "old_chat_member": {"status": "member", "user": bot},
            "new_chat_member": {"status": "kicked", "user": bot, "until_date": 0},
        },
    }


def store(session: Session, payloads: Iterable[dict[str, Any]], now: datetime) -> int:
    """Insert updates, ignoring ones already stored; return how many were new."""
    rows = [
        {
            "update_id": int(payload["update_id"]),
            "chat_id": chat_of(payload),
            "payload": payload,
            "status": InboundStatus.PENDING.value,
            "attempts": 0,
            "not_before": now,
            "received_at": now,
        }
        for payload in payloads
    ]
    if not rows:
        return 0
    statement = _insert_new(session.get_bind().dialect.name)
    return len(session.connection().execute(statement, rows).all())


@cache
def _insert_new(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING, built once and run for a batch of rows."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(_INBOUND)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(_INBOUND.c.update_id)
    )


QUEUE = LeasedQueue(InboundUpdate, key="update_id", sequence=("received_at", "update_id"))


def claim(
    session: Session, *, owner: str, now: datetime, lease: timedelta, limit: int = 50
) -> Sequence[InboundUpdate]:
    """Lease the oldest pending update of each chat that is not held by a live lease."""
    return QUEUE.claim(session, owner=owner, now=now, lease=lease, limit=limit)


def waiting_in(session: Session, chat_ids: Iterable[int | None]) -> bool:
    """Whether any of these chats has an update waiting (behind the ones just handled)."""
    return QUEUE.waiting_in(session, chat_ids)


def mark_done(session: Session, update_id: int, now: datetime) -> None:
    """Mark an update handled in the caller's transaction; ``AlreadyHandled`` if it was."""
    result = session.connection().execute(
        _MARK_DONE, {"update": update_id, "pending": InboundStatus.PENDING.value, "now": now}
    )
    if result.rowcount != 1:
        raise AlreadyHandled(update_id)


# Prepared once: the busiest statement of all (every handled update), and plain SQL, so the
# session's objects need no synchronising.
_MARK_DONE = (
    update(_INBOUND)
    .where(_INBOUND.c.update_id == bindparam("update"), _INBOUND.c.status == bindparam("pending"))
    .values(
        status=InboundStatus.DONE.value,
        handled_at=bindparam("now"),
        lease_owner=None,
        lease_until=None,
    )
)


def retry_later(session: Session, row: InboundUpdate, error: str, now: datetime) -> bool:
    """Put a failed update back with a backoff; give up after ``MAX_ATTEMPTS`` (returns False)."""
    give_up = row.attempts >= MAX_ATTEMPTS
    not_before = now + timedelta(seconds=min(300, 2**row.attempts))
    QUEUE.retry(session, row.update_id, not_before=not_before, error=error, give_up=give_up)
    return not give_up


def pending_count(session: Session) -> int:
    """Updates stored and not yet handled."""
    return QUEUE.pending_count(session)


def release_all(session: Session) -> int:
    """Drop every lease on pending rows; only for a process that knows it runs alone."""
    return QUEUE.release_all(session)
