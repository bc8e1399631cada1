"""Follow-up check-ins: sent when due, answered by the guest, expired when ignored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, update
from sqlmodel import Session, col, select

from bot import messages
from bot.buttons import FollowUpAnswer, Rate
from bot.models import (
    EventKind,
    FollowUp,
    FollowUpStatus,
    Guest,
    Request,
    RequestStatus,
    as_utc,
)
from bot.notifier import Button, Outbox, Outgoing
from bot.routing import supervisors_to_alert
from bot.services import errors
from bot.services.common import Env, record, record_each
from bot.services.offers import offer

BATCH = 500


@dataclass(frozen=True)
class TimerRun:
    """What one pass over due timers did."""

    sent: int
    expired: int
    cancelled: int
    full: bool = False  # a batch limit was reached: more may be due


def _claim(session: Session, followup: FollowUp, expect: FollowUpStatus, **values: object) -> bool:
    statement = (
        update(FollowUp)
        .where(col(FollowUp.id) == followup.id, col(FollowUp.status) == expect)
        .values(**values)
    )
    won: bool = session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
    session.refresh(followup)
    return won


def process_due(session: Session, out: Outbox, env: Env, now: datetime) -> TimerRun:
    """Send every follow-up that is due and expire unanswered ones; ask to be woken for the next.

    A follow-up that fell due while the bot was down is sent now; the conditional status
    change means it is sent once even if two passes overlap. A pass works on sets: one query
    finds a batch with its requests and guests, one statement per status change claims it.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    connection = session.connection()
    due_query = (
        select(FollowUp.id, Request, Guest.chat_id, Guest.language)
        .join(Request, col(Request.id) == FollowUp.request_id, isouter=True)
        .join(Guest, col(Guest.id) == Request.guest_id, isouter=True)
        .where(FollowUp.status == FollowUpStatus.PENDING, col(FollowUp.due_at) <= now)
        .order_by(col(FollowUp.due_at))
        .limit(BATCH)
    )
    if postgres:  # instances share the due follow-ups instead of queueing for the same rows
        due_query = due_query.with_for_update(skip_locked=True, of=FollowUp)
    due = session.exec(due_query).all()
    to_send = {
        followup_id: (request, chat_id, language)
        for followup_id, request, chat_id, language in due
        if request is not None and chat_id is not None and request.status == RequestStatus.DONE
    }
    cancelled = _move(
        connection,
        [followup_id for followup_id, *_ in due if followup_id not in to_send],
        FollowUpStatus.PENDING,
        status=FollowUpStatus.CANCELLED,
    )
    expires = now + timedelta(seconds=env.hotel.timings.followup_answer_timeout)
    sent = _move(
        connection,
        list(to_send),
        FollowUpStatus.PENDING,
        status=FollowUpStatus.SENT,
        sent_at=now,
        expires_at=expires,
    )
    won = {followup_id for followup_id, _ in sent}
    sent_in_order = [(f, *to_send[f]) for f in to_send if f in won]  # earliest due first
    record_each(connection, [r.id for _, r, _, _ in sent_in_order], EventKind.FOLLOWUP_SENT, now)
    for followup_id, request, chat_id, language in sent_in_order:
        t = env.t(language)
        out.send(
            Outgoing(
                chat_id=chat_id,
                text=messages.followup_question(t, request),
                buttons=(
                    (
                        Button(
                            messages.followup_yes_button(t), FollowUpAnswer(followup_id, fine=True)
                        ),
                        Button(
                            messages.followup_no_button(t), FollowUpAnswer(followup_id, fine=False)
                        ),
                    ),
                ),
            )
        )
    if sent:
        out.wake(expires)
    stale_query = (
        select(FollowUp.id)
        .where(FollowUp.status == FollowUpStatus.SENT, col(FollowUp.expires_at) <= now)
        .limit(BATCH)
    )
    if postgres:
        stale_query = stale_query.with_for_update(skip_locked=True)
    stale = session.exec(stale_query).all()
    expired = _move(connection, list(stale), FollowUpStatus.SENT, status=FollowUpStatus.UNANSWERED)
    expired_requests = [request_id for _, request_id in expired]
    record_each(connection, expired_requests, EventKind.FOLLOWUP_UNANSWERED, now)
    if expired_requests:  # an ignored question closes a request that is still done
        closed = connection.execute(
            update(Request)
            .where(col(Request.id).in_(expired_requests), col(Request.status) == RequestStatus.DONE)
            .values(status=RequestStatus.CLOSED, closed_at=now, updated_at=now)
            .returning(col(Request.id))
        ).scalars()
        record_each(connection, list(closed), EventKind.CLOSED, now)
    full = len(due) == BATCH or len(stale) == BATCH
    upcoming = now if full else next_due(session)
    if upcoming is not None:
        out.wake(upcoming)
    return TimerRun(sent=len(sent), expired=len(expired), cancelled=len(cancelled), full=full)


def _move(
    connection: Connection, ids: Sequence[int | None], expect: FollowUpStatus, **values: object
) -> list[tuple[int, int]]:
    """Change the status of the follow-ups still in ``expect``; (id, request id) of those won."""
    if not ids:
        return []
    won = connection.execute(
        update(FollowUp)
        .where(col(FollowUp.id).in_(ids), col(FollowUp.status) == expect)
        .values(**values)
        .returning(col(FollowUp.id), col(FollowUp.request_id))
    )
    return [(int(row.id), int(row.request_id)) for row in won]


def next_due(session: Session) -> datetime | None:
    """When the next follow-up must be sent or expired."""
    first_send = session.exec(
        select(func.min(FollowUp.due_at)).where(FollowUp.status == FollowUpStatus.PENDING)
    ).one()
    first_expiry = session.exec(
        select(func.min(FollowUp.expires_at)).where(FollowUp.status == FollowUpStatus.SENT)
    ).one()
    times = [as_utc(value) for value in (first_send, first_expiry) if value is not None]
    return min(times) if times else None


def _guest_followup(
    session: Session, telegram_id: int, followup_id: int
) -> tuple[FollowUp, Request, Guest]:
    followup = session.get(FollowUp, followup_id)
    request = session.get(Request, followup.request_id) if followup else None
    guest = session.get(Guest, request.guest_id) if request else None
    if followup is None or request is None or guest is None or guest.telegram_id != telegram_id:
        raise errors.UnknownRequest(followup.request_id if followup else 0)
    return followup, request, guest


def answer(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    telegram_id: int,
    followup_id: int,
    fine: bool,
    message_id: int | None,
    now: datetime,
) -> Request:
    """Record the guest's answer: yes closes the request, no reopens it and alerts supervisors.

    A late answer to an expired question still counts: a guest who says it is not fixed is heard.
    """
    followup, request, guest = _guest_followup(session, telegram_id, followup_id)
    if followup.status == FollowUpStatus.ANSWERED:
        raise errors.AlreadyAnswered
    if followup.status not in (FollowUpStatus.SENT, FollowUpStatus.UNANSWERED):
        raise errors.StaleAction(request.id, request.status)
    previous = FollowUpStatus(followup.status)
    if not _claim(
        session,
        followup,
        previous,
        status=FollowUpStatus.ANSWERED,
        answer="yes" if fine else "no",
        answered_at=now,
    ):
        raise errors.AlreadyAnswered
    assert request.id is not None
    record(
        session,
        request_id=request.id,
        kind=EventKind.FOLLOWUP_ANSWERED,
        now=now,
        actor=guest,
        answer="yes" if fine else "no",
    )
    t = env.t(guest.language)
    if fine:
        if request.status == RequestStatus.DONE:
            request.status, request.closed_at, request.updated_at = RequestStatus.CLOSED, now, now
            session.add(request)
            record(session, request_id=request.id, kind=EventKind.CLOSED, now=now)
        _reply(out, guest, message_id, messages.followup_thanks(t, request))
        stars_row = tuple(Button(str(n), Rate(followup_id, n)) for n in range(1, 6))
        out.send(
            Outgoing(chat_id=guest.chat_id, text=messages.rating_question(t), buttons=(stars_row,))
        )
        return request
    if request.status in (RequestStatus.DONE, RequestStatus.CLOSED):
        request.status = RequestStatus.OPEN
        request.assignee_id, request.accepted_at, request.closed_at = None, None, None
        request.reopened_count += 1
        request.updated_at = now
        session.add(request)
        session.flush()
        record(session, request_id=request.id, kind=EventKind.REOPENED, now=now, actor=guest)
        offer(session, out, env, request, now)
        _alert_supervisors(session, out, env, request)
    _reply(out, guest, message_id, messages.reopened_for_guest(env.hotel, t, request))
    return request


def _reply(out: Outbox, guest: Guest, message_id: int | None, text: str) -> None:
    """Replace the question (and its buttons) with the answer, or send it if it cannot be edited."""
    out.send(Outgoing(chat_id=guest.chat_id, text=text, edit_message_id=message_id))


def _alert_supervisors(session: Session, out: Outbox, env: Env, request: Request) -> None:
    for supervisor in supervisors_to_alert(session):
        t = env.t(supervisor.language)
        out.send(
            Outgoing(
                chat_id=supervisor.telegram_id,
                text=messages.negative_followup_alert(env.hotel, t, request),
            )
        )


def rate(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    telegram_id: int,
    followup_id: int,
    rating: int,
    message_id: int | None,
    now: datetime,
) -> Request:
    """Store the guest's optional 1–5 rating."""
    followup, request, guest = _guest_followup(session, telegram_id, followup_id)
    if not 1 <= rating <= 5 or followup.answer != "yes":
        raise errors.StaleAction(request.id, request.status)
    if followup.rating is not None:
        raise errors.AlreadyAnswered
    followup.rating = rating
    request.rating = rating
    session.add(followup)
    session.add(request)
    record(
        session, request_id=request.id, kind=EventKind.RATED, now=now, actor=guest, rating=rating
    )
    _reply(out, guest, message_id, messages.rating_thanks(env.t(guest.language), rating))
    return request
