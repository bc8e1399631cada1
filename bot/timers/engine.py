"""The durable timer engine: the ``timers`` table, its claims, and a pass over what is due.

See ``bot.timers`` for the contract; this module is the mechanics behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, delete, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.models import Timer, TimerStatus, as_utc
from bot.notifier import Outbox
from bot.services.common import Env

log = logging.getLogger(__name__)

BATCH = 500
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=5)
LAST_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class Due:
    """A timer claimed by the pass that fires it."""

    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]


Handler = Callable[[Session, Outbox, Env, datetime, Sequence[Due]], None]
"""Does what a batch of due timers of one kind stand for, in the pass's transaction."""


@dataclass(frozen=True)
class Pass:
    """What one batch did."""

    fired: dict[str, int] = field(default_factory=dict)  # timers fired, by kind
    full: bool = False  # the batch limit was reached: more may be due
    next_due: datetime | None = None  # when the next pending timer is due, if not full


class Unit(Protocol):
    """One transaction: its session, the outbox it commits with, and its time."""

    session: Session
    outbox: Outbox
    now: datetime


Transaction = Callable[[], AbstractAsyncContextManager[Unit]]


def schedule(
    session: Session,
    out: Outbox,
    kind: str,
    key: str,
    due: datetime,
    payload: Mapping[str, Any] | None = None,
    *,
    now: datetime,
) -> None:
    """Make ``key`` fire at ``due``: a pending key moves, a finished one is armed again."""
    schedule_many(session, out, kind, [(key, due, dict(payload or {}))], now=now)


def schedule_many(
    session: Session,
    out: Outbox,
    kind: str,
    timers: Sequence[tuple[str, datetime, dict[str, Any]]],
    *,
    now: datetime,
) -> None:
    """``schedule`` for many keys of one kind, in one statement."""
    if not timers:
        return
    connection = session.connection()
    rows = [
        {
            "kind": kind,
            "key": key,
            "due_at": due,
            "payload": payload,
            "status": TimerStatus.PENDING.value,
            "attempts": 0,
            "created_at": now,
        }
        for key, due, payload in timers
    ]
    insert_ = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert_(Timer.__table__)  # type: ignore[attr-defined]
    new = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "kind": new.kind,
                "due_at": new.due_at,
                "payload": new.payload,
                "status": new.status,
                "attempts": 0,
                "lease_owner": None,
                "lease_until": None,
                "fired_at": None,
                "last_error": None,
            },
        ),
        rows,
    )
    out.wake(min(due for _key, due, _payload in timers))


def cancel(session: Session, key: str) -> bool:
    """Cancel the pending timer ``key``; False if there was none."""
    return _cancel(session.connection(), col(Timer.key) == key) > 0


def cancel_prefix(session: Session, prefix: str) -> int:
    """Cancel every pending timer whose key starts with ``prefix`` (e.g. ``request:42:``)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _cancel(session.connection(), col(Timer.key).like(escaped + "%", escape="\\"))


def _cancel(connection: Connection, which: Any) -> int:
    done = connection.execute(
        update(Timer)
        .where(which, col(Timer.status) == TimerStatus.PENDING)
        .values(status=TimerStatus.CANCELLED)
    )
    return int(done.rowcount)


def forget_finished(session: Session, before: datetime) -> int:
    """Delete timers that fired, were cancelled or were given up and were due before
    ``before``; return how many (pending ones always stay)."""
    done = session.connection().execute(
        delete(Timer).where(col(Timer.status) != TimerStatus.PENDING, col(Timer.due_at) < before)
    )
    return int(done.rowcount)


def next_due(session: Session) -> datetime | None:
    """When the earliest pending timer is due (one indexed query)."""
    first = session.exec(
        select(func.min(Timer.due_at)).where(Timer.status == TimerStatus.PENDING)
    ).one()
    return None if first is None else as_utc(first)


def fire_due(
    session: Session,
    out: Outbox,
    env: Env,
    now: datetime,
    handlers: Mapping[str, Handler],
    *,
    owner: str = "local",
    only: Sequence[int] | None = None,
    limit: int = BATCH,
) -> Pass:
    """Claim up to ``limit`` due timers (or just ``only``), mark them fired and run their
    handlers, kind by kind, in the caller's transaction; ask to be woken for the next one.

    One statement claims and marks the batch. It changes only rows still pending, so two
    overlapping passes never fire a timer twice; on PostgreSQL the rows are picked with
    ``FOR UPDATE SKIP LOCKED``, so instances share the due timers instead of queueing for the
    same rows. The claim is the transaction's: a crash before the commit leaves the timers
    pending (and, the connection gone, unlocked at once), a commit leaves them fired.
    """
    connection = session.connection()
    picked = (
        select(Timer.id)
        .where(Timer.status == TimerStatus.PENDING, col(Timer.due_at) <= now)
        .order_by(col(Timer.due_at))
        .limit(limit)
    )
    if only is not None:
        picked = picked.where(col(Timer.id).in_(only))
    if connection.dialect.name == "postgresql":
        # A CTE, evaluated once: as an ``IN`` subquery the planner may run it again for each
        # row and, skipping the rows it has just locked itself, claim more than ``limit``.
        rows = picked.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        chosen = col(Timer.id) == rows.c.id
    else:
        chosen = col(Timer.id).in_(picked.scalar_subquery())
    claimed = connection.execute(
        update(Timer)
        .where(chosen, col(Timer.status) == TimerStatus.PENDING)
        .values(
            status=TimerStatus.FIRED,
            fired_at=now,
            attempts=Timer.attempts + 1,
            lease_owner=owner,
            lease_until=now,
        )
        .returning(
            col(Timer.id), col(Timer.kind), col(Timer.key), col(Timer.due_at), col(Timer.payload)
        )
    ).all()
    batch = sorted(
        (
            Due(int(r.id), str(r.kind), str(r.key), as_utc(r.due_at), dict(r.payload))
            for r in claimed
        ),
        key=lambda d: (d.due_at, d.id),
    )
    by_kind: dict[str, list[Due]] = {}
    for due in batch:
        by_kind.setdefault(due.kind, []).append(due)
    fired: dict[str, int] = {}
    for kind, group in by_kind.items():
        handler = handlers.get(kind)
        if handler is None:  # e.g. written by a newer version: kept, not fired blindly
            _give_up(connection, [d.id for d in group], f"no handler for kind {kind!r}")
            log.error("timers of unknown kind %r given up: %s", kind, [d.key for d in group])
            continue
        handler(session, out, env, now, group)
        fired[kind] = len(group)
    full = len(batch) == limit and only is None
    upcoming = now if full else next_due(session)
    if upcoming is not None:
        out.wake(upcoming)
    return Pass(fired=fired, full=full, next_due=None if full else upcoming)


def _give_up(connection: Connection, ids: Sequence[int], error: str) -> None:
    connection.execute(
        update(Timer)
        .where(col(Timer.id).in_(ids))
        .values(status=TimerStatus.FAILED, last_error=error[:300])
    )


def due_ids(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """The ids of the timers a pass would claim now (without claiming them)."""
    query = (
        select(Timer.id)
        .where(Timer.status == TimerStatus.PENDING, col(Timer.due_at) <= now)
        .order_by(col(Timer.due_at))
        .limit(limit)
    )
    return [int(i) for i in session.exec(query).all() if i is not None]


def retry_later(session: Session, timer_id: int, error: str, now: datetime, *, owner: str) -> bool:
    """Record a failed attempt: due again after a backoff, or failed after ``MAX_ATTEMPTS``.

    Returns False when the timer is given up. The attempt's own transaction was rolled back,
    so it is counted here.
    """
    timer = session.get(Timer, timer_id)
    if timer is None or timer.status != TimerStatus.PENDING:
        return True
    timer.attempts += 1
    timer.last_error = error[:300]
    timer.lease_owner, timer.lease_until = owner, now
    if timer.attempts >= MAX_ATTEMPTS:
        timer.status = TimerStatus.FAILED
    else:
        timer.due_at = now + min(FIRST_RETRY * 2 ** (timer.attempts - 1), LAST_RETRY)
    session.add(timer)
    return timer.status == TimerStatus.PENDING


async def run(
    transaction: Transaction, env: Env, handlers: Mapping[str, Handler], *, owner: str
) -> None:
    """Fire every due timer, batch by batch, until a batch comes back short.

    A batch whose handler raises is rolled back and its timers are fired one by one, so a
    timer that keeps failing is retried with backoff (and finally given up) while the others
    of its batch go on.
    """
    while True:
        try:
            async with transaction() as tx:
                done = fire_due(tx.session, tx.outbox, env, tx.now, handlers, owner=owner)
        except Exception as exc:
            log.warning("a batch of timers failed, firing them one by one: %s", _error(exc))
            if not await _one_by_one(transaction, env, handlers, owner=owner):
                raise  # not a timer's fault: nothing due to set aside
            continue
        if not done.full:
            return


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _one_by_one(
    transaction: Transaction, env: Env, handlers: Mapping[str, Handler], *, owner: str
) -> bool:
    """Fire the due timers each in its own transaction; False if none was due."""
    async with transaction() as tx:
        ids = due_ids(tx.session, tx.now)
    for timer_id in ids:
        try:
            async with transaction() as tx:
                fire_due(tx.session, tx.outbox, env, tx.now, handlers, owner=owner, only=[timer_id])
        except Exception as exc:
            error = _error(exc)
            async with transaction() as tx:
                again = retry_later(tx.session, timer_id, error, tx.now, owner=owner)
            if again:
                log.warning("timer %d failed, retried later: %s", timer_id, error)
            else:
                log.error(
                    "timer %d given up after %d attempts", timer_id, MAX_ATTEMPTS, exc_info=True
                )
    return bool(ids)
