"""Offering a request to the on-duty staff who should see it, and updating their copies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from bot import lifecycle
from bot.models import EventKind, Offer, OfferStatus, Request, RequestStatus, Staff
from bot.notices import NO_MEMORY, CardButtons, CardStatus, Memory, Quote, card
from bot.notifier import Media, Outbox, Outgoing, split_text
from bot.routing import Tier, recipients
from bot.services import errors, memory
from bot.services.common import Env, event, record_rows, tell
from bot.texts.staff import CARD_TEXT_LIMIT


def active_offers(session: Session, request_id: int) -> list[Offer]:
    """Offers of a request that still show an Accept button."""
    return list(session.exec(_ACTIVE_OFFERS, params={"request": request_id}))


_ACTIVE_OFFERS = (
    select(Offer)
    .where(col(Offer.request_id) == bindparam("request"), Offer.status == OfferStatus.ACTIVE)
    .order_by(col(Offer.id))
)


_OFFERS = Offer.__table__  # type: ignore[attr-defined]
_INSERT_OFFER = insert(_OFFERS).returning(_OFFERS.c.id)


def offer(
    session: Session,
    out: Outbox,
    env: Env,
    request: Request,
    now: datetime,
    *,
    only: Staff | None = None,
    exclude: Iterable[int] = (),
    note_nobody: bool = True,
    new: bool = False,
    events: list[dict[str, Any]] | None = None,
) -> Tier:
    """Offer ``request`` to everyone who should see it and has no copy yet; return the tier.

    With ``only``, offer it just to that person, if they are among the recipients.
    ``note_nobody`` records in the timeline that nobody was on duty. ``new``: the request was
    created in this transaction, so nobody has a copy yet. ``events``: the timeline entry is
    added to this list, which the caller writes together with its own, instead of on its own.
    """
    assert request.id is not None
    found = recipients(session, env.hotel, request.department, exclude=set(exclude))
    holders = set() if new else {o.staff_id for o in active_offers(session, request.id)}
    targets = [s for s in found.staff if s.id not in holders and (only is None or s.id == only.id)]
    known = memory.of_request(session, request) if targets else NO_MEMORY
    for staff in targets:
        assert staff.id is not None
        # A plain insert: the new offer is only read back in later transactions.
        offer_id = (
            session.connection()
            .execute(
                _INSERT_OFFER,
                {
                    "request_id": request.id,
                    "staff_id": staff.id,
                    "chat_id": staff.telegram_id,
                    "message_id": None,
                    "status": OfferStatus.ACTIVE.value,
                    "created_at": now,
                },
            )
            .scalar_one()
        )
        _send_offer(out, env, request, staff, offer_id, found.tier, known)
    entries = []
    if targets:
        names = [s.name for s in targets]
        entries.append(
            event(request.id, EventKind.OFFERED, now, names=names, tier=found.tier.value)
        )
    elif not found.staff and only is None and note_nobody:
        entries.append(event(request.id, EventKind.NOBODY_ON_DUTY, now))
    if events is None:
        record_rows(session.connection(), entries)
    else:
        events.extend(entries)
    return found.tier


def _send_offer(
    out: Outbox,
    env: Env,
    request: Request,
    staff: Staff,
    offer_id: int,
    tier: Tier,
    known: Memory,
) -> None:
    if request.media_kind:
        out.send(
            Outgoing(
                chat_id=staff.telegram_id,
                media=Media(
                    kind=request.media_kind,  # type: ignore[arg-type]
                    file_id=request.media_file_id,
                    latitude=request.latitude,
                    longitude=request.longitude,
                    caption=f"#{request.id}",
                ),
                request_id=request.id,
            )
        )
    long_text = len(request.text) > CARD_TEXT_LIMIT
    if long_text:
        for part in split_text(request.text):
            tell(out, staff, Quote(part, request.id))
    notice = card(
        request, tier=tier, full_text_above=long_text, buttons=CardButtons.ACCEPT, memory=known
    )
    tell(out, staff, notice, offer_id=offer_id)


def update_copies(
    session: Session,
    out: Outbox,
    env: Env,
    request: Request,
    offers: Iterable[Offer],
    status: CardStatus,
    name: str = "",
    *,
    new_status: OfferStatus | None = OfferStatus.WITHDRAWN,
) -> None:
    """Edit each staff member's copy of ``request`` to show a new status line (``name``: who
    or where, for the lines that say it)."""
    offers = list(offers)
    known = memory.of_request(session, request) if offers else NO_MEMORY
    notice = card(request, status=status, name=name, memory=known)
    for row in offers:
        staff = session.get(Staff, row.staff_id)
        if staff is None:
            continue
        if new_status is not None:  # None: the copy's state does not change, only its text
            row.status = new_status
            session.add(row)
        edit = Outgoing(row.chat_id, notice, staff.language, edit_offer_id=row.id)
        out.send(edit)


def relieve(session: Session, staff: Staff, now: datetime, *, reason: lifecycle.Action) -> set[int]:
    """Withdraw a staff member's offers and reopen their accepted requests (``reason``: the
    lifecycle's action for why they cannot keep them).

    Returns the ids of the requests involved, for the caller to hand on.
    """
    offered = session.exec(
        select(Offer).where(Offer.staff_id == staff.id, Offer.status == OfferStatus.ACTIVE)
    ).all()
    involved = {row.request_id for row in offered}
    session.execute(
        update(Offer)
        .where(col(Offer.staff_id) == staff.id, col(Offer.status) == OfferStatus.ACTIVE)
        .values(status=OfferStatus.WITHDRAWN)
    )
    assigned = session.exec(
        select(Request).where(
            Request.assignee_id == staff.id, Request.status == RequestStatus.ACCEPTED
        )
    ).all()
    for request in assigned:
        try:
            lifecycle.move(session, request, reason, by=None, subject=staff, now=now)
        except errors.DomainError:
            continue  # done or cancelled meanwhile: nothing to hand on
        involved.add(request.id)  # type: ignore[arg-type]
    session.flush()
    return involved
