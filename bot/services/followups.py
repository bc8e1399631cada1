"""Follow-up check-ins: planned when a request is done, asked when due (timer kind
``followup.ask``), answered by the guest; an ignored one expires (``followup_timeout``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, update
from sqlmodel import Session, col, select

from bot import lifecycle, timers
from bot.lifecycle import Action
from bot.models import EventKind, FollowUp, FollowUpStatus, Guest, Request, RequestStatus
from bot.notices import (
    FollowupQuestion,
    FollowupThanks,
    NegativeFollowupAlert,
    Notice,
    RatingQuestion,
    RatingThanks,
    ReopenedForGuest,
    snippet_of,
)
from bot.notifier import Outbox, Outgoing
from bot.routing import supervisors_to_alert
from bot.services import errors, followup_timeout
from bot.services.common import Env, record, record_each, tell
from bot.services.offers import offer
from bot.timers import Due

ASK = "followup.ask"


def ask_key(followup_id: int) -> str:
    """The key of a follow-up's question timer."""
    return f"followup:{followup_id}:ask"


def schedule(
    session: Session, out: Outbox, env: Env, request: Request, guest: Guest, now: datetime
) -> FollowUp:
    """Plan the check-in of a request just done: its record, its event and its timer."""
    assert request.id is not None
    due = now + timedelta(seconds=env.hotel.followup_delay(request.department))
    followup = FollowUp(request_id=request.id, due_at=due, language=guest.language, created_at=now)
    session.add(followup)
    session.flush()
    assert followup.id is not None
    record(
        session,
        request_id=request.id,
        kind=EventKind.FOLLOWUP_SCHEDULED,
        now=now,
        due_at=due.isoformat(),
    )
    timers.schedule(
        session, out, ASK, ask_key(followup.id), due, {"followup": followup.id}, now=now
    )
    return followup


def ask_due(session: Session, out: Outbox, env: Env, now: datetime, batch: Sequence[Due]) -> None:
    """Handler of ``followup.ask``: send the question of each follow-up whose request is still
    done, drop the others, and start each question's answer timeout.

    Works on the whole batch: one query finds the follow-ups with their requests and guests,
    one statement per status change moves them.
    """
    connection = session.connection()
    wanted = [int(due.payload["followup"]) for due in batch]  # earliest due first
    found = session.exec(
        select(FollowUp.id, Request, Guest.chat_id, Guest.language)
        .join(Request, col(Request.id) == FollowUp.request_id, isouter=True)
        .join(Guest, col(Guest.id) == Request.guest_id, isouter=True)
        .where(col(FollowUp.id).in_(wanted), FollowUp.status == FollowUpStatus.PENDING)
    ).all()
    to_send = {
        followup_id: (request, chat_id, language)
        for followup_id, request, chat_id, language in found
        if request is not None and chat_id is not None and request.status == RequestStatus.DONE
    }
    _move(
        connection,
        [followup_id for followup_id, *_ in found if followup_id not in to_send],
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
    sent_in_order = [(f, *to_send[f]) for f in wanted if f in won]
    record_each(connection, [r.id for _, r, _, _ in sent_in_order], EventKind.FOLLOWUP_SENT, now)
    for followup_id, request, chat_id, language in sent_in_order:
        snippet = snippet_of(request)
        question = FollowupQuestion(followup_id, request.id or 0, snippet, request.media_kind)
        out.send(Outgoing(chat_id=chat_id, notice=question, locale=language))
    followup_timeout.start(session, out, [f for f, *_ in sent_in_order], expires, now)


def _claim(session: Session, followup: FollowUp, expect: FollowUpStatus, **values: object) -> bool:
    statement = (
        update(FollowUp)
        .where(col(FollowUp.id) == followup.id, col(FollowUp.status) == expect)
        .values(**values)
    )
    won: bool = session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
    session.refresh(followup)
    return won


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


def _guest_followup(
    session: Session, guest_id: int | None, followup_id: int
) -> tuple[FollowUp, Request, Guest]:
    followup = session.get(FollowUp, followup_id)
    request = session.get(Request, followup.request_id) if followup else None
    guest = session.get(Guest, request.guest_id) if request else None
    if followup is None or request is None or guest is None or guest.id != guest_id:
        raise errors.UnknownRequest(followup.request_id if followup else 0)
    return followup, request, guest


def answer(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    guest_id: int | None,
    followup_id: int,
    fine: bool,
    message_id: int | None,
    now: datetime,
) -> Request:
    """Record the guest's answer: yes closes the request, no reopens it and alerts supervisors.

    A late answer to an expired question still counts: a guest who says it is not fixed is heard.
    """
    followup, request, guest = _guest_followup(session, guest_id, followup_id)
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
    if previous == FollowUpStatus.SENT:  # answered in time: nothing left to expire
        followup_timeout.stop(session, followup_id)
    assert request.id is not None
    record(
        session,
        request_id=request.id,
        kind=EventKind.FOLLOWUP_ANSWERED,
        now=now,
        actor=guest,
        answer="yes" if fine else "no",
    )
    if fine:
        # Closed already when the unanswered question expired, or reopened since: no change.
        _move_if_allowed(session, request, Action.CONFIRM, guest, now)
        _reply(out, guest, message_id, FollowupThanks(request.id))
        tell(out, guest, RatingQuestion(followup_id))
        return request
    reopen(session, out, env, request, guest, now)
    from bot.services import threads  # threads reopens through this module

    ask_why = threads.expect_explanation(session, env, guest, request, now)
    _reply(out, guest, message_id, ReopenedForGuest(request.id, request.department, ask_why))
    return request


def reopen(
    session: Session, out: Outbox, env: Env, request: Request, guest: Guest, now: datetime
) -> bool:
    """The guest says the request is not fixed: open it again, offer it as a priority and tell
    the supervisors. False if its state does not allow it (already open again)."""
    if not _move_if_allowed(session, request, Action.REOPEN, guest, now):
        return False
    offer(session, out, env, request, now)
    _alert_supervisors(session, out, request)
    return True


def _move_if_allowed(
    session: Session, request: Request, action: Action, guest: Guest, now: datetime
) -> bool:
    """Do ``action`` if the request's state allows it; an answer is heard either way."""
    if not lifecycle.allows(request, action, guest):
        return False
    try:
        lifecycle.move(session, request, action, by=guest, now=now)
    except errors.DomainError:
        return False  # moved on since it was read
    return True


def _reply(out: Outbox, guest: Guest, message_id: int | None, notice: Notice) -> None:
    """Replace the question (and its buttons) with the answer, or send it if it cannot be edited."""
    tell(out, guest, notice, edit_message_id=message_id)


def _alert_supervisors(session: Session, out: Outbox, request: Request) -> None:
    assert request.id is not None
    alert = NegativeFollowupAlert(request.id, request.room, request.department)
    for supervisor in supervisors_to_alert(session):
        tell(out, supervisor, alert)


def rate(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    guest_id: int | None,
    followup_id: int,
    rating: int,
    message_id: int | None,
    now: datetime,
) -> Request:
    """Store the guest's optional 1–5 rating."""
    followup, request, guest = _guest_followup(session, guest_id, followup_id)
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
    _reply(out, guest, message_id, RatingThanks(rating))
    return request
