"""Database tables. Times are stored in UTC; ``events`` is the append-only audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text, TypeDecorator
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class _SQLiteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME, with the text it stores made by ``isoformat``: the same text as the
    dialect's own format, at a fraction of its cost (every statement binds a time or two)."""

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(" ", "microseconds")

        return process


_SQLITE_DATETIME = _SQLiteDateTime()  # type: ignore[no-untyped-call]  # an unannotated __init__


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLITE_DATETIME)
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def as_utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from what an aggregate query returns (SQLite gives naive or text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Role(StrEnum):
    """What a staff member may do."""

    STAFF = "staff"
    SUPERVISOR = "supervisor"


class RequestStatus(StrEnum):
    """Lifecycle of a guest request."""

    OPEN = "open"  # waiting for a staff member to accept it
    ACCEPTED = "accepted"
    DONE = "done"  # waiting for the guest's follow-up answer
    CLOSED = "closed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (RequestStatus.OPEN, RequestStatus.ACCEPTED)


class OfferStatus(StrEnum):
    """State of one staff member's copy of a request."""

    ACTIVE = "active"
    TAKEN = "taken"  # this staff member accepted it
    WITHDRAWN = "withdrawn"  # someone else took it, or it moved, or it was cancelled


class FollowUpStatus(StrEnum):
    """Lifecycle of one follow-up check-in."""

    PENDING = "pending"
    SENT = "sent"
    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    CANCELLED = "cancelled"


class EventKind(StrEnum):
    """Kinds of audit-trail events."""

    CREATED = "created"
    ROUTED = "routed"
    OFFERED = "offered"
    NOBODY_ON_DUTY = "nobody_on_duty"
    ACCEPTED = "accepted"
    RELEASED = "released"
    DONE = "done"
    FOLLOWUP_SCHEDULED = "followup_scheduled"
    FOLLOWUP_SENT = "followup_sent"
    FOLLOWUP_ANSWERED = "followup_answered"
    FOLLOWUP_UNANSWERED = "followup_unanswered"
    RATED = "rated"
    REOPENED = "reopened"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    DISMISSED = "dismissed"  # closed by staff as not a request (thanks, a test)
    MERGED = "merged"  # closed by staff as a duplicate of another request of the guest
    MERGED_IN = "merged_in"  # a duplicate of this request was merged into it
    GUEST_UNREACHABLE = "guest_unreachable"
    STAFF_UNREACHABLE = "staff_unreachable"
    ANONYMIZED = "anonymized"
    ADDED = "added"  # the guest added to the request (a reply, a burst, an explanation)
    STAFF_MESSAGE = "staff_message"  # a staff member wrote to the guest through the bot
    GUEST_MESSAGE = "guest_message"  # the guest answered a staff member through the bot
    ROOM_SET = "room_set"  # the guest gave their room after the request
    MARKED_URGENT = "marked_urgent"  # by the hotel's urgent keywords or by staff
    MARKED_NORMAL = "marked_normal"  # a supervisor took the urgency back


class Priority(StrEnum):
    """How soon a request must be seen (``Request.priority``)."""

    NORMAL = "normal"
    URGENT = "urgent"


class ActorKind(StrEnum):
    """Who caused an event."""

    GUEST = "guest"
    STAFF = "staff"
    SYSTEM = "system"


class Guest(SQLModel, table=True):
    """A hotel guest; ``id`` is who they are, ``telegram_id`` how Telegram knows them."""

    __tablename__ = "guests"

    id: int | None = Field(default=None, primary_key=True)
    # The Telegram channel's identity: read by the Telegram layer only (see services.actors).
    telegram_id: int = Field(sa_type=BigInteger, unique=True, index=True)
    chat_id: int = Field(sa_type=BigInteger)
    first_name: str = Field(default="", max_length=128)
    language: str = Field(max_length=8)
    language_chosen: bool = False
    room: str | None = Field(default=None, max_length=16)
    room_asked: bool = False
    awaiting_room: bool = False
    room_set_at: datetime | None = _when(default=None)  # this stay's room given; starts the stay
    # The guest's next message joins this request until ``thread_until`` (a burst of messages,
    # the explanation after a "No" to a follow-up, the answer to a staff member's question).
    thread_request_id: int | None = None
    thread_until: datetime | None = _when(default=None)
    thread_kind: str | None = Field(default=None, max_length=16)
    blocked_at: datetime | None = _when(default=None)  # the guest blocked the bot
    erased_at: datetime | None = _when(default=None)  # personal data removed
    slowed_at: datetime | None = _when(default=None)  # last told to slow down
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Staff(SQLModel, table=True):
    """A staff member or supervisor, registered with ``concierge staff add``."""

    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    # The Telegram channel's identity (also their private chat's id); see services.actors.
    telegram_id: int = Field(sa_type=BigInteger, unique=True, index=True)
    name: str = Field(max_length=64)
    department: str = Field(max_length=32, index=True)
    role: str = Field(default=Role.STAFF, max_length=16)
    language: str = Field(max_length=8)
    on_duty: bool = False
    active: bool = True
    blocked_at: datetime | None = _when(default=None)  # blocked the bot; off duty until /start
    # The staff member's next plain text answers this prompt (see services.prompts).
    prompt_kind: str | None = Field(default=None, max_length=16)
    prompt_request_id: int | None = None
    prompt_until: datetime | None = _when(default=None)
    created_at: datetime = _when()

    @property
    def is_supervisor(self) -> bool:
        """Whether this person gets escalations and reports."""
        return self.role == Role.SUPERVISOR


class Request(SQLModel, table=True):
    """One thing a guest asked for."""

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status_department", "status", "department"),
        Index("ix_requests_created_at", "created_at"),  # reports by period
    )

    id: int | None = Field(default=None, primary_key=True)
    guest_id: int = Field(foreign_key="guests.id", index=True)
    department: str = Field(max_length=32)
    status: str = Field(default=RequestStatus.OPEN, max_length=16)
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    media_kind: str | None = Field(default=None, max_length=16)
    media_file_id: str | None = Field(default=None, max_length=256)
    latitude: float | None = None
    longitude: float | None = None
    room: str | None = Field(default=None, max_length=16)
    language: str = Field(max_length=8)
    routed_by: str = Field(default="keywords", max_length=16)
    assignee_id: int | None = Field(default=None, foreign_key="staff.id")
    reopened_count: int = 0
    priority: str = Field(default="normal", max_length=16)  # "normal" or "urgent"
    message_id: int | None = Field(default=None, sa_type=BigInteger)  # the guest's first message
    merged_into_id: int | None = None  # closed as a duplicate of this request
    rating: int | None = None
    created_at: datetime = _when()
    updated_at: datetime = _when()
    accepted_at: datetime | None = _when(default=None)
    done_at: datetime | None = _when(default=None)
    closed_at: datetime | None = _when(default=None)


class Offer(SQLModel, table=True):
    """The copy of a request shown to one staff member, so it can be edited later."""

    __tablename__ = "offers"
    __table_args__ = (Index("ix_offers_request_status", "request_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="requests.id")
    staff_id: int = Field(foreign_key="staff.id", index=True)
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    status: str = Field(default=OfferStatus.ACTIVE, max_length=16)
    created_at: datetime = _when()


class FollowUp(SQLModel, table=True):
    """A check-in with the guest after a request was done."""

    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_status_due", "status", "due_at"),
        Index("ix_followups_sent_at", "sent_at"),  # the day's follow-up log
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="requests.id", index=True)
    status: str = Field(default=FollowUpStatus.PENDING, max_length=16)
    due_at: datetime = _when()
    sent_at: datetime | None = _when(default=None)
    expires_at: datetime | None = _when(default=None)
    answer: str | None = Field(default=None, max_length=8)
    answered_at: datetime | None = _when(default=None, index=True)
    rating: int | None = None
    language: str = Field(max_length=8)
    created_at: datetime = _when()


class Event(SQLModel, table=True):
    """One row of a request's audit trail; rows are only ever inserted."""

    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="requests.id", index=True)
    kind: str = Field(max_length=32)
    actor_kind: str = Field(max_length=16)
    actor_id: int | None = None
    actor_name: str = Field(default="", max_length=128)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = _when()


class Invite(SQLModel, table=True):
    """A single-use invitation to join the staff; only the code's hash is kept."""

    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    role: str = Field(default=Role.STAFF, max_length=16)
    department: str = Field(max_length=32)
    language: str | None = Field(default=None, max_length=8)
    created_by: int | None = Field(default=None, foreign_key="staff.id")
    created_at: datetime = _when()
    expires_at: datetime = _when()
    used_at: datetime | None = _when(default=None)
    used_by: int | None = Field(default=None, foreign_key="staff.id")


class GuestNote(SQLModel, table=True):
    """Something staff noted about a guest ("allergic to feathers"), shown on later cards."""

    __tablename__ = "guest_notes"

    id: int | None = Field(default=None, primary_key=True)
    guest_id: int = Field(foreign_key="guests.id", index=True)
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    text: str = Field(max_length=500)
    created_at: datetime = _when()


class Question(SQLModel, table=True):
    """A guest's question answered from the hotel's knowledge base, not made a request."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_created_at", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    guest_id: int = Field(foreign_key="guests.id", index=True)
    entry: str = Field(max_length=64)  # the knowledge base entry's key
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    language: str = Field(max_length=8)
    request_id: int | None = None  # "not what I asked": sent on to staff as this request
    created_at: datetime = _when()


class OutboxStatus(StrEnum):
    """Delivery state of one outgoing message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # given up: permanent error, blocked chat, or too old
    SKIPPED = "skipped"  # an edit whose message no longer exists


class OutboxMessage(SQLModel, table=True):
    """A message to deliver, written in the transaction of the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_not_before", "status", "not_before"),
        Index("ix_outbox_chat_status_id", "chat_id", "status", "id"),
        Index("ix_outbox_chat_message", "chat_id", "message_id"),  # a reply names its message
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    request_id: int | None = None  # the request the message is about, if any (threads replies)
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    not_before: datetime = _when()
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _when(default=None)
    send_at: datetime | None = _when(default=None)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(default=None)
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    last_error: str | None = Field(default=None, max_length=300)


class Pacing(SQLModel, table=True):
    """Pacing state per chat (and ``GLOBAL_PACING`` for the whole bot), shared by instances."""

    __tablename__ = "pacing"

    chat_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    tat: datetime = _when()


GLOBAL_PACING = 0


class TimerStatus(StrEnum):
    """Lifecycle of one durable timer."""

    PENDING = "pending"
    FIRED = "fired"  # its handler ran and committed
    CANCELLED = "cancelled"
    FAILED = "failed"  # its handler kept failing; given up


class Timer(SQLModel, table=True):
    """Something to do at a time: one row per key, fired by the handler of its kind."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    key: str = Field(max_length=128, unique=True)  # deterministic, e.g. ``followup:42:ask``
    due_at: datetime = _when()
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=TimerStatus.PENDING, max_length=16)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _when(default=None)
    created_at: datetime = _when()
    fired_at: datetime | None = _when(default=None)
    last_error: str | None = Field(default=None, max_length=300)


class InboundStatus(StrEnum):
    """Processing state of one stored Telegram update."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class InboundUpdate(SQLModel, table=True):
    """A Telegram update, stored before Telegram is told it was received."""

    __tablename__ = "inbound_updates"
    __table_args__ = (Index("ix_inbound_status_chat", "status", "chat_id", "update_id"),)

    update_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default=InboundStatus.PENDING, max_length=16)
    attempts: int = 0
    not_before: datetime = _when()
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _when(default=None)
    received_at: datetime = _when()
    handled_at: datetime | None = _when(default=None)
    last_error: str | None = Field(default=None, max_length=300)
