"""Instant answers: guests' questions answered from the hotel's knowledge base, the way to staff
kept open, needs left to be requests, the count in /report, and the questions erased."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.clock import FakeClock
from bot.config import HotelConfig, parse_hotel_config
from bot.i18n import I18n
from bot.models import Offer, Question, Request, RequestStatus, Staff
from bot.notifier import Outbox
from bot.services import answers, errors, privacy, reports
from bot.services.common import Env, Person
from tests.conftest import (
    TEST_HOTEL,
    Desk,
    guest_id_of,
    guest_writes,
    register,
    staff_id_of,
    start_chat,
)
from tests.harness import Bot
from tests.telegram_fakes import callback_update

I18N = I18n("en")
GUEST, MARIA, SOFIA = 5001, 1001, 1009
ANNA = Person(telegram_id=GUEST, chat_id=GUEST, first_name="Anna", language_code="de-DE")

# Real phrasings, as guests type them: any word order, endings, small typos, no accents.
QUESTIONS = [
    ("en", "wifi pasword", "wifi"),
    ("en", "What's the Wi-Fi password?", "wifi"),
    ("en", "password for the wi fi pls", "wifi"),
    ("en", "What time is breakfast?", "breakfast"),
    ("en", "when's brekfast", "breakfast"),
    ("en", "check out time?", "checkout"),
    ("en", "Where can I park my car?", "parking"),
    ("en", "is the spa open", "gym"),
    ("en", "What's the reception phone number?", "front_desk"),
    ("de", "wann ist das Frühstück", "breakfast"),
    ("de", "Frühstückszeiten?", "breakfast"),
    ("de", "Wie lautet das WLAN-Passwort?", "wifi"),
    ("de", "Bis wann muss ich auschecken?", "checkout"),
    ("de", "Wo kann ich parken?", "parking"),
    ("de", "Hat das Hotel ein Fitnessstudio?", "gym"),
    ("de", "Telefonnummer der Rezeption?", "front_desk"),
    ("it", "a che ora è la colazione", "breakfast"),
    ("it", "colazioni fino a che ora?", "breakfast"),
    ("it", "Qual è la pasword del wifi?", "wifi"),
    ("it", "dove posso parcheggiare?", "parking"),
    ("it", "A che ora devo lasciare la camera?", "checkout"),
    ("it", "c'è una palestra?", "gym"),
    ("ru", "во сколько завтрак", "breakfast"),
    ("ru", "Какой пароль от вайфая?", "wifi"),
    ("ru", "Где можно припарковаться?", "parking"),
    ("ru", "До скольки выезд?", "checkout"),
    ("ru", "Есть тренажёрный зал?", "gym"),
    ("ru", "телефон ресепшена", "front_desk"),
    ("es", "¿a qué hora es el desayuno?", "breakfast"),
    ("es", "a que hora es el desayuno", "breakfast"),
    ("es", "¿Cuál es la contraseña del wifi?", "wifi"),
    ("es", "¿Dónde puedo aparcar?", "parking"),
    ("es", "¿Hay gimnasio?", "gym"),
    ("fr", "à quelle heure est le petit-déjeuner", "breakfast"),
    ("fr", "le petit dejeuner c'est a quelle heure ?", "breakfast"),
    ("fr", "Quel est le mot de passe du wifi ?", "wifi"),
    ("fr", "Où puis-je me garer ?", "parking"),
    ("fr", "À quelle heure faut-il libérer la chambre ?", "checkout"),
    ("fr", "Y a-t-il une salle de sport ?", "gym"),
    # Wishing to know is asking.
    ("en", "I would like to know the wifi password", "wifi"),
    ("de", "Ich möchte wissen, wann das Frühstück ist", "breakfast"),
    ("it", "vorrei sapere la password del wifi", "wifi"),
    ("ru", "хотел бы узнать пароль от вайфая", "wifi"),
    ("es", "quiero saber la contraseña del wifi", "wifi"),
    ("fr", "je voudrais savoir le mot de passe du wifi", "wifi"),
]


@pytest.mark.parametrize(("locale", "text", "key"), QUESTIONS, ids=lambda v: str(v))
def test_real_questions_find_their_answer(
    hotel: HotelConfig, locale: str, text: str, key: str
) -> None:
    entry = hotel.knowledge.match(text, locale, hotel.hotel.languages)
    assert entry is not None and entry.key == key


# Each of these names a topic of the knowledge base, or looks like one, and is a request.
NEEDS = [
    ("en", "Wi-Fi doesn't work"),
    ("en", "the wifi is very slow"),
    ("en", "the TV is broken"),
    ("en", "no hot water"),
    ("en", "the phone in my room doesn't work"),
    ("en", "Could I have a late check-out?"),
    ("en", "can we book a spa treatment"),
    ("de", "WLAN funktioniert nicht"),
    ("de", "Das WLAN ist sehr langsam"),
    ("de", "Der Fernseher ist kaputt"),
    ("de", "kein warmes Wasser"),
    ("de", "Frühstück aufs Zimmer bitte"),
    ("de", "Ist ein später Check-out möglich?"),
    ("it", "il wifi non funziona"),
    ("it", "la TV è rotta"),
    ("it", "non c'è acqua calda"),
    ("it", "la colazione in camera per favore"),
    ("it", "il telefono è guasto"),
    ("ru", "вайфай не работает"),
    ("ru", "интернет очень медленный"),
    ("ru", "телевизор сломался"),
    ("ru", "нет горячей воды"),
    ("ru", "завтрак в номер пожалуйста"),
    ("ru", "можно поздний выезд?"),
    ("es", "el wifi no funciona"),
    ("es", "el wifi va muy lento"),
    ("es", "la tele está rota"),
    ("es", "no hay agua caliente"),
    ("es", "¿Me pueden traer el desayuno a la habitación?"),
    ("fr", "le wifi ne marche pas"),
    ("fr", "le wifi est très lent"),
    ("fr", "la télé est cassée"),
    ("fr", "pas d'eau chaude"),
    ("fr", "je voudrais réserver un soin au spa"),
    # Wishing for something is asking for it.
    ("en", "I'd like breakfast in my room at 8"),
    ("de", "Ich möchte Frühstück um 8 Uhr"),
    ("it", "vorrei la colazione alle 8"),
    ("ru", "хочу завтрак в 8"),
    ("es", "quisiera el desayuno a las 8"),
    ("fr", "petit-déjeuner en chambre s'il vous plaît"),
    # No topic at all; "gare" (a station) is not "garer" (to park).
    ("fr", "Où est la gare ?"),
    ("en", "two towels please"),
]


@pytest.mark.parametrize(("locale", "text"), NEEDS, ids=lambda v: str(v))
def test_needs_are_not_answered(hotel: HotelConfig, locale: str, text: str) -> None:
    assert hotel.knowledge.match(text, locale, hotel.hotel.languages) is None


def test_a_question_is_answered_in_the_guests_language_and_stored_not_a_request(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    assert guest_writes(desk, ANNA, "Wie lautet das WLAN-Passwort?") is None

    (message,) = desk.messages_to(GUEST)
    assert message.text.startswith("WLAN-Netz: HotelTesta-Guest\nPasswort: welcome2026")
    ((button,),) = message.buttons
    assert button.text == "Nicht meine Frage – ans Team weiterleiten"
    assert button.data == "ask:1"
    assert desk.messages_to(MARIA) == []
    with desk.sessions() as session:
        assert session.exec(select(Request)).all() == []
        (question,) = session.exec(select(Question)).all()
        assert (question.entry, question.text, question.language, question.request_id) == (
            "wifi",
            "Wie lautet das WLAN-Passwort?",
            "de",
            None,
        )
        assert question.guest_id == guest_id_of(session, GUEST)
        assert question.created_at == desk.clock.now()


def test_a_need_about_a_topic_is_a_request(desk: Desk, maria_housekeeping: Staff) -> None:
    request = guest_writes(desk, ANNA, "Das WLAN funktioniert nicht")
    assert request is not None and request.department == "front_desk"
    assert desk.texts_to(GUEST)[0].startswith("Anfrage #1 erhalten")
    assert desk.read(lambda s: s.exec(select(Question)).all()) == []


def test_without_the_guests_language_the_answer_is_in_the_hotels(
    engine: Engine, clock: FakeClock
) -> None:
    # A hotel whose breakfast answer has no Russian text.
    text = TEST_HOTEL.read_text(encoding="utf-8")
    text = "\n".join(
        line for line in text.splitlines() if not line.startswith('ru = "Завтрак подаётся')
    )
    hotel = parse_hotel_config(text)
    desk = Desk(engine, Env(hotel, I18n(hotel.hotel.default_language)), clock)
    olga = Person(telegram_id=5005, chat_id=5005, first_name="Olga", language_code="ru")

    assert guest_writes(desk, olga, "Во сколько завтрак?") is None

    (message,) = desk.messages_to(5005)
    assert message.text.startswith("Breakfast is served from 7:00 to 10:30")
    assert message.buttons[0][0].text == "Это не ответ на мой вопрос — передать сотрудникам"


def test_attachments_are_never_questions(desk: Desk) -> None:
    request = guest_writes(desk, ANNA, "WLAN Passwort?", media_kind="photo", file_id="P")
    assert request is not None


def send_on(desk: Desk, telegram_id: int, question_id: int, message_id: int = 77) -> Request:
    """The guest presses "Not what I asked" under the answer ``message_id``."""
    return desk(
        lambda s, out, env, now: answers.send_to_staff(
            s,
            out,
            env,
            guest_id=guest_id_of(s, telegram_id),
            question_id=question_id,
            message_id=message_id,
            now=now,
        )
    )


def test_sent_on_the_question_becomes_a_routed_request_once(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    start_chat(desk, ANNA, "room-412")
    # About the gym, and a housekeeping matter: the answer is the gym's hours.
    assert guest_writes(desk, ANNA, "Gibt es Handtücher im Fitnessraum?") is None
    assert desk.texts_to(GUEST)[0].startswith("Der Fitnessraum im Untergeschoss")

    request = send_on(desk, GUEST, 1)

    assert (request.id, request.department, request.text, request.room) == (
        1,
        "housekeeping",
        "Gibt es Handtücher im Fitnessraum?",
        "412",
    )
    ack, edit = desk.messages_to(GUEST)
    assert edit.edit_message_id == 77 and edit.buttons == ()
    assert edit.text.startswith("Der Fitnessraum im Untergeschoss")
    assert edit.text.endswith("\n\n↪ Als Anfrage #1 an unser Team weitergeleitet.")
    assert ack.text == "Anfrage #1 erhalten – das Team Housekeeping kümmert sich darum."
    (card,) = desk.texts_to(MARIA)
    assert "Gibt es Handtücher im Fitnessraum?" in card
    assert desk.read(lambda s: s.get(Question, 1)).request_id == 1  # type: ignore[union-attr]

    with pytest.raises(errors.AlreadySentOn) as pressed_again:
        send_on(desk, GUEST, 1)
    assert pressed_again.value.request_id == 1
    assert desk.read(lambda s: len(s.exec(select(Request)).all())) == 1
    assert desk.read(lambda s: len(s.exec(select(Offer)).all())) == 1


def test_a_sent_on_question_is_acknowledged_like_any_request(desk: Desk) -> None:
    # Nobody on duty, no room known, no keyword: the honest acknowledgement, the other teams
    # to pick from, and the room question.
    guest_writes(desk, ANNA, "Frühstück?")
    send_on(desk, GUEST, 1)
    ack, room, edit = desk.texts_to(GUEST)
    assert ack.startswith("Anfrage #1 erhalten und gespeichert.")
    assert desk.messages_to(GUEST)[0].buttons  # the departments to choose from
    assert room.startswith("Wie lautet Ihre Zimmernummer?")
    assert edit.endswith("↪ Als Anfrage #1 an unser Team weitergeleitet.")
    request = desk.read(lambda s: s.get(Request, 1))
    assert request is not None and request.status == RequestStatus.OPEN


def test_someone_elses_or_an_erased_question_is_refused(desk: Desk) -> None:
    guest_writes(desk, ANNA, "Wann gibt es Frühstück?")
    stranger = Person(telegram_id=5009, chat_id=5009, first_name="Eve", language_code="en")
    start_chat(desk, stranger)
    with pytest.raises(errors.QuestionGone):
        send_on(desk, 5009, 1)
    with pytest.raises(errors.QuestionGone):
        send_on(desk, GUEST, 99)

    desk.clock.advance(100 * 86400)
    desk(lambda s, _out, env, now: privacy.purge(s, env, older_than_days=90, now=now))

    assert desk.read(lambda s: s.get(Question, 1)).text == ""  # type: ignore[union-attr]
    with pytest.raises(errors.QuestionGone):
        send_on(desk, GUEST, 1)
    assert desk.read(lambda s: s.exec(select(Request)).all()) == []


def test_purge_erases_only_old_questions(desk: Desk) -> None:
    guest_writes(desk, ANNA, "Wann gibt es Frühstück?")
    desk.clock.advance(40 * 86400)
    guest_writes(desk, ANNA, "WLAN Passwort?")

    result = desk(lambda s, _out, env, now: privacy.purge(s, env, older_than_days=30, now=now))

    assert result.questions == 1
    texts = desk.read(
        lambda s: [q.text for q in s.exec(select(Question).order_by(col(Question.id)))]
    )
    assert texts == ["", "WLAN Passwort?"]


def report(desk: Desk, now: datetime) -> list[str]:
    return desk.read(
        lambda s: reports.period_report(
            s, desk.env, staff_id=staff_id_of(s, SOFIA), period_spec=None, now=now
        )
    ).splitlines()


def test_report_counts_the_questions_answered_and_sent_on(
    desk: Desk, sofia_supervisor: Staff
) -> None:
    assert not any("answered instantly" in line for line in report(desk, desk.clock.now()))
    guest_writes(desk, ANNA, "Wann gibt es Frühstück?")
    guest_writes(desk, ANNA, "WLAN Passwort?")
    italian = Person(telegram_id=5002, chat_id=5002, first_name="Giulia", language_code="it")
    guest_writes(desk, italian, "a che ora è la colazione?")
    send_on(desk, GUEST, 2)

    lines = report(desk, desk.clock.now())

    assert lines[-2:] == ["", "Questions answered instantly: 3 · sent on to staff: 1"]
    assert "Requests created: 1" in lines
    # Counted in the month they were asked.
    assert not any("answered instantly" in line for line in report(desk, datetime(2027, 1, 5)))


def test_forgetme_erases_the_guests_questions(desk: Desk, sofia_supervisor: Staff) -> None:
    guest_writes(desk, ANNA, "Wann gibt es Frühstück?")
    other = Person(telegram_id=5002, chat_id=5002, first_name="Giulia", language_code="it")
    guest_writes(desk, other, "a che ora è la colazione?")

    def forget(s: Session, out: Outbox, env: Env, now: datetime) -> object:
        return privacy.forget(
            s,
            out,
            env,
            person=ANNA,
            guest_id=guest_id_of(s, GUEST),
            confirmed=True,
            message_id=None,
            now=now,
        )

    desk(forget)

    texts = desk.read(
        lambda s: [q.text for q in s.exec(select(Question).order_by(col(Question.id)))]
    )
    assert texts == ["", "a che ora è la colazione?"]
    # Still counted: the figure holds no personal data.
    assert report(desk, desk.clock.now())[-1].startswith("Questions answered instantly: 2")


# --- through the Telegram layer ---------------------------------------------------------------


def last_markup(bot: Bot, chat_id: int) -> list[tuple[str, str]]:
    """(label, unsigned data) of the buttons of the last message to ``chat_id``."""
    call = bot.telegram.sent(chat_id)[-1]
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    return [
        (b["text"], b["callback_data"].rpartition(":")[0])
        for row in markup["inline_keyboard"]
        for b in row
    ]


async def test_answers_in_two_languages_and_the_way_to_staff(bot: Bot, desk: Desk) -> None:
    register(desk, MARIA, "Maria", "housekeeping", language="it")
    register(desk, 1003, "Olga", "front_desk", language="ru")

    await bot.say(GUEST, "wann ist das Frühstück", language_code="de")
    assert bot.telegram.texts(GUEST) == [
        "Das Frühstück servieren wir von 7:00 bis 10:30 Uhr (am Wochenende bis 11:00 Uhr) in "
        "der Sala Verde im Erdgeschoss, gleich hinter der Rezeption."
    ]
    assert last_markup(bot, GUEST) == [("Nicht meine Frage – ans Team weiterleiten", "ask:1")]

    await bot.say(5002, "a che ora è la colazione", language_code="it")
    assert bot.telegram.texts(5002) == [
        "La colazione è servita dalle 7:00 alle 10:30 (nel fine settimana fino alle 11:00) "
        "nella Sala Verde, al piano terra, subito dopo la reception."
    ]
    assert last_markup(bot, 5002) == [("Non è quello che chiedevo – inoltra allo staff", "ask:2")]
    assert bot.telegram.texts(MARIA) == [] and bot.telegram.texts(1003) == []

    await bot.press(GUEST, "ask:1", language_code="de")

    edit = bot.telegram.sent(GUEST, "editMessageText")[-1]
    assert edit.params["text"].endswith("↪ Als Anfrage #1 an unser Team weitergeleitet.")
    assert "reply_markup" not in edit.params
    assert any(t.startswith("Anfrage #1 erhalten") for t in bot.telegram.texts(GUEST))
    assert "wann ist das Frühstück" in bot.telegram.texts(1003)[-1]  # the front desk's card

    await bot.press(GUEST, "ask:1", language_code="de")
    assert bot.telegram.alerts()[-1] == ("Bereits als Anfrage #1 an unser Team weitergeleitet.")
    with desk.sessions() as session:
        assert len(session.exec(select(Request)).all()) == 1

    # Another guest cannot send Anna's question on.
    await bot.press(5002, "ask:1", language_code="it")
    assert bot.telegram.alerts()[-1] == (
        "Questa domanda non è più in archivio. La prego di scrivermela di nuovo."
    )


async def test_after_forgetme_the_button_is_refused(bot: Bot) -> None:
    await bot.say(GUEST, "What's the Wi-Fi password?")
    answer = bot.telegram.last_message(GUEST)
    await bot.say(GUEST, "/forgetme")
    await bot.press(GUEST, "forget:yes")

    await bot.feed(callback_update(GUEST, bot.deps.signer.sign_data("ask:1"), answer))

    assert bot.telegram.alerts()[-1] == (
        "This question is no longer on record. Please write it to me again."
    )
    with bot.deps.sessions() as session:
        assert session.get(Question, 1).text == ""  # type: ignore[union-attr]
        assert session.exec(select(Request)).all() == []
