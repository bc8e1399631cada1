"""Bulk data for the benchmarks, written straight into the database before the bot starts.

Rows are streamed in chunks through the DB-API: ``executemany`` on SQLite, ``COPY`` on
PostgreSQL, so that a million requests take seconds rather than the hours the ORM would need.
Values are stored exactly as the bot's models store them (UTC times; naive
``YYYY-MM-DD HH:MM:SS.ffffff`` text on SQLite), and every column the benchmark does not set
gets the model's default, so a new column with a default does not break seeding.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import Table, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bot.models import (
    Event,
    EventKind,
    FollowUp,
    FollowUpStatus,
    Guest,
    Request,
    RequestStatus,
    Staff,
    Timer,
    TimerStatus,
    UTCDateTime,
)
from bot.services.followups import ASK, ask_key

CHUNK = 20_000
Row = dict[str, Any]


def _defaults(model: type[SQLModel]) -> Row:
    values: Row = {}
    for name, info in model.model_fields.items():
        if info.default is not PydanticUndefined:
            values[name] = info.default
        elif info.default_factory is not None:
            values[name] = info.default_factory()  # type: ignore[call-arg]
    return values


class Native:
    """Converts Python values to what the DB-API driver stores for the bot's column types."""

    def __init__(self, engine: Engine) -> None:
        self.postgres = engine.dialect.name == "postgresql"
        # The bot's own column type makes the value (naive UTC text on SQLite).
        time = UTCDateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect)
        assert time is not None  # the type converts every value
        self._time = time

    def time(self, value: datetime | None) -> Any:
        """A UTC time column, as the bot's models write it."""
        return value if value is None else self._time(value)

    def json(self, value: Any) -> str:
        """A JSON column."""
        return json.dumps(value)

    def flag(self, value: bool) -> Any:
        """A boolean column."""
        return value if self.postgres else int(value)

    def value(self, value: Any) -> Any:
        """Any value, by its Python type."""
        if isinstance(value, datetime):
            return self.time(value)
        if isinstance(value, dict | list):
            return self.json(value)
        if isinstance(value, bool):
            return self.flag(value)
        return value


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def insert_tuples(
    engine: Engine, model: type[SQLModel], names: list[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Insert rows already converted with :class:`Native`, in the order of ``names``."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    for column in table.columns:
        if column.name not in names and not column.nullable and not column.primary_key:
            raise ValueError(f"{table.name}.{column.name} needs a value")
    postgres = engine.dialect.name == "postgresql"
    columns = ", ".join(names)
    count = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for chunk in _chunks(rows, CHUNK):
            if postgres:
                with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                    for values in chunk:
                        copy.write_row(values)
            else:
                marks = ", ".join("?" for _ in names)
                cursor.executemany(f"INSERT INTO {table.name} ({columns}) VALUES ({marks})", chunk)
            count += len(chunk)
        raw.commit()
    finally:
        raw.close()
    if postgres and "id" in names:
        with engine.begin() as connection:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
                )
            )
    return count


def bulk_insert(engine: Engine, model: type[SQLModel], rows: Iterable[Row]) -> int:
    """Insert ``rows`` (column name → Python value) into ``model``'s table; returns how many.

    Columns a row leaves out get the model's default; every row must set the same columns.
    """
    table: Table = model.__table__  # type: ignore[attr-defined]
    defaults = _defaults(model)
    native = Native(engine)
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    names = [
        c.name
        for c in table.columns
        if c.name in first or (c.name in defaults and not c.primary_key)
    ]
    fill = {n: defaults.get(n) for n in names}

    def converted() -> Iterator[tuple[Any, ...]]:
        for row in itertools.chain([first], iterator):
            yield tuple(native.value(row[n] if n in row else fill[n]) for n in names)

    return insert_tuples(engine, model, names, converted())


def analyze(engine: Engine) -> None:
    """On PostgreSQL, refresh the planner's statistics after a bulk load, as autovacuum would
    soon do; SQLite has none unless ANALYZE is run, which the bot never does."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def guests(ids: Iterable[int], now: datetime, *, start_id: int = 1) -> Iterator[Row]:
    """Guests who already told their room (as after ``/start room-N``)."""
    for number, telegram_id in enumerate(ids, start=start_id):
        yield {
            "id": number,
            "telegram_id": telegram_id,
            "chat_id": telegram_id,
            "first_name": f"G{telegram_id}",
            "language": "en",
            "room": str(100 + number % 9000),
            "room_asked": True,
            "awaiting_room": False,
            "room_set_at": now,  # their stay started; its end is not seeded as a timer
            "created_at": now,
            "updated_at": now,
        }


def staff(
    members: Iterable[tuple[int, str, str]], now: datetime, *, on_duty: bool = True
) -> Iterator[Row]:
    """Staff rows from ``(telegram_id, name, department)``."""
    for telegram_id, name, department in members:
        yield {
            "telegram_id": telegram_id,
            "name": name,
            "department": department,
            "role": "staff",
            "language": "en",
            "on_duty": on_duty,
            "active": True,
            "created_at": now,
        }


def done_requests(
    count: int,
    *,
    guest_count: int,
    done_at: datetime,
    department: str = "housekeeping",
    status: str = RequestStatus.DONE,
    start_id: int = 1,
) -> Iterator[Row]:
    """Requests done at ``done_at``, round-robin over guests ``1 … guest_count``."""
    for offset in range(count):
        number = start_id + offset
        created = done_at - timedelta(minutes=20)
        yield {
            "id": number,
            "guest_id": 1 + offset % guest_count,
            "department": department,
            "status": status,
            "text": f"Two towels please (b{number})",
            "room": str(100 + offset % 9000),
            "language": "en",
            "routed_by": "keywords",
            "created_at": created,
            "updated_at": done_at,
            "accepted_at": created + timedelta(minutes=2),
            "done_at": done_at,
        }


def pending_followups(
    request_ids: Iterable[int], due: Iterable[datetime], now: datetime
) -> Iterator[Row]:
    """Pending follow-ups of the given requests, due at the given times."""
    for number, (request_id, due_at) in enumerate(zip(request_ids, due, strict=True), start=1):
        yield {
            "id": number,
            "request_id": request_id,
            "status": FollowUpStatus.PENDING,
            "due_at": due_at,
            "language": "en",
            "created_at": now,
        }


def question_timers(followups: Iterable[Row]) -> Iterator[Row]:
    """The ``followup.ask`` timers of pending follow-ups, as the bot schedules them."""
    for followup in followups:
        yield {
            "kind": ASK,
            "key": ask_key(followup["id"]),
            "due_at": followup["due_at"],
            "payload": {"followup": followup["id"]},
            "status": TimerStatus.PENDING,
            "attempts": 0,
            "created_at": followup["created_at"],
        }


def followups_due(
    engine: Engine, request_ids: Iterable[int], due: Iterable[datetime], now: datetime
) -> int:
    """Insert pending follow-ups of the given requests with their timers; returns how many."""
    rows = list(pending_followups(request_ids, due, now))
    bulk_insert(engine, FollowUp, rows)
    return bulk_insert(engine, Timer, question_timers(rows))


TIMELINE = (
    (EventKind.CREATED, "guest", 0),
    (EventKind.ROUTED, "system", 0),
    (EventKind.OFFERED, "system", 0),
    (EventKind.ACCEPTED, "staff", 2),
    (EventKind.DONE, "staff", 20),
    (EventKind.FOLLOWUP_SCHEDULED, "system", 20),
    (EventKind.FOLLOWUP_SENT, "system", 50),
    (EventKind.FOLLOWUP_ANSWERED, "guest", 60),
    (EventKind.CLOSED, "system", 60),
)


def _month_sql(postgres: bool) -> tuple[str, str, str]:
    """INSERT … SELECT statements generating requests, follow-ups and events in the database.

    Request ``g`` was created at ``:start + :step * g`` (Unix seconds); times are stored as
    the bot stores them (timestamptz on PostgreSQL, naive UTC text with microseconds on
    SQLite), event details as the services record them.
    """
    if postgres:
        numbers = "generate_series(1, :count) AS n(g)"
        prefix = ""

        def at(base: str, minutes: str) -> str:
            return f"to_timestamp(:start + :step * {base} + {minutes} * 60)"

        def iso(base: str, minutes: str) -> str:
            return (
                f"to_char({at(base, minutes)} AT TIME ZONE 'UTC', "
                '\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\')'
            )

        json_cast = "::json"
    else:
        prefix = "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < :count) "
        numbers = "n"

        def at(base: str, minutes: str) -> str:
            return (
                f"strftime('%Y-%m-%d %H:%M:%f', :start + :step * {base} + {minutes} * 60, "
                "'unixepoch') || '000'"
            )

        def iso(base: str, minutes: str) -> str:
            return (
                f"strftime('%Y-%m-%dT%H:%M:%f', :start + :step * {base} + {minutes} * 60, "
                "'unixepoch') || '+00:00'"
            )

        json_cast = ""
    requests = (
        f"{prefix}INSERT INTO requests (id, guest_id, department, status, text, room, language, "
        "routed_by, assignee_id, reopened_count, rating, created_at, updated_at, accepted_at, "
        "done_at, closed_at) "
        "SELECT g, 1 + g % :guests, 'housekeeping', 'closed', "
        "'Two towels please (b' || g || ')', CAST(100 + g % 9000 AS TEXT), 'en', 'keywords', "
        f":staff, 0, 1 + g % 5, {at('g', '0')}, {at('g', '60')}, {at('g', '2')}, "
        f"{at('g', '20')}, {at('g', '60')} FROM {numbers}"
    )
    followups = (
        f"{prefix}INSERT INTO followups (id, request_id, status, due_at, sent_at, expires_at, "
        "answer, answered_at, rating, language, created_at) "
        f"SELECT g, g, 'answered', {at('g', '50')}, {at('g', '50')}, {at('g', '1490')}, "
        f"CASE WHEN g % 10 = 0 THEN 'no' ELSE 'yes' END, {at('g', '60')}, 1 + g % 5, 'en', "
        f"{at('g', '20')} FROM {numbers}"
    )
    rows = ", ".join(
        f"({order}, '{kind.value}', '{actor}', {minutes})"
        for order, (kind, actor, minutes) in enumerate(TIMELINE)
    )
    details = (
        "CASE t.kind "
        'WHEN \'routed\' THEN \'{"department": "housekeeping", "by": "keywords"}\' '
        'WHEN \'offered\' THEN \'{"names": ["Maria"], "tier": "department"}\' '
        f"WHEN 'followup_scheduled' THEN '{{\"due_at\": \"' || {iso('r.id', '50')} || '\"}}' "
        "WHEN 'followup_answered' THEN CASE WHEN r.id % 10 = 0 THEN '{\"answer\": \"no\"}' "
        'ELSE \'{"answer": "yes"}\' END '
        "ELSE '{}' END"
    )
    events = (
        f"WITH t(ord, kind, actor, minutes) AS (VALUES {rows}) "
        "INSERT INTO events (request_id, kind, actor_kind, actor_id, actor_name, details, at) "
        "SELECT r.id, t.kind, t.actor, "
        "CASE t.actor WHEN 'staff' THEN :staff WHEN 'guest' THEN r.guest_id END, "
        "CASE t.actor WHEN 'staff' THEN 'Maria' WHEN 'guest' THEN 'G' || r.guest_id ELSE '' END, "
        f"({details}){json_cast}, {at('r.id', 't.minutes')} "
        "FROM requests r CROSS JOIN t ORDER BY r.id, t.ord"
    )
    return requests, followups, events


def month(
    engine: Engine,
    *,
    requests: int,
    guests_count: int,
    end: datetime,
    days: int = 30,
    staff_id: int = 1,
    events: bool = True,
) -> dict[str, int]:
    """A month of history before ``end``: ``requests`` closed requests spread evenly over
    ``days`` days, each with an answered follow-up and (with ``events``) its nine-event
    timeline: created, routed, offered, accepted, done, follow-up scheduled, sent and answered,
    closed. The rows are generated by the database itself. ``staff_id`` must exist.
    Returns the row counts."""
    postgres = engine.dialect.name == "postgresql"
    counts = {"guests": bulk_insert(engine, Guest, guests(range(1, guests_count + 1), end))}
    span = timedelta(days=days).total_seconds()
    params = {
        "count": requests,
        "guests": guests_count,
        "staff": staff_id,
        "start": end.timestamp() - span,
        "step": span / (requests + 1),
    }
    request_sql, followup_sql, event_sql = _month_sql(postgres)
    with engine.begin() as connection:
        connection.execute(text(request_sql), params)
        connection.execute(text(followup_sql), params)
        if events:
            connection.execute(text(event_sql), params)
        if postgres:
            for table in ("requests", "followups", "events"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
                )
        for table in ("requests", "followups", "events"):
            counts[table] = int(
                connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            )
    analyze(engine)
    return counts


__all__ = [
    "Event",
    "FollowUp",
    "Guest",
    "Request",
    "Staff",
    "analyze",
    "bulk_insert",
    "done_requests",
    "followups_due",
    "guests",
    "month",
    "pending_followups",
    "question_timers",
    "staff",
]
