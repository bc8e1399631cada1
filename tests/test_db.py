"""SQLite housekeeping of the running bot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from bot.db import WAL_AUTOCHECKPOINT, checkpoint_wal, make_engine, upgrade
from bot.notices import Prerendered
from bot.notifier import Outgoing
from bot.outbox import enqueue


async def test_the_write_ahead_log_is_copied_into_the_database_off_the_event_loop(
    tmp_path: Path,
) -> None:
    database = tmp_path / "concierge.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE notes (body TEXT)"))
            connection.execute(
                text("INSERT INTO notes VALUES (:body)"), [{"body": "x" * 3000}] * 300
            )
        with engine.connect() as connection:  # far from the commits' own threshold
            frames = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert frames == WAL_AUTOCHECKPOINT
        assert database.stat().st_size < 300 * 3000  # the rows are only in the log so far

        await checkpoint_wal(engine, interval=0, rounds=1)

        assert database.stat().st_size >= 300 * 3000  # now they are in the database file
    finally:
        engine.dispose()


def test_times_are_stored_in_the_text_sqlite_databases_already_hold(tmp_path: Path) -> None:
    """SQLite compares stored times as text: the bot writes them exactly as it always has
    (microseconds included when there are none), so old and new rows still sort together."""
    engine = make_engine(f"sqlite:///{tmp_path / 'concierge.db'}")
    try:
        upgrade(engine)
        with Session(engine) as session:
            enqueue(
                session,
                [Outgoing(chat_id=7, notice=Prerendered("hello"))],
                datetime(2026, 11, 24, 7, 5, tzinfo=timezone(timedelta(hours=2))),
            )
            session.commit()
        with engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT not_before FROM outbox").scalar()
            earlier = connection.execute(
                text("SELECT count(*) FROM outbox WHERE not_before > :then"),
                {"then": "2026-11-24 05:04:59.999999"},
            ).scalar()
        assert stored == "2026-11-24 05:05:00.000000"  # in UTC, as SQLAlchemy's own format
        assert earlier == 1
    finally:
        engine.dispose()
