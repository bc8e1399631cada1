"""Shared fixtures: a real database (SQLite, or PostgreSQL via TEST_DATABASE_URL), the test
hotel, a fake clock, and the people of the hotel."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from bot import outbox, timers
from bot.clock import FakeClock
from bot.config import HotelConfig, load_hotel_config
from bot.db import make_engine, session_factory, upgrade
from bot.i18n import I18n
from bot.models import Guest, Offer, Request, Role, Staff
from bot.notifier import Outbox, Outgoing, Rendered
from bot.render import Renderer
from bot.services import followups, guests, requests
from bot.services import staff as staff_service
from bot.services.actors import find_guest, find_staff
from bot.services.common import Env, Person
from bot.services.requests import Content
from bot.timers.kinds import HANDLERS
from tests.harness import Bot, make_bot

HERE = Path(__file__).parent
TEST_HOTEL = HERE / "hotel.test.toml"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Rome

T = TypeVar("T")


def database_url(tmp_dir: Path) -> str:
    """The database the suite runs on: TEST_DATABASE_URL, else a fresh SQLite file."""
    return os.environ.get("TEST_DATABASE_URL") or "sqlite:///{}".format(tmp_dir / "test.db")


def reset_database(engine: Engine) -> None:
    """Drop everything and migrate from scratch, exactly as production does."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    else:
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    reset_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> None:
    """Every test that touches the database starts with empty tables and ids from 1."""
    if "engine" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("engine")
    tables = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("TRUNCATE {} RESTART IDENTITY CASCADE".format(", ".join(tables)))
            )
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def hotel() -> HotelConfig:
    return load_hotel_config(TEST_HOTEL)


@pytest.fixture(scope="session")
def env(hotel: HotelConfig) -> Env:
    return Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session


class Desk:
    """Runs service calls the way the bot does: one transaction, its outbox kept for asserts."""

    def __init__(
        self, engine: Engine, env: Env, clock: FakeClock, *, durable: bool = False
    ) -> None:
        self.sessions = session_factory(engine)
        self.env = env
        self.clock = clock
        self.outbox = Outbox()
        self.renderer = Renderer(env.hotel, env.i18n)
        self._message_ids = 0
        self.durable = durable

    def __call__(self, action: Callable[[Session, Outbox, Env, datetime], T]) -> T:
        """Run ``action`` in a committed transaction; its messages are in ``self.outbox``."""
        self.outbox = Outbox()
        with self.sessions() as session:
            result = action(session, self.outbox, self.env, self.clock.now())
            if self.durable:  # as the bot does: the messages join the outbox in the same commit
                outbox.enqueue(session, self.outbox.messages, self.clock.now())
                session.commit()
            else:
                session.commit()
                self._deliver(session)
        return result

    def _deliver(self, session: Session) -> None:
        """Give sent offer cards message ids, as the notifier does after delivery."""
        for message in self.outbox.messages:
            if message.offer_id is not None:
                self._message_ids += 1
                offer = session.get(Offer, message.offer_id)
                assert offer is not None
                offer.message_id = self._message_ids
                session.add(offer)
        session.commit()

    def render(self, message: Outgoing) -> Rendered:
        """``message`` as the sender renders it for Telegram."""
        return self.renderer(message)

    def rendered(self) -> list[Rendered]:
        """The messages of the last call, rendered as the sender renders them."""
        return [self.renderer(m) for m in self.outbox.messages]

    def texts_to(self, chat_id: int) -> list[str]:
        """Texts the last call sends or edits in a chat."""
        return [m.text for m in self.rendered() if m.chat_id == chat_id and m.text]

    def messages_to(self, chat_id: int) -> list[Any]:
        """Messages the last call sends or edits in a chat, rendered."""
        return [m for m in self.rendered() if m.chat_id == chat_id]

    def read(self, query: Callable[[Session], T]) -> T:
        """Read something in a fresh session."""
        with self.sessions() as session:
            return query(session)


@pytest.fixture
def desk(engine: Engine, env: Env, clock: FakeClock) -> Desk:
    return Desk(engine, env, clock)


@pytest.fixture
def durable_desk(engine: Engine, env: Env, clock: FakeClock) -> Desk:
    """A desk whose messages go into the real outbox, for the sender to deliver."""
    return Desk(engine, env, clock, durable=True)


def register(
    desk: Desk,
    telegram_id: int,
    name: str,
    department: str,
    *,
    language: str = "en",
    role: Role = Role.STAFF,
    on_duty: bool = True,
) -> Staff:
    """Register a staff member, optionally already on duty."""

    def add(session: Session, _out: Outbox, env: Env, now: datetime) -> Staff:
        staff = staff_service.add(
            session,
            env.hotel,
            telegram_id=telegram_id,
            name=name,
            department=department,
            role=role,
            language=language,
            now=now,
        ).staff
        staff.on_duty = on_duty
        session.add(staff)
        return staff

    return desk(add)


# --- what guests and staff do, each in one committed transaction, as the bot does it -----------


def staff_id_of(session: Session, telegram_id: int) -> int | None:
    """The staff id the Telegram layer finds for ``telegram_id`` (None: not staff)."""
    found = find_staff(session, telegram_id)
    return found.id if found is not None else None


def guest_id_of(session: Session, telegram_id: int) -> int | None:
    """The guest id the Telegram layer finds for ``telegram_id`` (None: not a guest)."""
    found = find_guest(session, telegram_id)
    return found.id if found is not None else None


def start_chat(desk: Desk, person: Person, payload: str | None = None) -> Guest:
    """A guest sends /start, with the deep link's ``payload`` if any."""
    return desk(
        lambda s, out, env, now: guests.start(s, out, env, person=person, payload=payload, now=now)
    )


def guest_writes(desk: Desk, person: Person, text: str = "", **content: Any) -> Request | None:
    """A guest's message: the request it stored, or None (a room number, a flood)."""
    return desk(
        lambda s, out, env, now: requests.submit(
            s, out, env, person=person, content=Content(text=text, **content), now=now
        )
    )


def submit(desk: Desk, person: Person, text: str = "", **content: Any) -> Request:
    """A guest's message that is stored as a request."""
    request = guest_writes(desk, person, text, **content)
    assert request is not None
    return request


def _by_staff(
    action: Callable[..., Request], desk: Desk, telegram_id: int, request_id: int
) -> Request:
    """Run a request service for the staff member with ``telegram_id``, on ``request_id``."""
    return desk(
        lambda s, out, env, now: action(
            s, out, env, staff_id=staff_id_of(s, telegram_id), request_id=request_id, now=now
        )
    )


def accept(desk: Desk, telegram_id: int, request_id: int) -> Request:
    """The staff member ``telegram_id`` presses Accept."""
    return _by_staff(requests.accept, desk, telegram_id, request_id)


def release(desk: Desk, telegram_id: int, request_id: int) -> Request:
    """The staff member ``telegram_id`` presses Release."""
    return _by_staff(requests.release, desk, telegram_id, request_id)


def mark_done(desk: Desk, telegram_id: int, request_id: int) -> Request:
    """The staff member ``telegram_id`` presses Done."""
    return _by_staff(requests.mark_done, desk, telegram_id, request_id)


def cancel(desk: Desk, telegram_id: int, request_id: int) -> Request:
    """The guest ``telegram_id`` cancels a request."""
    return desk(
        lambda s, out, env, now: requests.cancel(
            s, out, env, guest_id=guest_id_of(s, telegram_id), request_id=request_id, now=now
        )
    )


def set_duty(desk: Desk, telegram_id: int, on: bool) -> Staff:
    """A staff member starts (``on``) or ends a shift."""
    return desk(
        lambda s, out, env, now: staff_service.set_duty(
            s, out, env, staff_id=staff_id_of(s, telegram_id), on=on, now=now
        )
    )


def done_request(desk: Desk, person: Person, text: str = "towels", *, staff: int = 1001) -> int:
    """A request submitted, accepted and done by ``staff``: its follow-up is scheduled."""
    request = submit(desk, person, text)
    assert request.id is not None
    accept(desk, staff, request.id)
    mark_done(desk, staff, request.id)
    return request.id


def run_timers(desk: Desk) -> timers.Pass:
    """Fire the timers that are due: send the follow-ups, expire the unanswered ones."""
    return desk(lambda s, out, env, now: timers.fire_due(s, out, env, now, HANDLERS))


def followup_sent(desk: Desk, person: Person, text: str = "towels") -> int:
    """A request done by Maria and, housekeeping's five minutes later, its follow-up sent."""
    request_id = done_request(desk, person, text)
    desk.clock.advance(300)
    run_timers(desk)
    return request_id


def _on_followup(
    action: Callable[..., Request],
    desk: Desk,
    telegram_id: int,
    followup_id: int,
    message_id: int | None,
    **choice: object,
) -> Request:
    """Run a follow-up service with the guest's ``choice`` (an answer or a rating)."""
    return desk(
        lambda s, out, env, now: action(
            s,
            out,
            env,
            guest_id=guest_id_of(s, telegram_id),
            followup_id=followup_id,
            message_id=message_id,
            now=now,
            **choice,
        )
    )


def answer_followup(
    desk: Desk, telegram_id: int, followup_id: int, *, fine: bool, message_id: int | None = None
) -> Request:
    """The guest answers "is everything all right?" (on the question's ``message_id``)."""
    return _on_followup(followups.answer, desk, telegram_id, followup_id, message_id, fine=fine)


def rate_followup(
    desk: Desk, telegram_id: int, followup_id: int, rating: int, *, message_id: int | None = None
) -> Request:
    """The guest rates a closed request (on the rating question's ``message_id``)."""
    return _on_followup(followups.rate, desk, telegram_id, followup_id, message_id, rating=rating)


@pytest.fixture
def maria_housekeeping(desk: Desk) -> Staff:
    return register(desk, 1001, "Maria", "housekeeping", language="it")


@pytest.fixture
def luca_housekeeping(desk: Desk) -> Staff:
    return register(desk, 1002, "Luca", "housekeeping", language="en")


@pytest.fixture
def olga_front_desk(desk: Desk) -> Staff:
    return register(desk, 1003, "Olga", "front_desk", language="ru")


@pytest.fixture
def sofia_supervisor(desk: Desk) -> Staff:
    return register(desk, 1009, "Sofia", "front_desk", language="en", role=Role.SUPERVISOR)


@pytest.fixture
def guest_room_412() -> Person:
    """A German-speaking guest (Telegram language de-DE)."""
    return Person(telegram_id=5001, chat_id=5001, first_name="Anna", language_code="de-DE")


@pytest.fixture
def guest_italian() -> Person:
    return Person(telegram_id=5002, chat_id=5002, first_name="Giulia", language_code="it")


@pytest.fixture
async def bot(engine: Engine, hotel: HotelConfig, clock: FakeClock) -> AsyncIterator[Bot]:
    """The whole application, with Telegram recorded at its HTTP boundary."""
    harness = make_bot(engine, hotel, clock)
    await harness.app.initialize()
    yield harness
    await harness.app.shutdown()
