"""One leased queue: rows claimed with a lease, in order per chat, by any number of instances.

Stored updates (``bot.intake``) and outgoing messages (``bot.outbox``) are both such a queue: a
row is ``pending`` from ``not_before`` on; a claim leases the oldest pending row of each chat
that no live lease holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so claimers in several
instances never take the same row), which keeps each chat in order. The instance holding a
lease renews it while it works (its heartbeat), so the lease can be short: a killed instance's
rows are taken over a few seconds after its last renewal. Finishing a row is the table's own
statement; it clears the lease in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.db import any_pending_in

log = logging.getLogger(__name__)

PENDING = "pending"
# Long enough to outlast a heartbeat that comes late (a slow query blocks the event loop for
# a second or two), short enough that a killed instance's chats wait only a few seconds.
LEASE = timedelta(seconds=5)
HEARTBEAT = 1.0  # seconds between renewals of the leases an instance holds

RowT = TypeVar("RowT", bound=SQLModel)
Narrow = Callable[[SelectOfScalar[Any]], SelectOfScalar[Any]]


class LeasedQueue(Generic[RowT]):
    """The claim, lease, renewal and release statements of one table, built once.

    ``key`` names the primary key; ``sequence`` the columns that order a chat's rows (the
    oldest pending one goes first); ``priority`` the order in which a claim takes the chats'
    heads (by default ``sequence``); ``group`` the chat column (None: no order between rows,
    as for timers); ``narrow`` adds a table's own conditions to the claim's query (the outbox's
    pacing); ``lease_values`` are columns written per row with the lease (the outbox's
    ``send_at``).
    """

    def __init__(
        self,
        model: type[RowT],
        *,
        key: str,
        sequence: Sequence[str],
        priority: Sequence[str] | None = None,
        group: str | None = "chat_id",
        narrow: Narrow | None = None,
        lease_values: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.table: Table = model.__table__  # type: ignore[attr-defined]
        self._key = key
        self._sequence = tuple(sequence)
        self._priority = tuple(priority or sequence)
        self._group = group
        self._narrow = narrow
        self._lease_values = tuple(lease_values)
        c = self.table.c
        self.now = bindparam("now", type_=c.not_before.type)
        self.pending = c.status == PENDING
        self.unleased = c.lease_until.is_(None) | (c.lease_until < self.now)
        self._heads = cache(self._build_heads)
        self._lease = (
            update(self.table)
            .where(c[key] == bindparam("_key"))
            .values(
                lease_owner=bindparam("_owner"),
                lease_until=bindparam("_until"),
                attempts=c.attempts + 1,
                **{name: bindparam("_" + name) for name in self._lease_values},
            )
        )
        # Only rows still pending and still this owner's: a row finished or taken over since
        # is left alone; never shortened (the outbox leases rows from their planned slot).
        self._renew = (
            update(self.table)
            .where(
                c[key].in_(bindparam("keys", expanding=True)),
                c.lease_owner == bindparam("owner"),
                self.pending,
                c.lease_until < bindparam("until"),
            )
            .values(lease_until=bindparam("until"))
        )
        self._release = (
            update(self.table)
            .where(self.pending, c.lease_owner.is_not(None))
            .values(lease_owner=None, lease_until=None)
        )
        self._retry = (
            update(self.table)
            .where(c[key] == bindparam("_key"), self.pending)
            .values(
                status=bindparam("_status"),
                not_before=bindparam("_not_before"),
                lease_owner=None,
                lease_until=None,
                last_error=bindparam("_error"),
            )
        )
        self._count = select(func.count()).select_from(self.table).where(self.pending)

    def key_of(self, row: RowT) -> Any:
        """The row's primary key."""
        return getattr(row, self._key)

    def heads(self, session: Session, limit: int, params: dict[str, Any]) -> Sequence[RowT]:
        """The oldest pending row of each chat that is due (``params["now"]``) and not held by
        a live lease, in claim order; detached, so that the caller's writes need no flush."""
        rows = session.exec(self._heads(session.get_bind().dialect.name, limit), params=params)
        heads = rows.all()
        for row in heads:
            session.expunge(row)
        return heads

    def _build_heads(self, dialect: str, limit: int) -> SelectOfScalar[RowT]:
        """The claim's query, built once per database and batch size (it runs several times a
        second, and building it cost more than running it)."""
        model = self.model
        query = select(model).where(
            self.pending, self.table.c.not_before <= self.now, self.unleased
        )
        if self._group is not None:
            older: Any = aliased(model)
            # EXISTS stops at the first: a busy chat's rows are not all counted.
            earlier_pending = (
                select(getattr(older, self._key))
                .where(
                    getattr(older, self._group) == getattr(model, self._group),
                    older.status == PENDING,
                    _before(older, model, self._sequence),
                )
                .exists()
            )
            group = self.table.c[self._group]
            query = query.where(
                (group.is_(None) | ~earlier_pending) if group.nullable else ~earlier_pending
            )
        if self._narrow is not None:
            query = self._narrow(query)
        query = query.order_by(*(getattr(model, name) for name in self._priority)).limit(limit)
        if dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=model)
        return query

    def lease(
        self,
        session: Session,
        rows: Sequence[RowT],
        *,
        owner: str,
        until: Sequence[datetime],
        **values: Sequence[Any],
    ) -> None:
        """Lease ``rows`` (from ``heads``) to ``owner``, each until its time, with the table's
        ``lease_values``; their attributes are set as written, and count the attempt."""
        if not rows:
            return
        params = [
            {
                "_key": self.key_of(row),
                "_owner": owner,
                "_until": row_until,
                **{"_" + name: values[name][index] for name in self._lease_values},
            }
            for index, (row, row_until) in enumerate(zip(rows, until, strict=True))
        ]
        session.connection().execute(self._lease, params)
        for index, leased in enumerate(rows):
            row: Any = leased  # every queue's table has these columns
            row.lease_owner, row.lease_until = owner, until[index]
            row.attempts += 1
            for name in self._lease_values:
                setattr(row, name, values[name][index])

    def claim(
        self, session: Session, *, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> Sequence[RowT]:
        """Lease the oldest due row of each chat not held by a live lease; commit after."""
        rows = self.heads(session, limit, {"now": now})
        self.lease(session, rows, owner=owner, until=[now + lease] * len(rows))
        return rows

    def renew(self, session: Session, *, owner: str, keys: Iterable[Any], until: datetime) -> int:
        """Extend ``owner``'s leases on these rows to ``until``, in one statement; return how
        many it still held."""
        wanted = sorted(keys)  # one order everywhere, so renewals cannot deadlock
        if not wanted:
            return 0
        result = session.connection().execute(
            self._renew, {"keys": wanted, "owner": owner, "until": until}
        )
        return int(result.rowcount)

    def retry(
        self, session: Session, key: Any, *, not_before: datetime, error: str, give_up: bool
    ) -> None:
        """Put a row back for ``not_before``, or give it up (``failed``), dropping its lease."""
        session.connection().execute(
            self._retry,
            {
                "_key": key,
                "_status": "failed" if give_up else PENDING,
                "_not_before": not_before,
                "_error": error[:300],
            },
        )

    def waiting_in(self, session: Session, chat_ids: Iterable[int | None]) -> bool:
        """Whether any of these chats has a row pending (behind the ones just finished)."""
        return any_pending_in(session.connection(), self.table, chat_ids)

    def pending_count(self, session: Session) -> int:
        """Rows not yet finished."""
        return int(session.connection().execute(self._count).scalar_one())

    def release_all(self, session: Session) -> int:
        """Drop every lease on pending rows; only for a process that knows it runs alone."""
        return int(session.connection().execute(self._release).rowcount)


def _before(older: Any, row: Any, columns: tuple[str, ...]) -> ColumnElement[bool]:
    """``older`` comes before ``row`` in the order of ``columns`` (lexicographic), written
    so that each column's index can be used."""
    mine: ColumnElement[Any] = getattr(older, columns[0])
    theirs: ColumnElement[Any] = getattr(row, columns[0])
    if len(columns) == 1:
        return mine < theirs
    return (mine <= theirs) & ((mine < theirs) | _before(older, row, columns[1:]))


class Held:
    """The rows of a queue an instance has claimed and not yet finished: what its heartbeat
    renews. A row whose outcome could not be written is dropped too, so that its lease ends."""

    def __init__(self, queue: LeasedQueue[Any], owner: str, lease: timedelta = LEASE) -> None:
        self.queue = queue
        self.owner = owner
        self.lease = lease
        self.keys: set[Any] = set()

    def add(self, rows: Iterable[Any]) -> None:
        """Rows just claimed."""
        self.keys.update(self.queue.key_of(row) for row in rows)

    def discard(self, rows: Iterable[Any]) -> None:
        """Rows finished (or given up to their lease's end)."""
        self.keys.difference_update(self.queue.key_of(row) for row in rows)

    def renew(self, session: Session, now: datetime) -> int:
        """Extend the leases still held to ``now`` plus a lease; commit after."""
        return self.queue.renew(session, owner=self.owner, keys=self.keys, until=now + self.lease)


async def heartbeat(beat: Callable[[], Awaitable[object]], every: float = HEARTBEAT) -> None:
    """Call ``beat`` every ``every`` seconds until cancelled; a failed beat waits for the next
    (the lease outlasts a few)."""
    while True:
        await asyncio.sleep(every)
        try:
            await beat()
        except Exception as exc:
            log.warning("renewing leases failed (%s); retrying", exc)
