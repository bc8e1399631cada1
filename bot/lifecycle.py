"""The life of a request as data: which action moves it from which state to which, by whom.

``TRANSITIONS`` is the whole lifecycle. Every change of a request's status goes through
``move`` (one request, for a person or the system) or ``move_many`` (a batch, for the system),
which check the table, change the row with a conditional ``UPDATE`` and record the table's
event in the same transaction. The ``UPDATE`` compares the status and the assignee it was
checked against, so of two presses (or two instances) only the first changes the row; the
other is re-checked against what it finds and refused with the error the table names.

Parties are internal: a ``Staff`` or ``Guest`` row (their own ids), or the system. How a
person reached the bot (a Telegram id today, a web login later) is the channel's business
and never reaches this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, update
from sqlmodel import Session, col

from bot.models import EventKind, Guest, Request, RequestStatus, Staff
from bot.services import errors
from bot.services.common import event, record, record_rows


class Action(StrEnum):
    """What can be done to a request."""

    ACCEPT = "accept"  # a staff member takes it
    RELEASE = "release"  # the assignee hands it back
    FINISH = "finish"  # the assignee marks it done
    CANCEL = "cancel"  # the guest withdraws it
    REROUTE = "reroute"  # the guest picks another department while it waits
    WITHDRAW = "withdraw"  # the assignee was removed from the staff
    UNREACHABLE = "unreachable"  # the assignee blocked the bot
    CONFIRM = "confirm"  # the guest says the follow-up's "all good"
    REOPEN = "reopen"  # the guest says it is not fixed
    EXPIRE = "expire"  # the follow-up went unanswered
    DISMISS = "dismiss"  # staff close it as not a request (a thanks, a test)
    MERGE = "merge"  # staff close it as a duplicate of another request of the guest


class Role(StrEnum):
    """How a party stands to a request; one person may hold several roles at once."""

    GUEST = "guest"  # the guest who asked
    ASSIGNEE = "assignee"  # the staff member who accepted it
    OFFERED = "offered"  # a staff member shown it with an Accept button
    SUPERVISOR = "supervisor"
    STAFF = "staff"  # any active staff member
    SYSTEM = "system"  # the bot itself: timers, failed deliveries, the staff CLI


class Refusal(StrEnum):
    """What a party is told when the state allows the action but not for them."""

    STALE = "stale"  # the button belongs to a state the request has left (StaleAction)
    TAKEN = "taken"  # somebody else accepted it (AlreadyTaken)
    NOT_YOURS = "not_yours"  # it is assigned to somebody else (NotYours)
    UNKNOWN = "unknown"  # not this person's request: it is not even said to exist


@dataclass(frozen=True)
class Transition:
    """One row of the lifecycle."""

    source: RequestStatus
    action: Action
    target: RequestStatus
    roles: frozenset[Role]
    event: EventKind | None  # None: allowed but nothing changes (Accept pressed again)
    refusal: Refusal = Refusal.STALE
    # The event names the system rather than the party: a "yes" closes what the timer would.
    system_event: bool = False


def _t(
    source: RequestStatus,
    action: Action,
    target: RequestStatus,
    roles: set[Role],
    event: EventKind | None,
    refusal: Refusal = Refusal.STALE,
    *,
    system_event: bool = False,
) -> Transition:
    return Transition(source, action, target, frozenset(roles), event, refusal, system_event)


_S = RequestStatus
_A = Action
_R = Role
TRANSITIONS: tuple[Transition, ...] = (
    # Supervisors may take any waiting request; other staff only what they were offered
    # (a withdrawn offer's button is stale).
    _t(_S.OPEN, _A.ACCEPT, _S.ACCEPTED, {_R.OFFERED, _R.SUPERVISOR}, EventKind.ACCEPTED),
    _t(_S.ACCEPTED, _A.ACCEPT, _S.ACCEPTED, {_R.ASSIGNEE}, None, Refusal.TAKEN),
    _t(_S.ACCEPTED, _A.RELEASE, _S.OPEN, {_R.ASSIGNEE}, EventKind.RELEASED, Refusal.NOT_YOURS),
    _t(_S.ACCEPTED, _A.FINISH, _S.DONE, {_R.ASSIGNEE}, EventKind.DONE, Refusal.NOT_YOURS),
    _t(_S.OPEN, _A.CANCEL, _S.CANCELLED, {_R.GUEST}, EventKind.CANCELLED, Refusal.UNKNOWN),
    _t(_S.ACCEPTED, _A.CANCEL, _S.CANCELLED, {_R.GUEST}, EventKind.CANCELLED, Refusal.UNKNOWN),
    _t(_S.OPEN, _A.REROUTE, _S.OPEN, {_R.GUEST}, EventKind.ROUTED, Refusal.UNKNOWN),
    _t(_S.ACCEPTED, _A.WITHDRAW, _S.OPEN, {_R.SYSTEM}, EventKind.RELEASED),
    _t(_S.ACCEPTED, _A.UNREACHABLE, _S.OPEN, {_R.SYSTEM}, EventKind.STAFF_UNREACHABLE),
    _t(_S.DONE, _A.CONFIRM, _S.CLOSED, {_R.GUEST}, EventKind.CLOSED, system_event=True),
    # A late "not fixed" still counts, even after the unanswered question closed it.
    _t(_S.DONE, _A.REOPEN, _S.OPEN, {_R.GUEST}, EventKind.REOPENED),
    _t(_S.CLOSED, _A.REOPEN, _S.OPEN, {_R.GUEST}, EventKind.REOPENED),
    _t(_S.DONE, _A.EXPIRE, _S.CLOSED, {_R.SYSTEM}, EventKind.CLOSED),
    # Closing what asks for nothing, or a duplicate, is for whoever could accept or finish it.
    _t(_S.OPEN, _A.DISMISS, _S.CLOSED, {_R.OFFERED, _R.SUPERVISOR}, EventKind.DISMISSED),
    _t(
        _S.ACCEPTED,
        _A.DISMISS,
        _S.CLOSED,
        {_R.ASSIGNEE, _R.SUPERVISOR},
        EventKind.DISMISSED,
        Refusal.NOT_YOURS,
    ),
    _t(_S.OPEN, _A.MERGE, _S.CLOSED, {_R.OFFERED, _R.SUPERVISOR}, EventKind.MERGED),
    _t(
        _S.ACCEPTED,
        _A.MERGE,
        _S.CLOSED,
        {_R.ASSIGNEE, _R.SUPERVISOR},
        EventKind.MERGED,
        Refusal.NOT_YOURS,
    ),
)

TABLE: dict[tuple[RequestStatus, Action], Transition] = {
    (row.source, row.action): row for row in TRANSITIONS
}
INITIAL = RequestStatus.OPEN  # what a submitted request starts as


def roles(request: Request, by: Staff | Guest | None, *, offered: bool = False) -> frozenset[Role]:
    """The roles ``by`` (None: the system) holds for ``request``; ``offered``: holds an offer."""
    if by is None:
        return frozenset({Role.SYSTEM})
    if isinstance(by, Guest):
        return frozenset({Role.GUEST}) if by.id == request.guest_id else frozenset()
    held = {Role.STAFF}
    if request.assignee_id is not None and request.assignee_id == by.id:
        held.add(Role.ASSIGNEE)
    if offered:
        held.add(Role.OFFERED)
    if by.is_supervisor:
        held.add(Role.SUPERVISOR)
    return frozenset(held)


def check(
    session: Session,
    request: Request,
    action: Action,
    by: Staff | Guest | None,
    *,
    offered: bool = False,
) -> Transition:
    """The transition ``by`` may make, else the domain error the lifecycle names."""
    assert request.id is not None
    if isinstance(by, Guest) and by.id != request.guest_id:
        raise errors.UnknownRequest(request.id)  # a guest never learns of others' requests
    row = TABLE.get((RequestStatus(request.status), action))
    if row is None:
        raise errors.StaleAction(request.id, request.status)
    if row.roles & roles(request, by, offered=offered):
        return row
    if row.refusal is Refusal.TAKEN:
        holder = session.get(Staff, request.assignee_id) if request.assignee_id else None
        raise errors.AlreadyTaken(request.id, holder.name if holder else "?")
    if row.refusal is Refusal.NOT_YOURS:
        raise errors.NotYours(request.id)
    if row.refusal is Refusal.UNKNOWN:
        raise errors.UnknownRequest(request.id)
    raise errors.StaleAction(request.id, request.status)


def allows(
    request: Request, action: Action, by: Staff | Guest | None, *, offered: bool = False
) -> bool:
    """Whether ``by`` may do ``action`` to ``request`` as it is now."""
    row = TABLE.get((RequestStatus(request.status), action))
    return row is not None and bool(row.roles & roles(request, by, offered=offered))


def _entering(row: Transition, by: Staff | Guest | None, now: datetime) -> dict[str, Any]:
    """The columns a request's new state sets besides its status."""
    values: dict[str, Any] = {"status": row.target.value, "updated_at": now}
    if row.target is RequestStatus.OPEN:
        values.update(assignee_id=None, accepted_at=None, closed_at=None)
    elif row.target is RequestStatus.ACCEPTED:
        assert isinstance(by, Staff)
        values.update(assignee_id=by.id, accepted_at=now)
    elif row.target is RequestStatus.DONE:
        values.update(done_at=now)
    else:
        values.update(closed_at=now)
    if row.action in (Action.DISMISS, Action.MERGE):
        values["done_at"] = None  # closed without being done: not a request, or a duplicate
    if row.action is Action.REOPEN:
        values["reopened_count"] = col(Request.reopened_count) + 1
    return values


def move(
    session: Session,
    request: Request,
    action: Action,
    *,
    by: Staff | Guest | None,
    now: datetime,
    offered: bool = False,
    subject: Staff | None = None,
    changes: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> Transition:
    """Do ``action`` to ``request`` for ``by`` (None: the system) and record its event.

    ``offered``: ``by`` holds an active offer of it. ``subject``: the person a system action
    is about, named by its event. ``changes``: other columns the action sets (a department).
    ``details``: the event's details. Raises the lifecycle's domain error when not allowed,
    also when another press changed the request first so that it no longer is; ``request``
    is refreshed.
    """
    for _attempt in range(_ATTEMPTS):
        row = check(session, request, action, by, offered=offered)
        if row.event is None:
            return row
        if _compare_and_set(session, request, row, _entering(row, by, now) | (changes or {})):
            break
    else:
        raise errors.StaleAction(request.id, request.status)
    assert row.event is not None
    actor = None if row.system_event else (by or subject)
    record(session, request_id=request.id, kind=row.event, now=now, actor=actor, **(details or {}))
    return row


# A lost race means another party moved the request, and the next check sees what it did
# (a cancel still wins over an accept that came first); a request moves only a few times.
_ATTEMPTS = 3


def _compare_and_set(
    session: Session, request: Request, row: Transition, values: dict[str, Any]
) -> bool:
    """Change the row only if it still has the status and assignee it was checked with."""
    statement = (
        update(Request)
        .where(
            col(Request.id) == request.id,
            col(Request.status) == row.source.value,
            col(Request.assignee_id).is_(None)
            if request.assignee_id is None
            else col(Request.assignee_id) == request.assignee_id,
        )
        .values(**values)
    )
    won: bool = session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
    session.refresh(request)
    return won


def move_many(
    connection: Connection, request_ids: Sequence[int], action: Action, now: datetime
) -> list[int]:
    """Do a system ``action`` to each of ``request_ids`` still in a state that allows it.

    One statement for the batch and one for its events; returns the ids that moved.
    """
    rows = [row for row in TRANSITIONS if row.action is action and Role.SYSTEM in row.roles]
    if not rows or len({(row.target, row.event) for row in rows}) != 1:
        raise ValueError(f"{action} is not a system action with one outcome")
    if not request_ids:
        return []
    statement = (
        update(Request)
        .where(
            col(Request.id).in_(request_ids),
            col(Request.status).in_([row.source.value for row in rows]),
        )
        .values(**_entering(rows[0], None, now))
        .returning(col(Request.id))
    )
    moved = [int(row_id) for row_id in connection.execute(statement).scalars() if row_id]
    kind = rows[0].event
    assert kind is not None
    record_rows(connection, [event(request_id, kind, now) for request_id in moved])
    return moved
