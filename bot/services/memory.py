"""What staff know of a guest: their earlier requests of this stay and the notes about them.

Read where cards are built (``services.offers``, ``services.requests``) and by ``/guest``
(``services.cards``); a module of its own because the card tools in ``services.cards`` edit
the copies through ``services.offers``, which reads this.

A stay starts when the guest gave this stay's room (``Guest.room_set_at``); while that is
unknown, the last ``STAY_DAYS`` days count as the stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    func,
    literal,
    null,
    text,
    union_all,
)
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from bot.models import Guest, GuestNote, Request
from bot.notices import NO_MEMORY, Memory

STAY_DAYS = 30
RECENT_ON_CARD = 3  # earlier requests a card lists (it counts them all)
NOTES_ON_CARD = 3  # the newest notes a card shows
NOTE_ON_CARD_CHARS = 100  # a longer note is shortened on the card; /guest shows it whole


def stay_start(guest: Guest, at: datetime) -> datetime:
    """When the stay that ``at`` falls in started, as far as the bot knows."""
    if guest.room_set_at is not None and guest.room_set_at <= at:
        return guest.room_set_at
    return at - timedelta(days=STAY_DAYS)


def of_request(session: Session, request: Request) -> Memory:
    """The memory shown on ``request``'s card: the guest's requests of the stay made before it,
    and the newest notes about the guest."""
    guest = session.get(Guest, request.guest_id)
    if guest is None or guest.erased_at is not None:
        return NO_MEMORY
    # One statement through the connection for both (this is on the path of every new
    # request): the stay's earlier requests, then the newest notes.
    rows = (
        session.connection()
        .execute(
            _MEMORY,
            {
                "guest": guest.id,
                "before": request.id,
                "since": stay_start(guest, request.created_at),
            },
        )
        .all()
    )
    if not rows:
        return NO_MEMORY
    earlier = [
        (number, status, count) for number, status, count, _note, part, _key in rows if part == 0
    ]
    notes = [note for _number, _status, _count, note, part, _key in rows if part == 1]
    return Memory(
        earlier=int(earlier[0][2]) if earlier else 0,
        recent=tuple((int(number or 0), str(status)) for number, status, _count in earlier),
        notes=tuple(_shortened(text) for text in notes),
    )


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= NOTE_ON_CARD_CHARS else text[: NOTE_ON_CARD_CHARS - 1] + "…"


# The count is a window over the whole stay, taken before the limit; the notes follow as rows
# of their own (``note`` set), in one statement.
_EARLIER = (
    core_select(
        col(Request.id).label("number"),
        col(Request.status).label("status"),
        func.count().over().label("count"),
        cast(null(), Text).label("note"),
        literal(0).label("part"),
        col(Request.id).label("key"),
    )
    .where(
        col(Request.guest_id) == bindparam("guest"),
        col(Request.id) < bindparam("before"),
        col(Request.created_at) >= bindparam("since"),
    )
    .order_by(col(Request.id).desc())
    .limit(RECENT_ON_CARD)
    .subquery()
)
_NEWEST_NOTES = (
    core_select(
        cast(null(), Integer).label("number"),
        cast(null(), String).label("status"),
        cast(null(), BigInteger).label("count"),
        col(GuestNote.text).label("note"),
        literal(1).label("part"),
        col(GuestNote.id).label("key"),
    )
    .where(col(GuestNote.guest_id) == bindparam("guest"))
    .order_by(col(GuestNote.id).desc())
    .limit(NOTES_ON_CARD)
    .subquery()
)
_PARTS = (_EARLIER.c.number, _EARLIER.c.status, _EARLIER.c.count, _EARLIER.c.note)
_MEMORY = union_all(
    core_select(*_PARTS, _EARLIER.c.part, _EARLIER.c.key),
    core_select(
        _NEWEST_NOTES.c.number,
        _NEWEST_NOTES.c.status,
        _NEWEST_NOTES.c.count,
        _NEWEST_NOTES.c.note,
        _NEWEST_NOTES.c.part,
        _NEWEST_NOTES.c.key,
    ),
).order_by(text("part"), text("key DESC"))


def stay_requests(
    session: Session, guest: Guest, now: datetime, limit: int
) -> tuple[int, list[Request]]:
    """How many requests ``guest`` made this stay, and the newest ``limit`` of them, oldest
    first."""
    since = stay_start(guest, now)
    stay = (col(Request.guest_id) == guest.id, col(Request.created_at) >= since)
    count = session.exec(select(func.count()).select_from(Request).where(*stay)).one()
    newest = session.exec(
        select(Request).where(*stay).order_by(col(Request.id).desc()).limit(limit)
    ).all()
    return int(count), list(reversed(newest))


def notes_of(session: Session, guest_id: int, limit: int) -> list[GuestNote]:
    """The newest ``limit`` notes about a guest, newest first."""
    query = (
        select(GuestNote)
        .where(GuestNote.guest_id == guest_id)
        .order_by(col(GuestNote.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))
