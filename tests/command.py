"""The ``concierge`` command line for the tests: its ``staff add`` arguments, and the command
run to its end as a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONCIERGE = [sys.executable, "-m", "bot"]


def staff_add(
    telegram_id: int,
    name: str,
    department: str,
    *,
    role: str | None = None,
    language: str | None = None,
) -> list[str]:
    """The arguments of ``concierge staff add``; role and language only when given."""
    args = ["staff", "add", "--telegram-id", str(telegram_id), "--name", name]
    args += ["--department", department]
    if role is not None:
        args += ["--role", role]
    if language is not None:
        args += ["--language", language]
    return args


def concierge(
    args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``concierge ARGS`` in ``cwd`` with exactly ``env`` and capture what it prints."""
    return subprocess.run(
        [*CONCIERGE, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
