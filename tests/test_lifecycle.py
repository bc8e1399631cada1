"""The request lifecycle: every state x action, by every party, on the real database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import lifecycle
from bot.lifecycle import Action, Role
from bot.models import Event, EventKind, Guest, Offer, Request, RequestStatus, Staff
from bot.services import errors
from bot.services.common import Person
from tests.conftest import START, Desk, start_chat

S = RequestStatus
A = Action

# What may happen, written out independently of the module: (state, action) -> (new state,
# who may, the event it records; None: allowed, nothing changes). Everything else is refused.
SPEC: dict[tuple[RequestStatus, Action], tuple[RequestStatus, set[Role], EventKind | None]] = {
    (S.OPEN, A.ACCEPT): (S.ACCEPTED, {Role.OFFERED, Role.SUPERVISOR}, EventKind.ACCEPTED),
    (S.ACCEPTED, A.ACCEPT): (S.ACCEPTED, {Role.ASSIGNEE}, None),
    (S.ACCEPTED, A.RELEASE): (S.OPEN, {Role.ASSIGNEE}, EventKind.RELEASED),
    (S.ACCEPTED, A.FINISH): (S.DONE, {Role.ASSIGNEE}, EventKind.DONE),
    (S.OPEN, A.CANCEL): (S.CANCELLED, {Role.GUEST}, EventKind.CANCELLED),
    (S.ACCEPTED, A.CANCEL): (S.CANCELLED, {Role.GUEST}, EventKind.CANCELLED),
    (S.OPEN, A.REROUTE): (S.OPEN, {Role.GUEST}, EventKind.ROUTED),
    (S.ACCEPTED, A.WITHDRAW): (S.OPEN, {Role.SYSTEM}, EventKind.RELEASED),
    (S.ACCEPTED, A.UNREACHABLE): (S.OPEN, {Role.SYSTEM}, EventKind.STAFF_UNREACHABLE),
    (S.DONE, A.CONFIRM): (S.CLOSED, {Role.GUEST}, EventKind.CLOSED),
    (S.DONE, A.REOPEN): (S.OPEN, {Role.GUEST}, EventKind.REOPENED),
    (S.CLOSED, A.REOPEN): (S.OPEN, {Role.GUEST}, EventKind.REOPENED),
    (S.DONE, A.EXPIRE): (S.CLOSED, {Role.SYSTEM}, EventKind.CLOSED),
    (S.OPEN, A.DISMISS): (S.CLOSED, {Role.OFFERED, Role.SUPERVISOR}, EventKind.DISMISSED),
    (S.ACCEPTED, A.DISMISS): (S.CLOSED, {Role.ASSIGNEE, Role.SUPERVISOR}, EventKind.DISMISSED),
    (S.OPEN, A.MERGE): (S.CLOSED, {Role.OFFERED, Role.SUPERVISOR}, EventKind.MERGED),
    (S.ACCEPTED, A.MERGE): (S.CLOSED, {Role.ASSIGNEE, Role.SUPERVISOR}, EventKind.MERGED),
}

# What a party the state allows the action for, but not to them, is told.
REFUSED_AS: dict[tuple[RequestStatus, Action], type[errors.DomainError]] = {
    (S.ACCEPTED, A.ACCEPT): errors.AlreadyTaken,
    (S.ACCEPTED, A.RELEASE): errors.NotYours,
    (S.ACCEPTED, A.FINISH): errors.NotYours,
    (S.OPEN, A.CANCEL): errors.UnknownRequest,
    (S.ACCEPTED, A.CANCEL): errors.UnknownRequest,
    (S.OPEN, A.REROUTE): errors.UnknownRequest,
    (S.ACCEPTED, A.DISMISS): errors.NotYours,
    (S.ACCEPTED, A.MERGE): errors.NotYours,
}


@dataclass(frozen=True)
class Party:
    """Someone who may try an action, and the role the walk expects them to hold."""

    name: str
    role: Role | None  # None: a guest whose request it is not
    by: Staff | Guest | None
    offered: bool = False


@dataclass(frozen=True)
class Hotel:
    """The people of one walk: the guest who asked, another guest, and four staff."""

    anna: Guest
    giulia: Guest  # another guest
    maria: Staff  # accepted the request, where it has an assignee
    luca: Staff  # holds an offer of it
    olga: Staff  # front desk: neither
    sofia: Staff  # supervisor

    def parties(self, state: RequestStatus) -> list[Party]:
        found = [
            Party("Anna", Role.GUEST, self.anna),
            Party("Giulia", None, self.giulia),
            Party("Luca", Role.OFFERED, self.luca, offered=True),
            Party("Olga", Role.STAFF, self.olga),
            Party("Sofia", Role.SUPERVISOR, self.sofia),
            Party("system", Role.SYSTEM, None),
        ]
        if _assigned(state):
            found.append(Party("Maria", Role.ASSIGNEE, self.maria))
        return found


def _assigned(state: RequestStatus) -> bool:
    return state in (S.ACCEPTED, S.DONE, S.CLOSED)


@pytest.fixture
def people(
    engine: Engine,
    desk: Desk,
    guest_room_412: Person,
    guest_italian: Person,
    maria_housekeeping: Staff,
    luca_housekeeping: Staff,
    olga_front_desk: Staff,
    sofia_supervisor: Staff,
) -> Iterator[tuple[Session, Hotel]]:
    anna, giulia = start_chat(desk, guest_room_412), start_chat(desk, guest_italian)
    with Session(engine, expire_on_commit=False) as session:

        def staff(member: Staff) -> Staff:
            found = session.get(Staff, member.id)
            assert found is not None
            return found

        def guest(person: Guest) -> Guest:
            found = session.get(Guest, person.id)
            assert found is not None
            return found

        yield (
            session,
            Hotel(
                anna=guest(anna),
                giulia=guest(giulia),
                maria=staff(maria_housekeeping),
                luca=staff(luca_housekeeping),
                olga=staff(olga_front_desk),
                sofia=staff(sofia_supervisor),
            ),
        )


def _request_in(session: Session, hotel: Hotel, state: RequestStatus) -> Request:
    """A request of Anna's in ``state``, offered to Luca (and accepted by Maria if assigned)."""
    request = Request(
        guest_id=hotel.anna.id,  # type: ignore[arg-type]
        department="housekeeping",
        status=state,
        text="towels",
        language="en",
        assignee_id=hotel.maria.id if _assigned(state) else None,
        created_at=START,
        updated_at=START,
    )
    session.add(request)
    session.flush()
    offer = Offer(
        request_id=request.id,  # type: ignore[arg-type]
        staff_id=hotel.luca.id,  # type: ignore[arg-type]
        chat_id=1002,
        created_at=START,
    )
    session.add(offer)
    session.flush()
    return request


def _stored(session: Session, request: Request) -> tuple[str, list[str]]:
    """The request's status and its events, as the database has them."""
    status = session.exec(select(Request.status).where(Request.id == request.id)).one()
    kinds = session.exec(
        select(Event.kind).where(Event.request_id == request.id).order_by(col(Event.id))
    ).all()
    return status, list(kinds)


def test_the_table_is_the_specified_lifecycle() -> None:
    table = {key: (row.target, set(row.roles), row.event) for key, row in lifecycle.TABLE.items()}
    assert table == SPEC
    assert len(lifecycle.TABLE) == len(lifecycle.TRANSITIONS)  # no pair given twice


@pytest.mark.parametrize("state", list(RequestStatus))
def test_every_action_by_every_party_is_done_or_refused_as_specified(
    people: tuple[Session, Hotel], state: RequestStatus
) -> None:
    session, hotel = people
    for action in Action:
        for party in hotel.parties(state):
            request = _request_in(session, hotel, state)
            case = f"{party.name} tries {action} on a request {state}"
            expected = SPEC.get((state, action))
            allowed = expected is not None and party.role in expected[1]
            if allowed:
                assert expected is not None
                target, _roles, kind = expected
                lifecycle.move(
                    session,
                    request,
                    action,
                    by=party.by,
                    offered=party.offered,
                    subject=hotel.maria,
                    now=START,
                )
                assert _stored(session, request) == (
                    target,
                    [kind.value] if kind else [],
                ), case
                continue
            if party.role is None:
                error: type[errors.DomainError] = errors.UnknownRequest  # not hers to know of
            elif expected is None:
                error = errors.StaleAction
            else:
                error = REFUSED_AS.get((state, action), errors.StaleAction)
            with pytest.raises(error) as refused:
                lifecycle.move(
                    session, request, action, by=party.by, offered=party.offered, now=START
                )
            assert type(refused.value) is error, case
            assert _stored(session, request) == (state, []), case
            assert not lifecycle.allows(request, action, party.by, offered=party.offered), case
    session.rollback()


def test_moves_set_what_the_new_state_means(people: tuple[Session, Hotel]) -> None:
    session, hotel = people
    later = START.replace(hour=10)
    request = _request_in(session, hotel, S.OPEN)
    lifecycle.move(session, request, A.ACCEPT, by=hotel.luca, offered=True, now=later)
    assert (request.assignee_id, request.accepted_at) == (hotel.luca.id, later)
    lifecycle.move(session, request, A.FINISH, by=hotel.luca, now=later)
    assert request.done_at == later
    lifecycle.move(session, request, A.CONFIRM, by=hotel.anna, now=later)
    assert request.closed_at == later
    lifecycle.move(session, request, A.REOPEN, by=hotel.anna, now=later)
    assert request.status == S.OPEN
    assert request.assignee_id is None
    assert request.closed_at is None
    assert request.reopened_count == 1
    events = session.exec(select(Event).where(Event.request_id == request.id)).all()
    # A "yes" closes the request as the unanswered question would: the system's event.
    assert [(e.kind, e.actor_name) for e in events] == [
        ("accepted", "Luca"),
        ("done", "Luca"),
        ("closed", ""),
        ("reopened", "Anna"),
    ]
    session.rollback()


def _raced(engine: Engine, session: Session, hotel: Hotel, read: S, **behind: object) -> Request:
    """A request this instance has read in ``read``, which another instance then changed
    behind its back (``behind``: the columns it wrote)."""
    request = _request_in(session, hotel, read)
    session.commit()  # this instance has read it
    with engine.begin() as connection:
        connection.execute(update(Request).where(col(Request.id) == request.id).values(**behind))
    return request


def test_of_two_accepts_only_the_first_wins(engine: Engine, people: tuple[Session, Hotel]) -> None:
    session, hotel = people
    request = _raced(engine, session, hotel, S.OPEN, status=S.ACCEPTED, assignee_id=hotel.luca.id)

    with pytest.raises(errors.AlreadyTaken) as taken:
        lifecycle.move(session, request, A.ACCEPT, by=hotel.sofia, now=START)
    assert taken.value.by == "Luca"
    assert (request.status, request.assignee_id) == (S.ACCEPTED, hotel.luca.id)
    assert _stored(session, request) == (S.ACCEPTED, [])
    session.rollback()


def test_a_cancel_still_wins_over_an_accept_that_came_first(
    engine: Engine, people: tuple[Session, Hotel]
) -> None:
    session, hotel = people
    request = _raced(engine, session, hotel, S.OPEN, status=S.ACCEPTED, assignee_id=hotel.luca.id)

    lifecycle.move(session, request, A.CANCEL, by=hotel.anna, now=START)
    assert _stored(session, request) == (S.CANCELLED, ["cancelled"])
    assert request.assignee_id == hotel.luca.id  # so the cancel tells the one who held it
    session.rollback()


def test_a_release_after_the_request_moved_on_is_stale(
    engine: Engine, people: tuple[Session, Hotel]
) -> None:
    session, hotel = people
    request = _raced(engine, session, hotel, S.ACCEPTED, status=S.CANCELLED)

    with pytest.raises(errors.StaleAction) as stale:
        lifecycle.move(session, request, A.RELEASE, by=hotel.maria, now=START)
    assert stale.value.status == S.CANCELLED
    session.rollback()


def test_unanswered_follow_ups_close_only_requests_still_done(
    people: tuple[Session, Hotel],
) -> None:
    session, hotel = people
    done = _request_in(session, hotel, S.DONE)
    reopened = _request_in(session, hotel, S.OPEN)
    ids = [done.id, reopened.id]
    moved = lifecycle.move_many(session.connection(), ids, A.EXPIRE, START)  # type: ignore[arg-type]
    assert moved == [done.id]
    assert _stored(session, done) == (S.CLOSED, ["closed"])
    assert _stored(session, reopened) == (S.OPEN, [])
    with pytest.raises(ValueError, match="not a system action"):
        lifecycle.move_many(session.connection(), ids, A.ACCEPT, START)  # type: ignore[arg-type]
    session.rollback()
