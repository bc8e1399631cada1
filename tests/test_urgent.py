"""Urgent requests: the hotel's urgent keywords in six languages, the flag on every card, the
supervisors' alert, urgent first in the sweep, 🚨 Urgent / Not urgent on the card, the guest's
acknowledgement and the report's count."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.config import HotelConfig, load_hotel_config
from bot.i18n import I18n
from bot.models import Priority, Request, Role, Staff
from bot.notices import RequestAck
from bot.notifier import Outgoing
from bot.render import Renderer
from bot.routing import urgent_keyword
from bot.services import requests
from bot.services.common import Env, Person
from tests.conftest import TEST_HOTEL, Desk, register, submit
from tests.harness import Bot

PHONE = "+39 06 1234 5678"


@pytest.fixture
def hotel(hotel: HotelConfig) -> HotelConfig:
    """The test hotel with the front desk's phone, and without bursts: each message of these
    guests is a request of its own."""
    limits = hotel.limits.model_copy(update={"burst_seconds": 0})
    section = hotel.hotel.model_copy(update={"phone": PHONE})
    return hotel.model_copy(update={"limits": limits, "hotel": section})


@pytest.fixture
def env(hotel: HotelConfig) -> Env:
    return Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))


GUEST, GIULIA = 5001, 5002
LUCA, MARCO, JONAS, SOFIA = 1002, 1003, 1004, 1009
ANNA = Person(telegram_id=GUEST, chat_id=GUEST, first_name="Anna", language_code="en")


def _priority(engine: Engine, request_id: int) -> str:
    with Session(engine) as session:
        found = session.get(Request, request_id)
        assert found is not None
        return found.priority


def _alerts(bot: Bot, chat_id: int, number: int) -> int:
    return sum(
        text.startswith(f"🚨 Urgent request #{number} ") for text in bot.telegram.texts(chat_id)
    )


# --- the keywords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "text", "keyword"),
    [
        ("en", "there is water everywhere in the bathroom", "water everywhere"),
        ("en", "I’m locked out of my room", "locked out"),
        ("en", "My husband can't breathe, please call a doctor", "doctor"),
        ("de", "Es brennt!", "brennt"),
        ("de", "Im Bad ist alles überschwemmt", "überschwemm"),
        ("it", "c'è fumo in camera", "fumo"),
        ("it", "Il bagno è allagato", "allaga"),
        ("ru", "я не могу попасть в номер", "не могу попасть"),
        ("ru", "В коридоре пахнет газом", "пахнет газом"),
        ("es", "me he quedado fuera de la habitación", "quedado fuera"),
        ("es", "Necesito un médico", "médico"),
        ("fr", "il y a une fuite", "fuite"),
        ("fr", "Il y a de la fumée dans le couloir", "fumée"),
    ],
)
def test_urgent_keywords_are_found_in_every_language(
    hotel: HotelConfig, locale: str, text: str, keyword: str
) -> None:
    assert urgent_keyword(hotel, text, locale) == keyword


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        # A "Fire TV" stick and a smoke-free room are no emergency: [urgent.ignore] lists them.
        ("en", "fire TV remote does not work"),
        ("en", "smoke-free room question"),
        ("en", "Can I smoke on the balcony?"),
        ("en", "Where is the emergency exit?"),
        ("en", "no hot water"),  # water alone is not urgent; "water everywhere" is
        ("en", "two towels please"),
        ("de", "Darf ich im Zimmer rauchen?"),
        ("de", "Das Frühstück war lecker"),
        ("it", "una bottiglia di acqua gassata"),  # "gas" is never a keyword on its own
        ("es", "¿Tienen sangría en el bar?"),
        ("fr", "Une chambre non-fumeur, s'il vous plaît"),
    ],
)
def test_everyday_requests_that_sound_alarming_are_not_urgent(
    hotel: HotelConfig, locale: str, text: str
) -> None:
    assert urgent_keyword(hotel, text, locale) is None


def test_the_example_config_has_urgent_keywords_for_every_language() -> None:
    example = load_hotel_config(TEST_HOTEL.parent.parent / "bot" / "hotel.example.toml")
    assert set(example.urgent.keywords) == {"de", "en", "es", "fr", "it", "ru"}
    assert urgent_keyword(example, "Es brennt", "de") == "brennt"


def test_a_hotel_without_urgent_keywords_has_no_urgent_requests(hotel: HotelConfig) -> None:
    plain = hotel.model_copy(update={"urgent": type(hotel.urgent)()})
    assert urgent_keyword(plain, "there is water everywhere", "en") is None


# --- created urgent --------------------------------------------------------------------------


async def test_an_urgent_request_is_flagged_on_every_card_and_alerts_the_supervisor_once(
    bot: Bot, desk: Desk, engine: Engine
) -> None:
    register(desk, MARCO, "Marco", "maintenance", language="it")
    register(desk, JONAS, "Jonas", "maintenance", language="de")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)
    await bot.say(GUEST, "/start room-412")

    await bot.say(GUEST, "There is a leak, water everywhere in the bathroom!")

    assert _priority(engine, 1) == Priority.URGENT
    marco, jonas = bot.telegram.texts(MARCO)[-1], bot.telegram.texts(JONAS)[-1]
    assert marco.startswith("🚨 URGENTE\nRichiesta #1 · Manutenzione\n")
    assert jonas.startswith("🚨 DRINGEND\nAnfrage #1 · Haustechnik\n")
    assert "nurg:1" in bot.telegram.button_data(MARCO)  # already urgent: only "Not urgent"
    assert "urg:1" not in bot.telegram.button_data(MARCO)
    assert bot.telegram.texts(SOFIA) == [
        "🚨 Urgent request #1 · room 412 · Maintenance: There is a leak, water everywhere in the "
        "bathroom!\nTimeline: /log 1"
    ]
    assert bot.telegram.texts(GUEST)[-1] == (
        "Request #1 received — Maintenance is on it.\n\n🚨 We are treating this as urgent. If "
        f"it is an emergency, please also call Front desk right away: {PHONE}."
    )

    await bot.press(MARCO, "urg:1")  # pressed on an urgent request: nothing more happens
    assert _alerts(bot, SOFIA, 1) == 1

    await bot.say(SOFIA, "/log 1")
    assert "urgent: the guest wrote “water everywhere”" in bot.telegram.texts(SOFIA)[-1]


async def test_the_guest_is_told_in_their_language_whom_to_call(
    bot: Bot, desk: Desk, hotel: HotelConfig
) -> None:
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)
    await bot.say(GIULIA, "/start room-415", language_code="it")

    await bot.say(GIULIA, "c'è fumo in camera", language_code="it")

    assert bot.telegram.texts(GIULIA)[-1].startswith("Richiesta #1 ricevuta")
    assert (
        "\n\n🚨 Trattiamo la sua richiesta come urgente. Se si tratta di un'emergenza, chiami "
        f"subito anche il numero {PHONE} (Reception)."
    ) in bot.telegram.texts(GIULIA)[-1]
    assert _alerts(bot, SOFIA, 1) == 1
    # A normal request says nothing of the kind.
    await bot.say(GIULIA, "due asciugamani, per favore", language_code="it")
    assert "🚨" not in bot.telegram.texts(GIULIA)[-1]
    assert _alerts(bot, SOFIA, 2) == 0


def test_without_a_phone_the_guest_is_sent_to_the_front_desk(hotel: HotelConfig) -> None:
    section = hotel.hotel.model_copy(update={"phone": None})
    plain = hotel.model_copy(update={"hotel": section})
    render = Renderer(plain, I18n(plain.hotel.default_language, plain.hotel.languages))
    ack = RequestAck(3, "maintenance", "department", urgent=True)

    assert render(Outgoing(1, ack, "en")).text == (
        "Request #3 received — Maintenance is on it.\n\n🚨 We are treating this as urgent. If "
        "it is an emergency, please also call Front desk right away."
    )
    assert render(Outgoing(1, ack, "de")).text.endswith(
        "🚨 Wir behandeln Ihr Anliegen als dringend. Bei einem Notfall wenden Sie sich bitte "
        "zusätzlich sofort direkt an unser Team (Rezeption)."
    )


# --- offered first ---------------------------------------------------------------------------


def test_the_sweep_offers_urgent_requests_before_older_normal_ones(
    desk: Desk, engine: Engine
) -> None:
    register(desk, MARCO, "Marco", "maintenance", language="it", on_duty=False)
    submit(desk, ANNA, "the tv is broken")  # 1: normal, nobody on duty
    submit(desk, ANNA, "the tv is broken and there is smoke")  # 2: urgent
    with Session(engine) as session:  # on duty without /duty, which offers on its own
        session.execute(update(Staff).where(col(Staff.telegram_id) == MARCO).values(on_duty=True))
        session.commit()

    sent = desk(lambda s, out, env, now: requests.offer_waiting(s, out, env, now))

    assert sent == 2
    cards = desk.texts_to(MARCO)
    assert [card.split("\n")[0] for card in cards] == ["🚨 URGENTE", "Richiesta #1 · Manutenzione"]
    assert cards[0].split("\n")[1] == "Richiesta #2 · Manutenzione"


# --- marked by staff -------------------------------------------------------------------------


async def test_staff_mark_a_request_urgent_and_only_a_supervisor_takes_it_back(
    bot: Bot, desk: Desk, engine: Engine
) -> None:
    register(desk, LUCA, "Luca", "housekeeping")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "two towels please")
    assert _priority(engine, 1) == Priority.NORMAL
    assert bot.telegram.button_data(LUCA)[-1] == "urg:1"
    assert bot.telegram.texts(SOFIA) == []

    await bot.press(LUCA, "urg:1")

    assert _priority(engine, 1) == Priority.URGENT
    card = bot.telegram.sent(LUCA, "editMessageText")[-1].params
    assert card["text"].startswith("🚨 URGENT\nRequest #1 · Housekeeping\n")
    assert bot.telegram.button_data(LUCA)[-1] == "nurg:1"
    assert bot.telegram.texts(SOFIA) == [
        "🚨 Urgent request #1 · room 412 · Housekeeping: two towels please\nTimeline: /log 1"
    ]
    await bot.press(LUCA, "urg:1")  # twice: the supervisor is not alerted again
    assert _alerts(bot, SOFIA, 1) == 1

    await bot.press(LUCA, "nurg:1")  # staff cannot take it back
    assert bot.telegram.alerts()[-1] == "This command is for supervisors."
    assert _priority(engine, 1) == Priority.URGENT

    await bot.press(SOFIA, "nurg:1")

    assert _priority(engine, 1) == Priority.NORMAL
    card = bot.telegram.sent(LUCA, "editMessageText")[-1].params
    assert card["text"].startswith("Request #1 · Housekeeping\n")
    assert bot.telegram.button_data(LUCA)[-1] == "urg:1"
    await bot.say(SOFIA, "/log 1")
    log = bot.telegram.texts(SOFIA)[-1]
    assert "marked urgent by Luca" in log
    assert "marked not urgent by Sofia" in log
    assert log.index("marked urgent by Luca") < log.index("marked not urgent by Sofia")


async def test_the_assignee_can_mark_an_accepted_request_urgent_but_not_a_done_one(
    bot: Bot, desk: Desk, engine: Engine
) -> None:
    register(desk, LUCA, "Luca", "housekeeping", language="it")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "two towels please")
    await bot.press(LUCA, "acc:1")

    await bot.press(LUCA, "urg:1")

    card = bot.telegram.sent(LUCA, "editMessageText")[-1].params
    assert card["text"].startswith("🚨 URGENTE\nRichiesta #1 · Governante\n")
    assert card["text"].endswith("✅ Accettata da lei.")
    assert bot.telegram.button_data(LUCA)[:2] == ["done:1", "rel:1"]
    await bot.press(LUCA, "done:1")
    await bot.press(SOFIA, "nurg:1")
    assert bot.telegram.alerts()[-1] == ("Request #1 is done now; this button no longer applies.")
    assert _priority(engine, 1) == Priority.URGENT


# --- the report ------------------------------------------------------------------------------


async def test_the_report_counts_urgent_requests_only_when_there_are_some(
    bot: Bot, desk: Desk
) -> None:
    register(desk, LUCA, "Luca", "housekeeping")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "two towels please")
    await bot.say(SOFIA, "/report today")
    assert "Urgent" not in bot.telegram.texts(SOFIA)[-1]

    await bot.say(GUEST, "Es brennt!")  # urgent in any of the hotel's languages
    await bot.press(LUCA, "urg:1")
    await bot.say(SOFIA, "/report today")

    assert "\nUrgent requests: 2\n" in bot.telegram.texts(SOFIA)[-1]


async def test_a_supervisor_who_marks_a_request_urgent_is_not_alerted_of_it(
    bot: Bot, desk: Desk, engine: Engine
) -> None:
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)
    register(desk, 1010, "Paolo", "front_desk", role=Role.SUPERVISOR)
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "the bill please")  # the front desk's: both supervisors hold it

    await bot.press(SOFIA, "urg:1")

    assert _priority(engine, 1) == Priority.URGENT
    assert _alerts(bot, SOFIA, 1) == 0
    assert _alerts(bot, 1010, 1) == 1
