"""Abuse and privacy: the per-guest rate limit, signed buttons, /forgetme and purge."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot import timers
from bot.buttons import Accept, CallbackSigner
from bot.cli import app
from bot.models import (
    Event,
    Guest,
    GuestNote,
    InboundUpdate,
    Request,
    RequestStatus,
    Staff,
    Timer,
    TimerStatus,
)
from bot.services import cards, privacy, prompts
from bot.services.common import Person
from tests.conftest import (
    TEST_HOTEL,
    Desk,
    answer_followup,
    cancel,
    followup_sent,
    guest_writes,
    staff_id_of,
    start_chat,
    submit,
)
from tests.harness import Bot
from tests.telegram_fakes import callback_update

GUEST = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en")


def test_a_flooding_guest_is_slowed_down_politely_and_nothing_is_stored_twice(desk: Desk) -> None:
    # Without bursts: within one, the messages would be a single request (tests/test_threads.py).
    limits = desk.env.hotel.limits.model_copy(update={"burst_seconds": 0})
    desk.env = replace(desk.env, hotel=desk.env.hotel.model_copy(update={"limits": limits}))
    start_chat(desk, GUEST, "room-412")
    for n in range(20):
        assert guest_writes(desk, GUEST, f"towel {n}") is not None
    assert guest_writes(desk, GUEST, "towel 20") is None
    assert desk.texts_to(GUEST.chat_id) == [
        "You are sending messages very quickly. I keep at most 20 requests a minute; "
        "please wait a moment and send the rest again."
    ]
    assert guest_writes(desk, GUEST, "towel 21") is None
    assert desk.texts_to(GUEST.chat_id) == []  # told once a minute, not for every message
    assert desk.read(lambda s: len(s.exec(select(Request)).all())) == 20
    desk.clock.advance(61)
    assert guest_writes(desk, GUEST, "towel 22") is not None


def test_the_signature_of_callback_data() -> None:
    signer = CallbackSigner.for_token("123:abc")
    signed = signer.sign(Accept(12))
    assert signed.startswith("acc:12:") and len(signed) == len("acc:12:") + 8
    assert signer.open(signed) == Accept(12)
    assert signer.open("acc:13" + signed[6:]) is None
    assert signer.open("acc:12") is None
    assert CallbackSigner.for_token("456:def").open(signed) is None


async def test_a_forged_button_is_refused_before_any_handler(
    bot: Bot, desk: Desk, engine: Engine
) -> None:
    from tests.conftest import register

    register(desk, 1001, "Maria", "housekeeping")
    await bot.say(5001, "towels")
    card = bot.telegram.last_message(1001)
    await bot.feed(callback_update(1001, "acc:1:AAAAAAAA", card))
    assert bot.telegram.alerts() == ["This button no longer applies."]
    with Session(engine) as session:
        assert session.get(Request, 1).status == RequestStatus.OPEN  # type: ignore[union-attr]


async def test_forgetme_cancels_open_requests_tells_staff_and_erases(
    bot: Bot, desk: Desk, engine: Engine
) -> None:
    from tests.conftest import register

    register(desk, 1001, "Maria", "housekeeping", language="en")
    await bot.say(5001, "/start room-412")
    await bot.say(5001, "towels please")
    await bot.press(1001, "acc:1")
    await bot.say(5001, "/forgetme")
    assert bot.telegram.button_data(5001) == ["forget:yes", "forget:no"]

    await bot.press(5001, "forget:yes")

    assert (
        bot.telegram.texts(5001)[-1]
        == "Done: your data is erased. If you write again, I will treat you as a new guest."
    )
    maria = bot.telegram.texts(1001)
    assert "The guest cancelled request #1; you can stop working on it." in maria
    assert maria[-1].endswith("Erased at the guest's request.") and "towels please" not in maria[-1]
    with Session(engine) as session:
        guest = session.exec(select(Guest)).one()
        assert (guest.telegram_id, guest.first_name, guest.room) == (-guest.id, "", None)  # type: ignore[operator]
        request = session.get(Request, 1)
        assert request is not None and (request.status, request.text) == (
            RequestStatus.CANCELLED,
            "",
        )
        assert all(e.actor_name != "Anna" for e in session.exec(select(Event)).all())
        assert session.exec(select(InboundUpdate)).all() == []
    await bot.say(5001, "/start")
    with Session(engine) as session:
        assert len(session.exec(select(Guest)).all()) == 2  # a new guest, nothing linked


async def test_forgetme_can_be_declined(bot: Bot) -> None:
    await bot.say(5001, "towels please")
    await bot.say(5001, "/forgetme")
    await bot.press(5001, "forget:no")
    assert bot.telegram.texts(5001)[-1] == "Nothing was erased."


def test_purge_anonymizes_old_finished_requests_only(
    desk: Desk, engine: Engine, maria_housekeeping: Staff
) -> None:
    start_chat(desk, GUEST, "room-412")
    followup_sent(desk, GUEST, "towels")
    answer_followup(desk, GUEST.telegram_id, 1, fine=True)
    desk.clock.advance(40 * 86400)
    guest_writes(desk, GUEST, "pillow")  # a newer request keeps the guest

    result = desk(lambda s, _out, env, now: privacy.purge(s, env, older_than_days=30, now=now))

    assert (result.requests, result.guests) == (1, 0)
    with Session(engine) as session:
        old, new = session.exec(select(Request).order_by(col(Request.id))).all()
        assert (old.text, new.text) == ("", "pillow")
        assert session.exec(select(Guest)).one().first_name == "John"
    desk.clock.advance(40 * 86400)
    cancel(desk, GUEST.telegram_id, 2)
    desk.clock.advance(40 * 86400)
    result = desk(lambda s, _out, env, now: privacy.purge(s, env, older_than_days=30, now=now))
    assert (result.requests, result.guests) == (1, 1)
    with Session(engine) as session:
        assert session.exec(select(Guest)).one().first_name == ""


def test_purge_deletes_finished_timers_and_keeps_pending_ones(
    desk: Desk, engine: Engine, maria_housekeeping: Staff
) -> None:
    start_chat(desk, GUEST, "room-412")
    followup_sent(desk, GUEST, "towels")  # the check-in fired; its answer timeout waits
    answer_followup(desk, GUEST.telegram_id, 1, fine=True)  # the timeout is cancelled
    desk(
        lambda s, out, _env, now: timers.schedule(
            s, out, "followup.ask", "test:overdue", now, {}, now=now
        )
    )
    desk.clock.advance(40 * 86400)

    result = desk(lambda s, _out, env, now: privacy.purge(s, env, older_than_days=30, now=now))

    assert result.timers == 2
    with Session(engine) as session:
        left = session.exec(select(Timer)).all()
        assert sorted((t.key, t.status) for t in left) == [
            # The idle guest was anonymized, which cancels the end of their stay (due after
            # the cutoff, so kept for now).
            ("room:1:expire", TimerStatus.CANCELLED),
            ("test:overdue", TimerStatus.PENDING),
        ]


def test_purge_command(engine: Engine, db_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["purge", "--older-than", "30"],
        env={"DATABASE_URL": db_url, "CONCIERGE_CONFIG": str(TEST_HOTEL)},
    )
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip()
        == "anonymized 0 requests and 0 guests older than 30 days; deleted 0 stored updates, "
        "0 delivered messages and 0 finished timers"
    )
    default = CliRunner().invoke(
        app, ["purge"], env={"DATABASE_URL": db_url, "CONCIERGE_CONFIG": str(TEST_HOTEL)}
    )
    assert "older than 90 days" in default.output  # limits.retention_days


def _note(desk: Desk, staff_telegram_id: int, request_id: int, text: str) -> None:
    """A staff member presses Note on a card and writes ``text``."""
    desk(
        lambda s, out, env, now: cards.ask_note(
            s, out, env, staff_id=staff_id_of(s, staff_telegram_id), request_id=request_id, now=now
        )
    )
    desk(
        lambda s, out, env, now: prompts.answer(
            s, out, env, staff_id=staff_id_of(s, staff_telegram_id), text=text, now=now
        )
    )


def _notes(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [n.text for n in session.exec(select(GuestNote).order_by(col(GuestNote.id)))]


def test_forgetme_erases_the_notes_about_the_guest(
    desk: Desk, engine: Engine, maria_housekeeping: Staff
) -> None:
    start_chat(desk, GUEST, "room-412")
    submit(desk, GUEST, "towels")
    _note(desk, 1001, 1, "allergic to feathers")
    other = Person(telegram_id=5004, chat_id=5004, first_name="Giulia", language_code="it")
    submit(desk, other, "pillow")
    _note(desk, 1001, 2, "quiet room")
    with Session(engine) as session:
        guest_id = session.exec(select(Guest.id).where(Guest.telegram_id == 5003)).one()

    desk(
        lambda s, out, env, now: privacy.forget(
            s,
            out,
            env,
            person=GUEST,
            guest_id=guest_id,
            confirmed=True,
            message_id=None,
            now=now,
        )
    )

    assert _notes(engine) == ["quiet room"]  # only the other guest's note is left
    assert all("allergic" not in text for text in desk.texts_to(1001))


def test_purge_erases_notes_of_purged_guests_and_notes_older_than_the_cutoff(
    desk: Desk, engine: Engine, maria_housekeeping: Staff
) -> None:
    start_chat(desk, GUEST, "room-412")
    followup_sent(desk, GUEST, "towels")
    answer_followup(desk, GUEST.telegram_id, 1, fine=True)
    _note(desk, 1001, 1, "allergic to feathers")
    staying = Person(telegram_id=5004, chat_id=5004, first_name="Giulia", language_code="it")
    submit(desk, staying, "pillow")
    _note(desk, 1001, 2, "an old note")
    desk.clock.advance(40 * 86400)
    submit(desk, staying, "more pillows")  # Giulia is still here; John is not
    _note(desk, 1001, 3, "a recent note")

    desk(lambda s, _out, env, now: privacy.purge(s, env, older_than_days=30, now=now))

    assert _notes(engine) == ["a recent note"]
