"""The real ``concierge run`` process on a benchmark database, with its hotel and staff.

The bot is started exactly as the end-to-end tests start it: ``python -m bot run`` with
``TELEGRAM_BASE_URL``, ``TELEGRAM_BOT_TOKEN``, ``DATABASE_URL`` and ``CONCIERGE_CONFIG``; staff
are registered with ``python -m bot staff add`` and go on duty with ``/duty on``.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.fake import Fake, Sent
from bench.procs import PYTHON, BenchError, Child, Database, Workspace, base_env
from tests.command import staff_add

GUEST_BASE = 10_000_000  # guest i has Telegram id GUEST_BASE + i
STAFF_BASE = 9_000_000


@dataclass(frozen=True)
class Department:
    """A department of the benchmark hotel and the keyword that routes to it."""

    key: str
    name: str
    keyword: str


@dataclass(frozen=True)
class StaffMember:
    """Someone registered with ``concierge staff add``."""

    telegram_id: int
    name: str
    department: str
    role: str = "staff"


def hotel_toml(
    departments: list[Department],
    *,
    followup_delay: int = 1800,
    answer_timeout: int = 86400,
    sweep_interval: int = 60,
) -> str:
    """A hotel config with just ``departments`` (the first is the fallback), English only."""
    lines = [
        "[hotel]",
        'name = "Hotel Bench"',
        'timezone = "Europe/Rome"',
        'default_language = "en"',
        'languages = ["en"]',
        f'fallback_department = "{departments[0].key}"',
        "",
        "[timings]",
        f"followup_delay = {followup_delay}",
        f"followup_answer_timeout = {answer_timeout}",
        f"sweep_interval = {sweep_interval}",
        "",
        "[limits]",
        "guest_messages_per_minute = 20",
        # Every message a request of its own, as the scenarios count them (a guest's messages
        # seconds apart would otherwise join one request).
        "burst_seconds = 0",
    ]
    for department in departments:
        lines += [
            "",
            "[[departments]]",
            f'key = "{department.key}"',
            f'names = {{ en = "{department.name}" }}',
            f'keywords = {{ en = ["{department.keyword}"] }}',
        ]
    return "\n".join(lines) + "\n"


FRONT_DESK = Department("front_desk", "Front desk", "taxi")
HOUSEKEEPING = Department("housekeeping", "Housekeeping", "towel")
STANDARD_DEPARTMENTS = [FRONT_DESK, HOUSEKEEPING]
STANDARD_STAFF = [
    StaffMember(STAFF_BASE + 1, "Maria", "housekeeping"),
    StaffMember(STAFF_BASE + 2, "Luca", "housekeeping"),
]


def guest_id(index: int) -> int:
    """The Telegram id (and private chat id) of guest ``index``."""
    return GUEST_BASE + index


class Concierge:
    """One hotel on one database: config, staff, and the bot process when it runs."""

    def __init__(
        self,
        workspace: Workspace,
        database: Database,
        fake: Fake,
        *,
        departments: list[Department] | None = None,
        followup_delay: int = 1800,
        sweep_interval: int = 60,
        messages_per_second: float | None = None,
        log_level: str = "INFO",
    ) -> None:
        self.workspace = workspace
        self.database = database
        self.fake = fake
        self.departments = departments or STANDARD_DEPARTMENTS
        self.config = workspace.path("hotel.toml")
        self.config.write_text(
            hotel_toml(
                self.departments, followup_delay=followup_delay, sweep_interval=sweep_interval
            ),
            encoding="utf-8",
        )
        self.messages_per_second = messages_per_second
        self.log_level = log_level
        self.process: Child | None = None
        self.started_at = 0.0
        self.ready_at = 0.0

    def env(self) -> dict[str, str]:
        """The bot's environment."""
        env = base_env()
        env.update(
            TELEGRAM_BOT_TOKEN=self.fake.token,
            TELEGRAM_BASE_URL=self.fake.base_url,
            DATABASE_URL=self.database.url,
            CONCIERGE_CONFIG=str(self.config),
            LOG_LEVEL=self.log_level,
        )
        if self.messages_per_second is not None:
            env["TELEGRAM_MESSAGES_PER_SECOND"] = f"{self.messages_per_second:g}"
        return env

    def cli(self, *args: str) -> str:
        """Run ``python -m bot ARGS`` on this hotel's database; returns its output."""
        result = subprocess.run(
            [PYTHON, "-m", "bot", *args],
            env=self.env(),
            cwd=self.workspace.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"concierge {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def add_staff(self, members: list[StaffMember]) -> None:
        """Register staff with ``concierge staff add``."""
        for member in members:
            self.cli(
                *staff_add(member.telegram_id, member.name, member.department, role=member.role)
            )

    def start(self, *, timeout: float = 60) -> Child:
        """Start ``concierge run`` and wait until it polls; ``ready_at`` is when it asked
        Telegram to drop the webhook, right before polling starts."""
        if self.process is not None and self.process.alive():
            raise BenchError("the bot is already running")
        last_call = self.fake.tracker.last_call
        self.started_at = time.monotonic()
        self.process = self.workspace.spawn("concierge", [PYTHON, "-m", "bot", "run"], self.env())
        process = self.process
        deadline = self.started_at + timeout
        while last_call.get("deleteWebhook", 0.0) < self.started_at:
            process.check()
            if time.monotonic() > deadline:
                raise BenchError(f"the bot did not start in {timeout:.0f}s:\n{process.tail()}")
            time.sleep(0.005)
        self.ready_at = last_call["deleteWebhook"]
        self.fake.wait(self.fake.polling, timeout, "the bot to poll")
        return process

    def stop(self) -> int:
        """Stop the bot like a service manager (SIGTERM) and return its exit code."""
        if self.process is None:
            return 0
        return self.process.stop(timeout=30)

    def on_duty(self, members: list[StaffMember], timeout: float = 60) -> None:
        """Each member sends ``/duty on``; waits for every answer."""
        chats = {m.telegram_id for m in members}
        before = sum(1 for s in self.fake.tracker.snapshot() if s.chat_id in chats)
        for member in members:
            self.fake.message(member.telegram_id, "/duty on")

        def answered() -> bool:
            return sum(1 for s in self.fake.tracker.sent if s.chat_id in chats) >= before + len(
                chats
            )

        self.fake.wait(answered, timeout, "/duty on answers")

    def welcome_guests(self, count: int, *, start: int = 0, timeout: float = 300) -> None:
        """Guests ``start`` … ``start + count - 1`` send ``/start room-N``; waits for welcomes."""
        tracker = self.fake.tracker
        tracker.reset(classify=_welcome)
        for index in range(start, start + count):
            self.fake.message(guest_id(index), f"/start room-{index % 9000 + 100}")
        self.fake.wait(lambda: tracker.count("welcome") >= count, timeout, "guest welcomes")
        tracker.reset()

    def log_text(self) -> str:
        """What the bot logged so far."""
        if self.process is None or not Path(self.process.log).exists():
            return ""
        return self.process.log.read_text(encoding="utf-8", errors="replace")


def _welcome(sent: Sent) -> str | None:
    return "welcome" if sent.text.startswith("Welcome to") else None
