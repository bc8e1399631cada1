"""The durable outbox: outgoing messages as rows, claimed with leases and paced for Telegram.

A transaction that changes state writes the messages it causes into ``outbox`` before it
commits, so a message exists exactly when its cause does. Senders in any number of instances
claim rows with a lease (``bot.queue``, shared with the intake), renewed while they work; a
crashed instance's claims are taken over when the lease ends.

Pacing follows Telegram's limits for all instances together, with a generic cell rate
algorithm whose state (the *theoretical arrival time*) lives in the ``pacing`` table: per
private chat about one message a second with a short burst, per group twenty a minute, and
thirty a second overall. Edits count like sends. A chat is paced from when Telegram answered
its last message (``paced_sends``), not from when that message was planned, so a late send
cannot let the next ones catch up. A chat that got a 429 waits for exactly ``retry_after``
without holding up the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, func, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.models import GLOBAL_PACING, OutboxMessage, OutboxStatus, Pacing, as_utc
from bot.notices import Notice, Prerendered, decode
from bot.notifier import Media, Outgoing
from bot.queue import LEASE, LeasedQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rates:
    """Telegram's limits as intervals between messages, and the bursts allowed."""

    private_interval: float = 1.0
    private_burst: int = 3
    group_interval: float = 3.0
    group_burst: int = 2
    global_interval: float = 1 / 30
    global_burst: int = 1  # strict spacing: a burst could put 33 into one second

    def for_chat(self, chat_id: int) -> tuple[timedelta, timedelta]:
        """Interval and burst tolerance for a chat (negative ids are groups and channels)."""
        if chat_id < 0:
            interval, burst = self.group_interval, self.group_burst
        else:
            interval, burst = self.private_interval, self.private_burst
        return timedelta(seconds=interval), timedelta(seconds=interval * (burst - 1))

    @property
    def overall(self) -> tuple[timedelta, timedelta]:
        """Interval and burst tolerance for the bot as a whole."""
        interval = timedelta(seconds=self.global_interval)
        return interval, interval * (self.global_burst - 1)


def to_payload(message: Outgoing) -> dict[str, Any]:
    """``message`` as JSON for the outbox row: the notice as data, its reader's locale and
    what the sender needs to deliver it."""
    payload: dict[str, Any] = {"locale": message.locale}
    if message.notice is not None:
        payload["notice"] = message.notice.encode()
    if message.media is not None:
        media = message.media
        payload["media"] = {
            "kind": media.kind,
            "file_id": media.file_id,
            "latitude": media.latitude,
            "longitude": media.longitude,
            "caption": media.caption,
        }
    for key in ("edit_message_id", "edit_offer_id", "offer_id", "remove"):
        value = getattr(message, key)
        if value is not None:
            payload[key] = value
    return payload


def from_payload(chat_id: int, payload: dict[str, Any]) -> Outgoing:
    """The ``Outgoing`` message stored in an outbox row.

    A row written before notices existed holds its finished text (and ``[label, data]``
    buttons) instead: it comes back as a ``Prerendered`` notice, sent as it was written.
    """
    media = payload.get("media")
    notice: Notice | None
    if "notice" in payload:
        notice = decode(payload["notice"])
    elif "text" in payload and (payload["text"] or payload.get("buttons")):
        notice = Prerendered(str(payload["text"]), payload.get("buttons", ()))
    else:
        notice = None
    return Outgoing(
        chat_id=chat_id,
        notice=notice,
        locale=str(payload.get("locale", "")),
        media=Media(**media) if media else None,
        edit_message_id=payload.get("edit_message_id"),
        edit_offer_id=payload.get("edit_offer_id"),
        offer_id=payload.get("offer_id"),
        remove=payload.get("remove"),
    )


def _about(message: Outgoing) -> int | None:
    """The request a message is about (its notice's ``request_id``), so that a reply to it
    can be threaded into that request."""
    request_id = getattr(message.notice, "request_id", message.request_id)
    return request_id if isinstance(request_id, int) else None


def enqueue(session: Session, messages: Iterable[Outgoing], now: datetime) -> int:
    """Add messages to the outbox in the caller's transaction; return how many.

    A new menu (``Notice.menu``) first takes the buttons off the chat's previous one of its
    kind, so that only the newest is live.
    """
    messages = _retiring_menus(session, messages)
    rows = [
        {
            "chat_id": message.chat_id,
            "payload": to_payload(message),
            "request_id": _about(message),
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "not_before": now,
            "created_at": now,
        }
        for message in messages
    ]
    if rows:
        session.connection().execute(_INSERT, rows)
    return len(rows)


_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_INSERT = insert(_OUTBOX)


def _retiring_menus(session: Session, messages: Iterable[Outgoing]) -> list[Outgoing]:
    """``messages``, each new menu preceded by the removal of its predecessor's buttons.

    The predecessor is the chat's last sent row of the same kind, so a menu older than the
    outbox's retention (``concierge purge``), or one not yet sent when the next was asked
    for, keeps its buttons; pressing one is still checked against the current state.
    """
    result: list[Outgoing] = []
    for message in messages:
        notice = message.notice
        if notice is not None and notice.menu and message.edit_message_id is None:
            previous = (
                session.connection()
                .execute(_LAST_OF_KIND, {"chat": message.chat_id, "kind": notice.kind})
                .scalar()
            )
            if previous is not None:
                result.append(
                    Outgoing(message.chat_id, edit_message_id=int(previous), remove="buttons")
                )
        result.append(message)
    return result


_LAST_OF_KIND = (
    select(_OUTBOX.c.message_id)
    .where(
        _OUTBOX.c.chat_id == bindparam("chat"),
        _OUTBOX.c.status == OutboxStatus.SENT.value,
        _OUTBOX.c.message_id.is_not(None),
        _OUTBOX.c.payload["notice"]["kind"].as_string() == bindparam("kind"),
    )
    .order_by(_OUTBOX.c.id.desc())
    .limit(1)
)


def _params(now: datetime, rates: Rates) -> dict[str, datetime]:
    """Bounds of ``_heads`` and ``_waiting``: a chat may send now when its theoretical arrival
    time is within its burst tolerance (different for private chats and groups)."""
    return {
        "now": now,
        "private_ready": now + rates.for_chat(1)[1],
        "group_ready": now + rates.for_chat(-1)[1],
    }


def _heads(session: Session, now: datetime, rates: Rates, limit: int) -> Sequence[OutboxMessage]:
    """The oldest pending row of each chat that may go now (its retry time has come, its
    chat's pacing allows it) and is not held by a live lease.

    A chat whose oldest row is leased is skipped, so each chat's messages go out in order.
    Chats waiting for their pacing are left out here rather than skipped afterwards, so that
    they cost a claim nothing and cannot crowd ready rows out of the batch.
    """
    return QUEUE.heads(session, limit, _params(now, rates))


def _waiting(session: Session, now: datetime, rates: Rates) -> list[datetime]:
    """When pending rows that may not go now may go: the earliest time for each reason (a
    private chat's pacing, a group's pacing, a retry's time), for rows not leased."""
    private, group, retry = session.connection().execute(_WAITING, _params(now, rates)).one()
    bounds = []
    if private is not None:
        bounds.append(as_utc(private) - rates.for_chat(1)[1])
    if group is not None:
        bounds.append(as_utc(group) - rates.for_chat(-1)[1])
    if retry is not None:
        bounds.append(as_utc(retry))
    return bounds


_PACING_TABLE = Pacing.__table__  # type: ignore[attr-defined]
_WHEN = OutboxMessage.__table__.c.not_before.type  # type: ignore[attr-defined]
_NOW = bindparam("now", type_=_WHEN)  # the same parameter as the queue's own ``now``
_PRIVATE_READY = bindparam("private_ready", type_=_WHEN)
_GROUP_READY = bindparam("group_ready", type_=_WHEN)
_CHAT_READY = case((_OUTBOX.c.chat_id < 0, _GROUP_READY), else_=_PRIVATE_READY)
_UNLEASED = (_OUTBOX.c.lease_until.is_(None)) | (_OUTBOX.c.lease_until < _NOW)


# Rows whose time has come but whose chat must wait, in one pass (few: a chat's backlog is
# deferred when its messages are claimed, see ``_defer_paced``), and the earliest time still
# to come, from the index. No index on ``pacing.tat``: the global row's time changes with every
# claim, and on PostgreSQL an indexed column would make each of those updates write index
# entries.
_NEXT_RETRY = (
    select(func.min(_OUTBOX.c.not_before))
    .where(_OUTBOX.c.status == OutboxStatus.PENDING.value, _OUTBOX.c.not_before > _NOW, _UNLEASED)
    .scalar_subquery()
)
_WAITING = (
    select(
        func.min(
            case(
                (
                    (_OUTBOX.c.chat_id > 0) & (_PACING_TABLE.c.tat > _PRIVATE_READY),
                    _PACING_TABLE.c.tat,
                )
            )
        ),
        func.min(
            case(
                (
                    (_OUTBOX.c.chat_id < 0) & (_PACING_TABLE.c.tat > _GROUP_READY),
                    _PACING_TABLE.c.tat,
                )
            )
        ),
        _NEXT_RETRY,
    )
    .select_from(_OUTBOX.outerjoin(_PACING_TABLE, _PACING_TABLE.c.chat_id == _OUTBOX.c.chat_id))
    .where(
        _OUTBOX.c.status == OutboxStatus.PENDING.value,
        _OUTBOX.c.not_before <= _NOW,
        _UNLEASED,
    )
)


def _paced(query: SelectOfScalar[Any]) -> SelectOfScalar[Any]:
    """The claim's pacing condition: a chat may send now when its theoretical arrival time is
    within its burst tolerance."""
    return query.outerjoin(_PACING_TABLE, _PACING_TABLE.c.chat_id == OutboxMessage.chat_id).where(
        _PACING_TABLE.c.tat.is_(None) | (_PACING_TABLE.c.tat <= _CHAT_READY)
    )


QUEUE = LeasedQueue(
    OutboxMessage,
    key="id",
    sequence=("id",),
    priority=("not_before", "id"),
    narrow=_paced,
    lease_values=("send_at",),
)


class _Pacings:
    """The pacing state (theoretical arrival times) of some chats, read in one query and
    written back with one statement per kind of change; locked on PostgreSQL until commit."""

    def __init__(self, session: Session, chat_ids: Iterable[int], now: datetime) -> None:
        self._connection = session.connection()
        wanted = sorted(set(chat_ids))  # one order everywhere, so claimers cannot deadlock
        postgres = session.get_bind().dialect.name == "postgresql"
        query = _PACING_FOR_UPDATE if postgres else _PACING
        rows = self._connection.execute(query, {"chats": wanted})
        self.tat: dict[int, datetime] = {row.chat_id: row.tat for row in rows}
        self._new = {chat_id for chat_id in wanted if chat_id not in self.tat}
        self._read = dict(self.tat)
        for chat_id in self._new:
            self.tat[chat_id] = now

    def save(self) -> None:
        """Write the times that changed."""
        changed = [c for c, tat in self.tat.items() if c in self._new or tat != self._read[c]]
        inserts = [{"chat_id": c, "tat": self.tat[c]} for c in changed if c in self._new]
        updates = [{"chat": c, "tat": self.tat[c]} for c in changed if c not in self._new]
        if inserts:
            # Another instance may have written the chat's first row since it was read (no
            # row to lock then): the later of the two times stands.
            self._connection.execute(_pacing_upsert(self._connection.dialect.name), inserts)
        if updates:
            self._connection.execute(_PACING_UPDATE, updates)


_PACING = (
    select(_PACING_TABLE.c.chat_id, _PACING_TABLE.c.tat)
    .where(_PACING_TABLE.c.chat_id.in_(bindparam("chats", expanding=True)))
    .order_by(_PACING_TABLE.c.chat_id)
)
_PACING_FOR_UPDATE = _PACING.with_for_update()
_PACING_UPDATE = (
    update(_PACING_TABLE)
    .where(_PACING_TABLE.c.chat_id == bindparam("chat"))
    .values(tat=bindparam("tat"))
)


@cache
def _pacing_upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE keeping the later time, built once per database."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_PACING_TABLE)
    later = case(
        (_PACING_TABLE.c.tat > statement.excluded.tat, _PACING_TABLE.c.tat),
        else_=statement.excluded.tat,
    )
    return statement.on_conflict_do_update(index_elements=["chat_id"], set_={"tat": later})


# After a send: the chat's time as if the message arrived when its answer did, never earlier.
_PACING_SENT = (
    update(_PACING_TABLE)
    .where(_PACING_TABLE.c.chat_id == bindparam("chat"), _PACING_TABLE.c.tat < bindparam("_tat"))
    .values(tat=bindparam("_tat"))
)


@dataclass(frozen=True)
class Claimed:
    """What a claim leased, and when a row it left may be claimed (None: none was left)."""

    rows: list[OutboxMessage]
    next_at: datetime | None


def claim(
    session: Session,
    *,
    owner: str,
    now: datetime,
    rates: Rates,
    horizon: timedelta = timedelta(seconds=1),
    lease: timedelta = LEASE,
    limit: int = 100,
) -> Claimed:
    """Lease rows that may go now to ``owner`` and give each its place in the bot's overall
    pacing, at most ``horizon`` ahead; commit after.

    A row whose chat must wait (its pacing, a 429's ``retry_after``, a retry's backoff) is
    left unclaimed, and ``next_at`` says when it may go: were it leased with a later slot, the
    bot's overall pacing would have to pass that slot too, and every other chat's messages
    (a guest's acknowledgement behind a busy staff member's fourth card) would wait for it.
    A row taken over from a lease that ended without an outcome (its instance died, maybe
    after Telegram had it) counts as sent just now in its chat's pacing, so that sending it
    again cannot make the chat's burst one too many. On PostgreSQL the pacing rows involved,
    the global one included, are locked in one query in chat-id order, which serialises
    claimers across instances without deadlocks; SQLite runs a single instance.
    """
    global_interval, global_burst = rates.overall
    heads = _heads(session, now, rates, limit)
    pacing = _Pacings(session, [GLOBAL_PACING, *(row.chat_id for row in heads)], now)
    tat = pacing.tat
    claimed: list[OutboxMessage] = []
    slots: list[datetime] = []
    later: list[datetime] = []
    forgotten: list[int] = []
    for row in heads:
        chat = row.chat_id
        chat_interval, chat_burst = rates.for_chat(chat)
        if row.send_at is not None:  # planned before, never recorded: maybe sent just now
            tat[chat] = max(tat[chat], now + chat_interval)
            forgotten.append(row.id)  # type: ignore[arg-type]
        ready = max(row.not_before, tat[chat] - chat_burst)
        if ready > now:  # another instance paced the chat since the query (PostgreSQL)
            later.append(ready)
            continue
        slot = max(now, tat[GLOBAL_PACING] - global_burst)
        if slot > now + horizon:  # the overall queue is full this far ahead
            later.append(slot - horizon)
            continue
        tat[chat] = max(tat[chat], slot) + chat_interval
        tat[GLOBAL_PACING] = max(tat[GLOBAL_PACING], slot) + global_interval
        claimed.append(row)
        slots.append(slot)
    pacing.save()
    left = set(forgotten).difference(row.id for row in claimed)
    if left:  # counted once: not again at the claim that takes them
        session.connection().execute(_FORGET_SLOT, {"rows": sorted(left)})
    if claimed:
        QUEUE.lease(
            session,
            claimed,
            owner=owner,
            until=[slot + lease for slot in slots],
            send_at=slots,
        )
        _defer_paced(session, claimed, tat, rates, now)
    if len(heads) < limit:  # rows waiting for their chat or their retry time: until when
        later.extend(_waiting(session, now, rates))
    return Claimed(claimed, min(later, default=None))


_FORGET_SLOT = (
    update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("rows", expanding=True))).values(send_at=None)
)


def paced_sends(session: Session, answered: Iterable[tuple[int, datetime]], rates: Rates) -> None:
    """Pace each chat from when its message was answered rather than from its planned slot.

    A send that left late (a busy event loop, a slow network) reached Telegram later than
    planned, so the chat's next messages are spaced from then: otherwise the queued ones
    catch up and Telegram sees more than its burst inside a second. A chat has one message
    in flight at a time, so this is the exact pacing of its sends, erring late.
    """
    latest: dict[int, datetime] = {}
    for chat_id, at in answered:
        tat = at + rates.for_chat(chat_id)[0]
        latest[chat_id] = max(tat, latest.get(chat_id, tat))
    if latest:  # in chat-id order, as claims lock them
        params = [{"chat": chat, "_tat": latest[chat]} for chat in sorted(latest)]
        session.connection().execute(_PACING_SENT, params)


def _defer_paced(
    session: Session,
    claimed: list[OutboxMessage],
    tat: dict[int, datetime],
    rates: Rates,
    now: datetime,
) -> None:
    """Give the rows queued behind each claimed message the time its chat's pacing lets the
    next one go, as their ``not_before``.

    Claims look only at rows whose time has come, so a staff chat's backlog of cards, paced
    a second apart, is not read again by every claim meanwhile (in a burst, every ten
    milliseconds). Rows queued after this claim are deferred by the chat's next one.
    """
    deferred = []
    for row in claimed:
        ready = tat[row.chat_id] - rates.for_chat(row.chat_id)[1]
        if ready > now:
            deferred.append({"chat": row.chat_id, "after": row.id, "ready": ready})
    if deferred:
        session.connection().execute(_DEFER, deferred)


_DEFER = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.chat_id == bindparam("chat"),
        _OUTBOX.c.status == OutboxStatus.PENDING.value,
        _OUTBOX.c.id > bindparam("after"),
        _OUTBOX.c.not_before < bindparam("ready"),
    )
    .values(not_before=bindparam("ready"))
)


def hold_chat(session: Session, chat_id: int, until: datetime) -> None:
    """Make a chat wait until ``until`` (after a 429 with ``retry_after``)."""
    pacing = _Pacings(session, [chat_id], until)
    pacing.tat[chat_id] = max(pacing.tat[chat_id], until)
    pacing.save()


def drop_chat(session: Session, chat_id: int, reason: str) -> int:
    """Give up every pending message to a chat (it blocked the bot); return how many."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.chat_id) == chat_id, col(OutboxMessage.status) == OutboxStatus.PENDING
        )
        .values(
            status=OutboxStatus.FAILED, last_error=reason[:300], lease_owner=None, lease_until=None
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def release_all(session: Session) -> int:
    """Drop every lease on pending rows; only for a process that knows it runs alone."""
    return QUEUE.release_all(session)


def request_of_message(session: Session, chat_id: int, message_id: int) -> int | None:
    """The request the bot's message ``message_id`` in ``chat_id`` was about, if it was about
    one (a guest or staff member replying to it means that request)."""
    query = select(OutboxMessage.request_id).where(
        OutboxMessage.chat_id == chat_id, OutboxMessage.message_id == message_id
    )
    return session.exec(query).first()
