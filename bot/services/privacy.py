"""Guests' personal data: erased on request (/forgetme) and after the retention period (purge)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from bot import timers
from bot.models import (
    ACTIVE_STATUSES,
    ActorKind,
    Event,
    EventKind,
    Guest,
    GuestNote,
    InboundStatus,
    InboundUpdate,
    Offer,
    OutboxMessage,
    OutboxStatus,
    Question,
    Request,
    RequestStatus,
    as_utc,
)
from bot.notices import Card, CardStatus, ForgetQuestion, Forgotten, Kept, Quote, QuoteErased
from bot.notifier import Outbox, Outgoing
from bot.services import requests, rooms
from bot.services.common import Env, Person, record
from bot.services.offers import update_copies

FINISHED = (RequestStatus.CLOSED, RequestStatus.CANCELLED)
# Telegram lets a bot delete its messages for 48 hours; the deletion itself waits in the outbox
# behind the staff member's other messages, so an hour is kept in hand.
DELETE_WITHIN = timedelta(hours=47)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    """What a purge removed."""

    requests: int
    guests: int
    updates: int
    messages: int
    timers: int = 0
    questions: int = 0


def ask_to_forget(out: Outbox, env: Env, *, person: Person, locale: str) -> None:
    """Ask the guest to confirm the erasure."""
    out.send(Outgoing(person.chat_id, ForgetQuestion(), locale))


def forget(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    person: Person,
    guest_id: int | None,
    confirmed: bool,
    message_id: int | None,
    now: datetime,
) -> Guest | None:
    """Erase the guest ``guest_id`` at their request (``person``: their chat, which is answered
    even if they are not a guest): open requests are cancelled first (staff are told)."""
    guest = session.get(Guest, guest_id) if guest_id is not None else None
    locale = guest.language if guest else env.i18n.negotiate(person.language_code)
    answer = Outgoing(person.chat_id, Forgotten(), locale, edit_message_id=message_id)
    if not confirmed or guest is None:
        out.send(answer if confirmed else replace(answer, notice=Kept()))
        return guest
    _forget_notes(session, guest)  # before the cancelled cards are edited
    still_open = session.exec(
        select(Request).where(
            Request.guest_id == guest.id, col(Request.status).in_(ACTIVE_STATUSES)
        )
    ).all()
    for request in still_open:
        assert request.id is not None
        requests.cancel(session, out, env, guest_id=guest.id, request_id=request.id, now=now)
    # The cancellations' card edits would show the text once more: the erasure's edits below
    # take their place.
    cancelled = {request.id for request in still_open}
    out.messages[:] = [
        m
        for m in out.messages
        if not (isinstance(m.notice, Card) and m.notice.request_id in cancelled)
    ]
    out.send(answer)
    chat_id = guest.chat_id
    _retract_from_staff(session, out, guest, now)
    _anonymize_guest(session, out, env, guest, now, tell_staff=True)
    session.execute(
        delete(InboundUpdate).where(
            col(InboundUpdate.chat_id) == chat_id,
            col(InboundUpdate.status) != InboundStatus.PENDING,
        )
    )
    session.execute(
        delete(OutboxMessage).where(
            col(OutboxMessage.chat_id) == chat_id, col(OutboxMessage.status) != OutboxStatus.PENDING
        )
    )
    return guest


def _retract_from_staff(session: Session, out: Outbox, guest: Guest, now: datetime) -> None:
    """Take back the bot's messages to staff that showed the guest's own words or files (the
    parts of a long text, photos, voice notes, documents): deleted while Telegram allows it,
    else a text is blanked and a file left (logged). The cards are edited by the caller.

    The outbox rows of the guest's requests in staff chats go too, since their payloads hold
    the same texts; those still waiting are not sent.
    """
    requests_of_guest = select(Request.id).where(Request.guest_id == guest.id)
    staff_chats = select(Offer.chat_id).where(col(Offer.request_id).in_(requests_of_guest))
    rows = session.exec(
        select(OutboxMessage).where(
            col(OutboxMessage.chat_id).in_(staff_chats),
            col(OutboxMessage.request_id).in_(requests_of_guest),
        )
    ).all()
    for row in rows:
        notice = row.payload.get("notice") or {}
        quote = notice.get("kind") == Quote.kind
        if row.status != OutboxStatus.SENT or row.message_id is None or row.sent_at is None:
            continue  # nothing to take back; one still waiting is deleted below, never sent
        if not quote and "media" not in row.payload:
            continue  # a card, edited by the caller
        if now - as_utc(row.sent_at) < DELETE_WITHIN:
            out.send(Outgoing(row.chat_id, edit_message_id=row.message_id, remove="message"))
        elif quote:
            locale = str(row.payload.get("locale", ""))
            out.send(Outgoing(row.chat_id, QuoteErased(), locale, edit_message_id=row.message_id))
        else:
            log.info(
                "message %s in chat %s is too old to delete; the guest's file stays there",
                row.message_id,
                row.chat_id,
            )
    session.execute(
        delete(OutboxMessage).where(col(OutboxMessage.id).in_([row.id for row in rows]))
    )


def _anonymize_request(session: Session, request: Request, now: datetime) -> None:
    request.text, request.media_file_id, request.latitude, request.longitude = "", None, None, None
    request.media_kind = None
    session.add(request)
    session.execute(
        update(Event)
        .where(col(Event.request_id) == request.id, col(Event.actor_kind) == ActorKind.GUEST)
        .values(actor_name="")
    )
    session.execute(  # what the guest added and what was relayed carry their words
        update(Event)
        .where(
            col(Event.request_id) == request.id,
            col(Event.kind).in_(
                [EventKind.ADDED, EventKind.GUEST_MESSAGE, EventKind.STAFF_MESSAGE]
            ),
        )
        .values(details={})
    )
    record(session, request_id=request.id, kind=EventKind.ANONYMIZED, now=now)


def _forget_notes(session: Session, guest: Guest) -> None:
    """Delete staff's notes about the guest, before any card of theirs is edited again."""
    session.execute(delete(GuestNote).where(col(GuestNote.guest_id) == guest.id))


def _anonymize_guest(
    session: Session, out: Outbox, env: Env, guest: Guest, now: datetime, *, tell_staff: bool
) -> None:
    _forget_notes(session, guest)
    for request in session.exec(select(Request).where(Request.guest_id == guest.id)).all():
        if request.text or request.media_kind:
            _anonymize_request(session, request, now)
            if tell_staff:
                copies = session.exec(select(Offer).where(Offer.request_id == request.id)).all()
                update_copies(
                    session, out, env, request, copies, CardStatus.ERASED, new_status=None
                )
    _erase_questions(session, col(Question.guest_id) == guest.id)
    # The Telegram id goes too; a negative surrogate keeps the row unique and unreachable.
    assert guest.id is not None
    guest.telegram_id = guest.chat_id = -guest.id
    rooms.forget(session, guest, now)
    guest.first_name = ""
    guest.erased_at, guest.updated_at = now, now
    session.add(guest)


def _erase_questions(session: Session, which: ColumnElement[bool]) -> int:
    """Blank the text of the questions ``which`` selects; the rows stay for the report."""
    erased = session.execute(
        update(Question).where(which, col(Question.text) != "").values(text="")
    )
    return int(erased.rowcount)  # type: ignore[attr-defined]


def purge(session: Session, env: Env, *, older_than_days: int, now: datetime) -> Purged:
    """Anonymize requests finished before the cutoff, and guests with nothing newer (no
    request, no question).

    Stored updates and delivered messages older than the cutoff are deleted, since they carry
    the same texts, and so are finished timers due before it and staff's notes about guests
    written before it; questions asked before it lose their text.
    """
    cutoff = now - timedelta(days=older_than_days)
    old = session.exec(
        select(Request).where(
            col(Request.status).in_(FINISHED),
            col(Request.closed_at) < cutoff,
            (col(Request.text) != "") | col(Request.media_kind).is_not(None),
        )
    ).all()
    for request in old:
        _anonymize_request(session, request, now)
    newer = (
        select(func.count())
        .select_from(Request)
        .where(
            Request.guest_id == Guest.id,
            (col(Request.created_at) >= cutoff) | col(Request.status).not_in(FINISHED),
        )
        .scalar_subquery()
    )
    asked = (
        select(func.count())
        .select_from(Question)
        .where(Question.guest_id == Guest.id, col(Question.created_at) >= cutoff)
        .scalar_subquery()
    )
    stale_guests = session.exec(
        select(Guest).where(
            col(Guest.erased_at).is_(None), col(Guest.updated_at) < cutoff, newer == 0, asked == 0
        )
    ).all()
    out = Outbox()
    for guest in stale_guests:
        _anonymize_guest(session, out, env, guest, now, tell_staff=False)
    session.execute(delete(GuestNote).where(col(GuestNote.created_at) < cutoff))
    updates = session.execute(
        delete(InboundUpdate).where(
            col(InboundUpdate.received_at) < cutoff,
            col(InboundUpdate.status) != InboundStatus.PENDING,
        )
    ).rowcount  # type: ignore[attr-defined]
    sent = session.execute(
        delete(OutboxMessage).where(
            col(OutboxMessage.created_at) < cutoff,
            col(OutboxMessage.status) != OutboxStatus.PENDING,
        )
    ).rowcount  # type: ignore[attr-defined]
    questions = _erase_questions(session, col(Question.created_at) < cutoff)
    return Purged(
        requests=len(old),
        guests=len(stale_guests),
        updates=int(updates),
        messages=int(sent),
        timers=timers.forget_finished(session, cutoff),
        questions=questions,
    )
