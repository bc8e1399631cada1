"""A request's priority: normal, or urgent (a flood, a fire, a guest locked out).

A request is urgent when the guest's text names one of the hotel's urgent keywords
(``[urgent]`` in the config, ``bot.routing.urgent_keyword``) or when a staff member presses
"🚨 Urgent" on its card; a supervisor can take that back with "Not urgent". The priority is
no step of the lifecycle: it changes nothing but the cards (a first line "🚨 URGENT"), the
order in which waiting requests are offered (urgent first), and who is told: the supervisors
are alerted at once, each time a request becomes urgent.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.models import ACTIVE_STATUSES, EventKind, Priority, Request, Staff
from bot.notices import UrgentAlert, snippet_of
from bot.notifier import Outbox
from bot.routing import supervisors_to_alert
from bot.services import errors, rooms
from bot.services.common import Env, record, tell


def alert(session: Session, out: Outbox, request: Request, *, by: Staff | None = None) -> None:
    """Tell the on-duty supervisors (every active one when none is on duty) that ``request``
    is urgent; ``by``: the supervisor who marked it, who needs no alert."""
    assert request.id is not None
    notice = UrgentAlert(
        request.id, request.room, request.department, snippet_of(request), request.media_kind
    )
    for reader in supervisors_to_alert(session):
        if by is None or reader.id != by.id:
            tell(out, reader, notice)


def _staff(session: Session, staff_id: int | None, *, supervisor: bool = False) -> Staff:
    """The active staff member (or supervisor) who pressed the button, else a domain error."""
    staff = session.get(Staff, staff_id) if staff_id is not None else None
    if staff is None or not staff.active:
        raise errors.NotRegistered
    if supervisor and not staff.is_supervisor:
        raise errors.NotSupervisor
    return staff


def _live(session: Session, request_id: int) -> Request:
    """The request, if it is still waiting or in progress (else the button no longer applies)."""
    request = session.get(Request, request_id)
    if request is None:
        raise errors.UnknownRequest(request_id)
    if request.status not in ACTIVE_STATUSES:
        raise errors.StaleAction(request_id, request.status)
    return request


def mark_urgent(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """ "🚨 Urgent" pressed: the request is urgent, its cards say so, the supervisors are told.

    Pressed on a request that is urgent already, nothing more happens.
    """
    staff = _staff(session, staff_id)
    request = _live(session, request_id)
    if request.priority == Priority.URGENT:
        return request
    request.priority, request.updated_at = Priority.URGENT.value, now
    session.add(request)
    record(session, request_id=request.id, kind=EventKind.MARKED_URGENT, now=now, actor=staff)
    rooms.refresh_cards(session, out, env, request)
    alert(session, out, request, by=staff)
    return request


def mark_normal(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """ "Not urgent" pressed by a supervisor: the request is normal again, its cards too."""
    staff = _staff(session, staff_id, supervisor=True)
    request = _live(session, request_id)
    if request.priority != Priority.URGENT:
        return request
    request.priority, request.updated_at = Priority.NORMAL.value, now
    session.add(request)
    record(session, request_id=request.id, kind=EventKind.MARKED_NORMAL, now=now, actor=staff)
    rooms.refresh_cards(session, out, env, request)
    return request
