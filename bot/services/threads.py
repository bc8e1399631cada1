"""Every request is a thread: the guest's later messages about it join it, and staff can write
to the guest through the bot.

A guest's message joins request #N instead of opening a new one when it is

- a Telegram reply to a bot message about #N (the acknowledgement, "accepted", "done", the
  follow-up, a staff member's message: ``outbox.request_of_message``) or to the guest's own
  first message of #N;
- sent while the guest's thread window on #N is open (``Guest.thread_request_id``,
  ``thread_until``, ``thread_kind``): a ``BURST`` right after a new request
  (``limits.burst_seconds``: a photo after its text, an album, the tail of a long text), the
  ``EXPLAIN``-ation asked for after a "No" to a follow-up (``limits.explain_minutes``), or the
  answer to a staff member's message (``RELAY``, ``limits.relay_reply_minutes``).

Waiting, accepted and done requests take additions; a done one is reopened as a "No" to its
follow-up would reopen it. A closed or cancelled request's thread is over: the message is a new
request. The staff who hold the request (its assignee, else those offered it) get a short
notice pointing to their card, the guest is told it was added (not within a burst: the
acknowledgement covers it), and the timeline gets an event.

Relayed texts are stored as written, with their language, in the notices: rendering
(``bot.render``) is where a translation step would turn them into the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from bot import outbox
from bot.models import (
    ACTIVE_STATUSES,
    Event,
    EventKind,
    Guest,
    Offer,
    OfferStatus,
    OutboxMessage,
    Request,
    RequestStatus,
    Staff,
)
from bot.notices import (
    AddedForGuest,
    AddedQuietly,
    Addition,
    GuestAdded,
    RelayClosed,
    RelaySent,
    ReplyPrompt,
    StaffMessage,
)
from bot.notifier import Media, Outbox
from bot.services import errors, followups, prompts
from bot.services.common import Env, record, tell
from bot.services.offers import active_offers

if TYPE_CHECKING:
    from bot.services.requests import Content

BURST = "burst"  # the messages right after a new request
EXPLAIN = "explain"  # the explanation after a "No" to a follow-up
RELAY = "relay"  # the answer to a staff member's message
REPLY = "reply"  # a Telegram reply to a message about the request (never a window)

REPLY_PROMPT = "reply"  # the staff member's next text goes to the guest
EVENT_TEXT_LIMIT = 1000  # characters of a relayed or added text kept in the timeline

TAKES_ADDITIONS = (*ACTIVE_STATUSES, RequestStatus.DONE)
FINISHED = (RequestStatus.CLOSED, RequestStatus.CANCELLED)


def join(
    session: Session,
    out: Outbox,
    env: Env,
    guest: Guest,
    content: Content,
    now: datetime,
    *,
    replies: bool = True,
    windows: bool = True,
) -> Request | None:
    """Add the guest's message to the request it belongs to, if it belongs to one; that
    request, else None (the message is a new request). ``replies``: look at a Telegram reply;
    ``windows``: at the open window (a burst, an explanation, the answer to staff)."""
    found = _target(session, guest, content, now, replies=replies, windows=windows)
    if found is None:
        return None
    request, kind = found
    if request.status not in TAKES_ADDITIONS:
        if guest.thread_request_id == request.id:
            _set_window(session, guest, None, None, now)
        return None
    _add(session, out, env, guest, request, content, kind, now)
    return request


def opened(session: Session, env: Env, guest: Guest, request: Request, now: datetime) -> None:
    """Start the burst window of a new request: what the guest sends next joins it.

    Written as a plain statement, with the loaded guest told the values as committed: this
    runs for every new request, and a dirty guest made the commit run the ORM's whole flush
    (a third of a millisecond a request)."""
    values = {
        "thread_request_id": request.id,
        "thread_until": now + _burst(env),
        "thread_kind": BURST,
    }
    session.connection().execute(_OPEN_WINDOW, {"guest": guest.id, **values})
    for name, value in values.items():
        set_committed_value(guest, name, value)


_GUESTS = Guest.__table__  # type: ignore[attr-defined]
_OPEN_WINDOW = (
    update(_GUESTS)
    .where(_GUESTS.c.id == bindparam("guest"))
    .values(
        thread_request_id=bindparam("thread_request_id"),
        thread_until=bindparam("thread_until"),
        thread_kind=bindparam("thread_kind"),
    )
)


def expect_explanation(
    session: Session, env: Env, guest: Guest, request: Request, now: datetime
) -> bool:
    """The guest said a request is not fixed: their next message explains what is wrong.
    False if it is not taken as one (``limits.explain_minutes`` is 0, or the request is over)."""
    minutes = env.hotel.limits.explain_minutes
    if minutes == 0 or request.status not in ACTIVE_STATUSES:
        return False
    _set_window(session, guest, request.id, EXPLAIN, now + timedelta(minutes=minutes))
    return True


@dataclass(frozen=True)
class _Holder:
    staff: Staff
    offer_id: int | None  # their copy of the card, to point to


def _target(
    session: Session,
    guest: Guest,
    content: Content,
    now: datetime,
    *,
    replies: bool = True,
    windows: bool = True,
) -> tuple[Request, str] | None:
    """The request the message is about and how it came to be (a reply or a window's kind)."""
    if replies and content.reply_to is not None:
        request = _replied(session, guest, content.reply_to)
        if request is not None:
            relayed = _is_staff_message(session, guest.chat_id, content.reply_to) or (
                _window(guest, now) == (request.id, RELAY)
            )
            return request, RELAY if relayed else REPLY
    window = _window(guest, now) if windows else None
    if window is None:
        return None
    request = session.get(Request, window[0])
    if request is None or request.guest_id != guest.id:
        return None
    return request, window[1]


def _window(guest: Guest, now: datetime) -> tuple[int, str] | None:
    if guest.thread_request_id is None or guest.thread_until is None or guest.thread_until <= now:
        return None
    return guest.thread_request_id, guest.thread_kind or BURST


def _replied(session: Session, guest: Guest, message_id: int) -> Request | None:
    """The guest's request that the message they replied to is about, if any."""
    request_id = outbox.request_of_message(session, guest.chat_id, message_id)
    if request_id is None:  # their own first message of a request?
        mine = select(Request.id).where(
            Request.guest_id == guest.id, Request.message_id == message_id
        )
        request_id = session.exec(mine).first()
    request = session.get(Request, request_id) if request_id is not None else None
    return request if request is not None and request.guest_id == guest.id else None


def _is_staff_message(session: Session, chat_id: int, message_id: int) -> bool:
    """Whether the bot's message ``message_id`` relayed what a staff member wrote."""
    query = select(OutboxMessage.payload).where(
        OutboxMessage.chat_id == chat_id, OutboxMessage.message_id == message_id
    )
    payload = session.exec(query).first()
    notice = payload.get("notice") if isinstance(payload, dict) else None
    return isinstance(notice, dict) and notice.get("kind") == StaffMessage.kind


def _add(
    session: Session,
    out: Outbox,
    env: Env,
    guest: Guest,
    request: Request,
    content: Content,
    kind: str,
    now: datetime,
) -> None:
    assert request.id is not None
    relay = kind == RELAY
    if not relay:  # part of the request itself: its card, its follow-up and exports show it
        _extend(session, request, content)
    record(
        session,
        request_id=request.id,
        kind=EventKind.GUEST_MESSAGE if relay else EventKind.ADDED,
        now=now,
        actor=guest,
        text=content.text[:EVENT_TEXT_LIMIT],
        media=content.media_kind,
        via=kind,
    )
    how = Addition.ANSWER if relay else Addition.ADDED
    holders = _holders(session, request)
    reopened = False
    if request.status == RequestStatus.DONE and not relay:
        # Not fixed after all: offered again with the full text, as a "No" to the follow-up
        # would; whoever did it hears why (an answer to their message reopens nothing).
        reopened = followups.reopen(session, out, env, request, guest, now)
        how = Addition.REOPENED if reopened else how
    notice = GuestAdded(
        request.id, request.room, content.text, content.media_kind, request.language, how
    )
    media = _media(content)
    if not reopened and _flooding(session, env, request.id, now):
        # Kept on the request and in its timeline, but staff are not sent a notice for each
        # of a flood of messages; the guest is told so (once a minute).
        if guest.slowed_at is None or now - guest.slowed_at >= timedelta(minutes=1):
            guest.slowed_at = now
            session.add(guest)
            tell(out, guest, AddedQuietly(request.id))
    else:
        for holder in holders:
            tell(out, holder.staff, notice, media=media, reply_offer_id=holder.offer_id)
        if kind != BURST:
            tell(out, guest, AddedForGuest(request.id, relay=relay, reopened=reopened))
    if kind != BURST or content.media_group_id is not None:
        # After a join, what follows at once still belongs here (an album keeps it open).
        _set_window(session, guest, request.id, BURST, now + _burst(env))


def _flooding(session: Session, env: Env, request_id: int, now: datetime) -> bool:
    """Whether the guest added more to the request in the last minute than
    ``limits.guest_messages_per_minute`` (this message's event included)."""
    recent = session.exec(
        select(func.count())
        .select_from(Event)
        .where(
            col(Event.request_id) == request_id,
            col(Event.kind).in_([EventKind.ADDED.value, EventKind.GUEST_MESSAGE.value]),
            col(Event.at) > now - timedelta(minutes=1),
        )
    ).one()
    return int(recent) > env.hotel.limits.guest_messages_per_minute


def _extend(session: Session, request: Request, content: Content) -> None:
    """Append the added text to the request's, and take the first attachment as its own."""
    if content.text:
        request.text = f"{request.text}\n{content.text}" if request.text else content.text
    if request.media_kind is None and content.media_kind is not None:
        request.media_kind, request.media_file_id = content.media_kind, content.file_id
        request.latitude, request.longitude = content.latitude, content.longitude
    session.add(request)
    session.flush()


def merged(
    session: Session,
    out: Outbox,
    guest: Guest | None,
    duplicate: Request,
    target: Request,
    by: Staff,
) -> None:
    """``duplicate`` was merged into ``target``: who holds the target reads what the duplicate
    said (the one who merged it knows), and the guest's open window moves to the target."""
    assert target.id is not None
    notice = GuestAdded(
        target.id,
        target.room,
        duplicate.text,
        duplicate.media_kind,
        duplicate.language,
        Addition.MERGED,
    )
    media = (
        Media(kind=duplicate.media_kind, file_id=duplicate.media_file_id)  # type: ignore[arg-type]
        if duplicate.media_kind in ("photo", "voice", "document") and duplicate.media_file_id
        else None
    )
    for holder in _holders(session, target):
        if holder.staff.id != by.id:
            tell(out, holder.staff, notice, media=media, reply_offer_id=holder.offer_id)
    if guest is not None and guest.thread_request_id == duplicate.id:
        guest.thread_request_id = target.id
        session.add(guest)


def _holders(session: Session, request: Request) -> list[_Holder]:
    """Who has the request in hand: its assignee (with their card; also of a done request),
    else those offered it."""
    if request.status in (RequestStatus.ACCEPTED, RequestStatus.DONE):
        if request.assignee_id is None:
            return []
        assignee = session.get(Staff, request.assignee_id)
        if assignee is None or not assignee.active:
            return []
        card = session.exec(
            select(Offer.id)
            .where(
                Offer.request_id == request.id,
                Offer.staff_id == assignee.id,
                Offer.status == OfferStatus.TAKEN,
            )
            .order_by(col(Offer.id).desc())
        ).first()
        return [_Holder(assignee, card)]
    if request.status != RequestStatus.OPEN:
        return []
    assert request.id is not None
    found = []
    for row in active_offers(session, request.id):
        staff = session.get(Staff, row.staff_id)
        if staff is not None and staff.active:
            found.append(_Holder(staff, row.id))
    return found


def _media(content: Content) -> Media | None:
    if content.media_kind is None:
        return None
    return Media(
        kind=content.media_kind,  # type: ignore[arg-type]
        file_id=content.file_id,
        latitude=content.latitude,
        longitude=content.longitude,
    )


def _burst(env: Env) -> timedelta:
    return timedelta(seconds=env.hotel.limits.burst_seconds)


def _set_window(
    session: Session, guest: Guest, request_id: int | None, kind: str | None, until: datetime | None
) -> None:
    """Open the guest's thread window on a request until ``until`` (None: close it)."""
    if request_id is None or until is None:
        guest.thread_request_id = guest.thread_until = guest.thread_kind = None
    else:
        guest.thread_request_id, guest.thread_until, guest.thread_kind = request_id, until, kind
    session.add(guest)


# --- staff writing to the guest ----------------------------------------------------------------


def ask_reply(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """Take the staff member's next text as a message to the request's guest."""
    staff = _staff(session, staff_id)
    request = session.get(Request, request_id)
    if request is None:
        raise errors.UnknownRequest(request_id)
    if request.status in FINISHED:
        raise errors.StaleAction(request_id, request.status)
    if request.assignee_id != staff.id and not staff.is_supervisor:
        raise errors.NotYours(request_id)
    prompts.ask(staff, REPLY_PROMPT, request_id, now)
    session.add(staff)
    tell(out, staff, ReplyPrompt(request_id))
    return request


@prompts.answers(REPLY_PROMPT)
def relay_to_guest(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    staff: Staff,
    request_id: int | None,
    text: str,
    now: datetime,
) -> None:
    """Send the staff member's text to the guest, with their first name and the request's
    number; the guest's next message (or a reply to it) comes back to the request's holders."""
    request = session.get(Request, request_id) if request_id is not None else None
    guest = session.get(Guest, request.guest_id) if request is not None else None
    if request is None or request.id is None or guest is None or guest.erased_at is not None:
        tell(out, staff, RelayClosed(request_id or 0))
        return
    if request.status in FINISHED:
        tell(out, staff, RelayClosed(request.id))
        return
    first_name = staff.name.split()[0] if staff.name.split() else staff.name
    tell(out, guest, StaffMessage(request.id, first_name, text, staff.language))
    record(
        session,
        request_id=request.id,
        kind=EventKind.STAFF_MESSAGE,
        now=now,
        actor=staff,
        text=text[:EVENT_TEXT_LIMIT],
    )
    until = now + timedelta(minutes=env.hotel.limits.relay_reply_minutes)
    _set_window(session, guest, request.id, RELAY, until)
    tell(out, staff, RelaySent(request.id))


def _staff(session: Session, staff_id: int | None) -> Staff:
    staff = session.get(Staff, staff_id) if staff_id is not None else None
    if staff is None or not staff.active:
        raise errors.NotRegistered
    return staff
