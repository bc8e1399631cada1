"""Staff registration and shifts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.config import HotelConfig
from bot.lifecycle import Action
from bot.models import Offer, OfferStatus, Request, RequestStatus, Role, Staff
from bot.notices import CardStatus, DutyStatus, StaffWelcome, StillAssigned, WaitingSent
from bot.notifier import Outbox
from bot.services import errors
from bot.services.actors import find_guest
from bot.services.common import Env, tell
from bot.services.offers import active_offers, offer, relieve, update_copies
from bot.services.requests import offer_waiting, staff_member


@dataclass(frozen=True)
class Registration:
    """Result of ``add``: the staff row and whether it was new."""

    staff: Staff
    created: bool


def add(
    session: Session,
    hotel: HotelConfig,
    *,
    telegram_id: int,
    name: str,
    department: str,
    role: Role = Role.STAFF,
    language: str | None = None,
    now: datetime,
    out: Outbox | None = None,
) -> Registration:
    """Register a staff member, or update and re-activate an existing registration.

    With ``out``, someone newly registered (or registered again) who has already written to
    the bot is told so, with the staff welcome in their language; the bot cannot start a chat
    with anyone who has not.
    """
    if department not in hotel.department_keys:
        raise errors.UnknownDepartment(department, hotel.department_keys)
    language = language or hotel.hotel.default_language
    if language not in hotel.hotel.languages:
        raise ValueError(
            "language {!r} is not offered; use one of {}".format(
                language, ", ".join(hotel.hotel.languages)
            )
        )
    staff = session.exec(select(Staff).where(Staff.telegram_id == telegram_id)).first()
    created = staff is None
    newly = staff is None or not staff.active
    if staff is None:
        staff = Staff(
            telegram_id=telegram_id,
            name=name,
            department=department,
            language=language,
            created_at=now,
        )
    elif not staff.active:
        staff.on_duty = False
    staff.name, staff.department, staff.role, staff.language = name, department, role, language
    staff.active = True
    session.add(staff)
    session.flush()
    wrote = find_guest(session, telegram_id)  # their chat with the bot, as a guest so far
    if out is not None and newly and wrote is not None and wrote.blocked_at is None:
        welcome = StaffWelcome(staff.name, staff.department, staff.is_supervisor, staff.on_duty)
        tell(out, staff, welcome)
    return Registration(staff, created)


def listing(session: Session) -> list[Staff]:
    """All active staff, by department and name."""
    query = select(Staff).where(col(Staff.active)).order_by(col(Staff.department), col(Staff.name))
    return list(session.exec(query))


def remove(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, now: datetime
) -> Staff:
    """Deactivate a staff member; their offers are withdrawn and accepted requests reopened,
    and each of their copies says where the request went, without buttons.

    The history keeps their name. The running bot offers the reopened requests to others on
    its next sweep.
    """
    staff = staff_member(session, staff_id)
    staff.active, staff.on_duty = False, False
    session.add(staff)
    live = [OfferStatus.ACTIVE.value, OfferStatus.TAKEN.value]
    copies = list(
        session.exec(
            select(Offer)
            .join(Request, col(Request.id) == Offer.request_id)
            .where(
                Offer.staff_id == staff.id,
                col(Offer.status).in_(live),
                col(Request.status).in_([RequestStatus.OPEN.value, RequestStatus.ACCEPTED.value]),
            )
            .order_by(col(Offer.id))
        )
    )
    relieve(session, staff, now, reason=Action.WITHDRAW)
    for row in copies:
        request = session.get(Request, row.request_id)
        if request is not None:
            update_copies(
                session, out, env, request, [row], CardStatus.HANDED_ON, request.department
            )
    return staff


def show_duty(session: Session, out: Outbox, env: Env, *, staff_id: int | None) -> Staff:
    """Send the staff member their duty status with a button to switch it."""
    staff = staff_member(session, staff_id)
    tell(out, staff, DutyStatus(staff.on_duty))
    return staff


def set_duty(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, on: bool, now: datetime
) -> Staff:
    """Start or end a shift.

    Starting one offers the waiting requests this person should see. Ending one withdraws their
    offers and hands each on; accepted requests stay theirs until released or done.
    """
    staff = staff_member(session, staff_id)
    was_on = staff.on_duty
    staff.on_duty = on
    session.add(staff)
    session.flush()
    tell(out, staff, DutyStatus(on))
    if on and not was_on:
        count = offer_waiting(session, out, env, now, only=staff)
        if count:
            tell(out, staff, WaitingSent(count))
    elif not on and was_on:
        _hand_on(session, out, env, staff, now)
    return staff


def _hand_on(session: Session, out: Outbox, env: Env, staff: Staff, now: datetime) -> None:
    mine = list(
        session.exec(
            select(Offer).where(Offer.staff_id == staff.id, Offer.status == OfferStatus.ACTIVE)
        )
    )
    for row in mine:
        request = session.get(Request, row.request_id)
        if request is None:
            continue
        update_copies(session, out, env, request, [row], CardStatus.WITHDRAWN_OFF_DUTY)
        session.flush()
        if request.status == RequestStatus.OPEN and not active_offers(session, request.id):  # type: ignore[arg-type]
            offer(session, out, env, request, now)
    accepted = list(
        session.exec(
            select(Request)
            .where(Request.assignee_id == staff.id, Request.status == RequestStatus.ACCEPTED)
            .order_by(col(Request.id))
        )
    )
    if accepted:
        tell(out, staff, StillAssigned(tuple(r.id for r in accepted if r.id is not None)))
