"""Staff tools on a request card, and what staff know of a guest.

- **Not a request**: a thanks, a chat or a test that became a request is closed without a
  follow-up; the staff member picks a quick reason or writes one line (``prompts``).
- **Merge into #M**: a duplicate is closed into another open request of the same guest.
- **Note**: a line about the guest ("allergic to feathers"), shown on their later cards.
- ``/guest 412``: who is in a room, their requests of this stay and the notes about them.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot import lifecycle
from bot.lifecycle import Action
from bot.models import (
    ACTIVE_STATUSES,
    EventKind,
    Guest,
    GuestNote,
    Offer,
    OfferStatus,
    Request,
    Staff,
)
from bot.notices import (
    CardStatus,
    Dismissed,
    DismissQuestion,
    DismissReason,
    GuestsInRoom,
    GuestUsage,
    KeptOpen,
    MergeChoices,
    Merged,
    MergedForGuest,
    NoteQuestion,
    NoteSaved,
    NoteTooLong,
    refused,
    snippet_of,
)
from bot.notifier import Outbox
from bot.services import errors, memory, prompts, threads
from bot.services.common import Env, record, tell
from bot.services.offers import active_offers, update_copies
from bot.services.requests import staff_member

DISMISS = "dismiss"  # the prompt kinds this module answers
NOTE = "note"
NOTE_LIMIT = 500  # characters; GuestNote.text's column is as long
REASON_LIMIT = 200  # a typed reason is one line of at most this many characters
GUEST_REQUESTS_SHOWN = 10  # /guest lists the newest requests of the stay (it counts them all)
GUEST_NOTES_SHOWN = 10  # and the newest notes


def _request(session: Session, request_id: int | None) -> Request:
    request = session.get(Request, request_id) if request_id is not None else None
    if request is None:
        raise errors.UnknownRequest(request_id or 0)
    return request


def _offered(session: Session, request_id: int, staff: Staff) -> bool:
    return any(row.staff_id == staff.id for row in active_offers(session, request_id))


def _copies(session: Session, request_id: int) -> list[Offer]:
    """Every staff copy of the request that still shows it as live."""
    query = select(Offer).where(
        Offer.request_id == request_id,
        col(Offer.status).in_([OfferStatus.ACTIVE.value, OfferStatus.TAKEN.value]),
    )
    return list(session.exec(query))


def _check(session: Session, staff: Staff, request: Request, action: Action) -> bool:
    """Whether ``staff`` holds an offer of ``request``, once the lifecycle allows them
    ``action`` (else its domain error)."""
    assert request.id is not None
    offered = _offered(session, request.id, staff)
    lifecycle.check(session, request, action, staff, offered=offered)
    return offered


def _drop_prompt(staff: Staff, kind: str, request_id: int) -> None:
    """Forget an open question of ``kind`` about ``request_id``: a button answered it."""
    if staff.prompt_kind == kind and staff.prompt_request_id == request_id:
        prompts.clear(staff)


# --- not a request ---------------------------------------------------------------------------


def ask_dismiss(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> Request:
    """ "Not a request" pressed: ask why, with quick reasons; the next line typed is one too."""
    staff = staff_member(session, staff_id)
    request = _request(session, request_id)
    _check(session, staff, request, Action.DISMISS)
    prompts.ask(staff, DISMISS, request_id, now)
    session.add(staff)
    tell(out, staff, DismissQuestion(request_id))
    return request


def dismiss(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    staff_id: int | None,
    request_id: int,
    reason: str,
    message_id: int | None,
    now: datetime,
) -> Request:
    """Close a request as not a request for a quick ``reason`` (a ``DismissReason``);
    ``message_id``: the question whose button was pressed, edited into the confirmation."""
    staff = staff_member(session, staff_id)
    if reason not in set(DismissReason):
        raise errors.DomainError  # from no version of this bot: the button no longer applies
    request = _request(session, request_id)
    _drop_prompt(staff, DISMISS, request_id)
    session.add(staff)
    _close_as_not_a_request(session, out, env, staff, request, {"reason": reason}, message_id, now)
    return request


@prompts.answers(DISMISS)
def dismiss_with_text(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    staff: Staff,
    request_id: int | None,
    text: str,
    now: datetime,
) -> None:
    """The line a staff member typed as the reason a request is not one."""
    line = " ".join(text.split())
    if len(line) > REASON_LIMIT:
        line = line[: REASON_LIMIT - 1] + "…"
    try:
        request = _request(session, request_id)
        _close_as_not_a_request(session, out, env, staff, request, {"text": line}, None, now)
    except errors.DomainError as error:  # taken or closed meanwhile: nothing was changed
        tell(out, staff, refused(error))


def _close_as_not_a_request(
    session: Session,
    out: Outbox,
    env: Env,
    staff: Staff,
    request: Request,
    details: dict[str, str],
    message_id: int | None,
    now: datetime,
) -> None:
    assert request.id is not None
    offered = _check(session, staff, request, Action.DISMISS)
    lifecycle.move(
        session, request, Action.DISMISS, by=staff, offered=offered, now=now, details=details
    )
    copies = _copies(session, request.id)
    update_copies(session, out, env, request, copies, CardStatus.DISMISSED_BY, staff.name)
    tell(out, staff, Dismissed(request.id), edit_message_id=message_id)
    # The guest is not told. What they sent asked for nothing (a thanks, a chat, a test), so
    # nothing is pending on their side; "your request was closed" would read as a rebuff of a
    # thank-you and invite an answer that becomes the next request. No follow-up is scheduled
    # either: only Done schedules one.


def keep_open(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    staff_id: int | None,
    request_id: int,
    message_id: int | None,
    now: datetime,
) -> None:
    """Leave the request as it is: the question is withdrawn and says so."""
    staff = staff_member(session, staff_id)
    _drop_prompt(staff, DISMISS, request_id)
    session.add(staff)
    tell(out, staff, KeptOpen(request_id), edit_message_id=message_id)


# --- merge -----------------------------------------------------------------------------------


def _others(session: Session, request: Request) -> list[Request]:
    """The guest's other requests still waiting or in progress."""
    query = (
        select(Request)
        .where(
            Request.guest_id == request.guest_id,
            Request.id != request.id,
            col(Request.status).in_(ACTIVE_STATUSES),
        )
        .order_by(col(Request.id))
    )
    return list(session.exec(query))


def merge_choices(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> list[Request]:
    """ "Merge…" pressed: the guest's other open requests, each with a "Merge into" button (or
    a polite answer that there is none)."""
    staff = staff_member(session, staff_id)
    request = _request(session, request_id)
    _check(session, staff, request, Action.MERGE)
    found = _others(session, request)
    choices = tuple(
        (r.id, r.status, snippet_of(r), r.media_kind) for r in found if r.id is not None
    )
    tell(out, staff, MergeChoices(request_id, choices))
    return found


def merge(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    staff_id: int | None,
    request_id: int,
    into_id: int,
    message_id: int | None,
    now: datetime,
) -> Request:
    """Close ``request_id`` as a duplicate of ``into_id``, another open request of the same
    guest: both timelines say so, the copies are edited and the guest is told briefly."""
    staff = staff_member(session, staff_id)
    request = _request(session, request_id)
    target = session.get(Request, into_id)
    if target is None or target.guest_id != request.guest_id or target.id == request.id:
        raise errors.UnknownRequest(into_id)
    if target.status not in ACTIVE_STATUSES:
        raise errors.StaleAction(into_id, target.status)
    offered = _check(session, staff, request, Action.MERGE)
    lifecycle.move(
        session,
        request,
        Action.MERGE,
        by=staff,
        offered=offered,
        now=now,
        changes={"merged_into_id": into_id},
        details={"into": into_id},
    )
    record(
        session,
        request_id=into_id,
        kind=EventKind.MERGED_IN,
        now=now,
        actor=staff,
        duplicate=request_id,
    )
    copies = _copies(session, request_id)
    update_copies(session, out, env, request, copies, CardStatus.MERGED_INTO, staff.name)
    tell(out, staff, Merged(request_id, into_id), edit_message_id=message_id)
    guest = session.get(Guest, request.guest_id)
    threads.merged(session, out, guest, request, target, staff)
    if guest is not None and guest.erased_at is None:
        tell(out, guest, MergedForGuest(request_id, into_id))
    return request


# --- notes about the guest -------------------------------------------------------------------


def _guest_of(session: Session, request: Request) -> Guest:
    guest = session.get(Guest, request.guest_id)
    if guest is None or guest.erased_at is not None:
        raise errors.DomainError  # erased at their request: nothing more is kept about them
    return guest


def ask_note(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, request_id: int, now: datetime
) -> None:
    """ "📝 Note" pressed: the staff member's next text is a note about the request's guest."""
    staff = staff_member(session, staff_id)
    _guest_of(session, _request(session, request_id))
    prompts.ask(staff, NOTE, request_id, now)
    session.add(staff)
    tell(out, staff, NoteQuestion(request_id, NOTE_LIMIT))


@prompts.answers(NOTE)
def add_note(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    staff: Staff,
    request_id: int | None,
    text: str,
    now: datetime,
) -> GuestNote | None:
    """Keep ``text`` as a note about the guest of ``request_id``; a note too long is refused
    and a shorter one asked for."""
    try:
        guest = _guest_of(session, _request(session, request_id))
    except errors.DomainError as error:
        tell(out, staff, refused(error))
        return None
    note = text.strip()
    if len(note) > NOTE_LIMIT:
        prompts.ask(staff, NOTE, request_id, now)  # the shorter one answers the same question
        tell(out, staff, NoteTooLong(NOTE_LIMIT, len(note)))
        return None
    row = GuestNote(guest_id=guest.id, staff_id=staff.id, text=note, created_at=now)  # type: ignore[arg-type]
    session.add(row)
    assert request_id is not None
    tell(out, staff, NoteSaved(request_id))
    return row


# --- /guest 412 ------------------------------------------------------------------------------


def guest_lookup(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, room: str, now: datetime
) -> list[Guest]:
    """``/guest 412`` for staff: the guests now in the room, with their requests of this stay
    and the notes about them."""
    staff = staff_member(session, staff_id)
    room = room.strip()
    if not room:
        tell(out, staff, GuestUsage())
        return []
    found = list(
        session.exec(
            select(Guest)
            .where(Guest.room == room, col(Guest.erased_at).is_(None))
            .order_by(col(Guest.id))
        )
    )
    entries = []
    for guest in found:
        assert guest.id is not None
        count, stay = memory.stay_requests(session, guest, now, GUEST_REQUESTS_SHOWN)
        notes = memory.notes_of(session, guest.id, GUEST_NOTES_SHOWN)
        authors = {
            member.id: member.name
            for member in session.exec(
                select(Staff).where(
                    col(Staff.id).in_({n.staff_id for n in notes if n.staff_id is not None})
                )
            )
        }
        entries.append(
            (
                guest.language,
                count,
                tuple((r.id or 0, r.status, snippet_of(r), r.media_kind) for r in stay),
                tuple((n.text, authors.get(n.staff_id, "")) for n in notes),
            )
        )
    tell(out, staff, GuestsInRoom(room, tuple(entries)))
    return found
