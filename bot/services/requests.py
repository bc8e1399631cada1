"""The life of a guest request: submitted, routed, accepted, done, cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, func, insert
from sqlmodel import Session, col, select

from bot import lifecycle, smalltalk
from bot.lifecycle import Action
from bot.models import (
    ACTIVE_STATUSES,
    EventKind,
    Guest,
    Offer,
    OfferStatus,
    Priority,
    Request,
    RequestStatus,
    Staff,
)
from bot.notices import (
    AcceptedForGuest,
    CancelledForAssignee,
    CancelledForGuest,
    CardButtons,
    CardStatus,
    Courtesy,
    DepartmentPicked,
    DoneForGuest,
    GuestRequests,
    RequestAck,
    SlowDown,
    card,
    snippet_of,
)
from bot.notifier import Outbox
from bot.routing import Tier, match_department, recipients, urgent_keyword
from bot.services import answers, errors, followups, guests, memory, priority, rooms, threads
from bot.services.common import Env, Person, event, record_rows, tell
from bot.services.offers import active_offers, offer, update_copies


@dataclass(frozen=True)
class Content:
    """What a guest sent: text (or a caption), and optionally one attachment; ``message_id``:
    the guest's message, ``reply_to``: the message it replies to, ``media_group_id``: the
    album it belongs to."""

    text: str = ""
    media_kind: str | None = None
    file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    message_id: int | None = None
    reply_to: int | None = None
    media_group_id: str | None = None


def staff_member(session: Session, staff_id: int | None) -> Staff:
    """The active staff member ``staff_id`` (None: not staff), else ``NotRegistered``."""
    staff = session.get(Staff, staff_id) if staff_id is not None else None
    if staff is None or not staff.active:
        raise errors.NotRegistered
    return staff


def _request(session: Session, request_id: int) -> Request:
    request = session.get(Request, request_id)
    if request is None:
        raise errors.UnknownRequest(request_id)
    return request


def _guest_request(
    session: Session, guest_id: int | None, request_id: int
) -> tuple[Guest, Request]:
    guest = session.get(Guest, guest_id) if guest_id is not None else None
    request = session.get(Request, request_id)
    if guest is None or request is None or request.guest_id != guest.id:
        raise errors.UnknownRequest(request_id)
    return guest, request


def submit(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    person: Person,
    content: Content,
    now: datetime,
    known: Guest | None = None,
) -> Request | None:
    """Store a guest's message as a request, offer it, and acknowledge it at once.

    Returns None when the message was the room number the bot had asked for, courtesy
    (thanks, a greeting, "ok", emoji: ``bot.smalltalk``), which is answered in kind, or a
    question the hotel's knowledge base answers (``services.answers``). ``known``: the guest as
    already read in this session, if they were.
    """
    guest = guests.ensure(session, env, person, now, known=known)
    if content.media_kind is None and rooms.answer(session, out, env, guest, content.text, now):
        return None  # the room number, saved
    said = smalltalk.classify(content.text) if content.media_kind is None else None
    if said is not None:  # thanks, a greeting, "ok": answered in kind, not a request
        tell(out, guest, Courtesy(said.value))
        return None
    joined = threads.join(session, out, env, guest, content, now, windows=False)
    if joined is not None:  # a Telegram reply to a message about a request: that thread
        return joined
    # A question the hotel answers is answered even right after a request: "Wi-Fi password?"
    # sent a few seconds after "two towels" is not part of the towels.
    if answers.answer(session, out, env, guest=guest, content=content, now=now):
        return None
    joined = threads.join(session, out, env, guest, content, now, replies=False)
    if joined is not None:  # what follows at once, an explanation, an answer to staff
        return joined
    if _too_fast(session, out, env, guest, now):
        return None
    return create(session, out, env, guest, content, now)


def create(
    session: Session, out: Outbox, env: Env, guest: Guest, content: Content, now: datetime
) -> Request:
    """Store what ``guest`` sent as a request, route and offer it, and acknowledge it (the
    checks of ``submit`` already passed)."""
    matched = match_department(env.hotel, content.text, guest.language)
    department = matched or env.hotel.hotel.fallback_department
    urgent = urgent_keyword(env.hotel, content.text, guest.language)
    request = Request(
        guest_id=guest.id,  # type: ignore[arg-type]
        department=department,
        text=content.text,
        media_kind=content.media_kind,
        media_file_id=content.file_id,
        latitude=content.latitude,
        longitude=content.longitude,
        message_id=content.message_id,
        room=guest.room,
        language=guest.language,
        routed_by="keywords" if matched else "fallback",
        priority=Priority.NORMAL if urgent is None else Priority.URGENT,
        status=lifecycle.INITIAL,
        created_at=now,
        updated_at=now,
    )
    # Inserted as a plain statement: nothing in this transaction changes the new row, and the
    # ORM's unit of work cost more than the insert on the busiest path.
    request.id = (
        session.connection()
        .execute(_INSERT_REQUEST, request.model_dump(exclude={"id"}))
        .scalar_one()
    )
    events = [
        event(request.id, EventKind.CREATED, now, guest),
        event(request.id, EventKind.ROUTED, now, department=department, by=request.routed_by),
    ]
    if urgent is not None:
        events.append(
            event(request.id, EventKind.MARKED_URGENT, now, by="keywords", keyword=urgent)
        )
    tier = offer(session, out, env, request, now, new=True, events=events)
    record_rows(session.connection(), events)  # the whole timeline so far in one statement
    choices: tuple[str, ...] = ()
    if not matched and len(env.hotel.departments) > 1:  # the guest may pick another team
        choices = tuple(key for key in env.hotel.department_keys if key != department)
    tell(out, guest, RequestAck(request.id, department, tier, choices, urgent=urgent is not None))
    if urgent is not None:
        priority.alert(session, out, request)
    threads.opened(session, env, guest, request, now)
    if guest.room is None:
        rooms.ask_again(out, env, guest, request.id)
        session.add(guest)
    return request


_REQUESTS = Request.__table__  # type: ignore[attr-defined]
_INSERT_REQUEST = insert(_REQUESTS).returning(_REQUESTS.c.id)
_RECENT_REQUESTS = (
    select(func.count())
    .select_from(Request)
    .where(
        col(Request.guest_id) == bindparam("guest"),
        col(Request.created_at) > bindparam("since"),
    )
)


def sticker(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    person: Person,
    now: datetime,
    known: Guest | None = None,
) -> None:
    """A guest's sticker (a 👍, a smile) is courtesy: answered in kind, never a request."""
    guest = guests.ensure(session, env, person, now, known=known)
    tell(out, guest, Courtesy(smalltalk.SmallTalk.EMOJI.value))


def _too_fast(session: Session, out: Outbox, env: Env, guest: Guest, now: datetime) -> bool:
    """True if the guest is over the per-minute limit; they are told so once a minute."""
    limit = env.hotel.limits.guest_messages_per_minute
    # Through the connection, not the ORM: requests are inserted that way too, so there is
    # nothing to flush first, and the ORM's layer cost more than the count.
    recent = (
        session.connection()
        .execute(_RECENT_REQUESTS, {"guest": guest.id, "since": now - timedelta(minutes=1)})
        .scalar_one()
    )
    if recent < limit:
        return False
    if guest.slowed_at is None or now - guest.slowed_at >= timedelta(minutes=1):
        guest.slowed_at = now
        session.add(guest)
        tell(out, guest, SlowDown(limit))
    return True


def pick_department(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    guest_id: int | None,
    request_id: int,
    department: str,
    now: datetime,
) -> Request:
    """Move a still-waiting request to the department the guest chose."""
    guest, request = _guest_request(session, guest_id, request_id)
    if department not in env.hotel.department_keys:
        raise errors.UnknownDepartment(department, env.hotel.department_keys)
    lifecycle.check(session, request, Action.REROUTE, guest)
    if department != request.department:
        update_copies(
            session,
            out,
            env,
            request,
            active_offers(session, request_id),
            CardStatus.MOVED_TO,
            department,
        )
        lifecycle.move(
            session,
            request,
            Action.REROUTE,
            by=guest,
            now=now,
            changes={"department": department, "routed_by": "guest"},
            details={"department": department, "by": "guest"},
        )
        tier = offer(session, out, env, request, now)
    else:
        tier = Tier.DEPARTMENT
    tell(out, guest, DepartmentPicked(request_id, request.department, tier))
    return request


def accept(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """Give the request to the first staff member who presses Accept; others see who took it."""
    staff = staff_member(session, staff_id)
    request = _request(session, request_id)
    offers = active_offers(session, request_id)
    offered = any(o.staff_id == staff.id for o in offers)
    if (
        lifecycle.move(session, request, Action.ACCEPT, by=staff, offered=offered, now=now).event
        is None
    ):
        return request  # theirs already: pressed twice
    mine = [o for o in offers if o.staff_id == staff.id]
    update_copies(
        session,
        out,
        env,
        request,
        [o for o in offers if o.staff_id != staff.id],
        CardStatus.TAKEN_BY,
        staff.name,
    )
    _show_assignee_card(session, out, env, request, staff, mine, now)
    guest = session.get(Guest, request.guest_id)
    if guest is not None:
        tell(out, guest, AcceptedForGuest(request_id, staff.name, staff.department))
    return request


def _show_assignee_card(
    session: Session,
    out: Outbox,
    env: Env,
    request: Request,
    staff: Staff,
    mine: list[Offer],
    now: datetime,
) -> None:
    if not mine:
        # A supervisor took it without an offer of their own: give them a card to work from.
        row = Offer(
            request_id=request.id,  # type: ignore[arg-type]
            staff_id=staff.id,  # type: ignore[arg-type]
            chat_id=staff.telegram_id,
            created_at=now,
        )
        session.add(row)
        session.flush()
        mine = [row]
    notice = card(
        request,
        status=CardStatus.ACCEPTED_BY_YOU,
        buttons=CardButtons.ASSIGNEE,
        memory=memory.of_request(session, request),
    )
    for row in mine:
        row.status = OfferStatus.TAKEN
        session.add(row)
        tell(out, staff, notice, edit_offer_id=row.id)


def _taken_offers(session: Session, request_id: int, staff_id: int) -> list[Offer]:
    query = select(Offer).where(
        Offer.request_id == request_id,
        Offer.staff_id == staff_id,
        Offer.status == OfferStatus.TAKEN,
    )
    return list(session.exec(query))


def _by_assignee(
    session: Session,
    out: Outbox,
    env: Env,
    staff_id: int | None,
    request_id: int,
    now: datetime,
    action: Action,
) -> tuple[Staff, Request]:
    """Move an accepted request on with ``action`` (release or finish), if the presser is its
    assignee; their card says so, and a released card is withdrawn."""
    staff = staff_member(session, staff_id)
    request = _request(session, request_id)
    lifecycle.move(session, request, action, by=staff, now=now)
    update_copies(
        session,
        out,
        env,
        request,
        _taken_offers(session, request_id, staff.id),  # type: ignore[arg-type]
        CardStatus.DONE_BY if action is Action.FINISH else CardStatus.RELEASED_BY_YOU,
        staff.name,
        new_status=OfferStatus.TAKEN if action is Action.FINISH else OfferStatus.WITHDRAWN,
    )
    return staff, request


def release(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """Hand an accepted request back; it is offered again to everyone else who should see it."""
    staff, request = _by_assignee(session, out, env, staff_id, request_id, now, Action.RELEASE)
    offer(session, out, env, request, now, exclude={staff.id})  # type: ignore[arg-type]
    return request


def mark_done(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """Mark an accepted request done, tell the guest and schedule the follow-up."""
    _staff, request = _by_assignee(session, out, env, staff_id, request_id, now, Action.FINISH)
    guest = session.get(Guest, request.guest_id)
    if guest is not None:
        tell(out, guest, DoneForGuest(request_id))
        followups.schedule(session, out, env, request, guest, now)
    return request


def cancel(
    session: Session, out: Outbox, env: Env, *, guest_id: int | None, request_id: int, now: datetime
) -> Request:
    """Cancel a guest's own waiting or accepted request; staff copies and the assignee are told."""
    guest, request = _guest_request(session, guest_id, request_id)
    lifecycle.move(session, request, Action.CANCEL, by=guest, now=now)
    assignee_id = request.assignee_id  # kept by the cancelled request: whoever held it last
    copies = select(Offer).where(
        Offer.request_id == request_id,
        col(Offer.status).in_([OfferStatus.ACTIVE.value, OfferStatus.TAKEN.value]),
    )
    update_copies(
        session, out, env, request, list(session.exec(copies)), CardStatus.CANCELLED_BY_GUEST
    )
    if assignee_id is not None:
        assignee = session.get(Staff, assignee_id)
        if assignee is not None:
            tell(out, assignee, CancelledForAssignee(request_id))
    tell(out, guest, CancelledForGuest(request_id))
    return request


def open_for_guest(
    session: Session, out: Outbox, env: Env, *, person: Person, now: datetime
) -> list[Request]:
    """Send the guest their open requests, each waiting or accepted one with a Cancel button."""
    guest = guests.ensure(session, env, person, now)
    query = (
        select(Request)
        .where(
            Request.guest_id == guest.id,
            col(Request.status).in_([*ACTIVE_STATUSES, RequestStatus.DONE]),
        )
        .order_by(col(Request.id))
    )
    found = list(session.exec(query))
    listed = tuple(
        (r.id, r.department, r.status, snippet_of(r), r.media_kind)
        for r in found
        if r.id is not None
    )
    tell(out, guest, GuestRequests(listed))
    return found


def offer_waiting(
    session: Session, out: Outbox, env: Env, now: datetime, *, only: Staff | None = None
) -> int:
    """Offer waiting requests that someone on duty should now see; return how many offers went out.

    With ``only`` (someone starting a shift) every waiting request they should see is offered to
    them. Without it (the periodic sweep) only requests that nobody holds an offer for are
    offered, so a request that found nobody on duty reaches the first person who can take it.
    Urgent requests go first, then the others, oldest first.
    """
    urgent_first = case((col(Request.priority) == Priority.URGENT.value, 0), else_=1)
    waiting = (
        select(Request)
        .where(Request.status == RequestStatus.OPEN)
        .order_by(urgent_first, col(Request.id))
    )
    if only is None:
        held = select(Offer.id).where(
            col(Offer.request_id) == Request.id, Offer.status == OfferStatus.ACTIVE
        )
        waiting = waiting.where(~held.exists())
    reachable: dict[str, bool] = {}  # per department: is anyone on duty to see its requests?
    sent = 0
    for request in session.exec(waiting).all():
        if request.department not in reachable:
            found = recipients(session, env.hotel, request.department)
            reachable[request.department] = bool(found.staff)
        if not reachable[request.department]:
            continue
        before = len(out.messages)
        offer(session, out, env, request, now, only=only, note_nobody=False)
        sent += len(out.messages) > before
    return sent


def tasks(session: Session, *, staff_id: int | None) -> tuple[Staff, list[Request]]:
    """A staff member's accepted requests."""
    staff = staff_member(session, staff_id)
    query = (
        select(Request)
        .where(Request.assignee_id == staff.id, Request.status == RequestStatus.ACCEPTED)
        .order_by(col(Request.id))
    )
    return staff, list(session.exec(query))
