"""End to end: the real ``concierge run`` process against the local fake Bot API answers a
guest's question from the hotel's knowledge base and a thanks in kind, without a request,
and sends the question on to staff when the guest asks for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.i18n import I18n
from bot.models import Question, Request
from tests.command import staff_add
from tests.conftest import TEST_HOTEL
from tests.fakebotapi import FakeBotAPIThread
from tests.test_e2e import cli, mark, says, start, starts

pytestmark = pytest.mark.e2e

GUEST, OLGA = 7001, 7103
I18N = I18n("en")
de = I18N.translator("de").gettext
ru = I18N.translator("ru").gettext
BREAKFAST = (
    "Das Frühstück servieren wir von 7:00 bis 10:30 Uhr (am Wochenende bis 11:00 Uhr) in der "
    "Sala Verde im Erdgeschoss, gleich hinter der Rezeption."
)


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


def test_a_question_is_answered_a_thanks_too_and_neither_is_a_request(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str], engine: Engine
) -> None:
    cli(staff_add(OLGA, "Olga", "front_desk", language="ru"), bot_env, tmp_path)
    bot = start(tmp_path, bot_env, fake)
    try:
        at = mark(fake)
        fake.user_message(OLGA, "/duty on", first_name="Olga", language_code="ru")
        says(fake, OLGA, ru("You are on duty: new requests reach you here."), at)

        at = mark(fake)
        fake.user_message(GUEST, "/start room-412", first_name="Anna", language_code="de")
        fake.wait_for_message(GUEST, lambda t: de("Your room: {room}.").format(room="412") in t)

        at = mark(fake)
        fake.user_message(GUEST, "wann ist das Frühstück?", first_name="Anna", language_code="de")
        answer = says(fake, GUEST, BREAKFAST, at)
        ((button,),) = answer["reply_markup"]["inline_keyboard"]
        assert button["text"] == "Nicht meine Frage – ans Team weiterleiten"

        at = mark(fake)
        fake.user_message(GUEST, "Danke!", first_name="Anna", language_code="de")
        says(
            fake,
            GUEST,
            de("You're very welcome! If you need anything else, just write to me."),
            at,
        )
        with Session(engine) as session:
            assert session.exec(select(Request)).all() == []
            (question,) = session.exec(select(Question)).all()
            assert (question.entry, question.language) == ("breakfast", "de")
        assert fake.messages_to(OLGA)[-1]["text"] == ru(
            "You are on duty: new requests reach you here."
        )

        at = mark(fake)
        fake.press_button(GUEST, button["text"], first_name="Anna", language_code="de")
        starts(  # no keyword: the front desk, and the other teams to pick from
            fake,
            GUEST,
            de("Request #{number} received — {department} is on it.").format(
                number=1, department="Rezeption"
            ),
            at,
        )
        fake.wait_for_message(OLGA, lambda t: "wann ist das Frühstück?" in t, since=at)
        fake.wait_until(
            lambda: any(
                (m["text"] or "").endswith("↪ Als Anfrage #1 an unser Team weitergeleitet.")
                for m in fake.fake.messages_to(GUEST)
            )
        )
        edited = next(m for m in fake.messages_to(GUEST) if m["text"].startswith(BREAKFAST))
        assert edited["reply_markup"] is None  # the button is gone
        with Session(engine) as session:
            assert len(session.exec(select(Request)).all()) == 1
    finally:
        code = bot.stop()
    output = bot.output()
    assert code == 0, output
    assert "Traceback" not in output
    assert "Frühstück" not in output and "Danke" not in output  # guest text stays out of the log
