"""The life of a guest request: submitted, routed, accepted, done, cancelled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert
from sqlmodel import Session, col, select

from bot import lifecycle, messages
from bot.buttons import Cancel, PickDepartment
from bot.i18n import Translator
from bot.lifecycle import Action
from bot.models import (
    ACTIVE_STATUSES,
    EventKind,
    Guest,
    Offer,
    OfferStatus,
    Request,
    RequestStatus,
    Staff,
)
from bot.notifier import Button, Outbox, Outgoing
from bot.routing import Tier, match_department, recipients
from bot.services import errors, followups, guests
from bot.services.common import Env, Person, event, record_rows
from bot.services.offers import active_offers, assignee_buttons, offer, update_copies


@dataclass(frozen=True)
class Content:
    """What a guest sent: text (or a caption), and optionally one attachment."""

    text: str = ""
    media_kind: str | None = None
    file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


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

    Returns None when the message was the room number the bot had asked for. ``known``: the
    guest as already read in this session, if they were.
    """
    guest = guests.ensure(session, env, person, now, known=known)
    if guest.awaiting_room and content.media_kind is None:
        guest.awaiting_room = False
        session.add(guest)
        room = guests.valid_room(env, content.text)
        if room:
            guest.room = room
            out.send(
                Outgoing(
                    chat_id=guest.chat_id, text=messages.room_saved(env.t(guest.language), room)
                )
            )
            return None
    if _too_fast(session, out, env, guest, now):
        return None
    matched = match_department(env.hotel, content.text, guest.language)
    department = matched or env.hotel.hotel.fallback_department
    request = Request(
        guest_id=guest.id,  # type: ignore[arg-type]
        department=department,
        text=content.text,
        media_kind=content.media_kind,
        media_file_id=content.file_id,
        latitude=content.latitude,
        longitude=content.longitude,
        room=guest.room,
        language=guest.language,
        routed_by="keywords" if matched else "fallback",
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
    tier = offer(session, out, env, request, now, new=True, events=events)
    record_rows(session.connection(), events)  # the whole timeline so far in one statement
    t = env.t(guest.language)
    buttons: tuple[tuple[Button, ...], ...] = ()
    text = messages.request_ack(env.hotel, t, request, tier)
    if not matched and len(env.hotel.departments) > 1:
        text += "\n\n" + messages.pick_department_hint(t)
        buttons = tuple(
            (Button(messages.department(env.hotel, t, key), PickDepartment(request.id, key)),)
            for key in env.hotel.department_keys
            if key != department
        )
    out.send(Outgoing(chat_id=guest.chat_id, text=text, buttons=buttons))
    if guest.room is None and not guest.room_asked:
        guests.ask_room(out, env, guest)
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
        text = messages.slow_down(env.t(guest.language), limit)
        out.send(Outgoing(chat_id=guest.chat_id, text=text))
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
            lambda t, _o: messages.moved_to(env.hotel, t, department),
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
    t = env.t(guest.language)
    out.send(
        Outgoing(
            chat_id=guest.chat_id, text=messages.department_picked(env.hotel, t, request, tier)
        )
    )
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
        lambda t, _o: messages.taken_by(t, staff.name),
    )
    _show_assignee_card(session, out, env, request, staff, mine, now)
    guest = session.get(Guest, request.guest_id)
    if guest is not None:
        t = env.t(guest.language)
        out.send(
            Outgoing(
                chat_id=guest.chat_id,
                text=messages.accepted_for_guest(env.hotel, t, request, staff),
            )
        )
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
    t = env.t(staff.language)
    for row in mine:
        row.status = OfferStatus.TAKEN
        session.add(row)
        out.send(
            Outgoing(
                chat_id=row.chat_id,
                text=messages.offer_card(
                    env.hotel, t, request, status_line=messages.accepted_by_you(t)
                ),
                buttons=assignee_buttons(t, request),
                edit_offer_id=row.id,
            )
        )


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
    *,
    staff_id: int | None,
    request_id: int,
    now: datetime,
    action: Action,
    status_line: Callable[[Translator, Staff], str],
    card_status: OfferStatus,
) -> tuple[Staff, Request]:
    """Move an accepted request on with ``action``, if the presser is its assignee.

    The assignee's card shows ``status_line``.
    """
    staff = staff_member(session, staff_id)
    request = _request(session, request_id)
    lifecycle.move(session, request, action, by=staff, now=now)
    update_copies(
        session,
        out,
        env,
        request,
        _taken_offers(session, request_id, staff.id),  # type: ignore[arg-type]
        lambda t, _o: status_line(t, staff),
        new_status=card_status,
    )
    return staff, request


def release(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """Hand an accepted request back; it is offered again to everyone else who should see it."""
    staff, request = _by_assignee(
        session,
        out,
        env,
        staff_id=staff_id,
        request_id=request_id,
        now=now,
        action=Action.RELEASE,
        status_line=lambda t, _staff: messages.released_by_you(t),
        card_status=OfferStatus.WITHDRAWN,
    )
    offer(session, out, env, request, now, exclude={staff.id})  # type: ignore[arg-type]
    return request


def mark_done(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """Mark an accepted request done, tell the guest and schedule the follow-up."""
    _staff, request = _by_assignee(
        session,
        out,
        env,
        staff_id=staff_id,
        request_id=request_id,
        now=now,
        action=Action.FINISH,
        status_line=lambda t, staff: messages.done_by(t, staff.name),
        card_status=OfferStatus.TAKEN,
    )
    guest = session.get(Guest, request.guest_id)
    if guest is not None:
        t = env.t(guest.language)
        out.send(Outgoing(chat_id=guest.chat_id, text=messages.done_for_guest(t, request)))
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
        session,
        out,
        env,
        request,
        list(session.exec(copies)),
        lambda t, _o: messages.cancelled_by_guest(t),
    )
    if assignee_id is not None:
        assignee = session.get(Staff, assignee_id)
        if assignee is not None:
            out.send(
                Outgoing(
                    chat_id=assignee.telegram_id,
                    text=messages.cancelled_for_assignee(env.t(assignee.language), request),
                )
            )
    out.send(
        Outgoing(
            chat_id=guest.chat_id, text=messages.cancelled_for_guest(env.t(guest.language), request)
        )
    )
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
    t = env.t(guest.language)
    buttons = tuple(
        (Button(messages.cancel_button(t, r), Cancel(r.id)),)  # type: ignore[arg-type]
        for r in found
        if r.status in ACTIVE_STATUSES
    )
    out.send(
        Outgoing(
            chat_id=guest.chat_id,
            text=messages.guest_requests(env.hotel, t, found),
            buttons=buttons,
        )
    )
    return found


def offer_waiting(
    session: Session, out: Outbox, env: Env, now: datetime, *, only: Staff | None = None
) -> int:
    """Offer waiting requests that someone on duty should now see; return how many offers went out.

    With ``only`` (someone starting a shift) every waiting request they should see is offered to
    them. Without it (the periodic sweep) only requests that nobody holds an offer for are
    offered, so a request that found nobody on duty reaches the first person who can take it.
    """
    waiting = select(Request).where(Request.status == RequestStatus.OPEN).order_by(col(Request.id))
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
