"""SQLite housekeeping of the running bot."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.db import WAL_AUTOCHECKPOINT, checkpoint_wal, make_engine


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
