"""Every request is a thread: replies, bursts, the explanation after a "No", and staff writing to
the guest through the bot — played through ``Application.process_update`` and the use cases."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlmodel import col, select

from bot.i18n import I18n
from bot.models import Event, EventKind, Request, RequestStatus, Role
from tests.conftest import Desk, answer_followup, followup_sent, register, submit
from tests.harness import Bot

GUEST = 5001
MARIA, LUCA, SOFIA = 1001, 1002, 1009  # Maria reads Italian, Luca English, Sofia Russian
I18N = I18n("en")
it = I18N.translator("it").gettext
ru = I18N.translator("ru").gettext
ROOM = {"de": "Zimmer", "it": "camera", "ru": "номер"}
TOWELS = {"de": "Zwei Handtücher bitte", "it": "Due asciugamani per favore", "ru": "Два полотенца"}
PHOTO = [{"file_id": "P1", "file_unique_id": "p1", "width": 800, "height": 600}]


@pytest.fixture
def staffed(desk: Desk) -> None:
    register(desk, MARIA, "Maria Rossi", "housekeeping", language="it")
    register(desk, LUCA, "Luca", "housekeeping", language="en", on_duty=False)
    register(desk, SOFIA, "Sofia", "front_desk", language="ru", role=Role.SUPERVISOR)


def tr(locale: str, msgid: str, **values: Any) -> str:
    return I18N.translator(locale).gettext(msgid).format(**values)


def replying_to(message: dict[str, Any]) -> dict[str, Any]:
    """The ``reply_to_message`` of a message that replies to ``message``."""
    return {"reply_to_message": message}


def requests_of(desk: Desk) -> list[Request]:
    return desk.read(lambda s: list(s.exec(select(Request).order_by(col(Request.id)))))


def events_of(desk: Desk, request_id: int) -> list[Event]:
    query = select(Event).where(Event.request_id == request_id).order_by(col(Event.id))
    return desk.read(lambda s: list(s.exec(query)))


async def open_request(bot: Bot, lang: str, text: str | None = None) -> dict[str, Any]:
    """The guest (speaking ``lang``) in room 412 asks for towels; the acknowledgement."""
    await bot.say(GUEST, "/start room-412", language_code=lang)
    await bot.say(GUEST, text or TOWELS[lang], language_code=lang)
    return bot.telegram.last_message(GUEST)


def added_line(locale: str, number: int, text: str) -> str:
    head = tr(locale, "➕ #{number} · room {room} — the guest added:", number=number, room="412")
    return f"{head}\n{text}"


# --- 1. Telegram replies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "extra"),
    [("de", "Und ein Kissen, bitte"), ("it", "E anche un cuscino"), ("ru", "И ещё подушку")],
)
async def test_a_reply_to_the_acknowledgement_adds_to_the_request(
    bot: Bot, desk: Desk, staffed: None, lang: str, extra: str
) -> None:
    ack = await open_request(bot, lang)
    card = bot.telegram.last_message(MARIA)
    bot.clock.advance(120)  # long after the burst window: only the reply threads it

    await bot.say(GUEST, extra, language_code=lang, **replying_to(ack))

    assert bot.telegram.texts(GUEST)[-1] == tr(lang, "Added to your request #{number}.", number=1)
    notice = bot.telegram.sent(MARIA)[-1]
    assert notice.params["text"] == added_line("it", 1, extra)
    assert notice.params["reply_parameters"]["message_id"] == card["message_id"]  # on her card
    (request,) = requests_of(desk)
    assert request.text == f"{TOWELS[lang]}\n{extra}"
    assert [e.kind for e in events_of(desk, 1)][-1] == EventKind.ADDED

    await bot.say(SOFIA, "/log 1", language_code="ru")
    assert ru("the guest added: {text}").format(text=extra) in bot.telegram.texts(SOFIA)[-1]


async def test_a_reply_to_the_guests_own_first_message_adds_to_it(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await bot.say(GUEST, "/start room-412", language_code="de")
    await bot.say(GUEST, "Zwei Handtücher bitte", language_code="de", message_id=777001)
    first = {"message_id": 777001, "date": 0, "chat": {"id": GUEST, "type": "private"}}
    bot.clock.advance(120)

    await bot.say(GUEST, "Am besten vor 18 Uhr", language_code="de", **replying_to(first))

    assert len(requests_of(desk)) == 1
    assert requests_of(desk)[0].message_id == 777001
    assert bot.telegram.texts(MARIA)[-1] == added_line("it", 1, "Am besten vor 18 Uhr")


@pytest.mark.parametrize(
    ("lang", "still"),
    [("de", "Das Handtuch ist immer noch schmutzig"), ("ru", "Полотенце всё ещё грязное")],
)
async def test_a_reply_to_the_done_message_reopens_the_request(
    bot: Bot, desk: Desk, staffed: None, lang: str, still: str
) -> None:
    await open_request(bot, lang)
    await bot.press(MARIA, "acc:1")
    await bot.press(MARIA, "done:1")
    done = bot.telegram.last_message(GUEST)
    bot.clock.advance(60)

    await bot.say(GUEST, still, language_code=lang, **replying_to(done))

    (request,) = requests_of(desk)
    assert request.status == RequestStatus.OPEN and request.reopened_count == 1
    assert bot.telegram.texts(GUEST)[-1] == tr(
        lang,
        "Added to your request #{number}. It is open again, and the team has been told.",
        number=1,
    )
    head = it(
        "⚠️ #{number} · room {room} — the guest says it is not fixed yet, and the request is "
        "open again:"
    ).format(number=1, room="412")
    maria = bot.telegram.texts(MARIA)
    assert f"{head}\n{still}" in maria  # she did it, and hears why it is back
    assert any(it("⚠️ REOPENED: the guest said it is not fixed yet.") in t for t in maria)
    assert bot.telegram.texts(SOFIA)[-1].startswith("⚠️")  # the duty manager is told
    # The follow-up that was due is dropped: the request is no longer done.
    bot.clock.advance(600)
    await bot.run_timers()
    assert not any("Hello again" in t for t in bot.telegram.texts(GUEST))


async def test_a_reply_to_a_closed_or_cancelled_request_is_a_new_request(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    ack = await open_request(bot, "de")
    await bot.press(GUEST, "can:1")
    bot.clock.advance(60)

    await bot.say(GUEST, "Bitte noch ein Handtuch", language_code="de", **replying_to(ack))

    assert [r.id for r in requests_of(desk)] == [1, 2]
    assert bot.telegram.texts(GUEST)[-1] == tr(
        "de",
        "Request #{number} received — {department} is on it.",
        number=2,
        department="Housekeeping",
    )


async def test_thanks_in_reply_to_the_done_message_stays_courtesy(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await open_request(bot, "it")
    await bot.press(MARIA, "acc:1")
    await bot.press(MARIA, "done:1")
    done = bot.telegram.last_message(GUEST)
    before = len(bot.telegram.texts(MARIA))

    await bot.say(GUEST, "Grazie mille!", language_code="it", **replying_to(done))

    assert requests_of(desk)[0].status == RequestStatus.DONE
    assert len(bot.telegram.texts(MARIA)) == before
    assert bot.telegram.texts(GUEST)[-1] == tr(
        "it", "You're very welcome! If you need anything else, just write to me."
    )


# --- 2. Bursts -------------------------------------------------------------------------------


async def test_a_photo_3_s_after_its_text_joins_it_and_20_s_later_does_not(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await open_request(bot, "de")
    to_guest = len(bot.telegram.texts(GUEST))
    bot.clock.advance(3)

    await bot.say(GUEST, None, language_code="de", photo=PHOTO)

    assert len(requests_of(desk)) == 1
    assert requests_of(desk)[0].media_kind == "photo"
    assert len(bot.telegram.texts(GUEST)) == to_guest  # the acknowledgement covers it
    (photo,) = bot.telegram.sent(MARIA, "sendPhoto")
    assert photo.params["photo"] == "P1"
    assert photo.params["caption"] == added_line("it", 1, "[" + it("photo") + "]")

    bot.clock.advance(20)
    await bot.say(GUEST, None, language_code="de", photo=PHOTO)
    assert [r.id for r in requests_of(desk)] == [1, 2]


async def test_an_album_and_a_voice_note_join_the_request(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await bot.say(GUEST, "/start room-412", language_code="it")
    album = {"media_group_id": "ALB1"}
    await bot.say(GUEST, None, language_code="it", caption="Asciugamani macchiati", photo=PHOTO)
    for _ in range(3):  # each item a few seconds after the last: the album keeps it open
        bot.clock.advance(6)
        await bot.say(GUEST, None, language_code="it", photo=PHOTO, **album)
    bot.clock.advance(5)
    voice = {"file_id": "V1", "file_unique_id": "v1", "duration": 3}
    await bot.say(GUEST, None, language_code="it", voice=voice)

    (request,) = requests_of(desk)
    assert request.department == "housekeeping"
    assert len(bot.telegram.sent(MARIA, "sendPhoto")) == 1 + 3
    assert bot.telegram.sent(MARIA, "sendVoice")[0].params["voice"] == "V1"
    assert [t for t in bot.telegram.texts(GUEST) if "#" in t] == [
        tr(
            "it",
            "Request #{number} received — {department} is on it.",
            number=1,
            department="Governante",
        )
    ]


async def test_the_tail_of_a_long_text_joins_the_first_parts_department(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    first = ("Bitte drei Handtücher und " + "sehr viel Geduld " * 300)[:4096]
    tail = "und danach bitte das Zimmer lüften " * 25 + "danke"
    await bot.say(GUEST, "/start room-412", language_code="de")
    await bot.say(GUEST, first, language_code="de")
    bot.clock.advance(1)
    await bot.say(GUEST, tail, language_code="de")

    (request,) = requests_of(desk)
    assert request.department == "housekeeping" and request.text == f"{first}\n{tail}"
    assert bot.telegram.texts(MARIA)[-1] == added_line("it", 1, tail)
    assert bot.telegram.texts(SOFIA) == []  # the front desk never saw a stray tail


def test_bursts_can_be_turned_off(desk: Desk, staffed: None, guest_room_412: Any) -> None:
    limits = desk.env.hotel.limits.model_copy(update={"burst_seconds": 0})
    desk.env = replace(desk.env, hotel=desk.env.hotel.model_copy(update={"limits": limits}))
    submit(desk, guest_room_412, "Zwei Handtücher bitte")
    second = submit(desk, guest_room_412, "", media_kind="photo", file_id="P1")
    assert second.id == 2


def test_a_flood_within_a_burst_is_one_request(
    desk: Desk, staffed: None, guest_room_412: Any
) -> None:
    for n in range(30):
        submit(desk, guest_room_412, f"Handtuch {n}")
    (request,) = requests_of(desk)
    assert request.text.splitlines()[-1] == "Handtuch 29"


# --- 3. The explanation after "No, not yet" --------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "why"),
    [("de", "Das Bügeleisen ist nie gekommen"), ("it", "Il ferro non è mai arrivato")],
)
async def test_after_no_the_explanation_threads_into_the_request(
    bot: Bot, desk: Desk, staffed: None, lang: str, why: str
) -> None:
    await open_request(bot, lang)
    await bot.press(MARIA, "acc:1")
    await bot.press(MARIA, "done:1")
    bot.clock.advance(300)
    await bot.run_timers()
    await bot.press(GUEST, "fu:1:n")
    asked = bot.telegram.sent(GUEST, "editMessageText")[-1].params["text"]
    assert asked.endswith(tr(lang, "What is still wrong? Your next message goes with the request."))
    bot.clock.advance(20 * 60)

    await bot.say(GUEST, why, language_code=lang)

    (request,) = requests_of(desk)
    assert request.status == RequestStatus.OPEN and why in request.text
    assert bot.telegram.texts(GUEST)[-1] == tr(lang, "Added to your request #{number}.", number=1)
    assert bot.telegram.texts(MARIA)[-1] == added_line("it", 1, why)  # she holds the new offer
    added = [e for e in events_of(desk, 1) if e.kind == EventKind.ADDED]
    assert [e.details["via"] for e in added] == ["explain"]

    bot.clock.advance(31 * 60)  # a later message is a request of its own
    await bot.say(GUEST, TOWELS[lang], language_code=lang)
    assert len(requests_of(desk)) == 2


# --- 4. Staff write to the guest -------------------------------------------------------------


async def test_relay_both_ways_keeps_identities_private(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await open_request(bot, "de")
    await bot.press(MARIA, "acc:1")
    assert bot.telegram.button_data(MARIA)[:3] == ["done:1", "rel:1", "rpl:1"]

    await bot.press(MARIA, "rpl:1")
    assert bot.telegram.texts(MARIA)[-1] == it(
        "Write your message to the guest (request #{number}). Your next message here goes to "
        "them with your first name; your Telegram account stays private."
    ).format(number=1)
    await bot.say(MARIA, "Cuscino morbido o rigido?", language_code="it")

    head = tr("de", "💬 {name}, about your request #{number}:", name="Maria", number=1)
    assert bot.telegram.texts(GUEST)[-1] == f"{head}\nCuscino morbido o rigido?"
    relayed = bot.telegram.last_message(GUEST)
    assert bot.telegram.texts(MARIA)[-1] == it(
        "Sent to the guest of request #{number}. Their answer will come to you here."
    ).format(number=1)

    bot.clock.advance(5 * 60)
    await bot.say(GUEST, "Weich, bitte", language_code="de")
    answers = it("💬 #{number} · room {room} — the guest answers:").format(number=1, room="412")
    assert bot.telegram.texts(MARIA)[-1] == f"{answers}\nWeich, bitte"
    assert bot.telegram.texts(GUEST)[-1] == tr(
        "de", "Thank you, I have passed your answer on (request #{number}).", number=1
    )

    # Long after the window, a Telegram reply to her message still goes back to her.
    bot.clock.advance(60 * 60)
    await bot.say(GUEST, "Und zwei davon", language_code="de", **replying_to(relayed))
    assert bot.telegram.texts(MARIA)[-1] == f"{answers}\nUnd zwei davon"

    assert len(requests_of(desk)) == 1
    assert requests_of(desk)[0].text == TOWELS["de"]  # a conversation, not the request's text
    kinds = [e.kind for e in events_of(desk, 1)]
    assert kinds.count(EventKind.STAFF_MESSAGE) == 1 and kinds.count(EventKind.GUEST_MESSAGE) == 2
    await bot.say(SOFIA, "/log 1", language_code="ru")
    timeline = bot.telegram.texts(SOFIA)[-1]
    assert (
        ru("{name} wrote to the guest: {text}").format(
            name="Maria Rossi", text="Cuscino morbido o rigido?"
        )
        in timeline
    )
    assert ru("the guest answered: {text}").format(text="Weich, bitte") in timeline
    # Neither side learns the other's Telegram account.
    assert not any(str(MARIA) in t for t in bot.telegram.texts(GUEST))
    assert "Rossi" not in relayed["text"]  # the first name only
    assert not any(str(GUEST) in t for t in bot.telegram.texts(MARIA))


async def test_relay_is_refused_once_the_request_is_finished(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await open_request(bot, "ru")
    await bot.press(MARIA, "acc:1")
    await bot.press(MARIA, "rpl:1")
    await bot.press(GUEST, "can:1")
    to_guest = len(bot.telegram.texts(GUEST))

    await bot.say(MARIA, "Arrivo tra 5 minuti", language_code="it")

    assert bot.telegram.texts(MARIA)[-1] == it(
        "Request #{number} is finished, so nothing more is sent to its guest."
    ).format(number=1)
    assert len(bot.telegram.texts(GUEST)) == to_guest
    await bot.press(MARIA, "rpl:1")  # the button of an old card
    assert "#1" in bot.telegram.alerts()[-1]
    await bot.say(GUEST, "Два полотенца, пожалуйста", language_code="ru")  # the relay is over
    assert [r.id for r in requests_of(desk)] == [1, 2]


async def test_forgetme_erases_what_was_added_and_relayed(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    ack = await open_request(bot, "de")
    await bot.press(MARIA, "acc:1")
    await bot.press(MARIA, "rpl:1")
    await bot.say(MARIA, "Welche Farbe?", language_code="it")
    await bot.say(GUEST, "Blau, bitte", language_code="de")
    bot.clock.advance(60)
    await bot.say(GUEST, "Und ein Kissen", language_code="de", **replying_to(ack))
    assert {e.kind for e in events_of(desk, 1)} >= {
        EventKind.ADDED,
        EventKind.STAFF_MESSAGE,
        EventKind.GUEST_MESSAGE,
    }

    await bot.say(GUEST, "/forgetme", language_code="de")
    await bot.press(GUEST, "forget:yes", language_code="de")

    said = [
        e.details
        for e in events_of(desk, 1)
        if e.kind in (EventKind.ADDED, EventKind.STAFF_MESSAGE, EventKind.GUEST_MESSAGE)
    ]
    assert said and all(details == {} for details in said)
    assert requests_of(desk)[0].text == ""


async def test_an_answer_to_a_staff_message_after_done_reopens_nothing(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await open_request(bot, "it")
    await bot.press(MARIA, "acc:1")
    await bot.press(MARIA, "rpl:1")
    await bot.say(MARIA, "Li ho lasciati davanti alla porta", language_code="it")
    await bot.press(MARIA, "done:1")

    await bot.say(GUEST, "Li ho trovati, perfetti", language_code="it")

    assert requests_of(desk)[0].status == RequestStatus.DONE
    answers = it("💬 #{number} · room {room} — the guest answers:").format(number=1, room="412")
    assert bot.telegram.texts(MARIA)[-1] == f"{answers}\nLi ho trovati, perfetti"


def test_explanations_can_be_turned_off(desk: Desk, staffed: None, guest_room_412: Any) -> None:
    limits = desk.env.hotel.limits.model_copy(update={"explain_minutes": 0})
    desk.env = replace(desk.env, hotel=desk.env.hotel.model_copy(update={"limits": limits}))
    followup_sent(desk, guest_room_412, "Zwei Handtücher bitte")

    answer_followup(desk, guest_room_412.telegram_id, 1, fine=False)

    (reopened,) = desk.texts_to(guest_room_412.chat_id)
    assert reopened == tr(
        "de",
        "I am sorry. Request #{number} is open again and back with {department} as a "
        "priority, and the duty manager has been told.",
        number=1,
        department="Housekeeping",
    )
    assert submit(desk, guest_room_412, "Das Bügeleisen ist nie gekommen").id == 2


# --- what a burst does not take ------------------------------------------------------------


async def test_the_room_and_a_question_right_after_a_request_are_not_added_to_it(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await bot.say(GUEST, "/start", language_code="de")
    await bot.say(GUEST, TOWELS["de"], language_code="de")
    bot.clock.advance(2)  # well inside the burst window

    await bot.say(GUEST, "412", language_code="de")
    bot.clock.advance(2)
    await bot.say(GUEST, "Wie lautet das WLAN-Passwort?", language_code="de")

    (request,) = requests_of(desk)
    assert (request.room, request.text) == ("412", TOWELS["de"])
    assert "Passwort: welcome2026" in bot.telegram.texts(GUEST)[-1]  # answered at once
    assert not any(t.startswith("➕") for t in bot.telegram.texts(MARIA))
    assert EventKind.ADDED not in [e.kind for e in events_of(desk, 1)]


async def test_a_checkout_ends_the_conversation_of_the_stay(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await open_request(bot, "it")
    await bot.say(SOFIA, "/checkout 412", language_code="ru")
    bot.clock.advance(2)  # the burst window of #1 would still be open

    await bot.say(GUEST, "E anche un cuscino", language_code="it")

    assert [r.id for r in requests_of(desk)] == [1, 2]
    assert not any(t.startswith("➕") for t in bot.telegram.texts(MARIA))


async def test_a_flood_of_replies_is_kept_but_staff_are_not_flooded(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    ack = await open_request(bot, "it")
    bot.clock.advance(60)  # past the burst: each message is a Telegram reply to the ack
    for n in range(30):
        await bot.say(GUEST, f"cuscino {n}", language_code="it", **replying_to(ack))

    (request,) = requests_of(desk)
    assert request.text.splitlines()[-1] == "cuscino 29"  # nothing the guest wrote is lost
    added = [e for e in events_of(desk, 1) if e.kind == EventKind.ADDED]
    assert len(added) == 30
    notices = [t for t in bot.telegram.texts(MARIA) if t.startswith("➕")]
    assert len(notices) == 20  # limits.guest_messages_per_minute of the test hotel's default
    told = tr(
        "it",
        "You are sending a lot very quickly. I am adding all of it to request #{number}, and "
        "the team will read it there together.",
        number=1,
    )
    assert bot.telegram.texts(GUEST).count(told) == 1  # once a minute, not per message
