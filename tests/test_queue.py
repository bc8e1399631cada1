"""The leased queue under intake and outbox: claims in order per chat, leases, takeover, release.

Every test runs against both tables (stored updates and outgoing messages) through their own
modules' claims, on the suite's database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot import intake, outbox
from bot.clock import FakeClock
from bot.db import session_factory
from bot.notices import Prerendered
from bot.notifier import Outgoing
from bot.queue import HEARTBEAT, LEASE, Held, LeasedQueue
from tests.harness import NO_PACING
from tests.telegram_fakes import message_update


@dataclass(frozen=True)
class Table:
    """One queue's table, reached through its module: put a row, claim, read a row's text."""

    name: str
    queue: LeasedQueue[Any]
    put: Callable[[Session, int, str, datetime], None]
    claim: Callable[[Session, str, datetime, timedelta], Sequence[Any]]
    text: Callable[[Any], str]


def _store(session: Session, chat: int, text: str, now: datetime) -> None:
    intake.store(session, [message_update(chat, text)], now)


def _enqueue(session: Session, chat: int, text: str, now: datetime) -> None:
    outbox.enqueue(session, [Outgoing(chat, Prerendered(text))], now)


INTAKE = Table(
    "intake",
    intake.QUEUE,
    _store,
    lambda session, owner, now, lease: intake.claim(session, owner=owner, now=now, lease=lease),
    lambda row: str(row.payload["message"]["text"]),
)
OUTBOX = Table(
    "outbox",
    outbox.QUEUE,
    _enqueue,
    lambda session, owner, now, lease: (
        outbox.claim(session, owner=owner, now=now, rates=NO_PACING, lease=lease).rows
    ),
    lambda row: str(row.payload["notice"]["text"]),
)


@pytest.fixture(params=[INTAKE, OUTBOX], ids=lambda table: table.name)
def table(request: pytest.FixtureRequest) -> Table:
    return request.param  # type: ignore[no-any-return]


def put(engine: Engine, table: Table, clock: FakeClock, *rows: tuple[int, str]) -> None:
    with session_factory(engine)() as session:
        for chat, text in rows:
            table.put(session, chat, text, clock.now())
        session.commit()


def claim(
    engine: Engine, table: Table, owner: str, clock: FakeClock, lease: timedelta = LEASE
) -> list[tuple[int, str]]:
    """Claim as ``owner`` and commit; the chat and text of each row leased."""
    with session_factory(engine)() as session:
        rows = table.claim(session, owner, clock.now(), lease)
        session.commit()
    return [(row.chat_id, table.text(row)) for row in rows]


def claimed_rows(engine: Engine, table: Table, owner: str, clock: FakeClock) -> list[Any]:
    with session_factory(engine)() as session:
        rows = list(table.claim(session, owner, clock.now(), LEASE))
        session.commit()
    return rows


def finish(engine: Engine, table: Table, text: str) -> None:
    """Mark the row with ``text`` finished, as handling or sending it does."""
    with Session(engine) as session:
        for row in session.exec(select(table.queue.model)).all():
            if table.text(row) == text:
                row.status = "done" if table is INTAKE else "sent"
                row.lease_owner = row.lease_until = None
                session.add(row)
        session.commit()


def test_claims_keep_each_chat_in_order(engine: Engine, clock: FakeClock, table: Table) -> None:
    put(engine, table, clock, (1, "first"), (1, "second"), (2, "other chat"))

    assert claim(engine, table, "a", clock) == [(1, "first"), (2, "other chat")]
    assert claim(engine, table, "b", clock) == []  # chat 1's head is leased, chat 2 has no more
    finish(engine, table, "first")
    assert claim(engine, table, "b", clock) == [(1, "second")]


def test_an_expired_lease_is_taken_over(engine: Engine, clock: FakeClock, table: Table) -> None:
    put(engine, table, clock, (1, "hello"))
    assert claim(engine, table, "dead-instance", clock) == [(1, "hello")]
    clock.advance(LEASE.total_seconds() - 0.1)
    assert claim(engine, table, "survivor", clock) == []
    clock.advance(0.2)
    [row] = claimed_rows(engine, table, "survivor", clock)
    assert (row.lease_owner, row.attempts) == ("survivor", 2)  # both claims counted


def test_a_dead_instances_claims_are_taken_over_within_seconds(
    engine: Engine, clock: FakeClock, table: Table
) -> None:
    """A live instance's heartbeat keeps its rows; the dead one's go a lease after its death."""
    put(engine, table, clock, (1, "to the live one"))
    live = Held(table.queue, "live")
    live.add(claimed_rows(engine, table, "live", clock))
    put(engine, table, clock, (2, "to the dead one"))
    assert claim(engine, table, "dead", clock) == [(2, "to the dead one")]  # then it is killed
    lease = LEASE.total_seconds()
    assert lease <= 5 and lease >= 3 * HEARTBEAT  # a few seconds, several heartbeats long

    waited = 0.0
    taken: list[tuple[int, str]] = []
    while not taken:
        clock.advance(HEARTBEAT)
        waited += HEARTBEAT
        with session_factory(engine)() as session:
            assert live.renew(session, clock.now()) == 1  # one statement, the live row only
            session.commit()
        taken = claim(engine, table, "survivor", clock)

    assert taken == [(2, "to the dead one")]
    assert waited <= LEASE.total_seconds() + HEARTBEAT
    clock.advance(LEASE.total_seconds() - 0.1)  # the live instance's last renewal still holds
    assert claim(engine, table, "survivor", clock) == []


def test_renewal_leaves_rows_finished_or_taken_over_alone(
    engine: Engine, clock: FakeClock, table: Table
) -> None:
    put(engine, table, clock, (1, "finished"), (2, "taken over"), (3, "still mine"))
    slow = Held(table.queue, "slow")
    slow.add(claimed_rows(engine, table, "slow", clock))
    finish(engine, table, "finished")
    clock.advance(LEASE.total_seconds() + 1)  # the slow instance missed its heartbeats
    assert [text for _chat, text in claim(engine, table, "other", clock)] == [
        "taken over",
        "still mine",
    ]
    finish(engine, table, "still mine")

    with session_factory(engine)() as session:
        assert slow.renew(session, clock.now()) == 0
        session.commit()
    with Session(engine) as session:
        owners = {
            table.text(row): row.lease_owner for row in session.exec(select(table.queue.model))
        }
    assert owners == {"finished": None, "taken over": "other", "still mine": None}


def test_a_lone_instance_releases_the_leases_of_its_killed_predecessor(
    engine: Engine, clock: FakeClock, table: Table
) -> None:
    put(engine, table, clock, (1, "hello"))
    assert len(claim(engine, table, "killed", clock)) == 1
    with session_factory(engine)() as session:
        assert table.queue.release_all(session) == 1
        session.commit()
    assert claim(engine, table, "new", clock) == [(1, "hello")]


def test_a_retry_waits_for_its_time_and_a_given_up_row_for_nothing(
    engine: Engine, clock: FakeClock, table: Table
) -> None:
    put(engine, table, clock, (1, "again"), (2, "never"))
    rows = {table.text(row): row for row in claimed_rows(engine, table, "a", clock)}
    with session_factory(engine)() as session:
        queue = table.queue
        later = clock.now() + timedelta(seconds=10)
        queue.retry(
            session, queue.key_of(rows["again"]), not_before=later, error="x", give_up=False
        )
        queue.retry(session, queue.key_of(rows["never"]), not_before=later, error="x", give_up=True)
        session.commit()
    assert claim(engine, table, "a", clock) == []
    clock.advance(10)
    assert claim(engine, table, "a", clock) == [(1, "again")]
    with session_factory(engine)() as session:
        assert table.queue.pending_count(session) == 1
