"""Rooms that stick and expire: asked until known, given late, forgotten after the stay, ended
by a checkout; signed room links on /start; new staff told they are registered."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot import roomlinks
from bot.cli import app
from bot.config import HotelConfig, Rooms
from bot.i18n import I18n
from bot.models import (
    Event,
    EventKind,
    Guest,
    OutboxMessage,
    Request,
    RequestStatus,
    Role,
    Staff,
    Timer,
    TimerStatus,
)
from bot.services import guests, rooms
from bot.services.common import Env, Person
from bot.settings import Settings
from tests.command import staff_add
from tests.conftest import (
    START,
    TEST_HOTEL,
    Desk,
    accept,
    cancel,
    guest_writes,
    mark_done,
    register,
    run_timers,
    start_chat,
    submit,
)
from tests.harness import Bot

GUEST, ITALIAN, OTHER = 5001, 5002, 5003
MARIA, LUCA, SOFIA, NEWCOMER = 1001, 1002, 1009, 1010
I18N = I18n("en")
english = I18N.translator("en").gettext
german = I18N.translator("de").gettext
italian = I18N.translator("it").gettext
TOKEN_KEY = roomlinks.room_key("123456:TEST")  # the harness's bot token
ASK = "What is your room number? Reply with just the number, for example 412."
ASK_AGAIN = (
    "So that the team can find you for request #{number}, could you tell me your room number? "
    "Just the number is enough, for example 412."
)
runner = CliRunner()


@pytest.fixture
def hotel(hotel: HotelConfig) -> HotelConfig:
    """The test hotel without bursts: each message of these guests is a request of its own
    (within ``limits.burst_seconds`` it would join the one before; tests/test_threads.py)."""
    limits = hotel.limits.model_copy(update={"burst_seconds": 0})
    return hotel.model_copy(update={"limits": limits})


@pytest.fixture
def env(hotel: HotelConfig) -> Env:
    return Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))


@pytest.fixture
def staffed(desk: Desk) -> None:
    register(desk, MARIA, "Maria", "housekeeping", language="it")
    register(desk, LUCA, "Luca", "housekeeping")
    register(desk, SOFIA, "Sofia", "front_desk", role=Role.SUPERVISOR)


def guest_row(engine: Engine, telegram_id: int) -> Guest:
    with Session(engine) as session:
        guest = session.exec(select(Guest).where(Guest.telegram_id == telegram_id)).one()
        session.expunge(guest)
        return guest


def requests_of(engine: Engine) -> list[Request]:
    with Session(engine) as session:
        found = list(session.exec(select(Request).order_by(col(Request.id))))
        for request in found:
            session.expunge(request)
        return found


def edits(bot: Bot, chat_id: int) -> list[dict[str, Any]]:
    return [call.params for call in bot.telegram.sent(chat_id, "editMessageText")]


def buttons(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup") or {"inline_keyboard": []}
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


# --- asked until known -----------------------------------------------------------------------


async def test_room_is_asked_again_with_each_acknowledgement_until_known(
    bot: Bot, staffed: None, engine: Engine
) -> None:
    await bot.say(GUEST, "Zwei Handtücher bitte", language_code="de")
    assert bot.telegram.texts(GUEST)[-1] == german(ASK)
    assert german(ASK) != ASK

    await bot.say(GUEST, "Noch ein Kissen", language_code="de")
    ack, again = bot.telegram.texts(GUEST)[-2:]
    assert ack.startswith("Anfrage #2")
    assert again == (
        "Damit unser Team Sie für Anfrage #2 findet: Wie lautet Ihre Zimmernummer? "
        "Die Nummer genügt, zum Beispiel 412."
    )

    await bot.say(GUEST, "Danke!", language_code="de")  # courtesy: no request, no question
    assert "Zimmernummer" not in bot.telegram.texts(GUEST)[-1]

    await bot.say(GUEST, "412", language_code="de")
    assert bot.telegram.texts(GUEST)[-1] == (
        "Vielen Dank, ich habe Zimmer 412 notiert. Ich habe sie Ihren Anfragen #1, #2 hinzugefügt."
    )
    assert [r.room for r in requests_of(engine)] == ["412", "412"]

    bot.telegram.clear()
    await bot.say(GUEST, "Handtücher", language_code="de")
    assert len(bot.telegram.texts(GUEST)) == 1  # the acknowledgement only
    assert requests_of(engine)[-1].room == "412"


async def test_a_request_sent_as_the_answer_to_the_room_question_is_a_request(
    bot: Bot, staffed: None, engine: Engine
) -> None:
    await bot.say(ITALIAN, "/start", language_code="it")
    assert bot.telegram.texts(ITALIAN)[-1] == italian(ASK)

    await bot.say(ITALIAN, "La TV non funziona", language_code="it")
    ack, again = bot.telegram.texts(ITALIAN)[-2:]
    assert ack.startswith("Richiesta #1")
    assert again == italian(ASK_AGAIN).format(number=1)
    assert again.startswith("Perché il personale possa raggiungerla per la richiesta n. 1")
    [request] = requests_of(engine)
    assert (request.text, request.department, request.room) == (
        "La TV non funziona",
        "maintenance",
        None,
    )

    await bot.say(ITALIAN, "215", language_code="it")
    assert bot.telegram.texts(ITALIAN)[-1] == (
        "Grazie, ho registrato la camera 215. L'ho aggiunta alla sua richiesta #1."
    )
    assert [r.room for r in requests_of(engine)] == ["215"]  # not a request of its own


def test_a_room_number_while_the_room_is_unknown_is_the_room(desk: Desk) -> None:
    guest = Person(telegram_id=OTHER, chat_id=OTHER, first_name="Ann", language_code="en")
    assert guest_writes(desk, guest, "12A") is None
    assert desk.texts_to(OTHER) == ["Thank you, I have noted room 12A."]
    assert desk.read(lambda s: s.get(Guest, 1)).room == "12A"  # type: ignore[union-attr]


# --- a room given later -----------------------------------------------------------------------


async def test_a_late_room_fills_open_requests_edits_their_cards_and_is_in_the_log(
    bot: Bot, staffed: None, desk: Desk, engine: Engine
) -> None:
    await bot.say(GUEST, "towels")  # 1: housekeeping, Maria accepts it
    await bot.say(GUEST, "the bill please")  # 2: front desk, waits for Sofia
    await bot.say(GUEST, "clean the room")  # 3: housekeeping, Luca does it
    await bot.say(GUEST, "a pillow")  # 4: cancelled by the guest
    accept(desk, MARIA, 1)
    accept(desk, LUCA, 3)
    mark_done(desk, LUCA, 3)
    cancel(desk, GUEST, 4)
    await bot.deps.sender.drain()
    bot.telegram.clear()

    await bot.say(GUEST, "/room 412")

    assert bot.telegram.texts(GUEST) == [
        "Thank you, I have noted room 412. I have added it to your requests #1, #2, #3."
    ]
    assert [(r.id, r.status, r.room) for r in requests_of(engine)] == [
        (1, RequestStatus.ACCEPTED, "412"),
        (2, RequestStatus.OPEN, "412"),
        (3, RequestStatus.DONE, "412"),
        (4, RequestStatus.CANCELLED, None),
    ]
    [maria] = edits(bot, MARIA)  # her accepted card, in Italian, still with Done and Release
    assert italian("Room {room} · guest speaks {language}").split("{")[0] + "412" in maria["text"]
    assert italian("✅ Accepted by you.") in maria["text"]
    assert buttons(maria)[:2] == [italian("Done"), italian("Release")]
    luca_done, sofia_offer = edits(bot, LUCA), edits(bot, SOFIA)
    assert len(luca_done) == 1  # his copy of #1 was withdrawn when Maria took it: left as is
    assert "Request #3" in luca_done[0]["text"] and "Room 412" in luca_done[0]["text"]
    assert "✔️ Done by Luca." in luca_done[0]["text"]
    assert "Done" not in buttons(luca_done[0]) and "Accept" not in buttons(luca_done[0])
    [offer] = sofia_offer
    assert "Request #2" in offer["text"] and "Room 412" in offer["text"]
    assert buttons(offer)[0] == "Accept"
    assert "🕘" in offer["text"]  # the edited card keeps what staff know of the guest's stay
    assert bot.telegram.sent(GUEST, "editMessageText") == []

    await bot.say(SOFIA, "/log 1")
    timeline = bot.telegram.texts(SOFIA)[-1]
    assert "Room 412 · guest speaks" in timeline
    assert timeline.splitlines()[-1].endswith("room 412 given by the guest")
    with Session(engine) as session:
        kinds = session.exec(select(Event.request_id).where(Event.kind == EventKind.ROOM_SET))
        assert sorted(kinds) == [1, 2, 3]


def test_the_room_event_reads_in_the_supervisors_language(desk: Desk, env: Env) -> None:
    assert german("room {room} given by the guest") == "Zimmer {room} vom Gast angegeben"
    assert italian("room {room} given by the guest") == "camera {room} indicata dall'ospite"


# --- stays expire -----------------------------------------------------------------------------


def with_rooms(env: Env, **settings: Any) -> Env:
    hotel: HotelConfig = env.hotel.model_copy(update={"rooms": Rooms(**settings)})
    return replace(env, hotel=hotel)


def room_of(desk: Desk, telegram_id: int) -> str | None:
    def read(session: Session) -> str | None:
        guest = session.exec(select(Guest).where(Guest.telegram_id == telegram_id)).one()
        return guest.room

    return desk.read(read)


def expiry(desk: Desk) -> Timer:
    return desk.read(lambda s: s.exec(select(Timer).where(Timer.kind == rooms.EXPIRE)).one())


def test_a_stay_ends_after_stay_days_and_the_next_request_asks_again(
    desk: Desk, guest_room_412: Person, maria_housekeeping: Staff
) -> None:
    start_chat(desk, guest_room_412, "room-412")
    first = submit(desk, guest_room_412, "Handtücher")
    assert expiry(desk).key == "room:1:expire"
    desk.clock.advance(14 * 86400 - 60)
    run_timers(desk)
    assert room_of(desk, guest_room_412.telegram_id) == "412"

    desk.clock.advance(60)
    run_timers(desk)

    assert room_of(desk, guest_room_412.telegram_id) is None
    assert desk.outbox.messages == []  # the guest is not messaged
    assert desk.read(lambda s: s.get(Request, first.id)).room == "412"  # type: ignore[union-attr]
    later = submit(desk, guest_room_412, "Handtücher")
    assert later.room is None
    assert desk.texts_to(guest_room_412.chat_id)[-1] == german(ASK)


def test_a_stay_ends_at_checkout_time_in_the_hotels_zone(
    engine: Engine, env: Env, desk: Desk, guest_room_412: Person
) -> None:
    hotel_desk = Desk(engine, with_rooms(env, stay_days=2, checkout_time=time(11, 0)), desk.clock)
    start_chat(hotel_desk, guest_room_412, "room-412")  # Monday 10:00 in Rome
    # Wednesday 11:00 in Rome is 10:00 UTC.
    assert expiry(hotel_desk).due_at.astimezone(UTC) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    hotel_desk.clock.advance(2 * 86400 + 3600 - 60)  # Wednesday 10:59 in Rome
    run_timers(hotel_desk)
    assert room_of(hotel_desk, guest_room_412.telegram_id) == "412"
    hotel_desk.clock.advance(60)
    run_timers(hotel_desk)
    assert room_of(hotel_desk, guest_room_412.telegram_id) is None


def test_checkout_time_follows_summer_time(env: Env) -> None:
    hotel = with_rooms(env, stay_days=1, checkout_time=time(11, 0)).hotel
    # In July Rome is UTC+2: 11:00 there is 09:00 UTC.
    july = datetime(2026, 7, 10, 20, 0, tzinfo=UTC)
    assert hotel.stay_end(july) == datetime(2026, 7, 11, 9, 0, tzinfo=UTC)
    assert env.hotel.stay_end(START) == START + timedelta(days=14)  # the default: 14 days


def test_a_room_given_again_moves_the_end_of_the_stay(desk: Desk, guest_room_412: Person) -> None:
    start_chat(desk, guest_room_412, "room-412")
    desk.clock.advance(10 * 86400)
    desk(
        lambda s, out, env, now: guests.set_room(
            s, out, env, person=guest_room_412, room="415", now=now
        )
    )
    desk.clock.advance(5 * 86400)
    run_timers(desk)
    assert room_of(desk, guest_room_412.telegram_id) == "415"
    assert expiry(desk).due_at.astimezone(UTC) == START + timedelta(days=24)


def test_a_longer_stay_configured_meanwhile_is_kept(
    engine: Engine, env: Env, desk: Desk, guest_room_412: Person
) -> None:
    start_chat(desk, guest_room_412, "room-412")
    desk.clock.advance(14 * 86400)
    longer = Desk(engine, with_rooms(env, stay_days=20), desk.clock)
    run_timers(longer)
    assert room_of(desk, guest_room_412.telegram_id) == "412"
    assert expiry(desk).status == TimerStatus.PENDING
    assert expiry(desk).due_at.astimezone(UTC) == START + timedelta(days=20)


def test_stay_settings_are_checked(env: Env) -> None:
    from bot.config import ConfigError, parse_hotel_config

    text = TEST_HOTEL.read_text()
    assert parse_hotel_config(
        text + '\n[rooms]\nstay_days = 3\ncheckout_time = "11:30"\n'
    ).rooms == (Rooms(stay_days=3, checkout_time=time(11, 30)))
    with pytest.raises(ConfigError, match=r"rooms\.stay_days"):
        parse_hotel_config(text + "\n[rooms]\nstay_days = 0\n")
    with pytest.raises(ConfigError, match=r"rooms\.checkout_time"):
        parse_hotel_config(text + '\n[rooms]\ncheckout_time = "late"\n')


# --- checkout ---------------------------------------------------------------------------------


def three_guests(desk: Desk) -> None:
    for telegram_id, room in ((GUEST, "412"), (ITALIAN, "412"), (OTHER, "415")):
        person = Person(telegram_id=telegram_id, chat_id=telegram_id, language_code="en")
        start_chat(desk, person, f"room-{room}")


def test_cli_checkout_ends_the_stays_of_a_room(
    desk: Desk, engine: Engine, db_url: str, maria_housekeeping: Staff
) -> None:
    three_guests(desk)
    person = Person(telegram_id=GUEST, chat_id=GUEST, language_code="en")
    submit(desk, person, "towels")
    env = {"DATABASE_URL": db_url, "CONCIERGE_CONFIG": str(TEST_HOTEL)}

    result = runner.invoke(app, ["guests", "checkout", "--room", "412"], env=env)

    assert (result.exit_code, result.output.strip()) == (0, "checked out 2 guests from room 412")
    assert [room_of(desk, g) for g in (GUEST, ITALIAN, OTHER)] == [None, None, "415"]
    [request] = requests_of(engine)  # the open request goes on, with its room
    assert (request.status, request.room) == (RequestStatus.OPEN, "412")
    with Session(engine) as session:
        timers = {t.key: t.status for t in session.exec(select(Timer))}
        assert session.exec(select(OutboxMessage)).all() == []  # nobody is told
    assert timers["room:1:expire"] == TimerStatus.CANCELLED
    assert timers["room:3:expire"] == TimerStatus.PENDING
    result = runner.invoke(app, ["guests", "checkout", "--room", "412"], env=env)
    assert result.output.strip() == "checked out 0 guests from room 412"


async def test_supervisor_checkout_command(bot: Bot, staffed: None, desk: Desk) -> None:
    three_guests(desk)
    await bot.say(GUEST, "towels")
    await bot.say(LUCA, "/checkout 412")
    assert bot.telegram.texts(LUCA)[-1] == "This command is for supervisors."
    await bot.say(GUEST, "/checkout 412")
    assert bot.telegram.texts(GUEST)[-1] == "Only registered hotel staff can do this."
    assert room_of(desk, GUEST) == "412"
    guest_messages = len(bot.telegram.texts(GUEST))

    await bot.say(SOFIA, "/checkout 412")

    assert bot.telegram.texts(SOFIA)[-1] == (
        "Room 412: 2 guests checked out. The bot will ask for the room again with their next "
        "request."
    )
    assert len(bot.telegram.texts(GUEST)) == guest_messages
    assert [room_of(desk, g) for g in (GUEST, ITALIAN, OTHER)] == [None, None, "415"]
    await bot.say(SOFIA, "/checkout")
    assert bot.telegram.texts(SOFIA)[-1] == (
        "Use /checkout followed by a room number, for example /checkout 412."
    )
    await bot.say(SOFIA, "/checkout 999")
    assert bot.telegram.texts(SOFIA)[-1] == "No guest has room 999 at the moment."
    await bot.say(GUEST, "a pillow")
    assert bot.telegram.texts(GUEST)[-1] == ASK


async def test_checkout_answer_in_the_supervisors_language(bot: Bot, desk: Desk) -> None:
    register(desk, 1011, "Ugo", "front_desk", language="it", role=Role.SUPERVISOR)
    three_guests(desk)
    await bot.say(1011, "/checkout 415", language_code="it")
    assert bot.telegram.texts(1011)[-1] == (
        "Camera 415: check-out di 1 ospite. Il bot chiederà di nuovo la camera alla prossima "
        "richiesta."
    )


# --- signed room links ------------------------------------------------------------------------


async def test_a_signed_room_link_sets_the_room_and_fills_open_requests(
    bot: Bot, staffed: None, engine: Engine
) -> None:
    await bot.say(GUEST, "towels")
    await bot.say(GUEST, "/start " + roomlinks.sign("412", TOKEN_KEY))
    welcome, saved = bot.telegram.texts(GUEST)[-2:]
    assert welcome.endswith("Your room: 412.")
    assert saved == "Thank you, I have noted room 412. I have added it to your request #1."
    assert requests_of(engine)[0].room == "412"
    await bot.say(OTHER, "/start " + roomlinks.sign("Suite 3", TOKEN_KEY))
    assert guest_row(engine, OTHER).room is None  # signed, but not a room of this hotel's pattern
    assert bot.telegram.texts(OTHER)[-1].startswith("This room link isn't valid")


@pytest.mark.parametrize(
    "payload",
    [
        roomlinks.sign("412", TOKEN_KEY)[:-1] + "x",  # tampered signature
        "R415" + roomlinks.sign("412", TOKEN_KEY)[4:],  # another room under 412's signature
        roomlinks.sign("412", roomlinks.room_key("654321:OTHER")),  # another bot's card
        "R412",  # no signature at all
    ],
)
async def test_a_tampered_room_link_is_refused_and_the_room_asked(
    bot: Bot, engine: Engine, payload: str
) -> None:
    await bot.say(GUEST, "/start " + payload, language_code="de")
    assert bot.telegram.texts(GUEST)[-1] == (
        "Dieser Zimmer-Link ist leider ungültig, daher konnte ich Ihr Zimmer nicht speichern. "
        "Wie lautet Ihre Zimmernummer? Antworten Sie einfach mit der Nummer, zum Beispiel 412."
    )
    assert guest_row(engine, GUEST).room is None
    await bot.say(GUEST, "412", language_code="de")
    assert guest_row(engine, GUEST).room == "412"


async def test_a_tampered_room_link_in_english(bot: Bot) -> None:
    await bot.say(GUEST, "/start R412abcdefghijkl")
    assert bot.telegram.texts(GUEST)[-1] == (
        "This room link isn't valid, so I could not note your room. " + ASK
    )


def test_room_link_secret_replaces_the_token_key() -> None:
    token_only = Settings.model_validate({"TELEGRAM_BOT_TOKEN": "123456:TEST"})
    assert token_only.room_link_key == TOKEN_KEY
    secret = "a-long-room-link-secret"
    with_secret = Settings.model_validate(
        {"TELEGRAM_BOT_TOKEN": "123456:TEST", "ROOM_LINK_SECRET": secret}
    )
    assert with_secret.room_link_key == roomlinks.secret_key(secret) != TOKEN_KEY
    other_token = Settings.model_validate(
        {"TELEGRAM_BOT_TOKEN": "999:NEW", "ROOM_LINK_SECRET": secret}
    )
    assert other_token.room_link_key == with_secret.room_link_key  # cards outlive the token
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings.model_validate({"TELEGRAM_BOT_TOKEN": "1:T", "ROOM_LINK_SECRET": "short"})


def test_signed_links_need_the_key(desk: Desk, env: Env, engine: Engine) -> None:
    person = Person(telegram_id=GUEST, chat_id=GUEST, language_code="en")
    keyed = Desk(engine, replace(env, room_key=TOKEN_KEY), desk.clock)
    start_chat(keyed, person, roomlinks.sign("412", TOKEN_KEY))
    assert room_of(desk, GUEST) == "412"
    start_chat(desk, person, roomlinks.sign("415", TOKEN_KEY))  # no key: nothing verifies
    assert room_of(desk, GUEST) == "412"
    assert desk.texts_to(GUEST)[-1].startswith("This room link isn't valid")


# --- staff told they are registered ------------------------------------------------------------


async def test_new_staff_who_wrote_to_the_bot_are_told_they_are_registered(
    bot: Bot, db_url: str, engine: Engine
) -> None:
    await bot.say(NEWCOMER, "/start", language_code="de")
    await bot.say(NEWCOMER, "/myid", language_code="de")
    assert bot.telegram.texts(NEWCOMER)[-1].endswith(str(NEWCOMER))
    env = {"DATABASE_URL": db_url, "CONCIERGE_CONFIG": str(TEST_HOTEL)}

    result = runner.invoke(
        app, staff_add(NEWCOMER, "Greta", "housekeeping", language="de"), env=env
    )
    assert result.exit_code == 0, result.output
    assert "they were told in the bot that they are registered" in result.output
    # The command wrote the notice at the wall clock's time: let the bot's clock reach it.
    bot.clock.advance((datetime.now(UTC) - bot.clock.now()).total_seconds() + 1)
    await bot.deps.sender.drain()

    told = bot.telegram.texts(NEWCOMER)[-1]
    assert told.startswith("Hallo Greta! Sie sind als ")
    assert german("You are off duty: no new requests reach you.") in told
    await bot.say(NEWCOMER, "/start", language_code="de")
    assert bot.telegram.texts(NEWCOMER)[-1] == told  # Start now gives the staff welcome

    bot.telegram.clear()
    result = runner.invoke(app, staff_add(NEWCOMER, "Greta", "maintenance", language="de"), env=env)
    assert result.exit_code == 0 and "told" not in result.output  # an update: nothing to say
    result = runner.invoke(app, staff_add(4242, "Nobody", "housekeeping"), env=env)
    assert result.exit_code == 0 and "told" not in result.output  # never wrote: cannot be told
    await bot.deps.sender.drain()
    assert bot.telegram.sent() == []


def test_registration_notice_in_english(desk: Desk) -> None:
    from bot.services import staff as staff_service

    start_chat(desk, Person(telegram_id=NEWCOMER, chat_id=NEWCOMER, language_code="en"))
    desk(
        lambda s, out, env, now: staff_service.add(
            s,
            env.hotel,
            telegram_id=NEWCOMER,
            name="Sam",
            department="front_desk",
            role=Role.SUPERVISOR,
            now=now,
            out=out,
        )
    )
    assert desk.texts_to(NEWCOMER)[0].startswith(
        "Hello Sam! You are registered as supervisor in Front desk."
    )


def test_a_room_given_before_stays_existed_starts_its_stay_with_the_next_message(
    desk: Desk, engine: Engine, guest_room_412: Person, maria_housekeeping: Staff
) -> None:
    start_chat(desk, guest_room_412, "room-412")
    with Session(engine) as session:  # as an older version left it: a room, no stay, no timer
        guest = session.exec(select(Guest)).one()
        guest.room_set_at = None
        session.add(guest)
        for timer in session.exec(select(Timer)):
            session.delete(timer)
        session.commit()
    desk.clock.advance(30 * 86400)

    request = submit(desk, guest_room_412, "Handtücher")

    assert request.room == "412"
    assert expiry(desk).due_at.astimezone(UTC) == START + timedelta(days=44)


def test_qr_signs_with_the_room_link_secret_and_start_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, desk: Desk, env: Env, engine: Engine
) -> None:
    from tests.test_roomcards import decoded_links, pages, payload_of, qr

    secret = "the-hotel-room-link-secret"
    out = tmp_path / "rooms.pdf"
    code, output = qr(
        ["--rooms", "412", "--out", str(out), "--bot-username", "@HotelTestaBot"],
        tmp_path,
        monkeypatch,
        ROOM_LINK_SECRET=secret,
    )
    assert code == 0, output
    [link] = decoded_links(pages(out.read_bytes())[0])
    payload = payload_of(link)
    assert roomlinks.verify(payload, roomlinks.secret_key(secret)) == "412"
    assert roomlinks.verify(payload, TOKEN_KEY) is None

    running = Settings.model_validate(
        {"TELEGRAM_BOT_TOKEN": "123456:TEST", "ROOM_LINK_SECRET": secret}
    )
    keyed = Desk(engine, replace(env, room_key=running.room_link_key), desk.clock)
    start_chat(keyed, Person(telegram_id=GUEST, chat_id=GUEST, language_code="en"), payload)
    assert room_of(desk, GUEST) == "412"


def test_a_room_given_late_starts_the_stay_with_the_requests_it_fills_in(
    desk: Desk, guest_room_412: Person, maria_housekeeping: Staff
) -> None:
    first = submit(desk, guest_room_412, "Handtücher")
    desk.clock.advance(3600)
    assert guest_writes(desk, guest_room_412, "412") is None

    def stay(session: Session) -> datetime | None:
        return session.exec(select(Guest)).one().room_set_at

    started = desk.read(stay)
    assert started is not None and started.astimezone(UTC) == first.created_at.astimezone(UTC)
    assert expiry(desk).due_at.astimezone(UTC) == START + timedelta(days=14)
