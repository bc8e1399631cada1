"""Guests' personal data: erased on request (/forgetme) and after the retention period (purge)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from bot import timers
from bot.models import (
    ACTIVE_STATUSES,
    ActorKind,
    Event,
    EventKind,
    Guest,
    InboundStatus,
    InboundUpdate,
    Offer,
    OutboxMessage,
    OutboxStatus,
    Request,
    RequestStatus,
)
from bot.notices import CardStatus, ForgetQuestion, Forgotten, Kept
from bot.notifier import Outbox, Outgoing
from bot.services import requests, rooms
from bot.services.common import Env, Person, record
from bot.services.offers import update_copies

FINISHED = (RequestStatus.CLOSED, RequestStatus.CANCELLED)


@dataclass(frozen=True)
class Purged:
    """What a purge removed."""

    requests: int
    guests: int
    updates: int
    messages: int
    timers: int = 0


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
    still_open = session.exec(
        select(Request).where(
            Request.guest_id == guest.id, col(Request.status).in_(ACTIVE_STATUSES)
        )
    ).all()
    for request in still_open:
        assert request.id is not None
        requests.cancel(session, out, env, guest_id=guest.id, request_id=request.id, now=now)
    out.send(answer)
    chat_id = guest.chat_id
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


def _anonymize_request(session: Session, request: Request, now: datetime) -> None:
    request.text, request.media_file_id, request.latitude, request.longitude = "", None, None, None
    request.media_kind = None
    session.add(request)
    session.execute(
        update(Event)
        .where(col(Event.request_id) == request.id, col(Event.actor_kind) == ActorKind.GUEST)
        .values(actor_name="")
    )
    record(session, request_id=request.id, kind=EventKind.ANONYMIZED, now=now)


def _anonymize_guest(
    session: Session, out: Outbox, env: Env, guest: Guest, now: datetime, *, tell_staff: bool
) -> None:
    for request in session.exec(select(Request).where(Request.guest_id == guest.id)).all():
        if request.text or request.media_kind:
            _anonymize_request(session, request, now)
            if tell_staff:
                copies = session.exec(select(Offer).where(Offer.request_id == request.id)).all()
                update_copies(
                    session, out, env, request, copies, CardStatus.ERASED, new_status=None
                )
    # The Telegram id goes too; a negative surrogate keeps the row unique and unreachable.
    assert guest.id is not None
    guest.telegram_id = guest.chat_id = -guest.id
    rooms.forget(session, guest, now)
    guest.first_name = ""
    guest.erased_at, guest.updated_at = now, now
    session.add(guest)


def purge(session: Session, env: Env, *, older_than_days: int, now: datetime) -> Purged:
    """Anonymize requests finished before the cutoff, and guests with nothing newer.

    Stored updates and delivered messages older than the cutoff are deleted, since they carry
    the same texts, and so are finished timers due before it.
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
    stale_guests = session.exec(
        select(Guest).where(
            col(Guest.erased_at).is_(None), col(Guest.updated_at) < cutoff, newer == 0
        )
    ).all()
    out = Outbox()
    for guest in stale_guests:
        _anonymize_guest(session, out, env, guest, now, tell_staff=False)
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
    return Purged(
        requests=len(old),
        guests=len(stale_guests),
        updates=int(updates),
        messages=int(sent),
        timers=timers.forget_finished(session, cutoff),
    )
