"""Engine, sessions and schema migrations."""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import logging
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import IO, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Select, Table, bindparam, event, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]


class DatabaseError(Exception):
    """The database cannot be used; the message says why in one line."""


def normalize_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and foreign keys, PostgreSQL a short connect timeout."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError as exc:
        raise DatabaseError(f"DATABASE_URL is not a valid database URL: {url!r}") from exc
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        # A file connection cannot go stale, so no ping before each use.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    elif parsed.get_backend_name() == "postgresql":
        # A server restart leaves dead pooled connections: test each one as it is checked out.
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"DATABASE_URL cannot be used: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# Pages in the write-ahead log after which a committing connection copies them into the
# database itself, as part of its commit. The running bot checkpoints every second in a worker
# thread instead (``checkpoint_wal``), so this only applies to other processes (the CLI) and,
# as a backstop, to a bot whose worker fell behind: SQLite's default of 1,000 pages made every
# few hundredth commit of the bot's loop copy 4 MB.
WAL_AUTOCHECKPOINT = 10_000
CHECKPOINT_INTERVAL = 1.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    cursor.close()


async def checkpoint_wal(
    engine: Engine, interval: float = CHECKPOINT_INTERVAL, rounds: int | None = None
) -> None:
    """On SQLite, copy the write-ahead log into the database every ``interval`` seconds in a
    worker thread (SQLite works without Python's lock meanwhile), so that the commits of the
    event loop never do it; returns at once on other databases. Runs until cancelled (or for
    ``rounds`` checkpoints); a failed checkpoint is logged and tried again at the next one."""
    if engine.dialect.name != "sqlite":
        return
    for _round in itertools.count() if rounds is None else range(rounds):
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(_checkpoint, engine)
        except SQLAlchemyError as exc:
            log.warning("SQLite checkpoint failed (%s); trying again", exc.__class__.__name__)


def _checkpoint(engine: Engine) -> None:
    with engine.connect() as connection:
        # PASSIVE: copies what no reader still needs and never waits for a writer or reader.
        connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def session_factory(engine: Engine) -> SessionFactory:
    """A factory of sessions whose objects stay readable after commit."""

    def factory() -> Session:
        return Session(engine, expire_on_commit=False)

    return factory


def bookkeeping(session: Session) -> None:
    """Let this transaction's commit return before PostgreSQL has flushed it to disk.

    Only for what a crash of the database server may lose: leases (they expire) and delivery
    outcomes (the message is sent again). Nothing confirmed to Telegram or to a person is
    written this way. The database stays consistent either way; SQLite is unaffected.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("SET LOCAL synchronous_commit = off")


def any_pending_in(connection: Connection, table: Table, chat_ids: Iterable[int | None]) -> bool:
    """Whether ``table`` (stored updates or outgoing messages) has a pending row in any of
    these chats."""
    chats = sorted({chat_id for chat_id in chat_ids if chat_id is not None})
    if not chats:
        return False
    return connection.execute(_pending_in(table), {"chats": chats}).first() is not None


@cache
def _pending_in(table: Table) -> Select[Any]:
    return (
        select(table.c.chat_id)
        .where(table.c.status == "pending", table.c.chat_id.in_(bindparam("chats", expanding=True)))
        .limit(1)
    )


def lock_single_instance(engine: Engine) -> IO[str] | None:
    """On SQLite, hold an exclusive lock next to the database file for the process's lifetime.

    SQLite serves one instance: a second one on the same file is refused with ``DatabaseError``.
    Returns the open lock file (keep a reference), or None on other databases.
    """
    if (
        engine.dialect.name != "sqlite"
        or not engine.url.database
        or engine.url.database == ":memory:"
    ):
        return None
    path = Path(engine.url.database).resolve()
    handle = path.with_name(path.name + ".lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DatabaseError(
            f"another Concierge instance is already running on {path}; SQLite serves one "
            "instance (use PostgreSQL to run several)"
        ) from None
    return handle


def describe(engine: Engine) -> str:
    """The engine's URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


def check_connection(engine: Engine) -> None:
    """Raise ``DatabaseError`` with a one-line reason if the database cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseError(f"cannot reach the database at {describe(engine)}: {reason}") from exc


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Migrate the schema to the newest revision."""
    check_connection(engine)
    try:
        command.upgrade(alembic_config(engine), "head")
    except SQLAlchemyError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise DatabaseError(f"migrating {describe(engine)} failed: {reason}") from exc
