"""Staff tools on a card: Not a request, Merge into #M, notes; the guest's stay on every card;
``/guest 412``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.config import HotelConfig
from bot.i18n import I18n
from bot.models import (
    Event,
    FollowUp,
    Guest,
    GuestNote,
    Request,
    RequestStatus,
    Role,
    Timer,
)
from bot.services import cards, prompts
from bot.services.common import Env, Person
from tests.conftest import Desk, register, run_timers, staff_id_of, start_chat, submit
from tests.harness import Bot


@pytest.fixture
def hotel(hotel: HotelConfig) -> HotelConfig:
    """The test hotel without bursts: each message of these guests is a request of its own
    (within ``limits.burst_seconds`` it would join the one before; tests/test_threads.py)."""
    limits = hotel.limits.model_copy(update={"burst_seconds": 0})
    return hotel.model_copy(update={"limits": limits})


@pytest.fixture
def env(hotel: HotelConfig) -> Env:
    return Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))


GUEST = 5001
MARIA, LUCA, JONAS, SOFIA = 1001, 1002, 1004, 1009
ANNA = Person(telegram_id=GUEST, chat_id=GUEST, first_name="Anna", language_code="en")
CHAT = "The towels were perfect, we loved the room"


@pytest.fixture
def staffed(desk: Desk) -> None:
    register(desk, MARIA, "Maria", "housekeeping", language="it")
    register(desk, LUCA, "Luca", "housekeeping")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)


def _request(engine: Engine, request_id: int) -> Request:
    with Session(engine) as session:
        found = session.get(Request, request_id)
        assert found is not None
        return found


def _events(engine: Engine, request_id: int) -> list[tuple[str, str, dict[str, object]]]:
    with Session(engine) as session:
        query = select(Event).where(Event.request_id == request_id).order_by(col(Event.id))
        return [(e.kind, e.actor_name, e.details) for e in session.exec(query)]


def _nothing_follows(engine: Engine) -> None:
    """No follow-up and no timer of one exists: nothing will ask the guest about it (the end
    of the guest's stay is a timer of its own)."""
    with Session(engine) as session:
        assert session.exec(select(FollowUp)).all() == []
        assert session.exec(select(Timer).where(Timer.kind != "room.expire")).all() == []


# --- Not a request ---------------------------------------------------------------------------


def test_a_quick_reason_closes_the_request_without_follow_up_or_a_word_to_the_guest(
    desk: Desk, engine: Engine, staffed: None
) -> None:
    start_chat(desk, ANNA, "room-412")
    request = submit(desk, ANNA, CHAT)
    assert request.id == 1

    desk(
        lambda s, out, env, now: cards.ask_dismiss(
            s, out, env, staff_id=staff_id_of(s, MARIA), request_id=1, now=now
        )
    )
    (question,) = desk.messages_to(MARIA)
    assert question.text == (
        "Chiudere la #1 perché non è una richiesta? Non verrà inviato alcun follow-up. "
        "Scelga un motivo o lo scriva in una riga."
    )
    desk(
        lambda s, out, env, now: cards.dismiss(
            s,
            out,
            env,
            staff_id=staff_id_of(s, MARIA),
            request_id=1,
            reason="chat",
            message_id=77,
            now=now,
        )
    )

    closed = _request(engine, 1)
    assert (closed.status, closed.closed_at) == (RequestStatus.CLOSED, desk.clock.now())
    assert _events(engine, 1)[-1] == ("dismissed", "Maria", {"reason": "chat"})
    assert desk.texts_to(GUEST) == []  # the guest is not told anything
    maria = desk.messages_to(MARIA)
    assert maria[0].text.endswith("🚫 Chiusa da Maria: non era una richiesta.")
    assert maria[0].buttons == ()
    assert maria[-1].text == (
        "La #1 è chiusa perché non era una richiesta; l'ospite non riceverà alcun follow-up."
    )
    assert maria[-1].edit_message_id == 77  # the question becomes the confirmation
    assert desk.texts_to(LUCA)[0].endswith("🚫 Closed as not a request by Maria.")
    _nothing_follows(engine)


async def test_not_a_request_with_a_typed_reason_shows_in_the_timeline(
    bot: Bot, engine: Engine, staffed: None
) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, CHAT)
    guest_messages = len(bot.telegram.texts(GUEST))

    await bot.press(MARIA, "nar:1")
    assert bot.telegram.button_data(MARIA) == [
        "narr:1:chat",
        "narr:1:duplicate",
        "narr:1:test",
        "narr:1:none",
        "keep:1",
    ]
    await bot.say(MARIA, "L'ospite ci   ringrazia\nper gli asciugamani")

    assert bot.telegram.texts(MARIA)[-1] == (
        "La #1 è chiusa perché non era una richiesta; l'ospite non riceverà alcun follow-up."
    )
    luca_card = bot.telegram.sent(LUCA, "editMessageText")[-1].params
    assert luca_card["text"].endswith("🚫 Closed as not a request by Maria.")
    assert "reply_markup" not in luca_card  # no Accept left on the colleague's copy
    assert len(bot.telegram.texts(GUEST)) == guest_messages
    await bot.say(SOFIA, "/log 1")
    assert (
        "closed as not a request by Maria: “L'ospite ci ringrazia per gli asciugamani”"
        in bot.telegram.texts(SOFIA)[-1]
    )
    assert _request(engine, 1).status == RequestStatus.CLOSED
    _nothing_follows(engine)
    await bot.say(MARIA, "ancora?")  # the question was answered once: now she gets her help
    assert bot.telegram.texts(MARIA)[-1].startswith("Quando è in servizio")


async def test_a_quick_reason_button_edits_the_question_and_is_in_the_log(
    bot: Bot, engine: Engine, staffed: None
) -> None:
    await bot.say(GUEST, CHAT)
    await bot.press(LUCA, "acc:1")
    await bot.press(LUCA, "nar:1")
    question = bot.telegram.last_message(LUCA)

    await bot.press(LUCA, "narr:1:test")

    edit = bot.telegram.sent(LUCA, "editMessageText")[-1].params
    assert int(edit["message_id"]) == question["message_id"]
    assert edit["text"] == "#1 is closed as not a request; the guest gets no follow-up."
    assert any(
        text.endswith("🚫 Closed as not a request by Luca.") for text in bot.telegram.texts(LUCA)
    )
    await bot.say(SOFIA, "/log 1")
    assert "closed as not a request by Luca: Test" in bot.telegram.texts(SOFIA)[-1]
    _nothing_follows(engine)


async def test_keep_it_open_leaves_the_request_and_drops_the_question(
    bot: Bot, engine: Engine, staffed: None
) -> None:
    await bot.say(GUEST, "two towels please")
    await bot.press(LUCA, "nar:1")
    await bot.press(LUCA, "keep:1")
    assert bot.telegram.texts(LUCA)[-1] == "#1 stays as it was."
    await bot.say(LUCA, "sorry, wrong button")  # not taken as a reason
    assert bot.telegram.texts(LUCA)[-1].startswith("New requests for your department")
    assert _request(engine, 1).status == RequestStatus.OPEN


async def test_a_typed_reason_after_a_colleague_took_the_request_is_refused(
    bot: Bot, engine: Engine, staffed: None
) -> None:
    await bot.say(GUEST, CHAT)
    await bot.press(MARIA, "nar:1")
    await bot.press(LUCA, "acc:1")
    await bot.say(MARIA, "solo un grazie")
    assert bot.telegram.texts(MARIA)[-1] == "La richiesta #1 è assegnata a un'altra persona."
    assert _request(engine, 1).status == RequestStatus.ACCEPTED


# --- Merge -----------------------------------------------------------------------------------


async def test_merge_closes_the_duplicate_into_the_other_request(
    bot: Bot, engine: Engine, staffed: None
) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "two towels please")
    await bot.say(GUEST, "towels!! still waiting")
    await bot.press(LUCA, "acc:1")

    await bot.press(MARIA, "mrg:2")
    assert bot.telegram.texts(MARIA)[-1] == (
        "A quale richiesta dello stesso ospite unire la #2?\n#1 · in corso · two towels please"
    )
    assert bot.telegram.button_data(MARIA) == ["mrgi:2:1"]
    await bot.press(MARIA, "mrgi:2:1")

    merged = _request(engine, 2)
    assert (merged.status, merged.merged_into_id) == (RequestStatus.CLOSED, 1)
    assert _request(engine, 1).status == RequestStatus.ACCEPTED
    assert _events(engine, 2)[-1] == ("merged", "Maria", {"into": 1})
    assert _events(engine, 1)[-1] == ("merged_in", "Maria", {"duplicate": 2})
    assert bot.telegram.texts(GUEST)[-1] == ("Your request #2 is being handled together with #1.")
    assert bot.telegram.texts(MARIA)[-1] == (
        "La #2 è stata unita alla #1; l'ospite è stato informato."
    )
    assert bot.telegram.texts(LUCA)[-1] == (  # Luca holds #1: he reads what #2 said
        "🔗 #1 · room 412 — a duplicate of the same guest, merged into it:\ntowels!! still waiting"
    )
    luca = bot.telegram.sent(LUCA, "editMessageText")[-1].params
    assert luca["text"].startswith("Request #2") and luca["text"].endswith(
        "🔗 Merged into #1 by Maria."
    )
    await bot.say(SOFIA, "/log 2")
    assert "closed by Maria as a duplicate of #1" in bot.telegram.texts(SOFIA)[-1]
    await bot.say(SOFIA, "/log 1")
    assert "#2 of the same guest merged into this one by Maria" in bot.telegram.texts(SOFIA)[-1]
    _nothing_follows(engine)


async def test_merge_with_nothing_to_merge_into_is_refused_politely(
    bot: Bot, engine: Engine, staffed: None
) -> None:
    await bot.say(GUEST, "two towels please")
    await bot.say(GUEST + 1, "a clean pillow")  # another guest's request does not count

    await bot.press(LUCA, "mrg:1", on_chat=LUCA)

    assert bot.telegram.texts(LUCA)[-1] == (
        "This guest has no other open request, so #1 cannot be merged. If it asks for "
        "nothing, use “Not a request”."
    )
    assert _request(engine, 1).status == RequestStatus.OPEN


def test_merge_into_a_request_that_closed_meanwhile_is_stale(
    desk: Desk, engine: Engine, staffed: None
) -> None:
    from bot.services import errors

    start_chat(desk, ANNA, "room-412")
    submit(desk, ANNA, "two towels please")
    submit(desk, ANNA, "towels again")
    with Session(engine) as session:
        session.execute(update(Request).where(col(Request.id) == 1).values(status="closed"))
        session.commit()
    with pytest.raises(errors.StaleAction):
        desk(
            lambda s, out, env, now: cards.merge(
                s,
                out,
                env,
                staff_id=staff_id_of(s, LUCA),
                request_id=2,
                into_id=1,
                message_id=None,
                now=now,
            )
        )
    assert _request(engine, 2).status == RequestStatus.OPEN


# --- The guest's stay and notes on the card --------------------------------------------------


async def test_cards_show_the_stay_and_the_notes_in_the_readers_language(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    register(desk, JONAS, "Jonas", "housekeeping", language="de")
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "two towels please")
    await bot.press(MARIA, "acc:1")
    await bot.press(MARIA, "done:1")
    await bot.say(GUEST, "a clean pillow")

    await bot.press(MARIA, "note:2")
    assert bot.telegram.texts(MARIA)[-1].startswith("Scriva la sua nota sull'ospite della #2")
    await bot.say(MARIA, "x" * 501)
    assert bot.telegram.texts(MARIA)[-1] == (
        "Spiacenti, questa nota ha 501 caratteri e il massimo è 500. "
        "Ne invii una più breve, per favore."
    )
    await bot.say(MARIA, "Allergica alle piume")  # the same question is still open
    assert bot.telegram.texts(MARIA)[-1] == (
        "Annotato. Comparirà sulle prossime schede dell'ospite della #2 e in /guest."
    )

    await bot.say(GUEST, "towels for the pool")

    maria, jonas = bot.telegram.texts(MARIA)[-1], bot.telegram.texts(JONAS)[-1]
    assert (
        "🕘 2 richieste precedenti in questo soggiorno: #2 in attesa del personale, "
        "#1 completata\n📝 Allergica alle piume"
    ) in maria
    assert (
        "🕘 2 frühere Anfragen während dieses Aufenthalts: #2 wartet auf Bearbeitung, "
        "#1 erledigt\n📝 Allergica alle piume"
    ) in jonas
    assert bot.telegram.button_data(JONAS) == ["acc:3", "nar:3", "mrg:3", "note:3", "urg:3"]
    await bot.press(JONAS, "acc:3")  # the assignee's copy keeps the memory
    assert "📝 Allergica alle piume" in bot.telegram.texts(JONAS)[-1]


def test_the_stay_starts_when_the_room_was_given_else_thirty_days_ago(
    desk: Desk, engine: Engine, staffed: None
) -> None:
    from bot.services import memory

    start_chat(desk, ANNA, "room-412")
    submit(desk, ANNA, "towels")  # #1: last stay, 40 days ago
    desk.clock.advance(40 * 86400)
    run_timers(desk)  # that stay ended: the room is forgotten
    submit(desk, ANNA, "pillow")  # #2
    desk.clock.advance(60)
    latest = submit(desk, ANNA, "clean the room")  # #3
    with Session(engine) as session:
        assert memory.of_request(session, latest).recent == ((2, "open"),)
        guest = session.exec(select(Guest)).one()
        guest.room_set_at = desk.clock.now() - timedelta(seconds=30)  # after #2, before #3
        session.add(guest)
        session.commit()
    later = submit(desk, ANNA, "more towels")  # #4
    with Session(engine) as session:
        known = memory.of_request(session, later)
        assert (known.earlier, known.recent) == (1, ((3, "open"),))


def test_a_card_counts_the_whole_stay_and_lists_the_last_three(
    desk: Desk, engine: Engine, staffed: None
) -> None:
    start_chat(desk, ANNA, "room-412")
    for text in ("towels", "pillow", "clean please", "more towels"):
        submit(desk, ANNA, text)
    submit(desk, ANNA, "another pillow")
    card_text = desk.texts_to(LUCA)[-1]
    assert "🕘 4 earlier requests this stay: #4 waiting for staff, #3 waiting for staff, " in (
        card_text
    )
    assert card_text.endswith("#2 waiting for staff, …")


# --- /guest 412 ------------------------------------------------------------------------------


async def test_guest_command_shows_the_room_its_requests_and_notes(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "two towels please")
    await bot.press(LUCA, "acc:1")
    await bot.say(GUEST, "the TV is broken")
    await bot.press(LUCA, "note:1", on_chat=LUCA)
    await bot.say(LUCA, "Prefers late turndown")

    await bot.say(MARIA, "/guest 412")

    assert bot.telegram.texts(MARIA)[-1] == (
        "Camera 412\n\n"
        "👤 Ospite che parla inglese\n"
        "2 richieste in questo soggiorno:\n"
        "#1 · in corso · two towels please\n"
        "#2 · in attesa del personale · the TV is broken\n"
        "📝 Prefers late turndown (Luca)"
    )
    await bot.say(LUCA, "/guest 999")
    assert bot.telegram.texts(LUCA)[-1] == "Nobody is registered in room 999 at the moment."
    await bot.say(LUCA, "/guest")
    assert bot.telegram.texts(LUCA)[-1] == (
        "Use /guest followed by a room number, for example /guest 412."
    )
    await bot.say(GUEST, "/guest 412")
    assert bot.telegram.texts(GUEST)[-1] == "Only registered hotel staff can do this."


def test_a_note_is_kept_for_the_guest_and_shown_whole_in_the_lookup(
    desk: Desk, engine: Engine, staffed: None
) -> None:
    start_chat(desk, ANNA, "room-412")
    submit(desk, ANNA, "towels")
    long_note = "Prefers feather-free pillows and a late turndown; " * 3  # 150 characters
    desk(
        lambda s, out, env, now: cards.ask_note(
            s, out, env, staff_id=staff_id_of(s, LUCA), request_id=1, now=now
        )
    )
    desk(
        lambda s, out, env, now: prompts.answer(
            s, out, env, staff_id=staff_id_of(s, LUCA), text=long_note, now=now
        )
    )
    with Session(engine) as session:
        (note,) = session.exec(select(GuestNote)).all()
        assert (note.text, note.guest_id) == (long_note.strip(), 1)
    submit(desk, ANNA, "pillow")
    shown = desk.texts_to(LUCA)[-1].rsplit("\n", 1)[-1]
    assert shown.startswith("📝 Prefers") and shown.endswith("…") and len(shown) == 2 + 100
    desk(
        lambda s, out, env, now: cards.guest_lookup(
            s, out, env, staff_id=staff_id_of(s, LUCA), room="412", now=now
        )
    )
    assert desk.texts_to(LUCA)[0].endswith("📝 " + long_note.strip() + " (Luca)")


async def test_the_report_counts_requests_set_aside_apart_from_the_done_ones(
    bot: Bot, engine: Engine, staffed: None
) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "two towels please")  # 1: done by Luca
    await bot.say(GUEST, "towels!! still waiting")  # 2: merged into 1
    await bot.say(GUEST, "just testing the towels button")  # 3: not a request
    await bot.press(MARIA, "mrg:2")
    await bot.press(MARIA, "mrgi:2:1")
    await bot.press(MARIA, "nar:3")
    await bot.press(MARIA, "narr:3:test")
    await bot.press(LUCA, "acc:1")
    await bot.press(LUCA, "done:1")
    assert [_request(engine, n).status for n in (1, 2, 3)] == [
        RequestStatus.DONE,
        RequestStatus.CLOSED,
        RequestStatus.CLOSED,
    ]

    await bot.say(SOFIA, "/report today")

    report = bot.telegram.texts(SOFIA)[-1]
    assert "Done: 1 · cancelled: 0 · still open: 0" in report
    assert "Closed by staff as not a request or as a duplicate: 2" in report
