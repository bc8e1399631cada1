"""Processes and databases of a benchmark run, cleaned up whatever happens.

Every child process is started in its own session and registered with the :class:`Workspace`,
which stops (SIGTERM, then SIGKILL) whatever is still running and removes its temporary
directory when the run ends, fails or times out. Databases are the benchmark's own: a SQLite
file in the workspace, or a PostgreSQL database (``concierge_bench`` by default) dropped and
created again for every scenario.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import psycopg
from psycopg import sql
from sqlalchemy.engine import Engine, make_url

from bot.db import make_engine, normalize_url, upgrade

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TOKEN = "123456:TEST"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/concierge_bench"

DatabaseKind = Literal["sqlite", "postgresql"]


class BenchError(Exception):
    """A benchmark could not run (a process died, a wait timed out); the message says why."""


class Child:
    """A child process whose output goes to a log file."""

    def __init__(
        self,
        name: str,
        args: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log: Path,
    ) -> None:
        self.name = name
        self.log = log
        self._handle: IO[bytes] = log.open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env=dict(env),
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether it is still running."""
        return self.process.poll() is None

    def check(self) -> None:
        """Raise ``BenchError`` with the end of its log if it has exited."""
        code = self.process.poll()
        if code is not None:
            raise BenchError(f"{self.name} exited with code {code}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        """The last lines it logged."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def peak_rss(self) -> int | None:
        """Peak resident memory in bytes (``VmHWM``), while it runs."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text(encoding="ascii")
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if not self._handle.closed:
            self._handle.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the process group at once."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if not self._handle.closed:
            self._handle.close()


@dataclass
class Workspace:
    """A temporary directory and the child processes of one run."""

    keep: bool = False
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="concierge-bench-")))
    children: list[Child] = field(default_factory=list)
    _counter: int = 0

    def path(self, name: str) -> Path:
        """A fresh path in the workspace (a counter keeps names unique)."""
        self._counter += 1
        return self.root / f"{self._counter:03d}-{name}"

    def spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> Child:
        """Start a registered child process in the workspace."""
        child = Child(name, args, env=env, cwd=self.root, log=self.path(f"{name}.log"))
        self.children.append(child)
        return child

    def close(self) -> None:
        """Stop every child still running and remove the directory (unless ``keep``)."""
        for child in reversed(self.children):
            try:
                child.stop(timeout=5)
            except Exception:
                child.kill()
        self.children.clear()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def base_env() -> dict[str, str]:
    """The caller's environment without anything that would change the bot's settings."""
    skip = (
        "TEST_",
        "TELEGRAM_",
        "DATABASE_URL",
        "CONCIERGE_",
        "WEBHOOK_",
        "LOG_LEVEL",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@dataclass
class Database:
    """The benchmark's own database: a SQLite file, or a PostgreSQL database."""

    kind: DatabaseKind
    url: str

    @classmethod
    def sqlite(cls, workspace: Workspace) -> Database:
        """A SQLite file in the workspace."""
        return cls("sqlite", f"sqlite:///{workspace.root / 'bench.db'}")

    @classmethod
    def postgresql(cls, url: str = DEFAULT_POSTGRES_URL) -> Database:
        """The PostgreSQL database at ``url`` (dropped and created by :meth:`reset`)."""
        return cls("postgresql", normalize_url(url))

    @property
    def name(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.kind

    @property
    def database_name(self) -> str:
        """The database's name (PostgreSQL) or file name (SQLite)."""
        return make_url(self.url).database or ""

    def _pg_admin(self) -> tuple[str, str]:
        parsed = make_url(self.url)
        database = parsed.database or "concierge_bench"
        admin = parsed.set(drivername="postgresql", database="postgres")
        return admin.render_as_string(hide_password=False), database

    def reset(self) -> None:
        """Drop and create the database, then migrate it to the newest schema."""
        if self.kind == "sqlite":
            path = Path(make_url(self.url).database or "")
            for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
                with contextlib.suppress(FileNotFoundError):
                    path.with_name(path.name + suffix).unlink()
        else:
            admin, database = self._pg_admin()
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        with self.engine() as engine:
            upgrade(engine)

    def drop(self) -> None:
        """Remove the database for good (PostgreSQL; SQLite goes with the workspace)."""
        if self.kind != "postgresql":
            return
        admin, database = self._pg_admin()
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(admin, autocommit=True) as connection,
        ):
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )

    @contextlib.contextmanager
    def engine(self) -> Iterator[Engine]:
        """A SQLAlchemy engine configured as the bot configures its own."""
        engine = make_engine(self.url)
        try:
            yield engine
        finally:
            engine.dispose()

    def version(self) -> str:
        """The server or library version, for the report."""
        if self.kind == "sqlite":
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        admin, _ = self._pg_admin()
        with psycopg.connect(admin, autocommit=True) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"
