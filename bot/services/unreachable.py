"""People who blocked the bot: guests keep their requests, staff are taken off duty.

Telegram tells the bot in two ways, and both come here through the intake, in a transaction
of their own: a ``my_chat_member`` update with the status "kicked" (the user blocked the bot)
or "member" (they started it again), and the sender's refused message (403, "chat not
found"), which the sender stores as a "kicked" update of that chat.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.lifecycle import Action
from bot.models import (
    ACTIVE_STATUSES,
    EventKind,
    Guest,
    Request,
    RequestStatus,
    Staff,
)
from bot.notices import StaffUnreachableAlert
from bot.notifier import Outbox
from bot.routing import supervisors_to_alert
from bot.services.common import Env, record, tell
from bot.services.offers import active_offers, offer, relieve


def chat_blocked(session: Session, out: Outbox, env: Env, chat_id: int, now: datetime) -> None:
    """Whoever owns the chat has blocked the bot (Telegram said so, or refused a message)."""
    staff = session.exec(
        select(Staff).where(Staff.telegram_id == chat_id, col(Staff.active))
    ).first()
    if staff is not None:
        staff_blocked(session, out, env, staff, now)
    guest = session.exec(select(Guest).where(Guest.chat_id == chat_id)).first()
    if guest is not None:
        guest_blocked(session, guest, now)


def chat_unblocked(session: Session, chat_id: int, now: datetime) -> None:
    """The owner of the chat started the bot again: messages reach them again.

    A staff member stays off duty until they go on duty again (``/duty on``).
    """
    staff = session.exec(select(Staff).where(Staff.telegram_id == chat_id)).first()
    if staff is not None and staff.blocked_at is not None:
        staff.blocked_at = None
        session.add(staff)
    guest = session.exec(select(Guest).where(Guest.chat_id == chat_id)).first()
    if guest is not None and guest_unblocked(guest):
        guest.updated_at = now
        session.add(guest)


def guest_unblocked(guest: Guest) -> bool:
    """Mark the guest reachable again (they wrote, or started the bot); True if they were
    not."""
    if guest.blocked_at is None:
        return False
    guest.blocked_at = None
    return True


def guest_blocked(session: Session, guest: Guest, now: datetime) -> None:
    """Mark the guest unreachable; their requests go on without messages to them."""
    if guest.blocked_at is not None:
        return
    guest.blocked_at = now
    session.add(guest)
    active = session.exec(
        select(Request).where(
            Request.guest_id == guest.id,
            col(Request.status).in_([*ACTIVE_STATUSES, RequestStatus.DONE]),
        )
    ).all()
    for request in active:
        record(session, request_id=request.id, kind=EventKind.GUEST_UNREACHABLE, now=now)


def staff_blocked(session: Session, out: Outbox, env: Env, staff: Staff, now: datetime) -> None:
    """Take the staff member off duty, hand their offers and tasks on, and tell supervisors."""
    if staff.blocked_at is not None and not staff.on_duty:
        return
    staff.blocked_at, staff.on_duty = now, False
    session.add(staff)
    handed_on = relieve(session, staff, now, reason=Action.UNREACHABLE)
    for request_id in sorted(handed_on):
        waiting = session.get(Request, request_id)
        open_ = waiting is not None and waiting.status == RequestStatus.OPEN
        if open_ and waiting is not None and not active_offers(session, request_id):
            offer(session, out, env, waiting, now, exclude={staff.id})  # type: ignore[arg-type]
    alert = StaffUnreachableAlert(staff.name, staff.department, len(handed_on))
    for supervisor in supervisors_to_alert(session):
        if supervisor.id != staff.id:
            tell(out, supervisor, alert)
