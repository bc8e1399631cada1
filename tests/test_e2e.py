"""End to end: the real ``concierge run`` process against the local fake Bot API.

Guest (German) → staff (Italian) → follow-up → supervisor (Russian), over HTTP, as a hotel
would see it; then a restart with an overdue follow-up, and a rejected token.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.i18n import I18n
from bot.models import FollowUp, FollowUpStatus, Timer
from bot.services.followups import ASK
from tests.command import CONCIERGE, concierge, staff_add
from tests.conftest import TEST_HOTEL
from tests.fakebotapi import FakeBotAPIThread

pytestmark = pytest.mark.e2e

GUEST, MARIA, SOFIA = 7001, 7101, 7109
I18N = I18n("en")
de = I18N.translator("de").gettext
it = I18N.translator("it").gettext
ru = I18N.translator("ru").gettext


@pytest.fixture
def fake() -> Iterator[FakeBotAPIThread]:
    with FakeBotAPIThread() as server:
        yield server


@pytest.fixture
def hotel_config(tmp_path: Path) -> Path:
    """The test hotel with a follow-up two seconds after done."""
    text = TEST_HOTEL.read_text(encoding="utf-8").replace(
        "followup_delay = 300", "followup_delay = 2"
    )
    path = tmp_path / "hotel.toml"
    path.write_text(text, encoding="utf-8")
    return path


class BotProcess:
    """``concierge run`` as a child process."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *, webhook: bool = False) -> None:
        self.log = tmp_path / f"bot-{datetime.now(UTC).timestamp()}.log"
        self._log_handle = self.log.open("w")
        self.process = subprocess.Popen(
            [*CONCIERGE, "run", *(["--webhook"] if webhook else [])],
            cwd=tmp_path,
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> int:
        """Stop it like a service manager would and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._log_handle.close()
        return code

    def output(self) -> str:
        """What it logged."""
        return self.log.read_text(encoding="utf-8")


def cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    result = concierge(args, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def bot_env(
    fake: FakeBotAPIThread, db_url: str, hotel_config: Path, engine: Engine
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_BASE_URL=fake.base_url,
        DATABASE_URL=db_url,
        CONCIERGE_CONFIG=str(hotel_config),
        LOG_LEVEL="INFO",
    )
    return env


def start(tmp_path: Path, env: dict[str, str], fake: FakeBotAPIThread) -> BotProcess:
    bot = BotProcess(tmp_path, env)
    try:
        fake.wait_until(lambda: fake.fake.polling > 0, timeout=30)
    except AssertionError:
        bot.stop()
        raise AssertionError("the bot did not start polling:\n" + bot.output()) from None
    return bot


def says(
    fake: FakeBotAPIThread, chat_id: int, expected: str, since: int, timeout: float = 15
) -> dict[str, Any]:
    return fake.wait_for_message(
        chat_id, lambda text: text == expected, timeout=timeout, since=since
    )


def starts(fake: FakeBotAPIThread, chat_id: int, prefix: str, since: int) -> dict[str, Any]:
    """The first message to ``chat_id`` after ``since`` that starts with ``prefix``."""
    return fake.wait_for_message(chat_id, lambda text: text.startswith(prefix), since=since)


def mark(fake: FakeBotAPIThread) -> int:
    return len(fake.calls)


def test_guest_staff_follow_up_and_supervisor_in_three_languages(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str]
) -> None:
    cli(staff_add(MARIA, "Maria", "housekeeping", language="it"), bot_env, tmp_path)
    cli(
        staff_add(SOFIA, "Sofia", "front_desk", role="supervisor", language="ru"),
        bot_env,
        tmp_path,
    )
    bot = start(tmp_path, bot_env, fake)
    try:
        at = mark(fake)
        fake.user_message(MARIA, "/duty on", first_name="Maria", language_code="it")
        says(fake, MARIA, it("You are on duty: new requests reach you here."), at)
        at = mark(fake)
        fake.user_message(SOFIA, "/duty on", first_name="Sofia", language_code="ru")
        says(fake, SOFIA, ru("You are on duty: new requests reach you here."), at)

        at = mark(fake)
        fake.user_message(GUEST, "/start room-412", first_name="Anna", language_code="de")
        welcome = starts(
            fake,
            GUEST,
            de("Welcome to {hotel}, {name}! I am the hotel's concierge.").format(
                hotel="Hotel Testa", name="Anna"
            ),
            at,
        )
        assert de("Your room: {room}.").format(room="412") in welcome["text"]

        at = mark(fake)
        fake.user_message(GUEST, "Zwei Handtücher bitte", first_name="Anna", language_code="de")
        says(
            fake,
            GUEST,
            de("Request #{number} received — {department} is on it.").format(
                number=1, department="Housekeeping"
            ),
            at,
        )
        card = fake.wait_for_message(MARIA, lambda t: "Zwei Handtücher bitte" in t, since=at)
        assert (
            it("Room {room} · guest speaks {language}").format(room="412", language="tedesco")
            in card["text"]
        )

        at = mark(fake)
        fake.press_button(MARIA, it("Accept"), language_code="it")
        says(
            fake,
            GUEST,
            de("{name} from {department} has accepted request #{number}.").format(
                name="Maria", department="Housekeeping", number=1
            ),
            at,
        )

        at = mark(fake)
        fake.press_button(MARIA, it("Done"), language_code="it")
        says(
            fake,
            GUEST,
            de(
                "Request #{number} is done. I will check with you a little later that everything is fine."
            ).format(number=1),
            at,
        )
        question = de(
            "Hello again! Is everything all right with request #{number} ({text})?"
        ).format(number=1, text="Zwei Handtücher bitte")
        says(fake, GUEST, question, at)

        at = mark(fake)
        fake.press_button(GUEST, de("No, not yet"), language_code="de")
        says(
            fake,
            GUEST,
            de(
                "I am sorry. Request #{number} is open again and back with {department} as a priority, and the duty manager has been told."
            ).format(number=1, department="Housekeeping")
            + "\n\n"
            + de("What is still wrong? Your next message goes with the request."),
            at,
        )
        alert = ru(
            "⚠️ The guest in room {room} says request #{number} ({department}) is not fixed. It has been reopened. Timeline: /log {number}"
        )
        says(fake, SOFIA, alert.format(room="412", number=1, department="Хаускипинг"), at)
        reopened = fake.wait_for_message(
            MARIA, lambda t: it("⚠️ REOPENED: the guest said it is not fixed yet.") in t, since=at
        )
        assert reopened["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith(
            "acc:1:"
        )

        at = mark(fake)
        fake.user_message(SOFIA, "/log 1", first_name="Sofia", language_code="ru")
        timeline = starts(
            fake,
            SOFIA,
            ru("Request #{number} · {department} · {status}").format(
                number=1, department="Хаускипинг", status=ru("waiting for staff")
            ),
            at,
        )
        assert ru("follow-up answered: not fixed") in timeline["text"]
        assert ru("accepted by {name}").format(name="Maria") in timeline["text"]
    finally:
        code = bot.stop()
    output = bot.output()
    assert code == 0, output
    assert "Traceback" not in output
    assert "Handtücher" not in output and "Anna" not in output  # guest data stays out of the log


def test_overdue_follow_up_is_sent_after_restart_once(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str], engine: Engine
) -> None:
    cli(staff_add(MARIA, "Maria", "housekeeping"), bot_env, tmp_path)
    slow = bot_env | {"CONCIERGE_CONFIG": str(TEST_HOTEL)}  # follow-up five minutes after done
    bot = start(tmp_path, slow, fake)
    try:
        at = mark(fake)
        fake.user_message(MARIA, "/duty on", first_name="Maria")
        fake.user_message(GUEST, "/start room-101", first_name="Anna")
        fake.user_message(GUEST, "clean the room please", first_name="Anna")
        fake.wait_for_message(MARIA, lambda t: "clean the room please" in t, since=at)
        fake.press_button(MARIA, "Accept")
        fake.wait_for_message(MARIA, lambda t: "Accepted by you" in t, since=at)
        fake.press_button(MARIA, "Done")
        fake.wait_for_message(GUEST, lambda t: t.startswith("Request #1 is done."), since=at)
    finally:
        assert bot.stop() == 0

    # While the bot is down, the follow-up falls due (an hour ago): its record and its timer.
    with Session(engine) as session:
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        session.execute(update(FollowUp).values(due_at=an_hour_ago))
        session.execute(update(Timer).where(col(Timer.kind) == ASK).values(due_at=an_hour_ago))
        session.commit()

    at = mark(fake)
    bot = start(tmp_path, slow, fake)
    try:
        says(
            fake,
            GUEST,
            "Hello again! Is everything all right with request #1 (clean the room please)?",
            at,
        )
        fake.wait_until(lambda: fake.fake.polling > 0)
    finally:
        assert bot.stop() == 0
    questions = [
        c
        for c in fake.calls[at:]
        if c.method == "sendMessage" and str(c.params.get("text", "")).startswith("Hello again!")
    ]
    assert len(questions) == 1
    with Session(engine) as session:
        followup = session.exec(select(FollowUp)).one()
        assert followup.status == FollowUpStatus.SENT


def test_rejected_token_is_a_one_line_error(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str]
) -> None:
    result = concierge(["run"], env=bot_env | {"TELEGRAM_BOT_TOKEN": "999:WRONG"}, cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == "error: Telegram rejected TELEGRAM_BOT_TOKEN; check the token from @BotFather"
    )
    assert "Traceback" not in result.stderr


def test_unreachable_telegram_is_a_one_line_error(tmp_path: Path, bot_env: dict[str, str]) -> None:
    result = concierge(
        ["run"],
        env=bot_env | {"TELEGRAM_BASE_URL": "http://127.0.0.1:9/bot"},
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 3
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: cannot reach the Telegram Bot API at http://127.0.0.1:9/bot")
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhook_mode_stores_and_answers(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str]
) -> None:
    port = free_port()
    env = bot_env | {
        "WEBHOOK_URL": "http://lb.invalid/telegram",
        "WEBHOOK_SECRET": "a-long-enough-secret-1234",
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
    }
    fake.set_webhook_targets([f"http://127.0.0.1:{port}/telegram"])
    bot = BotProcess(tmp_path, env, webhook=True)
    try:
        fake.wait_until(lambda: fake.fake.webhook_url == "http://lb.invalid/telegram", timeout=30)
        at = mark(fake)
        fake.user_message(GUEST, "towels please", first_name="Anna")
        says(
            fake,
            GUEST,
            "Request #1 received and saved. Nobody is on duty to take it at this moment; it goes to the first staff member who starts their shift, and I will tell you as soon as someone accepts it.",
            at,
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert json.load(response) == {"status": "ok"}
        forged = urllib.request.Request(
            f"http://127.0.0.1:{port}/telegram",
            data=json.dumps({"update_id": 999}).encode(),
            headers={
                "X-Telegram-Bot-Api-Secret-Token": "wrong",
                "Content-Type": "application/json",
            },
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=5)
        assert refused.value.code == 403
    finally:
        assert bot.stop() == 0


def test_webhook_mode_needs_its_settings(tmp_path: Path, bot_env: dict[str, str]) -> None:
    result = concierge(["run", "--webhook"], env=bot_env, cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: WEBHOOK_URL is not set (the public HTTPS URL Telegram posts updates to)"
    )


def test_a_second_instance_on_the_same_sqlite_file_is_refused(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str], db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL serves several instances")
    first = start(tmp_path, bot_env, fake)
    try:
        second = concierge(["run"], env=bot_env, cwd=tmp_path)
    finally:
        assert first.stop() == 0
    assert second.returncode == 2
    assert second.stderr.strip().startswith(
        "error: another Concierge instance is already running on "
    )
    assert second.stderr.strip().endswith(
        "SQLite serves one instance (use PostgreSQL to run several)"
    )
