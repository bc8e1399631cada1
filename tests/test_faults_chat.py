"""Smaller faults seen in chat: stale cards and buttons, erased guests' messages to staff,
consistent report figures, and the texts that name the front desk."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import outbox
from bot.config import HotelConfig
from bot.i18n import I18n
from bot.models import OutboxMessage, OutboxStatus, Role, Staff
from bot.notices import DelayedByOutage, RequestAck, SlowDown, TryAgainLater
from bot.notifier import Outbox, Outgoing
from bot.render import Renderer
from bot.routing import Tier
from bot.services import staff as staff_service
from bot.services.common import Person
from tests.conftest import Desk, register, staff_id_of, submit
from tests.harness import Bot
from tests.telegram_fakes import callback_update
from tests.test_handlers import GUEST, LUCA, MARIA, staffed
from tests.test_reports import lifecycle, report

__all__ = ["staffed"]  # a fixture

I18N = I18n("en")
GUEST_ROOM_412 = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en")
italian = I18N.translator("it").gettext
german = I18N.translator("de").gettext


def test_report_of_a_reopened_request_counts_no_time_to_done(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "pillow", fine=False)  # done, then reopened: waiting for staff again

    lines = report(desk, "today", desk.clock.now()).splitlines()

    assert "Done: 0 · cancelled: 0 · still open: 1" in lines
    assert "Time to accept: none accepted" in lines
    assert "Time to done: none done" in lines  # not a median of a request not done


# --- a removed staff member's cards ---------------------------------------------------------


def remove_staff(bot: Bot, telegram_id: int) -> None:
    """``concierge staff remove``, as the command runs it: its edits go into the outbox."""
    with bot.deps.sessions() as session:
        out = Outbox()
        staff_service.remove(
            session,
            out,
            bot.deps.env,
            staff_id=staff_id_of(session, telegram_id),
            now=bot.clock.now(),
        )
        outbox.enqueue(session, out.messages, bot.clock.now())
        session.commit()


async def test_a_removed_staff_members_cards_say_where_the_request_went(
    bot: Bot, staffed: None
) -> None:
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "Two towels please")
    await bot.say(GUEST, "A clean pillow too")
    cards = [call.result["message_id"] for call in bot.telegram.sent(LUCA, "sendMessage")]
    await bot.press(LUCA, "acc:2")  # Luca holds #2 (Done, Release) and is offered #1 (Accept)
    bot.telegram.clear()

    remove_staff(bot, LUCA)
    await bot.deps.sender.drain()

    edits = bot.telegram.sent(LUCA, "editMessageText")
    assert sorted(e.params["message_id"] for e in edits) == cards
    for edit in edits:
        assert edit.params["text"].endswith(
            "You are no longer on the staff; this request went back to Housekeeping."
        )
        assert "reply_markup" not in edit.params  # no Done, Release or Accept left
    assert not bot.telegram.sent(MARIA)  # her copies are not Luca's to change

    remove_staff(bot, MARIA)  # she reads Italian; her copy of #2 already says Luca took it
    await bot.deps.sender.drain()
    (edit,) = bot.telegram.sent(MARIA, "editMessageText")
    assert edit.params["text"].endswith(
        italian("You are no longer on the staff; this request went back to {department}.").format(
            department="Governante"
        )
    )
    assert "reply_markup" not in edit.params


# --- /forgetme takes back what staff were shown ---------------------------------------------


async def test_forgetme_deletes_the_guests_words_and_files_shown_to_staff(
    bot: Bot, staffed: None, engine: Engine
) -> None:
    await bot.say(GUEST, "/start room-412")
    long_text = "Please bring fresh towels. " + "The details of my stay, at length. " * 100
    await bot.say(GUEST, long_text)  # over a card's limit: the text goes above the card
    quotes = {
        chat: bot.telegram.sent(chat, "sendMessage")[0].result["message_id"]
        for chat in (MARIA, LUCA)
    }
    assert bot.telegram.texts(LUCA)[0] == long_text
    bot.clock.advance(49 * 3600)  # too old for Telegram to let the bot delete them
    photo = [
        {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 1280},
    ]
    await bot.say(GUEST, None, caption="stain on the pillow", photo=photo)
    photos = {chat: bot.telegram.sent(chat, "sendPhoto")[0].result["message_id"] for chat in quotes}
    bot.telegram.clear()
    bot.telegram.fail_next(
        "deleteMessage", 400, "Bad Request: message to delete not found", chat_id=MARIA
    )

    await bot.say(GUEST, "/forgetme")
    await bot.press(GUEST, "forget:yes")

    deleted = {
        int(c.params["chat_id"]): c.params["message_id"]
        for c in bot.telegram.sent_calls("deleteMessage")
    }
    assert deleted == photos  # each once: Maria's "not found" is not tried again
    erased = {
        int(c.params["chat_id"]): c.params["text"]
        for c in bot.telegram.sent(None, "editMessageText")
        if c.params["message_id"] in quotes.values()
    }
    assert erased == {
        LUCA: "(erased at the guest's request)",
        MARIA: italian("(erased at the guest's request)"),
    }
    cards = {c.params["message_id"]: c.params["text"] for c in bot.telegram.sent(LUCA)}
    assert len(cards) == 3  # the long text's part, and the two cards as they are left
    assert all("towels" not in text and "stain" not in text for text in cards.values())
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
        assert all("towels" not in json.dumps(row.payload) for row in rows)
        assert all("stain" not in json.dumps(row.payload) for row in rows)
        statuses = {row.status for row in rows if row.payload.get("remove") == "message"}
        assert statuses == {OutboxStatus.SENT, OutboxStatus.SKIPPED}


# --- only the newest menu keeps its buttons -------------------------------------------------


def buttons_removed(bot: Bot, chat: int) -> list[int]:
    """Messages of ``chat`` whose buttons the bot took away."""
    return [
        int(c.params["message_id"])
        for c in bot.telegram.sent(chat, "editMessageReplyMarkup")
        if "reply_markup" not in c.params
    ]


async def test_a_newer_menu_takes_the_buttons_off_the_one_before(bot: Bot, staffed: None) -> None:
    await bot.say(MARIA, "/duty")
    first = bot.telegram.last_message(MARIA)
    await bot.say(MARIA, "/duty")
    second = bot.telegram.last_message(MARIA)

    assert buttons_removed(bot, MARIA) == [first["message_id"]]
    assert second["reply_markup"]  # the newest stays live
    assert second["text"] == italian("You are on duty: new requests reach you here.")

    await bot.say(GUEST, "/language", language_code="de")
    prompt = bot.telegram.last_message(GUEST)
    await bot.say(GUEST, "/start room-412", language_code="de")
    await bot.say(GUEST, "Handtücher bitte", language_code="de")
    await bot.say(GUEST, "/requests", language_code="de")
    listing = bot.telegram.last_message(GUEST)
    await bot.say(GUEST, "/language", language_code="de")
    assert buttons_removed(bot, GUEST) == [prompt["message_id"]]  # not the list's

    await bot.press(GUEST, "can:1", language_code="de")
    await bot.say(GUEST, "/requests", language_code="de")
    assert buttons_removed(bot, GUEST) == [prompt["message_id"], listing["message_id"]]
    # The old list's button, pressed anyway (a client that had not redrawn it): refused kindly.
    signed = bot.deps.signer.sign_data("can:1")
    await bot.feed(callback_update(GUEST, signed, listing, language_code="de"))
    assert bot.telegram.alerts()[-1] == german(
        "Request #{number} is {status} now; this button no longer applies."
    ).format(number=1, status=german("cancelled"))


# --- the front desk by its name, and its phone ----------------------------------------------


def with_phone(hotel: HotelConfig, phone: str | None) -> Renderer:
    changed = hotel.model_copy(update={"hotel": hotel.hotel.model_copy(update={"phone": phone})})
    return Renderer(changed, I18N)


def test_apologies_give_the_front_desk_phone_when_the_config_has_one(hotel: HotelConfig) -> None:
    renderer = with_phone(hotel, "+39 06 1234")
    text = renderer.text

    assert text(TryAgainLater(), "en").endswith(
        "Please send it again in a minute. If it is urgent, please call Front desk: +39 06 1234."
    )
    assert text(DelayedByOutage(), "it").endswith(
        italian("If it is urgent, please call {department}: {phone}.").format(
            department="Reception", phone="+39 06 1234"
        )
    )
    nobody = RequestAck(request_id=3, department="housekeeping", tier=Tier.NOBODY)
    assert text(nobody, "en").endswith("If it is urgent, please call Front desk: +39 06 1234.")
    assert "+39 06 1234" in text(SlowDown(limit=20), "de")
    assert "Rezeption" in text(SlowDown(limit=20), "de")

    plain = with_phone(hotel, None).text
    assert plain(TryAgainLater(), "en").endswith(
        "If it is urgent, please contact Front desk directly."
    )
    assert plain(nobody, "en").endswith("as soon as someone accepts it.")  # nothing to dial


def test_a_card_for_the_supervisors_names_the_fallback_department(desk: Desk) -> None:
    ada = register(desk, 1010, "Ada", "maintenance", role=Role.SUPERVISOR)
    submit(desk, GUEST_ROOM_412, "towels please")  # nobody in housekeeping or at the desk

    (card,) = desk.texts_to(ada.telegram_id)
    assert "Nobody is on duty in that department or at Front desk, so it comes to you." in card
    (message,) = [m for m in desk.outbox.messages if m.chat_id == ada.telegram_id]
    notice = message.notice
    assert notice is not None
    assert german(
        "Nobody is on duty in that department or at {fallback}, so it comes to you."
    ).format(fallback="Rezeption") in desk.renderer.text(notice, "de")


async def test_the_sender_deletes_a_message_and_takes_a_refusal_as_final(bot: Bot) -> None:
    with bot.deps.sessions() as session:
        outbox.enqueue(
            session,
            [
                Outgoing(LUCA, edit_message_id=41, remove="message"),
                Outgoing(LUCA, edit_message_id=42, remove="message"),
                Outgoing(LUCA, edit_message_id=43, remove="buttons"),
            ],
            bot.clock.now(),
        )
        session.commit()
    bot.telegram.fail_next(
        "deleteMessage", 400, "Bad Request: message can't be deleted for everyone", chat_id=LUCA
    )

    await bot.deps.sender.drain()
    bot.clock.advance(600)  # long past any retry's backoff
    await bot.deps.sender.drain()

    calls = [
        (c.method, c.params["message_id"]) for c in bot.telegram.calls if "message_id" in c.params
    ]
    assert calls == [
        ("deleteMessage", 41),  # refused: too old
        ("deleteMessage", 42),
        ("editMessageReplyMarkup", 43),
    ]
    assert "reply_markup" not in bot.telegram.calls[-1].params
    with bot.deps.sessions() as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    assert [(row.status, row.attempts, row.message_id) for row in rows] == [
        (OutboxStatus.SKIPPED, 1, None),
        (OutboxStatus.SENT, 1, None),
        (OutboxStatus.SENT, 1, None),
    ]
