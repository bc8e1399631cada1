"""A chat's membership: a user who blocks the bot, or starts it again, through the handlers."""

from __future__ import annotations

from sqlmodel import col, select

from bot.i18n import I18n
from bot.models import Event, EventKind, Guest, Request, RequestStatus, Role, Staff
from tests.conftest import Desk, register
from tests.harness import Bot
from tests.telegram_fakes import membership_update

GUEST, MARIA, LUCA, SOFIA = 5001, 1001, 1002, 1009
german = I18n("en").translator("de")


async def test_staff_who_block_the_bot_with_an_accepted_request_hand_it_on(
    bot: Bot, desk: Desk
) -> None:
    register(desk, MARIA, "Maria", "housekeeping", language="it")
    register(desk, LUCA, "Luca", "housekeeping")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR, language="de")
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "Two towels please")
    await bot.press(MARIA, "acc:1")
    assert bot.telegram.texts(GUEST)[-1] == "Maria from Housekeeping has accepted request #1."
    cards_to_luca = len(bot.telegram.sent(LUCA, "sendMessage"))

    await bot.feed(membership_update(MARIA, "kicked"))

    maria = desk.read(lambda s: s.exec(select(Staff).where(Staff.telegram_id == MARIA)).one())
    assert (maria.on_duty, maria.blocked_at) == (False, bot.clock.now())
    request = desk.read(lambda s: s.get(Request, 1))
    assert request is not None and (request.status, request.assignee_id) == (
        RequestStatus.OPEN,
        None,
    )
    assert len(bot.telegram.sent(LUCA, "sendMessage")) == cards_to_luca + 1
    # Offered again to the colleague on duty.
    assert bot.telegram.button_data(LUCA) == ["acc:1", "nar:1", "mrg:1", "note:1", "urg:1"]
    alert = german.ngettext(
        "⚠️ {name} ({department}) has blocked the bot and is now off duty. "
        "{count} request of theirs was handed on.",
        "⚠️ {name} ({department}) has blocked the bot and is now off duty. "
        "{count} requests of theirs were handed on.",
        1,
    ).format(name="Maria", department="Housekeeping", count=1)
    assert bot.telegram.texts(SOFIA)[-1] == alert

    await bot.feed(membership_update(MARIA, "kicked"))  # told twice: nothing happens twice
    assert bot.telegram.texts(SOFIA).count(alert) == 1


async def test_a_guest_who_blocks_the_bot_is_marked_unreachable(bot: Bot, desk: Desk) -> None:
    register(desk, LUCA, "Luca", "housekeeping")
    await bot.say(GUEST, "/start room-412")
    await bot.say(GUEST, "Two towels please")

    await bot.feed(membership_update(GUEST, "kicked"))

    guest = desk.read(lambda s: s.exec(select(Guest)).one())
    assert guest.blocked_at == bot.clock.now()
    kinds = desk.read(lambda s: [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))])
    assert kinds[-1] == EventKind.GUEST_UNREACHABLE
    request = desk.read(lambda s: s.get(Request, 1))
    assert request is not None and request.status == RequestStatus.OPEN  # it goes on


async def test_starting_the_bot_again_makes_a_chat_reachable_again(bot: Bot, desk: Desk) -> None:
    register(desk, MARIA, "Maria", "housekeeping")
    await bot.say(GUEST, "/start room-412")
    await bot.feed(membership_update(GUEST, "kicked"))
    await bot.feed(membership_update(MARIA, "kicked"))
    assert desk.read(lambda s: s.exec(select(Guest)).one()).blocked_at is not None

    await bot.feed(membership_update(GUEST, "member", old_status="kicked"))
    await bot.feed(membership_update(MARIA, "member", old_status="kicked"))

    assert desk.read(lambda s: s.exec(select(Guest)).one()).blocked_at is None
    maria = desk.read(lambda s: s.exec(select(Staff).where(Staff.telegram_id == MARIA)).one())
    assert (maria.blocked_at, maria.on_duty) == (None, False)  # back on duty with /duty on
