"""End to end, rooms: a room given after the request reaches the staff card and the timeline,
a supervisor's /checkout makes the bot ask again, and a newly registered staff member is told,
with the real ``concierge run`` process against the local fake Bot API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.i18n import I18n
from tests.command import staff_add
from tests.conftest import TEST_HOTEL
from tests.fakebotapi import FakeBotAPIThread
from tests.test_e2e import cli, mark, says, start, starts

pytestmark = pytest.mark.e2e

GUEST, MARIA, SOFIA, NEWCOMER = 7201, 7301, 7309, 7310
I18N = I18n("en")
de = I18N.translator("de").gettext
it = I18N.translator("it").gettext
ru = I18N.translator("ru").gettext


@pytest.fixture
def fake() -> Iterator[FakeBotAPIThread]:
    with FakeBotAPIThread() as server:
        yield server


@pytest.fixture
def bot_env(fake: FakeBotAPIThread, db_url: str, engine: Engine) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_BASE_URL=fake.base_url,
        DATABASE_URL=db_url,
        CONCIERGE_CONFIG=str(TEST_HOTEL),
        LOG_LEVEL="INFO",
    )
    return env


def test_a_room_given_late_reaches_the_card_and_the_log_and_checkout_asks_again(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str]
) -> None:
    cli(staff_add(MARIA, "Maria", "housekeeping", language="it"), bot_env, tmp_path)
    cli(
        staff_add(SOFIA, "Sofia", "front_desk", role="supervisor", language="ru"), bot_env, tmp_path
    )
    bot = start(tmp_path, bot_env, fake)
    try:
        at = mark(fake)
        fake.user_message(MARIA, "/duty on", first_name="Maria", language_code="it")
        says(fake, MARIA, it("You are on duty: new requests reach you here."), at)

        at = mark(fake)
        fake.user_message(GUEST, "Zwei Handtücher bitte", first_name="Anna", language_code="de")
        says(
            fake,
            GUEST,
            de("What is your room number? Reply with just the number, for example 412."),
            at,
        )
        card = fake.wait_for_message(MARIA, lambda t: "Zwei Handtücher bitte" in t, since=at)
        assert (
            it("Room {room} · guest speaks {language}").format(
                room="non indicata", language="tedesco"
            )
            in card["text"]
        )

        at = mark(fake)
        fake.press_button(MARIA, it("Accept"), language_code="it")
        starts(fake, GUEST, "Maria", at)

        at = mark(fake)
        fake.user_message(GUEST, "412", first_name="Anna", language_code="de")
        says(
            fake,
            GUEST,
            "Vielen Dank, ich habe Zimmer 412 notiert. Ich habe sie Ihrer Anfrage #1 hinzugefügt.",
            at,
        )
        edited = fake.wait_for_message(
            MARIA,
            lambda t: (
                it("Room {room} · guest speaks {language}").format(room="412", language="tedesco")
                in t
            ),
            since=at,
        )
        assert it("✅ Accepted by you.") in edited["text"]
        labels = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
        assert labels[:2] == [it("Done"), it("Release")]

        at = mark(fake)
        fake.user_message(SOFIA, "/log 1", first_name="Sofia", language_code="ru")
        timeline = starts(fake, SOFIA, "Заявка #1 · Хаускипинг", at)
        assert "Номер 412 · язык гостя" in timeline["text"]
        assert "номер 412 указан гостем" in timeline["text"]

        at = mark(fake)
        fake.user_message(SOFIA, "/checkout 412", first_name="Sofia", language_code="ru")
        says(
            fake,
            SOFIA,
            "Номер 412: выселен 1 гость. Бот снова спросит номер при следующей заявке.",
            at,
        )
        at = mark(fake)
        fake.user_message(GUEST, "Noch ein Handtuch", first_name="Anna", language_code="de")
        says(
            fake,
            GUEST,
            de("What is your room number? Reply with just the number, for example 412."),
            at,
        )

        at = mark(fake)
        fake.user_message(NEWCOMER, "/start", first_name="Greta", language_code="de")
        starts(fake, NEWCOMER, "Hotel Testa heißt Sie herzlich willkommen, Greta!", at)
        at = mark(fake)
        cli(staff_add(NEWCOMER, "Greta", "housekeeping", language="de"), bot_env, tmp_path)
        starts(fake, NEWCOMER, "Hallo Greta!", at)
    finally:
        code = bot.stop()
    output = bot.output()
    assert code == 0, output
    assert "Traceback" not in output
