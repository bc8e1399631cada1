"""A guest's room: asked until known, filled into their open requests, forgotten after the stay.

The room is given by answering the bot's question, with ``/room 412`` or through a printed
room card's signed link (``bot.roomlinks``). Whenever it is given, it goes into every open
request of the guest that has none (their staff cards are edited to show it, and the
timeline says so), and the stay starts: the timer kind ``room.expire`` (key
``room:<guest id>:expire``, moved whenever a room is given) forgets the room when the stay
ends (``HotelConfig.stay_end``: ``[rooms] stay_days``, ``checkout_time``), after which the
next request asks again. ``concierge guests checkout`` and a supervisor's ``/checkout`` end a
stay at once. Requests keep the room they were made with; forgetting a room closes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot import timers
from bot.models import EventKind, Guest, Offer, OfferStatus, Request, RequestStatus, Staff
from bot.notices import (
    NO_MEMORY,
    AskRoom,
    CardButtons,
    CardStatus,
    CheckedOut,
    Notice,
    RoomSaved,
    RoomStillNeeded,
    card,
)
from bot.notifier import Outbox
from bot.routing import Tier
from bot.services import errors, memory
from bot.services.common import Env, event, record_rows, tell
from bot.texts.staff import CARD_TEXT_LIMIT
from bot.timers import Due

EXPIRE = "room.expire"

# The requests a late room is added to: those staff may still act on or look at.
_OPEN = (RequestStatus.OPEN, RequestStatus.ACCEPTED, RequestStatus.DONE)


def key(guest_id: int) -> str:
    """The key of the end of a guest's stay."""
    return f"room:{guest_id}:expire"


def valid_room(env: Env, text: str) -> str | None:
    """``text`` as a room number, if it is one."""
    room = text.strip()
    return room if room and env.hotel.room_regex.fullmatch(room) else None


def ask_room(out: Outbox, env: Env, guest: Guest) -> None:
    """Ask for the room number and take the next plain message as the answer."""
    guest.room_asked, guest.awaiting_room = True, True
    tell(out, guest, AskRoom())


def ask_again(out: Outbox, env: Env, guest: Guest, request_id: int) -> None:
    """With the acknowledgement of request ``request_id``: ask for the room while it is not
    known (the first time as on /start, then politely naming the request)."""
    if guest.room is not None:
        return
    notice: Notice = RoomStillNeeded(request_id) if guest.room_asked else AskRoom()
    guest.room_asked, guest.awaiting_room = True, True
    tell(out, guest, notice)


def answer(session: Session, out: Outbox, env: Env, guest: Guest, text: str, now: datetime) -> bool:
    """The room step of a guest's plain text: True if it was their room number, now saved.

    While the room is unknown (or was just asked for), a text that is a room number is the
    answer. Anything else is not (a guest may answer the question with the request itself):
    it goes on as a request, whose acknowledgement asks again.
    """
    if guest.room is not None and guest.room_set_at is None:
        # Given before stays existed: the stay starts now.
        _start_stay(session, out, env, guest, now, now)
    if not guest.awaiting_room and guest.room is not None:
        return False
    room = valid_room(env, text)
    if room is None:
        if guest.awaiting_room:
            guest.awaiting_room = False
            session.add(guest)
        return False
    filled = give(session, out, env, guest, room, now)
    tell(out, guest, RoomSaved(room, filled))
    return True


def give(
    session: Session, out: Outbox, env: Env, guest: Guest, room: str, now: datetime
) -> tuple[int, ...]:
    """Save ``room`` as the guest's and start their stay; it fills in their open requests that
    have none, whose staff cards are edited. Returns the numbers of those requests."""
    missing = session.exec(
        select(Request)
        .where(
            Request.guest_id == guest.id,
            col(Request.room).is_(None),
            col(Request.status).in_([s.value for s in _OPEN]),
        )
        .order_by(col(Request.id))
    ).all()
    guest.room = room
    guest.awaiting_room, guest.room_asked = False, True
    # A room given late belongs to the stay of the requests it fills in: it began with them.
    _start_stay(session, out, env, guest, min([now, *(r.created_at for r in missing)]), now)
    events = []
    for request in missing:
        request.room, request.updated_at = room, now
        session.add(request)
        events.append(event(request.id, EventKind.ROOM_SET, now, guest, room=room))
    session.flush()
    record_rows(session.connection(), events)
    for request in missing:
        refresh_cards(session, out, env, request)
    return tuple(r.id for r in missing if r.id is not None)


def _start_stay(
    session: Session, out: Outbox, env: Env, guest: Guest, since: datetime, now: datetime
) -> None:
    """The guest's stay began at ``since``; its end is scheduled."""
    assert guest.id is not None
    guest.room_set_at, guest.updated_at = since, now
    session.add(guest)
    end = env.hotel.stay_end(since)
    timers.schedule(session, out, EXPIRE, key(guest.id), end, {"guest": guest.id}, now=now)


def refresh_cards(session: Session, out: Outbox, env: Env, request: Request) -> None:
    """Edit the live staff copies of ``request`` to show it as it is now, each keeping its
    status line and buttons: an offer still to accept, the assignee's accepted or done card."""
    copies = session.exec(
        select(Offer)
        .where(
            Offer.request_id == request.id,
            col(Offer.status).in_([OfferStatus.ACTIVE.value, OfferStatus.TAKEN.value]),
        )
        .order_by(col(Offer.id))
    ).all()
    assignee = session.get(Staff, request.assignee_id) if request.assignee_id else None
    known = memory.of_request(session, request) if copies else NO_MEMORY
    for row in copies:
        staff = session.get(Staff, row.staff_id)
        if staff is None:
            continue
        if row.status == OfferStatus.ACTIVE and request.status == RequestStatus.OPEN:
            notice = card(
                request,
                tier=_tier(env, request, staff),
                full_text_above=len(request.text) > CARD_TEXT_LIMIT,
                buttons=CardButtons.ACCEPT,
                memory=known,
            )
        elif row.staff_id != request.assignee_id:
            continue
        elif request.status == RequestStatus.ACCEPTED:
            notice = card(
                request,
                status=CardStatus.ACCEPTED_BY_YOU,
                buttons=CardButtons.ASSIGNEE,
                memory=known,
            )
        elif request.status == RequestStatus.DONE:
            name = assignee.name if assignee is not None else ""
            notice = card(request, status=CardStatus.DONE_BY, name=name, memory=known)
        else:
            continue
        tell(out, staff, notice, edit_offer_id=row.id)


def _tier(env: Env, request: Request, staff: Staff) -> Tier:
    """Why ``staff`` holds an offer of ``request`` (as ``bot.routing.recipients`` chose)."""
    if staff.department == request.department:
        return Tier.DEPARTMENT
    if staff.department == env.hotel.hotel.fallback_department:
        return Tier.FALLBACK
    return Tier.SUPERVISORS


def forget(session: Session, guest: Guest, now: datetime) -> None:
    """End the guest's stay: the room is forgotten (their requests keep theirs), and their next
    request asks again."""
    guest.room, guest.room_set_at = None, None
    guest.room_asked = guest.awaiting_room = False
    # The stay is over: nothing the guest sends now continues a conversation of it.
    guest.thread_request_id = guest.thread_until = guest.thread_kind = None
    guest.updated_at = now
    session.add(guest)
    if guest.id is not None:
        timers.cancel(session, key(guest.id))


def checkout(session: Session, *, room: str, now: datetime) -> int:
    """End the stay of every guest in ``room`` at once (the guests are not told); how many."""
    guests = session.exec(
        select(Guest).where(func.lower(col(Guest.room)) == room.strip().lower())
    ).all()
    for guest in guests:
        forget(session, guest, now)
    return len(guests)


def supervisor_checkout(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    staff_id: int | None,
    room: str,
    now: datetime,
) -> int:
    """A supervisor's ``/checkout 412``: end the stays in the room and say how many."""
    staff = session.get(Staff, staff_id) if staff_id is not None else None
    if staff is None or not staff.active:
        raise errors.NotRegistered
    if not staff.is_supervisor:
        raise errors.NotSupervisor
    count = checkout(session, room=room, now=now)
    tell(out, staff, CheckedOut(room.strip(), count))
    return count


def expire_due(
    session: Session, out: Outbox, env: Env, now: datetime, batch: Sequence[Due]
) -> None:
    """Handler of ``room.expire``: forget the rooms whose stay is over.

    A room given again meanwhile moved the timer; one whose stay the configuration made longer
    since is scheduled again for its new end.
    """
    for due in batch:
        guest = session.get(Guest, int(due.payload["guest"]))
        if guest is None or guest.room is None or guest.room_set_at is None:
            continue
        end = env.hotel.stay_end(guest.room_set_at)
        if end <= now:
            forget(session, guest, now)
        else:
            timers.schedule(session, out, EXPIRE, due.key, end, due.payload, now=now)
