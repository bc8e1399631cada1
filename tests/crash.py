"""Crash test: the real bot is killed with SIGKILL at random moments while people use it.

Run it as ``python -m tests.crash [--kills N] [--instances 1|2] [--database-url URL] [--seed S]``.

The bot runs as ``python -m bot run`` against the local fake Bot API (``tests/fakebotapi.py``):
with one instance by long polling (a fresh SQLite file by default), with two instances in webhook
mode behind the fake's round-robin load balancer (PostgreSQL only). Housekeeping staff go on
duty, guests send requests, and simulated people react to what the bot shows them: both staff
press every Accept button they get (a race that exactly one must win), the winner presses Done,
and guests answer each follow-up (some with *No*, which reopens the request) and sometimes rate.
Meanwhile the bot (one of the two instances) is killed and restarted, again and again. After the
last kill the system is left to settle until every request is closed, then stopped with SIGTERM.

The database and the fake's record of every Bot API call are then checked against the bot's
durability claims: no request lost (each guest message became exactly one request and was
acknowledged), no follow-up lost, no request accepted twice in one round, at most one duplicate
guest-visible message per kill, every update stored and handled, no outbox row left behind, and
no message refused for Telegram's flood limits, which the fake enforces (``RateLimits``).
A summary table is printed; the exit code is 0 only if every check passed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.db import make_engine
from bot.models import (
    Event,
    EventKind,
    FollowUp,
    FollowUpStatus,
    Guest,
    InboundStatus,
    InboundUpdate,
    Offer,
    OutboxMessage,
    OutboxStatus,
    Request,
    RequestStatus,
    as_utc,
)
from tests.command import staff_add
from tests.conftest import TEST_HOTEL, reset_database
from tests.fakebotapi import Call, FakeBotAPI, FakeBotAPIThread, RateLimits

JSONDict = dict[str, Any]

STAFF_LANGUAGE = "en"
WEBHOOK_PATH = "/telegram"
WEBHOOK_SECRET = "crash-test-secret-0123456789"
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "sendvoice", "senddocument", "sendlocation"})
SHOW_METHODS = SEND_METHODS | {"editmessagetext", "editmessagecaption"}
ROUND_SEPARATORS = frozenset({EventKind.REOPENED.value, EventKind.RELEASED.value})

ACCEPT_DATA = re.compile(r"^acc:(\d+)(?::|$)")
DONE_DATA = re.compile(r"^done:(\d+)(?::|$)")
FOLLOWUP_DATA = re.compile(r"^fu:(\d+):([yn])(?::|$)")
RATE_DATA = re.compile(r"^rate:(\d+):([1-5])(?::|$)")
CARD_NUMBER = re.compile(r"Request #(\d+) ·")
ACK_TEXT = re.compile(r"^Request #(\d+) received")
ACCEPTED_TEXT = re.compile(r"^(?P<name>.+) from .+ has accepted request #(?P<number>\d+)\.$")
DONE_TEXT = re.compile(r"^Request #(?P<number>\d+) is done\.")
QUESTION_TEXT = re.compile(r"Is everything all right with request #(\d+)")
ACCEPTED_BY_YOU = "Accepted by you"
SLOW_ACK = 5.0  # seconds; the README promises an acknowledgement "at once"


@dataclass(frozen=True)
class Person:
    """A simulated Telegram user."""

    telegram_id: int
    name: str
    department: str = ""
    supervisor: bool = False


HOUSEKEEPING = (
    Person(8101, "Maria", "housekeeping"),
    Person(8102, "Luca", "housekeeping"),
)
SUPERVISOR = Person(8109, "Sofia", "front_desk", supervisor=True)


@dataclass
class Options:
    """What one crash run does."""

    kills: int = 20
    instances: int = 1
    database_url: str | None = None
    seed: int = 1
    guests: int = 8
    requests_per_guest: int = 3
    no_share: float = 0.25  # share of first follow-ups answered with No
    rate_share: float = 0.5  # share of rating questions answered
    kill_gap: tuple[float, float] = (1.0, 4.5)  # seconds between kills
    downtime: tuple[float, float] = (0.0, 0.4)  # seconds a killed instance stays down
    race_wait: float = 1.5  # how long the first staff waits for the other card to arrive
    settle_timeout: float = 120.0
    workdir: Path | None = None
    reset: bool = True
    keep_workdir: bool = False
    verbose: bool = False
    rate_limits: bool = True  # the fake enforces Telegram's flood limits (429 beyond them)


@dataclass(frozen=True)
class Check:
    """One line of the summary table."""

    name: str
    value: int
    limit: int | None  # None: informational, never fails
    evidence: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the value is within the limit."""
        return self.limit is None or self.value <= self.limit


@dataclass
class Report:
    """The outcome of a run: checks, figures and where the logs are."""

    checks: list[Check]
    figures: dict[str, str]
    workdir: Path
    logs: list[Path]

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)

    def render(self) -> str:
        """The summary table, the figures and the evidence of every failure."""
        width = max(len(check.name) for check in self.checks)
        lines = [f"{'check':<{width}}  {'value':>7}  {'limit':>7}  result"]
        lines.append("-" * len(lines[0]))
        for check in self.checks:
            limit = "-" if check.limit is None else str(check.limit)
            result = "info" if check.limit is None else ("PASS" if check.ok else "FAIL")
            lines.append(f"{check.name:<{width}}  {check.value:>7}  {limit:>7}  {result}")
        lines.append("")
        lines += [f"{key}: {value}" for key, value in self.figures.items()]
        for check in self.checks:
            if check.evidence and (not check.ok or check.limit is None):
                lines.append("")
                lines.append(f"== {check.name} ({'FAIL' if not check.ok else 'info'})")
                lines += [f"  {line}" for line in check.evidence[:60]]
                if len(check.evidence) > 60:
                    lines.append(f"  … {len(check.evidence) - 60} more")
        lines.append("")
        lines.append(f"bot logs: {self.workdir}")
        lines.append("RESULT: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines)


def hotel_config(path: Path) -> Path:
    """The test hotel with follow-ups one second after done, a one-second sweep, no expiry,
    and no threads windows (every message a guest sends is a request the checks count)."""
    text = TEST_HOTEL.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^followup_delay = \d+$", "followup_delay = 1", text)
    text = re.sub(r"(?m)^sweep_interval = \d+$", "sweep_interval = 1", text)
    text = re.sub(r"(?m)^followup_answer_timeout = \d+$", "followup_answer_timeout = 2592000", text)
    if "followup_delay = 1" not in text or "sweep_interval = 1" not in text:
        raise RuntimeError(f"{TEST_HOTEL} no longer has the timings the crash test shortens")
    path.write_text(text + "\n[limits]\nburst_seconds = 0\nexplain_minutes = 0\n", encoding="utf-8")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    """One slot of ``python -m bot run``: started, killed and restarted, each life logged."""

    def __init__(self, slot: int, env: dict[str, str], workdir: Path, port: int | None) -> None:
        self.slot = slot
        self.port = port
        self._env = dict(env)
        if port is not None:
            self._env.update(
                WEBHOOK_URL="http://lb.invalid" + WEBHOOK_PATH,
                WEBHOOK_SECRET=WEBHOOK_SECRET,
                WEBHOOK_LISTEN=f"127.0.0.1:{port}",
            )
        self._workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None
        self.logs: list[Path] = []
        self.started_at = 0.0
        self.unexpected_exits: list[str] = []

    @property
    def target(self) -> str:
        """The URL the load balancer delivers to (webhook mode)."""
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def start(self) -> None:
        """Start a new life of this slot."""
        path = self._workdir / f"bot{self.slot}-{len(self.logs) + 1:02d}.log"
        self.logs.append(path)
        self._log = path.open("w", encoding="utf-8")
        command = [sys.executable, "-m", "bot", "run"]
        if self.port is not None:
            command.append("--webhook")
        self.process = subprocess.Popen(
            command, cwd=self._workdir, env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        """Whether the current life is still running."""
        return self.process is not None and self.process.poll() is None

    def check_exit(self) -> bool:
        """Note and restart a life that ended on its own; True if it had ended."""
        if self.process is None or self.process.poll() is None:
            return False
        self.unexpected_exits.append(
            f"bot slot {self.slot} life {len(self.logs)} exited by itself with code "
            f"{self.process.returncode} (log {self.logs[-1]})"
        )
        self._close_log()
        self.start()
        return True

    def kill(self) -> float:
        """SIGKILL the current life; returns how long it had run."""
        assert self.process is not None
        uptime = time.monotonic() - self.started_at
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close_log()
        return uptime

    def terminate(self) -> int | None:
        """SIGTERM the current life as a service manager would; its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            code = None
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def buttons_of(message: JSONDict) -> list[str]:
    """Callback data of the inline buttons on a message (as the fake shows it)."""
    markup = message.get("reply_markup") or {}
    rows = (markup.get("inline_keyboard") or []) if isinstance(markup, dict) else []
    return [str(b["callback_data"]) for row in rows for b in row if "callback_data" in b]


@dataclass(frozen=True)
class Shown:
    """A message the bot sent, or the new state of one it edited, as recorded by the fake."""

    index: int
    method: str
    chat_id: int
    message_id: int
    text: str
    buttons: tuple[str, ...]

    @property
    def sent(self) -> bool:
        """A new message (not an edit)."""
        return self.method in SEND_METHODS


def shown_messages(calls: Sequence[Call]) -> list[Shown]:
    """Every successful send and edit, in the order the fake answered them."""
    shown: list[Shown] = []
    for call in calls:
        method = call.method.replace("_", "").lower()
        if method not in SHOW_METHODS or not call.ok or not isinstance(call.result, dict):
            continue
        message = call.result
        if "message_id" not in message:
            continue
        if "reply_markup" not in message and isinstance(call.params.get("reply_markup"), dict):
            message = {**message, "reply_markup": call.params["reply_markup"]}
        shown.append(
            Shown(
                index=call.index,
                method=method,
                chat_id=int(message["chat"]["id"]),
                message_id=int(message["message_id"]),
                text=str(message.get("text") or message.get("caption") or ""),
                buttons=tuple(buttons_of(message)),
            )
        )
    return shown


@dataclass(frozen=True)
class Sent:
    """A request a guest sent: its text, its update and when it was pushed."""

    guest: Person
    text: str
    update_id: int
    at: float


@dataclass
class Kill:
    """One SIGKILL of the run."""

    at: float
    slot: int
    uptime: float
    pid: int


class People:
    """The simulated guests and staff: they read what the fake shows them and press buttons."""

    def __init__(self, fake: FakeBotAPIThread, rng: random.Random, options: Options) -> None:
        self.fake = fake
        self.rng = rng
        self.options = options
        self.staff = list(HOUSEKEEPING)
        self.guests = [Person(9001 + n, f"Guest{n + 1}") for n in range(options.guests)]
        self.pressed: set[tuple[int, int, str]] = set()
        self.first_seen: dict[tuple[int, int, str], float] = {}
        self.said_no: set[int] = set()
        self.update_ids: list[int] = []
        self.requests: list[Sent] = []
        self.presses: Counter[str] = Counter()

    def say(self, person: Person, text: str) -> int:
        """``person`` writes ``text`` to the bot; the update's id."""
        update = self.fake.user_message(
            person.telegram_id, text, first_name=person.name, language_code=STAFF_LANGUAGE
        )
        update_id = int(update["update_id"])
        self.update_ids.append(update_id)
        return update_id

    def request(self, guest: Person, text: str) -> None:
        """A guest asks for something."""
        at = time.monotonic()
        self.requests.append(Sent(guest, text, self.say(guest, text), at))

    def _press(self, person: Person, message: JSONDict, data: str, kind: str) -> bool:
        self.pressed.add((person.telegram_id, int(message["message_id"]), data))
        try:
            update = self.fake.callback(
                person.telegram_id,
                message,
                data,
                language_code=STAFF_LANGUAGE,
                first_name=person.name,
            )
        except LookupError:  # the message was edited meanwhile and the button is gone
            return False
        self.update_ids.append(int(update["update_id"]))
        self.presses[kind] += 1
        return True

    def react(self, now: float) -> int:
        """Press every button a person would press now; returns how many were pressed."""
        pressed = 0
        race: dict[int, list[tuple[Person, JSONDict, str]]] = defaultdict(list)
        for member in self.staff:
            for message in self.fake.messages_to(member.telegram_id):
                for data in buttons_of(message):
                    key = (member.telegram_id, int(message["message_id"]), data)
                    if key in self.pressed:
                        continue
                    if match := ACCEPT_DATA.match(data):
                        self.first_seen.setdefault(key, now)
                        race[int(match.group(1))].append((member, message, data))
                    elif DONE_DATA.match(data):
                        pressed += self._press(member, message, data, "done")
        for candidates in race.values():
            holders = {member.telegram_id for member, _m, _d in candidates}
            oldest = min(
                self.first_seen[(member.telegram_id, int(message["message_id"]), data)]
                for member, message, data in candidates
            )
            if len(holders) < len(self.staff) and now - oldest < self.options.race_wait:
                continue
            self.rng.shuffle(candidates)
            for member, message, data in candidates:  # back to back: a race
                pressed += self._press(member, message, data, "accept")
        for guest in self.guests:
            for message in self.fake.messages_to(guest.telegram_id):
                pressed += self._answer(guest, message)
        return pressed

    def _answer(self, guest: Person, message: JSONDict) -> int:
        datas = buttons_of(message)
        key_of = {data: (guest.telegram_id, int(message["message_id"]), data) for data in datas}
        if any(key in self.pressed for key in key_of.values()):
            return 0
        answers = {m.group(2): data for data in datas if (m := FOLLOWUP_DATA.match(data))}
        if "y" in answers:
            number = QUESTION_TEXT.search(str(message.get("text") or ""))
            request = int(number.group(1)) if number else 0
            answer = "y"
            if (
                "n" in answers
                and request not in self.said_no
                and self.rng.random() < self.options.no_share
            ):
                answer = "n"
                self.said_no.add(request)
            for key in key_of.values():
                self.pressed.add(key)
            return int(
                self._press(guest, message, answers[answer], "yes" if answer == "y" else "no")
            )
        ratings = [data for data in datas if RATE_DATA.match(data)]
        if ratings:
            for key in key_of.values():
                self.pressed.add(key)
            if self.rng.random() < self.options.rate_share:
                return int(self._press(guest, message, self.rng.choice(ratings), "rating"))
        return 0


@dataclass
class Snapshot:
    """What the database holds at the end."""

    requests: list[Request]
    events: list[Event]
    followups: list[FollowUp]
    offers: list[Offer]
    guests: list[Guest]
    inbound: dict[int, InboundUpdate]
    outbox: Counter[str]
    outbox_failed: list[str]


def snapshot(engine: Engine) -> Snapshot:
    """Read everything the checks need."""
    with Session(engine) as session:
        failed = session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.status).in_(
                    [OutboxStatus.FAILED.value, OutboxStatus.PENDING.value]
                )
            )
        ).all()
        outbox = Counter(
            {
                str(status): int(count)
                for status, count in session.exec(
                    select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
                ).all()
            }
        )
        return Snapshot(
            requests=list(session.exec(select(Request).order_by(col(Request.id)))),
            events=list(session.exec(select(Event).order_by(col(Event.id)))),
            followups=list(session.exec(select(FollowUp).order_by(col(FollowUp.id)))),
            offers=list(session.exec(select(Offer).order_by(col(Offer.id)))),
            guests=list(session.exec(select(Guest))),
            inbound={row.update_id: row for row in session.exec(select(InboundUpdate))},
            outbox=outbox,
            outbox_failed=[
                f"outbox #{row.id} chat {row.chat_id} {row.status} attempts={row.attempts} "
                f"lease={row.lease_owner} until {row.lease_until}: {row.last_error} "
                f"{str(row.payload.get('notice') or row.payload.get('text', ''))[:80]!r}"
                for row in failed
            ],
        )


def settled(engine: Engine, fake: FakeBotAPIThread, expected_requests: int) -> bool:
    """Every update handled, every message delivered and every request closed."""
    if fake.pending_updates():  # first: an update leaves the fake only once it is stored
        return False
    with Session(engine) as session:
        inbound = session.exec(
            select(func.count())
            .select_from(InboundUpdate)
            .where(InboundUpdate.status == InboundStatus.PENDING)
        ).one()
        if inbound:
            return False
        outbox = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
        ).one()
        if outbox:
            return False
        statuses = session.exec(select(Request.status)).all()
        if len(statuses) < expected_requests:
            return False
        if any(status != RequestStatus.CLOSED for status in statuses):
            return False
        waiting = session.exec(
            select(func.count())
            .select_from(FollowUp)
            .where(
                col(FollowUp.status).in_([FollowUpStatus.PENDING.value, FollowUpStatus.SENT.value])
            )
        ).one()
        return not waiting


def transcript(shown: Sequence[Shown], chat_id: int, number: int | None = None) -> list[str]:
    """What a chat saw, optionally only the lines about request ``number``."""
    lines = []
    for item in shown:
        if item.chat_id != chat_id:
            continue
        if number is not None and not re.search(rf"#{number}\b", item.text):
            continue
        text = item.text.replace("\n", " | ")[:110]
        buttons = f" {list(item.buttons)}" if item.buttons else ""
        lines.append(f"    call #{item.index} {item.method} msg {item.message_id}: {text}{buttons}")
    return lines


def timeline(events: Sequence[Event], request_id: int) -> list[str]:
    """A request's events, one per line."""
    return [
        f"    event #{e.id} {e.at:%H:%M:%S.%f} {e.kind} {e.actor_kind} {e.actor_name} {e.details}"
        for e in events
        if e.request_id == request_id
    ]


class Analysis:
    """The checks, computed from the database and the fake's record of calls."""

    def __init__(self, people: People, data: Snapshot, calls: Sequence[Call]) -> None:
        self.people = people
        self.data = data
        self.calls = calls
        self.shown = shown_messages(calls)
        self.guest_chats = {
            guest.chat_id: guest for guest in data.guests if guest.telegram_id >= 9001
        }
        self.staff_chats = {member.telegram_id for member in people.staff}
        self.events_of: dict[int, list[Event]] = defaultdict(list)
        for event in data.events:
            self.events_of[event.request_id].append(event)
        self.requests = {request.id: request for request in data.requests}
        self.call_time = {call.index: call.time for call in calls}
        self.guest_of = {guest.id: guest for guest in data.guests}

    def _about(self, request_id: int, what: str) -> list[str]:
        request = self.requests.get(request_id)
        lines = [what]
        if request is not None:
            lines[0] += f" (status {request.status}, text {request.text!r})"
            guest = self.guest_of.get(request.guest_id)
            lines += timeline(self.data.events, request_id)
            if guest is not None:
                lines.append(f"    guest chat {guest.chat_id}:")
                lines += transcript(self.shown, guest.chat_id, request_id)
            for chat in sorted(self.staff_chats):
                lines.append(f"    staff chat {chat}:")
                lines += transcript(self.shown, chat, request_id)
        return lines

    def lost_requests(self) -> Check:
        """Each guest message became exactly one request, and the guest was told its number."""
        by_text: dict[str, list[Request]] = defaultdict(list)
        for request in self.data.requests:
            by_text[request.text].append(request)
        acked = {
            (item.chat_id, int(match.group(1)))
            for item in self.shown
            if item.sent and (match := ACK_TEXT.match(item.text))
        }
        lost = 0
        evidence: list[str] = []
        for sent in self.people.requests:
            guest, text = sent.guest, sent.text
            rows = by_text.get(text, [])
            if len(rows) != 1:
                lost += 1
                evidence.append(f"{text!r} from {guest.name} became {len(rows)} requests")
                for row in rows:
                    evidence += self._about(row.id or 0, f"  request #{row.id}")
                evidence += transcript(self.shown, guest.telegram_id)
                continue
            request = rows[0]
            if (guest.telegram_id, request.id) not in acked:
                lost += 1
                evidence += self._about(
                    request.id or 0, f"request #{request.id} ({text!r}) was never acknowledged"
                )
        return Check("lost requests", lost, 0, tuple(evidence))

    def unclosed_requests(self) -> Check:
        """Every request ended closed (the workload closes each one)."""
        open_ones = [r for r in self.data.requests if r.status != RequestStatus.CLOSED]
        evidence: list[str] = []
        for request in open_ones:
            evidence += self._about(request.id or 0, f"request #{request.id} is {request.status}")
        return Check("requests not closed at the end", len(open_ones), 0, tuple(evidence))

    def lost_followups(self) -> Check:
        """Each done round got its question delivered, the guest's answer, and a closed request."""
        questions = {
            int(match.group(1))
            for item in self.shown
            if item.sent and item.chat_id in self.guest_chats
            for data in item.buttons
            if (match := FOLLOWUP_DATA.match(data))
        }
        followups_of: dict[int, list[FollowUp]] = defaultdict(list)
        for followup in self.data.followups:
            followups_of[followup.request_id].append(followup)
        lost = 0
        evidence: list[str] = []
        for request in self.data.requests:
            assert request.id is not None
            done = sum(1 for e in self.events_of[request.id] if e.kind == EventKind.DONE)
            if not done:
                continue
            problems = []
            rows = followups_of[request.id]
            if len(rows) < done:
                problems.append(f"{done} done events but {len(rows)} follow-ups")
            for followup in rows:
                if followup.id not in questions:
                    problems.append(f"follow-up {followup.id} ({followup.status}) never shown")
                if followup.status != FollowUpStatus.ANSWERED:
                    problems.append(f"follow-up {followup.id} is {followup.status}")
            if request.status != RequestStatus.CLOSED and not problems:
                problems.append(f"done but {request.status}")
            if problems:
                lost += len(problems)
                evidence += self._about(request.id, f"request #{request.id}: {'; '.join(problems)}")
        return Check("lost follow-ups", lost, 0, tuple(evidence))

    def _round(self, request_id: int, at: datetime) -> int:
        return sum(
            1
            for e in self.events_of[request_id]
            if e.kind in ROUND_SEPARATORS and as_utc(e.at) <= as_utc(at)
        )

    def double_accepts(self) -> Check:
        """At most one accepted event per round, and one person shown "Accepted by you"."""
        violations = 0
        evidence: list[str] = []
        for request in self.data.requests:
            assert request.id is not None
            accepts: Counter[int] = Counter()
            current = 0
            for event in self.events_of[request.id]:
                if event.kind in ROUND_SEPARATORS:
                    current += 1
                elif event.kind == EventKind.ACCEPTED:
                    accepts[current] += 1
            for round_, count in accepts.items():
                if count > 1:
                    violations += 1
                    evidence += self._about(
                        request.id, f"request #{request.id} round {round_}: {count} accepted events"
                    )
        offer_of = {
            (offer.chat_id, offer.message_id): offer
            for offer in self.data.offers
            if offer.message_id is not None
        }
        shown_to: dict[tuple[int, int], set[int]] = defaultdict(set)
        unattributed: list[str] = []
        for item in self.shown:
            if item.chat_id not in self.staff_chats or ACCEPTED_BY_YOU not in item.text:
                continue
            match = CARD_NUMBER.search(item.text)
            offer = offer_of.get((item.chat_id, item.message_id))
            if match is None or offer is None:
                unattributed.append(
                    f"call #{item.index}: chat {item.chat_id} msg {item.message_id} "
                    f"{item.text[:60]!r} matches no offer"
                )
                continue
            number = int(match.group(1))
            shown_to[(number, self._round(number, offer.created_at))].add(item.chat_id)
        for (number, round_), chats in sorted(shown_to.items()):
            if len(chats) > 1:
                violations += 1
                evidence += self._about(
                    number,
                    f"request #{number} round {round_}: 'Accepted by you' shown to {sorted(chats)}",
                )
        if unattributed:
            violations += len(unattributed)
            evidence += ["'Accepted by you' cards that match no offer:", *unattributed]
        return Check("double accepts", violations, 0, tuple(evidence))

    def _allowed(self, text: str) -> int:
        """How often a guest may legitimately see ``text``: once, or once per round."""
        if match := ACCEPTED_TEXT.match(text):
            number, name = int(match.group("number")), match.group("name")
            return max(
                1,
                sum(
                    1
                    for e in self.events_of[number]
                    if e.kind == EventKind.ACCEPTED and e.actor_name == name
                ),
            )
        if match := DONE_TEXT.match(text):
            number = int(match.group("number"))
            return max(1, sum(1 for e in self.events_of[number] if e.kind == EventKind.DONE))
        return 1

    def duplicates(self, chats: set[int], guests: bool) -> Check:
        """Messages repeating an earlier one to the same chat (same text and buttons)."""
        counts: Counter[tuple[int, str, tuple[str, ...]]] = Counter()
        for item in self.shown:
            if item.sent and item.chat_id in chats:
                counts[(item.chat_id, item.text, item.buttons)] += 1
        total = 0
        evidence: list[str] = []
        for (chat, text, buttons), count in sorted(counts.items()):
            allowed = self._allowed(text) if guests else 1
            if count > allowed:
                total += count - allowed
                evidence.append(
                    f"chat {chat}: {count}x (allowed {allowed}) {text[:90]!r} {list(buttons)}"
                )
                evidence += [
                    line
                    for line in transcript(self.shown, chat)
                    if text.replace("\n", " | ")[:60] in line
                ]
        if guests:
            return Check(
                "guest-visible duplicates", total, self.people.options.kills, tuple(evidence)
            )
        return Check("staff-visible duplicates", total, None, tuple(evidence))

    def _ack_delays(self) -> list[tuple[float, Sent, int]]:
        """Seconds from each guest message to its acknowledgement, with the request number."""
        first_ack: dict[tuple[int, int], float] = {}
        for item in self.shown:
            if item.sent and (match := ACK_TEXT.match(item.text)):
                first_ack.setdefault(
                    (item.chat_id, int(match.group(1))), self.call_time[item.index]
                )
        number_of = {request.text: request.id for request in self.data.requests}
        delays = []
        for sent in self.people.requests:
            number = number_of.get(sent.text)
            at = first_ack.get((sent.guest.telegram_id, number or 0))
            if number is not None and at is not None:
                delays.append((at - sent.at, sent, number))
        return sorted(delays, key=lambda item: item[0])

    def ack_latency(self) -> str:
        """Median and worst time from a guest's message to "Request #N received"."""
        delays = self._ack_delays()
        if not delays:
            return "no acknowledgements"
        worst, sent, number = delays[-1]
        median = delays[len(delays) // 2][0]
        return (
            f"median {median:.2f} s, max {worst:.1f} s (request #{number}, update {sent.update_id})"
        )

    def flood_refusals(self, limited: bool) -> Check:
        """Messages Telegram's flood limits refused (429): the bot's pacing must prevent all."""
        shown = [c for c in self.calls if c.method.lower() in SHOW_METHODS]
        evidence = []
        for call in shown:
            if call.status != 429:
                continue
            chat = call.params.get("chat_id")
            before = [
                f"{c.time - call.time:+.2f}"
                for c in shown
                if c.params.get("chat_id") == chat and call.time - 3 < c.time < call.time
            ]
            evidence.append(
                f"{call.method} to chat {chat}: {call.description}; the chat's calls in the 3 s "
                f"before (s): {', '.join(before) or 'none'}"
            )
        return Check(
            "messages refused with 429 (flood limits)",
            len(evidence),
            0 if limited else None,
            tuple(evidence),
        )

    def slow_acks(self) -> Check:
        """Requests acknowledged more than ``SLOW_ACK`` seconds after the guest wrote."""
        slow = [item for item in self._ack_delays() if item[0] > SLOW_ACK]
        evidence = []
        for delay, sent, number in slow:
            row = self.data.inbound.get(sent.update_id)
            claims = (
                f"stored {row.received_at:%H:%M:%S.%f}, handled {row.handled_at:%H:%M:%S.%f}, "
                f"claimed {row.attempts}x"
                if row is not None and row.handled_at is not None
                else "no inbound row"
            )
            evidence.append(
                f"request #{number} ({sent.text!r}, update {sent.update_id}): acknowledged "
                f"after {delay:.1f} s; {claims}"
            )
        return Check(
            f"acknowledged more than {SLOW_ACK:.0f} s late", len(slow), None, tuple(evidence)
        )

    def updates(self) -> list[Check]:
        """Every update pushed was stored and handled; none failed."""
        missing = [u for u in self.people.update_ids if u not in self.data.inbound]
        failed = [
            self.data.inbound[u]
            for u in self.people.update_ids
            if u in self.data.inbound and self.data.inbound[u].status != InboundStatus.DONE
        ]
        pending = [row for row in self.data.inbound.values() if row.status != InboundStatus.DONE]
        reclaimed = sorted(
            (row for row in self.data.inbound.values() if row.attempts > 1),
            key=lambda row: row.update_id,
        )
        return [
            Check(
                "updates never stored",
                len(missing),
                0,
                tuple(f"update {u} is not in inbound_updates" for u in missing),
            ),
            Check(
                "updates left pending or failed",
                len(pending),
                0,
                tuple(
                    f"update {row.update_id} chat {row.chat_id} {row.status} "
                    f"attempts={row.attempts} lease={row.lease_owner} until {row.lease_until} "
                    f"error={row.last_error}"
                    for row in pending
                ),
            ),
            Check(
                "updates handled only after a dead claim's lease ended",
                len(reclaimed),
                None,
                tuple(
                    f"update {row.update_id} chat {row.chat_id}: claimed {row.attempts}x, stored "
                    f"{row.received_at:%H:%M:%S.%f}, handled {row.handled_at:%H:%M:%S.%f}"
                    for row in reclaimed
                    if row.handled_at is not None
                ),
            ),
            Check(
                "pushed updates not handled",
                len(failed),
                0,
                tuple(f"update {row.update_id}: {row.status}" for row in failed),
            ),
        ]

    def outbox(self) -> list[Check]:
        """No outbox row left pending or given up."""
        counts = self.data.outbox
        return [
            Check(
                "outbox rows left pending",
                counts.get(OutboxStatus.PENDING.value, 0),
                0,
                tuple(line for line in self.data.outbox_failed if " pending " in line),
            ),
            Check(
                "outbox rows failed",
                counts.get(OutboxStatus.FAILED.value, 0),
                0,
                tuple(line for line in self.data.outbox_failed if " failed " in line),
            ),
            Check("outbox rows skipped (edit target gone)", counts.get("skipped", 0), None),
        ]


def log_problems(paths: Sequence[Path]) -> list[str]:
    """ERROR lines and tracebacks the bot logged."""
    lines: list[str] = []
    for path in paths:
        if not path.exists():
            continue
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        ):
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
                lines.append(f"{path.name}:{number}: {line[:200]}")
    return lines


@dataclass(frozen=True)
class Step:
    """Something scheduled during the chaos phase, ``at`` seconds after it began."""

    at: float
    kind: str  # "start", "request" or "kill"
    guest: Person | None = None
    text: str = ""


@contextlib.contextmanager
def quiet_fake_server() -> Iterator[None]:
    """Keep the fake's complaints about connections cut by SIGKILL out of the report."""
    logger = logging.getLogger("aiohttp.server")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class CrashRun:
    """Sets up the hotel, drives traffic and kills, waits for the dust to settle, checks."""

    def __init__(self, options: Options) -> None:
        if options.instances not in (1, 2):
            raise ValueError("--instances must be 1 or 2")
        url = options.database_url
        if options.instances == 2 and not (url or "").startswith(("postgresql", "postgres:")):
            raise ValueError("--instances 2 needs a PostgreSQL --database-url")
        self.options = options
        self.rng = random.Random(options.seed)
        self._own_workdir = options.workdir is None
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="concierge-crash-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = url or "sqlite:///{}".format(self.workdir / "crash.db")
        self.engine = make_engine(self.database_url)
        self.kills: list[Kill] = []
        self.bots: list[BotProcess] = []
        self.settled = False
        self.unexpected_exits = 0

    def say(self, text: str) -> None:
        """Progress, with ``--verbose``."""
        if self.options.verbose:
            print(text, flush=True)

    def _env(self, fake: FakeBotAPIThread, config: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "WEBHOOK_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_BASE_URL=fake.base_url,
            DATABASE_URL=self.database_url,
            CONCIERGE_CONFIG=str(config),
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        return env

    def _register_staff(self, env: dict[str, str]) -> None:
        """``concierge staff add`` for everyone, as the hotel's IT would (in parallel)."""
        commands: list[list[str]] = []
        for member in (*HOUSEKEEPING, SUPERVISOR):
            role = "supervisor" if member.supervisor else None
            commands.append(
                staff_add(
                    member.telegram_id,
                    member.name,
                    member.department,
                    role=role,
                    language=STAFF_LANGUAGE,
                )
            )
        running = [
            (
                args,
                subprocess.Popen(
                    [sys.executable, "-m", "bot", *args],
                    cwd=self.workdir,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for args in commands
        ]
        for args, process in running:
            _out, err = process.communicate(timeout=120)
            if process.returncode != 0:
                raise RuntimeError(f"concierge {' '.join(args)} failed: {err.strip()}")

    def _plan(self, people: People) -> list[Step]:
        """Kills at random gaps; each guest's /start first, then requests over the window."""
        low, high = self.options.kill_gap
        steps: list[Step] = []
        at = 0.0
        for _ in range(self.options.kills):
            at += self.rng.uniform(low, high)
            steps.append(Step(at, "kill"))
        window = max(at, 8.0)
        steps += [Step(0.0, "start", guest) for guest in people.guests]
        times = sorted(
            self.rng.uniform(0.5, window * 0.85)
            for _ in range(self.options.guests * self.options.requests_per_guest)
        )
        guests = [g for g in people.guests for _ in range(self.options.requests_per_guest)]
        self.rng.shuffle(guests)
        steps += [
            Step(when, "request", guest, f"towels please #{number}")
            for number, (when, guest) in enumerate(zip(times, guests, strict=True), 1)
        ]
        return sorted(steps, key=lambda step: (step.at, step.kind != "start"))

    def run(self) -> Report:
        """Do the whole run and check it."""
        started = time.monotonic()
        if self.options.reset:
            reset_database(self.engine)
        config = hotel_config(self.workdir / "hotel.toml")
        limits = RateLimits() if self.options.rate_limits else None
        with quiet_fake_server(), FakeBotAPIThread(FakeBotAPI(rate_limits=limits)) as fake:
            env = self._env(fake, config)
            self._register_staff(env)
            people = People(fake, self.rng, self.options)
            webhook = self.options.instances == 2
            for slot in range(self.options.instances):
                self.bots.append(
                    BotProcess(slot, env, self.workdir, free_port() if webhook else None)
                )
            if webhook:
                fake.set_webhook_targets([bot.target for bot in self.bots])
            for bot in self.bots:
                bot.start()
            try:
                figures = self._drive(fake, people)
            finally:
                exit_codes = [bot.terminate() for bot in self.bots]
            calls = fake.calls
            with (self.workdir / "fake-calls.jsonl").open("w", encoding="utf-8") as record:
                for call in calls:
                    record.write(json.dumps(call.to_json(), ensure_ascii=False, default=str) + "\n")
            pending_in_fake = len(fake.pending_updates())
        data = snapshot(self.engine)
        self.engine.dispose()
        report = self._check(people, data, calls, exit_codes, pending_in_fake, figures)
        report.figures["total time"] = f"{time.monotonic() - started:.1f} s"
        if report.ok and self._own_workdir and not self.options.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return report

    @staticmethod
    def _wait(fake: FakeBotAPIThread, seen: int, seconds: float) -> None:
        """Until the fake records another call, or ``seconds`` pass."""
        if seconds <= 0:
            return
        with contextlib.suppress(AssertionError):
            fake.wait_until(lambda: len(fake.fake.calls) != seen, timeout=seconds)

    def _on_duty(self, fake: FakeBotAPIThread, people: People) -> None:
        at = len(fake.calls)
        for member in (*HOUSEKEEPING, SUPERVISOR):
            people.say(member, "/duty on")
        deadline = time.monotonic() + 60
        for member in (*HOUSEKEEPING, SUPERVISOR):
            fake.wait_for_message(
                member.telegram_id,
                "You are on duty",
                timeout=max(1.0, deadline - time.monotonic()),
                since=at,
            )

    def _kill(self, now: float) -> int | None:
        """SIGKILL one running instance chosen at random; the slot to restart."""
        alive = [bot for bot in self.bots if bot.alive()]
        if not alive:
            return None
        bot = self.rng.choice(alive)
        assert bot.process is not None
        pid = bot.process.pid
        uptime = bot.kill()
        self.kills.append(Kill(now, bot.slot, uptime, pid))
        self.say(f"[{now:6.2f}s] SIGKILL slot {bot.slot} (pid {pid}) after {uptime:.2f}s")
        return bot.slot

    def _drive(self, fake: FakeBotAPIThread, people: People) -> dict[str, str]:
        options = self.options
        self._on_duty(fake, people)
        steps = self._plan(people)
        restarts: list[tuple[float, int]] = []
        chaos_start = time.monotonic()
        while steps or restarts:
            now = time.monotonic() - chaos_start
            while restarts and restarts[0][0] <= now:
                _at, slot = restarts.pop(0)
                self.bots[slot].start()
                self.say(f"[{now:6.2f}s] restarted slot {slot}")
            while steps and steps[0].at <= now:
                step = steps.pop(0)
                if step.kind == "kill":
                    killed = self._kill(now)
                    if killed is not None:
                        restarts.append((now + self.rng.uniform(*options.downtime), killed))
                        restarts.sort()
                elif step.kind == "start" and step.guest is not None:
                    people.say(step.guest, f"/start room-{100 + step.guest.telegram_id % 100}")
                elif step.guest is not None:
                    people.request(step.guest, step.text)
            down = {slot for _at, slot in restarts}
            for bot in self.bots:
                if bot.slot not in down:
                    self.unexpected_exits += bot.check_exit()
            seen = len(fake.fake.calls)
            people.react(time.monotonic())
            upcoming = min([s.at for s in steps[:1]] + [r[0] for r in restarts[:1]], default=0.0)
            self._wait(fake, seen, min(0.2, upcoming - (time.monotonic() - chaos_start)))
        chaos = time.monotonic() - chaos_start
        settle = self._settle(fake, people)
        return {
            "kills": f"{len(self.kills)} SIGKILL; {self._kill_summary()}",
            "instances": str(options.instances)
            + (" (webhook, round-robin balancer)" if options.instances == 2 else " (long polling)"),
            "database": self.engine.url.render_as_string(hide_password=True),
            "seed": str(options.seed),
            "traffic": (
                f"{options.guests} guests, {len(people.requests)} requests, "
                f"{len(people.update_ids)} updates pushed; presses: "
                + ", ".join(f"{k} {v}" for k, v in sorted(people.presses.items()))
            ),
            "phases": f"chaos {chaos:.1f} s, settle {settle:.1f} s"
            + ("" if self.settled else f" (NOT settled within {options.settle_timeout:.0f} s)"),
        }

    def _settle(self, fake: FakeBotAPIThread, people: People) -> float:
        """React until every request is closed and nothing is left to deliver, or time is up."""
        started = time.monotonic()
        deadline = started + self.options.settle_timeout
        next_check = 0.0
        while time.monotonic() < deadline:
            for bot in self.bots:
                self.unexpected_exits += bot.check_exit()
            seen = len(fake.fake.calls)
            pressed = people.react(time.monotonic())
            if not pressed and time.monotonic() >= next_check:
                next_check = time.monotonic() + 0.5
                if settled(self.engine, fake, len(people.requests)) and not people.react(
                    time.monotonic()
                ):
                    self.settled = True
                    break
            self._wait(fake, seen, 0.2)
        return time.monotonic() - started

    def _kill_summary(self) -> str:
        if not self.kills:
            return "none"
        uptimes = sorted(kill.uptime for kill in self.kills)
        per_slot = Counter(kill.slot for kill in self.kills)
        return "uptime before the kill min {:.2f} s, median {:.2f} s, max {:.2f} s; per slot {}".format(
            uptimes[0],
            uptimes[len(uptimes) // 2],
            uptimes[-1],
            ", ".join(f"#{slot}: {count}" for slot, count in sorted(per_slot.items())),
        )

    def _check(
        self,
        people: People,
        data: Snapshot,
        calls: Sequence[Call],
        exit_codes: Sequence[int | None],
        pending_in_fake: int,
        figures: dict[str, str],
    ) -> Report:
        analysis = Analysis(people, data, calls)
        logs = [path for bot in self.bots for path in bot.logs]
        exits = [line for bot in self.bots for line in bot.unexpected_exits]
        problems = log_problems(logs)
        guest_duplicates = analysis.duplicates(set(analysis.guest_chats), guests=True)
        checks = [
            Check(
                "not settled (requests open) at the timeout",
                0 if self.settled else 1,
                0,
                ()
                if self.settled
                else (f"not settled within {self.options.settle_timeout:.0f} s",),
            ),
            Check("requests sent by guests", len(people.requests), None),
            Check("request rows", len(data.requests), None),
            analysis.lost_requests(),
            analysis.unclosed_requests(),
            analysis.lost_followups(),
            analysis.double_accepts(),
            guest_duplicates,
            analysis.duplicates(analysis.staff_chats, guests=False),
            *analysis.updates(),
            Check("updates never confirmed to the fake", pending_in_fake, 0),
            *analysis.outbox(),
            analysis.slow_acks(),
            analysis.flood_refusals(self.options.rate_limits),
            Check("bot exits by themselves", len(exits), 0, tuple(exits)),
            Check(
                "non-zero exit codes after SIGTERM",
                sum(1 for code in exit_codes if code != 0),
                0,
                tuple(f"slot {n}: exit code {code}" for n, code in enumerate(exit_codes)),
            ),
            Check("ERROR lines in bot logs", len(problems), None, tuple(problems)),
        ]
        figures["requests"] = f"{len(people.requests)} sent, {len(data.requests)} stored"
        figures["guest-visible duplicates"] = (
            f"{guest_duplicates.value} (limit: the number of kills, {len(self.kills)})"
        )
        figures["acknowledgement latency"] = analysis.ack_latency()
        return Report(checks, figures, self.workdir, logs)


def run(options: Options) -> Report:
    """One crash run with ``options``."""
    return CrashRun(options).run()


def parse(argv: Sequence[str] | None = None) -> Options:
    """Options from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.crash", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs during the run (20)")
    parser.add_argument(
        "--instances",
        type=int,
        choices=(1, 2),
        default=1,
        help="1: long polling; 2: webhook behind a round-robin balancer (PostgreSQL only)",
    )
    parser.add_argument(
        "--database-url", help="database to use (its data is dropped); default a new SQLite file"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--guests", type=int, default=8, help="number of guests (8)")
    parser.add_argument(
        "--requests-per-guest", type=int, default=3, help="requests each guest sends (3)"
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=120.0,
        help="seconds to wait after the last kill for every request to close (120)",
    )
    parser.add_argument("--workdir", type=Path, help="where logs and the SQLite file go")
    parser.add_argument("--keep", action="store_true", help="keep the work directory on success")
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="let the fake accept any number of messages (by default it enforces Telegram's)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print kills as they happen")
    args = parser.parse_args(argv)
    return Options(
        kills=args.kills,
        instances=args.instances,
        database_url=args.database_url,
        seed=args.seed,
        guests=args.guests,
        requests_per_guest=args.requests_per_guest,
        settle_timeout=args.settle_timeout,
        workdir=args.workdir,
        keep_workdir=args.keep,
        verbose=args.verbose,
        rate_limits=not args.no_rate_limits,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the report, return the exit code."""
    options = parse(argv)
    try:
        report = run(options)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
