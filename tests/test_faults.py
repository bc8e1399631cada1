"""Faults at the Telegram boundary, end to end: the real ``concierge run`` process against the
local fake Bot API, which answers with errors, answers late, or refuses a blocked chat.

Each test injects one kind of fault and checks what the guest and the staff finally see in
their chats (after edits), that the calls the fake recorded show the retries the fault calls for,
and that nothing is lost or sent twice beyond what the fault itself can cause.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.models import Guest, Request, RequestStatus, Staff
from tests import test_e2e as e2e
from tests.command import staff_add
from tests.conftest import TEST_HOTEL
from tests.fakebotapi import Call, FakeBotAPIThread
from tests.test_e2e import BotProcess, cli, mark, says, start

pytestmark = pytest.mark.e2e

# The fixtures of the end-to-end suite: the fake Bot API, the test hotel with a follow-up two
# seconds after done, and the bot's environment pointing at both and at the test database.
fake = e2e.fake
bot_env = e2e.bot_env


@pytest.fixture
def hotel_config(tmp_path: Path) -> Path:
    """The end-to-end hotel without bursts: these guests send separate requests a second apart
    (``limits.burst_seconds`` would make the second a part of the first)."""
    text = TEST_HOTEL.read_text(encoding="utf-8")
    text = text.replace("followup_delay = 300", "followup_delay = 2")
    path = tmp_path / "hotel.toml"
    path.write_text(text + "\n[limits]\nburst_seconds = 0\n", encoding="utf-8")
    return path


GUEST, MARIA, LUCA, SOFIA = 7001, 7101, 7102, 7109
SENDS = frozenset({"sendMessage", "editMessageText"})

ON_DUTY = "You are on duty: new requests reach you here."
WELCOME = "Welcome to Hotel Testa, Anna! I am the hotel's concierge."
ACCEPTED_BY_YOU = "✅ Accepted by you."

# python-telegram-bot's default read timeout, which the bot keeps (app.py sets none).
READ_TIMEOUT = 5.0
# Lower bounds of the sender's backoff before retry 1, 2, 3: 0.5 s, 1 s, 2 s, each minus 20%.
BACKOFF_MIN = (0.4, 0.8, 1.6)
# The bot's clock is the wall clock and the fake's is monotonic: allow for rounding between them.
SLACK = 0.05


def ack(number: int) -> str:
    return f"Request #{number} received — Housekeeping is on it."


def accepted(name: str, number: int) -> str:
    return f"{name} from Housekeeping has accepted request #{number}."


def done(number: int) -> str:
    return (
        f"Request #{number} is done. I will check with you a little later that everything is fine."
    )


def handed_on_alert(name: str, count: int) -> str:
    return (
        f"⚠️ {name} (Housekeeping) has blocked the bot and is now off duty. "
        f"{count} requests of theirs were handed on."
    )


def is_card(number: int) -> Callable[[str], bool]:
    """Matches the text of a staff member's card for request ``number``."""
    return lambda text: text.startswith(f"Request #{number} · Housekeeping\n")


def texts(fake: FakeBotAPIThread, chat_id: int) -> list[str]:
    """What the chat shows now, oldest first."""
    return [str(m["text"] or m["caption"] or "") for m in fake.messages_to(chat_id)]


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """Labels and callback data of a message's inline buttons."""
    markup = message.get("reply_markup") or {}
    return [
        (str(b["text"]), str(b.get("callback_data", "")))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def labels(message: dict[str, Any]) -> list[str]:
    return [label for label, _data in buttons(message)]


# The rows under a live card's buttons: its tools, and marking it urgent.
TOOLS = ["🚫 Not a request", "🔗 Merge…", "📝 Note", "🚨 Urgent"]


def cards(fake: FakeBotAPIThread, chat_id: int, number: int) -> list[dict[str, Any]]:
    """The chat's cards of request ``number`` as they look now."""
    match = is_card(number)
    return [m for m in fake.messages_to(chat_id) if match(str(m["text"] or ""))]


def press(fake: FakeBotAPIThread, user_id: int, action: str, number: int) -> None:
    """Press the newest button ``action`` (acc, done, rel …) for request ``number``.

    Matches the callback data with or without the signature the bot may append.
    """
    wanted = f"{action}:{number}"
    for message in reversed(fake.messages_to(user_id)):
        for _label, data in buttons(message):
            if data == wanted or data.startswith(wanted + ":"):
                fake.callback(user_id, message, data)
                return
    raise AssertionError(f"no button {wanted!r} in chat {user_id}: {texts(fake, user_id)}")


def sends_to(fake: FakeBotAPIThread, chat_id: int, since: int) -> list[Call]:
    """Every attempt (answered or not) to send or edit a message in a chat since a call index."""
    return [
        c for c in fake.calls[since:] if c.method in SENDS and c.params.get("chat_id") == chat_id
    ]


def attempts_of(fake: FakeBotAPIThread, chat_id: int, text: str, since: int) -> list[Call]:
    """The sendMessage attempts of one text to a chat, in the order they reached the fake."""
    found = [
        c
        for c in fake.calls[since:]
        if c.method == "sendMessage"
        and c.params.get("chat_id") == chat_id
        and c.params.get("text") == text
    ]
    return sorted(found, key=lambda c: c.time)


def register(
    env: dict[str, str], cwd: Path, telegram_id: int, name: str, *, supervisor: bool = False
) -> None:
    department = "front_desk" if supervisor else "housekeeping"
    role = "supervisor" if supervisor else None
    cli(staff_add(telegram_id, name, department, role=role, language="en"), env, cwd)


def go_on_duty(fake: FakeBotAPIThread, *people: tuple[int, str]) -> None:
    for telegram_id, name in people:
        at = mark(fake)
        fake.user_message(telegram_id, "/duty on", first_name=name)
        says(fake, telegram_id, ON_DUTY, at)


def check_in(fake: FakeBotAPIThread) -> None:
    """The guest opens the room-412 deep link and is welcomed."""
    at = mark(fake)
    fake.user_message(GUEST, "/start room-412", first_name="Anna")
    fake.wait_for_message(GUEST, lambda t: t.startswith(WELCOME), since=at)


def ask(fake: FakeBotAPIThread, text: str) -> int:
    """The guest writes a request; returns the call index before it."""
    at = mark(fake)
    fake.user_message(GUEST, text, first_name="Anna")
    return at


@contextmanager
def running(tmp_path: Path, env: dict[str, str], fake: FakeBotAPIThread) -> Iterator[BotProcess]:
    """The bot process; it must stop cleanly and log no traceback. Failures carry its log."""
    bot = start(tmp_path, env, fake)
    try:
        yield bot
    except BaseException as exc:
        bot.stop()
        exc.add_note("bot log (end):\n" + bot.output()[-6000:])
        raise
    code = bot.stop()
    output = bot.output()
    assert code == 0, output
    assert "Traceback" not in output, output


@contextmanager
def maria_on_duty(tmp_path: Path, env: dict[str, str], fake: FakeBotAPIThread) -> Iterator[None]:
    """Maria of housekeeping is registered, the bot is running, and she has started her shift."""
    register(env, tmp_path, MARIA, "Maria")
    with running(tmp_path, env, fake):
        go_on_duty(fake, (MARIA, "Maria"))
        yield


def assert_no_second_attempt(
    fake: FakeBotAPIThread, chat_id: int, since: int, seconds: float
) -> None:
    """Watch the chat for ``seconds``: no message to it may be tried a second time."""

    def retried() -> bool:
        seen: set[tuple[str, str]] = set()
        for call in fake.fake.calls[since:]:
            if call.method in SENDS and call.params.get("chat_id") == chat_id:
                key = (call.method, str(call.params.get("text")))
                if key in seen:
                    return True
                seen.add(key)
        return False

    try:
        fake.wait_until(retried, timeout=seconds)
    except AssertionError:
        return
    tried = [(c.method, c.status, c.params.get("text")) for c in sends_to(fake, chat_id, since)]
    raise AssertionError(f"a message to chat {chat_id} was tried again: {tried}")


def test_5xx_answers_are_retried_with_backoff_and_delivered_once(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str]
) -> None:
    with maria_on_duty(tmp_path, bot_env, fake):
        check_in(fake)

        fake.fail_next("sendMessage", 500, times=2)
        fake.fail_next("sendMessage", 502)
        at = ask(fake, "two towels please")
        says(fake, GUEST, ack(1), at)
        card = fake.wait_for_message(MARIA, is_card(1), since=at)
        assert labels(card) == ["Accept", *TOOLS]

        sent = [c for c in fake.calls[at:] if c.method == "sendMessage"]
        assert sorted(c.status for c in sent) == [200, 200, 500, 500, 502]
        for chat_id, text in ((GUEST, ack(1)), (MARIA, card["text"])):
            tries = attempts_of(fake, chat_id, text, at)
            assert [c.ok for c in tries] == [False] * (len(tries) - 1) + [True]
            for retry, (before, after) in enumerate(itertools.pairwise(tries)):
                assert after.time - before.completed >= BACKOFF_MIN[retry] - SLACK
        assert {(c.params["chat_id"], c.params["text"]) for c in sent} == {
            (GUEST, ack(1)),
            (MARIA, card["text"]),
        }

        at = mark(fake)
        press(fake, MARIA, "acc", 1)
        says(fake, GUEST, accepted("Maria", 1), at)
        fake.wait_for_message(MARIA, lambda t: t.endswith(ACCEPTED_BY_YOU), since=at)

    guest = texts(fake, GUEST)
    assert len(guest) == 3 and guest[0].startswith(WELCOME)
    assert guest[1:] == [ack(1), accepted("Maria", 1)]
    maria = fake.messages_to(MARIA)
    assert [m["text"] for m in maria][:1] == [ON_DUTY] and len(maria) == 2
    assert str(maria[1]["text"]).endswith(ACCEPTED_BY_YOU)  # the card itself was edited
    assert labels(maria[1]) == ["Done", "Release", "💬 Reply to guest", *TOOLS]


def test_timed_out_send_is_retried_and_shown_at_most_twice(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str]
) -> None:
    with maria_on_duty(tmp_path, bot_env, fake):
        check_in(fake)

        delay = READ_TIMEOUT + 1.5
        fake.delay_next("sendMessage", delay, times=2)  # the card and the acknowledgement
        at = ask(fake, "two towels please")
        card = fake.wait_for_message(MARIA, is_card(1), since=at, timeout=delay + 5)
        card_text = str(card["text"])

        def both_answered_late() -> bool:
            late = [
                c
                for c in fake.fake.calls[at:]
                if c.method == "sendMessage" and c.completed - c.time >= delay
            ]
            return len(late) == 2

        fake.wait_until(both_answered_late, timeout=delay + 5)
        for chat_id, text in ((GUEST, ack(1)), (MARIA, card_text)):
            first, *retries = attempts_of(fake, chat_id, text, at)
            assert first.completed - first.time >= delay  # Telegram got it, the answer came late
            assert len(retries) == 1 and retries[0].ok
            assert retries[0].time - first.time >= READ_TIMEOUT + BACKOFF_MIN[0] - SLACK

        shown = texts(fake, GUEST)
        assert 1 <= shown.count(ack(1)) <= 2
        assert 1 <= len(cards(fake, MARIA, 1)) <= 2
        assert all(labels(c) == ["Accept", *TOOLS] for c in cards(fake, MARIA, 1))

        at = mark(fake)
        press(fake, MARIA, "acc", 1)
        says(fake, GUEST, accepted("Maria", 1), at)
        fake.wait_for_message(MARIA, lambda t: t.endswith(ACCEPTED_BY_YOU), since=at)

    guest = texts(fake, GUEST)
    assert guest[0].startswith(WELCOME)
    assert set(guest[1:]) == {ack(1), accepted("Maria", 1)}
    assert guest.count(accepted("Maria", 1)) == 1 and guest[-1] == accepted("Maria", 1)
    assert sum(str(c["text"]).endswith(ACCEPTED_BY_YOU) for c in cards(fake, MARIA, 1)) == 1


def test_429_holds_only_that_chat_for_retry_after(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str]
) -> None:
    retry_after = 2
    with maria_on_duty(tmp_path, bot_env, fake):
        at = mark(fake)
        fake.fail_next("sendMessage", 429, retry_after=retry_after)
        fake.user_message(GUEST, "/start room-412", first_name="Anna")
        limited = fake.wait_for_call(lambda c: c.status == 429, since=at)
        assert limited.params["chat_id"] == GUEST
        # While the guest's chat waits, the guest writes a request: the staff card must not wait.
        fake.user_message(GUEST, "two towels please", first_name="Anna")
        card = fake.wait_for_message(MARIA, is_card(1), since=at)
        welcome = fake.wait_for_message(GUEST, lambda t: t.startswith(WELCOME), since=at)
        says(fake, GUEST, ack(1), at)

        (welcome_sent,) = [c for c in attempts_of(fake, GUEST, welcome["text"], at) if c.ok]
        (card_sent,) = attempts_of(fake, MARIA, card["text"], at)
        waited = welcome_sent.time - limited.completed
        assert retry_after - SLACK <= waited < retry_after + 1.5
        assert card_sent.time - limited.completed < retry_after - 0.5
        assert card_sent.time < welcome_sent.time

        guest_calls = sends_to(fake, GUEST, at)
        assert [c.status for c in guest_calls] == [429, 200, 200]
        assert guest_calls[2].params["text"] == ack(1)

    guest = texts(fake, GUEST)
    assert len(guest) == 2 and guest[0].startswith(WELCOME) and guest[1] == ack(1)
    assert texts(fake, MARIA)[0] == ON_DUTY and len(cards(fake, MARIA, 1)) == 1


@pytest.mark.parametrize("blocked", ["before_ack", "after_ack"])
def test_guest_who_blocked_the_bot_keeps_the_request_without_retry_storm(
    tmp_path: Path,
    fake: FakeBotAPIThread,
    bot_env: dict[str, str],
    engine: Engine,
    blocked: str,
) -> None:
    with maria_on_duty(tmp_path, bot_env, fake):
        check_in(fake)

        since_block = mark(fake)
        if blocked == "before_ack":
            fake.block_chat(GUEST)
        at = ask(fake, "two towels please")
        fake.wait_for_message(MARIA, is_card(1), since=at)
        if blocked == "before_ack":
            fake.wait_for_call(
                lambda c: c.status == 403 and c.params.get("text") == ack(1), since=at
            )
        else:
            says(fake, GUEST, ack(1), at)
            since_block = mark(fake)
            fake.block_chat(GUEST)

        at = mark(fake)
        press(fake, MARIA, "acc", 1)
        fake.wait_for_message(MARIA, lambda t: t.endswith(ACCEPTED_BY_YOU), since=at)
        fake.wait_for_call(
            lambda c: c.status == 403 and c.params.get("text") == accepted("Maria", 1), since=at
        )

        at = mark(fake)
        press(fake, MARIA, "done", 1)
        fake.wait_for_message(MARIA, lambda t: t.endswith("✔️ Done by Maria."), since=at)
        fake.wait_for_call(lambda c: c.status == 403 and c.params.get("text") == done(1), since=at)

        # Any retry would come 0.4-0.6 s after a failure; the follow-up falls due 2 s after done.
        assert_no_second_attempt(fake, GUEST, since_block, seconds=3.0)

    tried = sends_to(fake, GUEST, since_block)
    assert all(c.status == 403 for c in tried), [(c.status, c.params.get("text")) for c in tried]
    per_text = Counter(str(c.params.get("text")) for c in tried)
    assert all(n == 1 for n in per_text.values()), per_text
    expected = {accepted("Maria", 1), done(1)} | ({ack(1)} if blocked == "before_ack" else set())
    followup = "Hello again! Is everything all right with request #1 (two towels please)?"
    assert expected <= set(per_text) <= expected | {followup}

    guest = texts(fake, GUEST)
    assert guest[0].startswith(WELCOME)
    assert guest[1:] == ([] if blocked == "before_ack" else [ack(1)])
    maria = texts(fake, MARIA)
    assert len(maria) == 2 and maria[0] == ON_DUTY and maria[1].endswith("✔️ Done by Maria.")

    with Session(engine) as session:
        request = session.exec(select(Request)).one()
        assert request.status == RequestStatus.DONE
        guest_row = session.exec(select(Guest).where(Guest.telegram_id == GUEST)).one()
        assert guest_row.blocked_at is not None


def test_staff_who_blocked_the_bot_is_taken_off_duty_and_their_task_handed_on(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str], engine: Engine
) -> None:
    register(bot_env, tmp_path, MARIA, "Maria")
    register(bot_env, tmp_path, LUCA, "Luca")
    register(bot_env, tmp_path, SOFIA, "Sofia", supervisor=True)
    with running(tmp_path, bot_env, fake):
        go_on_duty(fake, (MARIA, "Maria"), (LUCA, "Luca"), (SOFIA, "Sofia"))
        check_in(fake)

        at = ask(fake, "two towels please")
        says(fake, GUEST, ack(1), at)
        fake.wait_for_message(MARIA, is_card(1), since=at)
        fake.wait_for_message(LUCA, is_card(1), since=at)
        press(fake, MARIA, "acc", 1)
        fake.wait_for_message(MARIA, lambda t: t.endswith(ACCEPTED_BY_YOU), since=at)
        fake.wait_for_message(LUCA, lambda t: t.endswith("Taken by Maria."), since=at)
        says(fake, GUEST, accepted("Maria", 1), at)

        # Maria blocks the bot while she holds request #1; the bot learns it at its next message.
        fake.block_chat(MARIA)
        since_block = at = ask(fake, "please clean the room")
        says(fake, GUEST, ack(2), at)
        fake.wait_for_message(LUCA, is_card(2), since=at)
        handed_on = fake.wait_for_message(
            LUCA, lambda t: is_card(1)(t) and t.endswith("two towels please"), since=at
        )
        assert labels(handed_on) == ["Accept", *TOOLS]
        says(fake, SOFIA, handed_on_alert("Maria", 2), at)

        at = mark(fake)
        press(fake, LUCA, "acc", 1)
        says(fake, GUEST, accepted("Luca", 1), at)
        fake.wait_for_message(LUCA, lambda t: t.endswith(ACCEPTED_BY_YOU), since=at)
        at = mark(fake)
        press(fake, LUCA, "done", 1)
        says(fake, GUEST, done(1), at)
        fake.wait_for_message(LUCA, lambda t: t.endswith("✔️ Done by Luca."), since=at)

    maria_tries = sends_to(fake, MARIA, since_block)
    assert [(c.status, c.method) for c in maria_tries] == [(403, "sendMessage")]
    assert is_card(2)(str(maria_tries[0].params["text"]))
    maria = texts(fake, MARIA)
    assert len(maria) == 2 and maria[0] == ON_DUTY and maria[1].endswith(ACCEPTED_BY_YOU)

    luca_cards = cards(fake, LUCA, 1)
    assert [c["text"].rsplit("\n", 1)[-1] for c in luca_cards] == [
        "Taken by Maria.",
        "✔️ Done by Luca.",
    ]
    assert [labels(c) for c in cards(fake, LUCA, 2)] == [["Accept", *TOOLS]]
    assert texts(fake, SOFIA) == [ON_DUTY, handed_on_alert("Maria", 2)]

    guest = texts(fake, GUEST)
    assert guest[0].startswith(WELCOME)
    assert guest[1:] == [
        ack(1),
        accepted("Maria", 1),
        ack(2),
        accepted("Luca", 1),
        done(1),
    ]

    with Session(engine) as session:
        maria_row = session.exec(select(Staff).where(Staff.telegram_id == MARIA)).one()
        assert not maria_row.on_duty and maria_row.blocked_at is not None
        luca_row = session.exec(select(Staff).where(Staff.telegram_id == LUCA)).one()
        first = session.get(Request, 1)
        assert first is not None
        assert first.status == RequestStatus.DONE and first.assignee_id == luca_row.id
        second = session.get(Request, 2)
        assert second is not None and second.status == RequestStatus.OPEN
