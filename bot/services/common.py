"""What every service needs besides the session: the hotel and its translations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlmodel import Session

from bot.config import HotelConfig
from bot.i18n import I18n, Translator
from bot.models import ActorKind, Event, EventKind, Guest, Staff
from bot.notices import Notice
from bot.notifier import Outbox, Outgoing


@dataclass(frozen=True)
class Env:
    """Read-only context of the services: the hotel's configuration and catalogs."""

    hotel: HotelConfig
    i18n: I18n
    room_key: bytes | None = None  # of the signed room links (None: none can be verified)

    def t(self, locale: str | None) -> Translator:
        """Translator for a reader's locale."""
        return self.i18n.translator(locale)


@dataclass(frozen=True)
class Person:
    """The Telegram user behind an update, as plain values."""

    telegram_id: int
    chat_id: int
    first_name: str = ""
    language_code: str | None = None


def tell(out: Outbox, reader: Guest | Staff, notice: Notice, **delivery: Any) -> None:
    """Put ``notice`` for ``reader`` (a guest or a staff member) into the outbox, to be
    rendered in their language; ``delivery``: ``Outgoing``'s media and edit targets."""
    chat_id = reader.chat_id if isinstance(reader, Guest) else reader.telegram_id
    out.send(Outgoing(chat_id=chat_id, notice=notice, locale=reader.language, **delivery))


def record(
    session: Session,
    *,
    request_id: int | None,
    kind: EventKind,
    now: datetime,
    actor: Guest | Staff | None = None,
    **details: Any,
) -> None:
    """Append an event to a request's audit trail (in the caller's transaction).

    Written at once with a prepared statement: events are only ever inserted, so they need no
    object in the session, and the ORM's per-object cost is the busiest path's largest.
    """
    if request_id is None:
        raise ValueError("the request must be flushed before its events are recorded")
    record_rows(session.connection(), [event(request_id, kind, now, actor, **details)])


def record_each(
    connection: Connection, request_ids: Sequence[int | None], kind: EventKind, now: datetime
) -> None:
    """Append the same system event to each of ``request_ids`` (stored rows), in one statement."""
    record_rows(connection, [event(request_id, kind, now) for request_id in request_ids])


def record_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append events built with ``event``, in one statement."""
    if rows:
        connection.execute(_INSERT_EVENT, list(rows))


def event(
    request_id: int | None,
    kind: EventKind,
    now: datetime,
    actor: Guest | Staff | None = None,
    **details: Any,
) -> dict[str, Any]:
    """The ``events`` row of one entry of a stored request's audit trail."""
    if isinstance(actor, Staff):
        actor_kind, actor_id, actor_name = ActorKind.STAFF, actor.id, actor.name
    elif isinstance(actor, Guest):
        actor_kind, actor_id, actor_name = ActorKind.GUEST, actor.id, actor.first_name
    else:
        actor_kind, actor_id, actor_name = ActorKind.SYSTEM, None, ""
    return {
        "request_id": request_id,
        "kind": kind.value,
        "actor_kind": actor_kind.value,
        "actor_id": actor_id,
        "actor_name": actor_name,
        "details": details,
        "at": now,
    }


_INSERT_EVENT = insert(Event.__table__)  # type: ignore[attr-defined]
