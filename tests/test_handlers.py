"""Handlers through ``Application.process_update``, with Telegram recorded at its HTTP boundary."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from telegram import Update

from bot.clock import FakeClock
from bot.config import HotelConfig
from bot.db import make_engine
from bot.i18n import I18n
from bot.models import Event, EventKind, Guest, Request, Role, Staff
from bot.services import errors
from bot.services import staff as staff_service
from bot.texts import guest as guest_texts
from tests.conftest import Desk, register, staff_id_of
from tests.harness import Bot, make_bot
from tests.telegram_fakes import message_update

GUEST = 5001
I18N = I18n("en")
italian = I18N.translator("it").gettext
german = I18N.translator("de").gettext
GUEST_HELP = I18N.translator("en").gettext(guest_texts.HELP)
MARIA, LUCA, SOFIA = 1001, 1002, 1009


@pytest.fixture
def staffed(desk: Desk) -> None:
    register(desk, MARIA, "Maria", "housekeeping", language="it")
    register(desk, LUCA, "Luca", "housekeeping")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)


async def test_start_greets_guest_and_asks_for_room(bot: Bot) -> None:
    await bot.say(GUEST, "/start")
    texts = bot.telegram.texts(GUEST)
    assert texts[0].startswith("Welcome to Hotel Testa, Anna!")
    assert texts[1] == "What is your room number? Reply with just the number, for example 412."
    await bot.say(GUEST, "412")
    assert bot.telegram.texts(GUEST)[-1] == "Thank you, I have noted room 412."


async def test_start_with_room_deep_link(bot: Bot) -> None:
    await bot.say(GUEST, "/start room-412")
    texts = bot.telegram.texts(GUEST)
    assert len(texts) == 1 and "Your room: 412." in texts[0]


async def test_guest_to_staff_to_guest(bot: Bot, staffed: None) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "Two towels please")

    assert bot.telegram.texts(GUEST)[-1] == "Request #1 received — Housekeeping is on it."
    assert bot.telegram.button_data(MARIA) == ["acc:1", "nar:1", "mrg:1", "note:1", "urg:1"]
    assert "Room 412" in bot.telegram.texts(LUCA)[-1]

    await bot.press(LUCA, "acc:1")
    assert bot.telegram.texts(GUEST)[-1] == "Luca from Housekeeping has accepted request #1."
    assert bot.telegram.button_data(LUCA) == [
        "done:1",
        "rel:1",
        "rpl:1",
        "nar:1",
        "mrg:1",
        "note:1",
        "urg:1",
    ]
    maria_edit = bot.telegram.sent(MARIA, "editMessageText")[-1]
    assert "Luca" in maria_edit.params["text"] and "reply_markup" not in maria_edit.params

    await bot.press(MARIA, "acc:1")  # Maria reads Italian
    assert bot.telegram.alerts()[-1] == italian("Already taken by {name}.").format(name="Luca")

    await bot.press(LUCA, "done:1")
    assert bot.telegram.texts(GUEST)[-1].startswith("Request #1 is done.")
    assert bot.timers.wake_times[-1] == bot.clock.now() + timedelta(seconds=300)

    bot.clock.advance(300)
    await bot.run_timers()
    assert (
        bot.telegram.texts(GUEST)[-1]
        == "Hello again! Is everything all right with request #1 (Two towels please)?"
    )
    assert bot.telegram.button_data(GUEST) == ["fu:1:y", "fu:1:n"]

    await bot.press(GUEST, "fu:1:y")
    assert (
        bot.telegram.sent(GUEST, "editMessageText")[-1].params["text"]
        == "Glad to hear it! Request #1 is closed."
    )
    await bot.press(GUEST, "rate:1:5")
    assert bot.telegram.texts(GUEST)[-1] == "Thank you for your rating: ★★★★★"


async def test_negative_follow_up_reopens_and_alerts(bot: Bot, staffed: None, desk: Desk) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "towels")
    await bot.press(LUCA, "acc:1")
    await bot.press(LUCA, "done:1")
    bot.clock.advance(300)
    await bot.run_timers()

    await bot.press(GUEST, "fu:1:n")

    assert bot.telegram.texts(GUEST)[-1].startswith("I am sorry. Request #1 is open again")
    assert "REOPENED" in bot.telegram.texts(LUCA)[-1]
    assert bot.telegram.texts(SOFIA)[-1].startswith("⚠️ The guest in room 412 says request #1")


async def test_stale_and_foreign_buttons_get_an_alert(bot: Bot, staffed: None) -> None:
    await bot.say(GUEST, "towels")
    await bot.press(GUEST, "acc:1", on_chat=MARIA)
    assert bot.telegram.alerts()[-1] == "Only registered hotel staff can do this."
    await bot.press(MARIA, "old-button-format", on_chat=MARIA)
    assert bot.telegram.alerts()[-1] == italian("This button no longer applies.")
    await bot.press(LUCA, "done:1", on_chat=LUCA)
    assert (
        bot.telegram.alerts()[-1]
        == "Request #1 is waiting for staff now; this button no longer applies."
    )


async def test_unsupported_content_and_unknown_command(bot: Bot) -> None:
    await bot.say(GUEST, None, contact={"phone_number": "+390612345678", "first_name": "Anna"})
    assert bot.telegram.texts(GUEST)[-1].startswith("Sorry, I cannot handle this kind of message.")
    await bot.say(GUEST, "/frobnicate")
    assert bot.telegram.texts(GUEST)[-1].startswith(
        "I do not know that command.\n\nJust write what you need"
    )


STICKER = {
    "file_id": "S",
    "file_unique_id": "S",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "emoji": "👍",
}


async def test_thanks_greetings_ok_and_stickers_are_answered_in_kind_not_requests(
    bot: Bot, desk: Desk, staffed: None
) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "Two towels please")
    assert bot.telegram.texts(GUEST)[-1].startswith("Request #1 received")
    to_staff = [len(bot.telegram.texts(who)) for who in (MARIA, LUCA, SOFIA)]

    await bot.say(GUEST, "Thank you!")
    assert bot.telegram.texts(GUEST)[-1] == (
        "You're very welcome! If you need anything else, just write to me."
    )
    await bot.say(GUEST, "ok 👍")
    assert bot.telegram.texts(GUEST)[-1] == "Noted. I'm here whenever you need anything."
    await bot.say(GUEST, "Good morning")
    assert bot.telegram.texts(GUEST)[-1] == "Hello! How can I help? Just write what you need."
    await bot.say(GUEST, None, sticker=STICKER)
    assert bot.telegram.texts(GUEST)[-1] == "Noted. I'm here whenever you need anything."
    await bot.say(5002, "Danke schön!", language_code="de")
    assert bot.telegram.texts(5002) == [
        "Sehr gern geschehen! Wenn Sie noch etwas brauchen, schreiben Sie mir einfach."
    ]
    # Only the guests were answered: no staff card, no new request.
    assert [len(bot.telegram.texts(who)) for who in (MARIA, LUCA, SOFIA)] == to_staff
    assert desk.read(lambda s: len(s.exec(select(Request)).all())) == 1

    # Courtesy around a need is the need.
    bot.clock.advance(60)  # past the first request's burst window: a request of its own
    await bot.say(GUEST, "ok, but the TV is still broken")
    assert bot.telegram.texts(GUEST)[-1].startswith("Request #2 received")


async def test_staff_sticker_is_unsupported_content(bot: Bot, staffed: None) -> None:
    await bot.say(MARIA, None, sticker=STICKER)
    assert bot.telegram.texts(MARIA)[-1].startswith("Mi dispiace, non posso gestire")


async def test_photo_voice_and_location_are_requests(bot: Bot, staffed: None) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(
        GUEST,
        None,
        caption="stain on the pillow",
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 1280},
        ],
    )
    photo = bot.telegram.sent(LUCA, "sendPhoto")[0]
    assert photo.params["photo"] == "large"
    assert "stain on the pillow" in bot.telegram.texts(LUCA)[-1]
    bot.clock.advance(60)  # each one later than the burst window of the one before
    await bot.say(GUEST, None, voice={"file_id": "V", "file_unique_id": "v", "duration": 3})
    # No words to route by: the front desk (the fallback department) hears it, nobody else.
    assert [c.params["voice"] for c in bot.telegram.sent(None, "sendVoice")] == ["V"]
    assert [c.params["voice"] for c in bot.telegram.sent(SOFIA, "sendVoice")] == ["V"]
    assert bot.telegram.texts(GUEST)[-1].startswith("Request #2 received")
    bot.clock.advance(60)
    await bot.say(GUEST, None, location={"latitude": 41.9, "longitude": 12.5})
    (location,) = bot.telegram.sent(None, "sendLocation")
    assert location.params["chat_id"] == SOFIA
    assert (location.params["latitude"], location.params["longitude"]) == (41.9, 12.5)
    assert bot.telegram.texts(GUEST)[-1].startswith("Request #3 received")


async def test_duty_command_and_button(bot: Bot, desk: Desk) -> None:
    register(desk, MARIA, "Maria", "housekeeping", on_duty=False)
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "towels")
    assert "Nobody is on duty" in bot.telegram.texts(GUEST)[-1]

    await bot.say(MARIA, "/duty")
    assert bot.telegram.texts(MARIA)[-1] == "You are off duty: no new requests reach you."
    assert bot.telegram.button_data(MARIA) == ["duty:on"]
    await bot.press(MARIA, "duty:on")
    assert bot.telegram.texts(MARIA)[-1] == "1 waiting request has been sent to you."
    assert "towels" in bot.telegram.texts(MARIA)[-2]
    await bot.press(MARIA, "acc:1")
    assert bot.telegram.texts(GUEST)[-1] == "Maria from Housekeeping has accepted request #1."
    await bot.say(MARIA, "/tasks")
    assert bot.telegram.texts(MARIA)[-1] == "Your accepted requests:\n#1 · room 412 · towels"
    await bot.say(MARIA, "/duty off")
    assert bot.telegram.texts(MARIA)[-1].startswith("You still have 1 accepted request (#1).")


async def test_supervisor_commands(bot: Bot, staffed: None) -> None:
    await bot.say(GUEST, "towels")
    await bot.say(SOFIA, "/log 1")
    assert bot.telegram.texts(SOFIA)[-1].startswith("Request #1 · Housekeeping · waiting for staff")
    await bot.say(SOFIA, "/log")
    assert (
        bot.telegram.texts(SOFIA)[-1]
        == "Use /log followed by a request number, for example /log 12."
    )
    await bot.say(SOFIA, "/followups someday")
    assert (
        bot.telegram.texts(SOFIA)[-1]
        == "Use /followups, /followups yesterday or /followups 2026-11-23."
    )
    await bot.say(SOFIA, "/followups")
    assert bot.telegram.texts(SOFIA)[-1].startswith("Follow-ups sent on Monday, November 23, 2026")
    await bot.say(LUCA, "/log 1")
    assert bot.telegram.texts(LUCA)[-1] == "This command is for supervisors."
    await bot.say(GUEST, "/log 1")
    assert bot.telegram.texts(GUEST)[-1] == "Only registered hotel staff can do this."


async def test_supervisor_report(bot: Bot, staffed: None, desk: Desk) -> None:
    await bot.say(GUEST, "towels")
    bot.clock.advance(15)  # past the burst window: a second request
    await bot.say(GUEST, "the bill please")
    bot.clock.advance(15)
    await bot.press(MARIA, "acc:1")
    bot.clock.advance(120)
    await bot.press(MARIA, "done:1")

    await bot.say(SOFIA, "/report")
    assert bot.telegram.texts(SOFIA)[-1].splitlines() == [
        "Report for November 2026",
        "",
        "Requests created: 2",
        "• Front desk: 1 (50%)",  # a tie: in the order of the hotel's config
        "• Housekeeping: 1 (50%)",
        "Done: 1 · cancelled: 0 · still open: 1",
        "Reopened after a follow-up: 0",
        "Time to accept: median 30 s · 90th percentile 30 s",
        "Time to done: median 3 min · 90th percentile 3 min",
        "Busiest hour: 10:00\u202fAM–11:00\u202fAM (2 requests)",
        "",
        "No follow-ups were sent in this period.",
    ]
    await bot.say(SOFIA, "/report 2026-10")
    assert bot.telegram.texts(SOFIA)[-1].splitlines()[2] == (
        "No requests were created in this period."
    )
    await bot.say(SOFIA, "/report someday")
    assert bot.telegram.texts(SOFIA)[-1] == (
        "Use /report for this month, or /report followed by week, today, yesterday, "
        "a month such as 2026-11 or a day such as 2026-11-23."
    )
    await bot.say(SOFIA, "/help")
    assert (
        "\n/report [month|week|today|yesterday|YYYY-MM|YYYY-MM-DD] — "
        in (bot.telegram.texts(SOFIA)[-1])
    )
    await bot.say(LUCA, "/report")
    assert bot.telegram.texts(LUCA)[-1] == "This command is for supervisors."
    await bot.say(GUEST, "/report")
    assert bot.telegram.texts(GUEST)[-1] == "Only registered hotel staff can do this."

    register(desk, 1010, "Giulia", "front_desk", language="it", role=Role.SUPERVISOR)
    await bot.say(1010, "/report today", language_code="it")
    lines = bot.telegram.texts(1010)[-1].splitlines()
    assert lines[0] == italian("Report for {period}").format(period="lunedì 23 novembre 2026")
    assert lines[4] == "• " + italian("{department}: {count} ({share})").format(
        department="Governante", count=1, share="50%"
    )


async def test_language_is_chosen_per_update(bot: Bot, staffed: None) -> None:
    await asyncio.gather(
        bot.say(6001, "/help", language_code="it"),
        bot.say(6002, "/help", language_code="en"),
    )
    assert bot.telegram.texts(6002)[-1].startswith("Just write what you need")
    assert bot.telegram.texts(6001)[-1] == italian(GUEST_HELP)

    await bot.say(6002, "/language")
    assert "lang:de" in bot.telegram.button_data(6002)
    await bot.press(6002, "lang:de")
    assert bot.telegram.texts(6002)[-1] == german("Language set to {language}.").format(
        language="Deutsch"
    )
    await bot.say(6002, "/help")
    assert bot.telegram.texts(6002)[-1] == german(GUEST_HELP)


async def test_staff_writing_text_get_staff_help(bot: Bot, staffed: None) -> None:
    await bot.say(LUCA, "hello?")
    assert bot.telegram.texts(LUCA)[-1].startswith(
        "New requests for your department reach you here"
    )


async def test_guest_cancels_from_the_list(bot: Bot, staffed: None) -> None:
    await bot.say(GUEST, "towels")
    await bot.say(GUEST, "/requests")
    assert bot.telegram.button_data(GUEST) == ["can:1"]
    await bot.press(GUEST, "can:1")
    assert bot.telegram.texts(GUEST)[-1] == "Request #1 is cancelled."
    assert bot.telegram.texts(LUCA)[-1].endswith("✖️ Cancelled by the guest.")


async def test_database_down_gets_an_honest_answer_in_the_guest_language(
    hotel: HotelConfig, clock: FakeClock
) -> None:
    broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    harness = make_bot(broken, hotel, clock)
    await harness.app.initialize()
    try:
        update = message_update(GUEST, "towels", language_code="en")
        await harness.app.process_update(Update.de_json(update, harness.app.bot))
    finally:
        await harness.app.shutdown()
    assert harness.telegram.texts(GUEST) == [
        "Sorry, something went wrong on our side and your last message could not be handled. "
        "Please send it again in a minute. If it is urgent, please contact Front desk directly."
    ]


async def test_myid_and_edited_messages(bot: Bot) -> None:
    await bot.say(GUEST, "/myid")
    assert bot.telegram.texts(GUEST)[-1] == "Your Telegram id: 5001"
    edit = message_update(GUEST, "towels, and a pillow")
    edit["edited_message"] = edit.pop("message") | {"edit_date": 1}
    await bot.feed(edit)
    assert bot.telegram.texts(GUEST)[-1].startswith("I saw that you edited a message.")
    assert "Request #" not in " ".join(bot.telegram.texts(GUEST))


async def test_a_request_nobody_holds_is_offered_by_the_sweep_not_by_every_timer_pass(
    bot: Bot, staffed: None, desk: Desk
) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "towels")
    await bot.press(MARIA, "acc:1")
    desk(
        lambda s, out, env, now: staff_service.remove(
            s, out, env, staff_id=staff_id_of(s, MARIA), now=now
        )
    )
    cards_before = len(bot.telegram.sent(LUCA, "sendMessage"))

    await bot.deps.run_timers(sweep=False)  # a follow-up's pass
    await bot.deps.sender.drain()
    assert len(bot.telegram.sent(LUCA, "sendMessage")) == cards_before

    await bot.deps.run_timers()  # the periodic sweep
    await bot.deps.sender.drain()
    assert len(bot.telegram.sent(LUCA, "sendMessage")) == cards_before + 1
    assert bot.telegram.button_data(LUCA) == ["acc:1", "nar:1", "mrg:1", "note:1", "urg:1"]


async def test_a_refused_action_answered_in_the_same_update_leaves_nothing_half_done(
    bot: Bot, staffed: None, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Everything handling one update shares a session: the refusal's answer is sent in a
    # transaction of its own, which must not commit what the refused one had written.
    real_set_duty = staff_service.set_duty

    def refused_after_writing(*args: Any, **kwargs: Any) -> None:
        real_set_duty(*args, **kwargs)  # Maria off duty, flushed in the update's session
        raise errors.NotRegistered

    monkeypatch.setattr(staff_service, "set_duty", refused_after_writing)
    await bot.say(MARIA, "/duty off")

    assert bot.telegram.texts(MARIA)[-1] == italian("Only registered hotel staff can do this.")
    with Session(engine) as session:
        maria = session.exec(select(Staff).where(Staff.telegram_id == MARIA)).one()
    assert maria.on_duty


async def test_a_known_guest_who_changed_their_name_is_recorded_under_the_new_one(
    bot: Bot, staffed: None, engine: Engine
) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.feed(message_update(GUEST, "Two towels please", first_name="Annie"))

    assert bot.telegram.texts(GUEST)[-1] == "Request #1 received — Housekeeping is on it."
    with Session(engine) as session:
        guest = session.exec(select(Guest).where(Guest.telegram_id == GUEST)).one()
        created = session.exec(select(Event).where(Event.kind == EventKind.CREATED)).one()
    assert (guest.first_name, created.actor_name) == ("Annie", "Annie")
