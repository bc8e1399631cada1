"""Notices: what someone is told, as data — no text, no language, no channel.

A use case decides who is told what and puts a notice for each reader into the outbox (see
``bot.notifier.Outgoing``); the channel renders it in the reader's locale just before it is sent
(``bot.render``, with the texts of ``bot.texts``). Every field is a plain JSON value snapshotted
when the use case ran (numbers, strings, flags, tuples of them), never an ORM object, so a
stored notice reads the same whenever and wherever it is rendered.

Stored as ``{"kind": ..., **fields}``; read back with ``decode``, which looks the class up by
its kind and calls it with the stored fields — no reflection per message (tuples come back as
lists, which renderers only iterate).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, dataclass_transform

from bot.models import Priority, Request
from bot.services import errors

SNIPPET_LIMIT = 60

KINDS: dict[str, type[Notice]] = {}


@dataclass_transform(frozen_default=True)
class Notice:
    """Something a reader is told: each subclass is a frozen dataclass, registered under its
    ``kind`` (its name in snake case)."""

    kind: ClassVar[str] = ""
    # A menu: when a newer one of its kind is sent to the same chat, this one loses its buttons.
    menu: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = "".join(f"_{c.lower()}" if c.isupper() else c for c in cls.__name__).lstrip("_")
        if kind in KINDS:
            raise TypeError(f"two notices are called {kind!r}")
        cls.kind = kind
        KINDS[kind] = dataclass(frozen=True)(cls)

    def encode(self) -> dict[str, Any]:
        """The notice as JSON for the outbox row."""
        return {"kind": self.kind, **self.__dict__}


def decode(data: dict[str, Any]) -> Notice:
    """The notice stored by ``Notice.encode``."""
    params = dict(data)
    return KINDS[params.pop("kind")](**params)


def snippet_of(request: Request, limit: int = SNIPPET_LIMIT) -> str:
    """A short quote of the request's text for lists and questions ('' if it has none)."""
    text = " ".join(request.text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- shared by every audience ----------------------------------------------------------------


class Prerendered(Notice):
    """A finished text in the reader's locale, with buttons as stored ``[label, data]`` pairs.

    For the supervisors' computed views (a timeline, a day's follow-ups, a month's report over
    up to a million rows are read in a worker thread and formatted there, in the reader's
    locale), and for outbox rows written before notices existed.
    """

    text: str
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()


class UnknownCommand(Notice):
    """An unknown command, answered with the reader's help."""

    staff: bool = False
    supervisor: bool = False


class LanguagePrompt(Notice):
    """Ask to choose one of ``languages`` (locale codes), as buttons."""

    languages: tuple[str, ...]
    menu = True


class LanguageSet(Notice):
    """Confirm the new language, in that language."""


class YourId(Notice):
    """The sender's numeric Telegram id, needed to register staff."""

    telegram_id: int


class EditNotForwarded(Notice):
    """Edits of sent messages are not passed on."""


class Unsupported(Notice):
    """A polite answer to stickers, games and the like."""


class TryAgainLater(Notice):
    """Something broke on our side; the reader should send again."""


class DelayedByOutage(Notice):
    """The database is down: the message waits and will be handled."""


class Reason(StrEnum):
    """Why an action was refused (the domain errors of ``bot.services.errors``)."""

    ALREADY_TAKEN = "already_taken"
    STALE = "stale"
    NOT_YOURS = "not_yours"
    UNKNOWN_REQUEST = "unknown_request"
    ALREADY_ANSWERED = "already_answered"
    NOT_SUPERVISOR = "not_supervisor"
    NOT_REGISTERED = "not_registered"
    UNKNOWN_DEPARTMENT = "unknown_department"
    NO_LONGER_APPLIES = "no_longer_applies"
    QUESTION_GONE = "question_gone"
    ALREADY_SENT_ON = "already_sent_on"


class Refused(Notice):
    """A domain error as a short answer (fits a callback alert)."""

    reason: str  # a Reason
    request_id: int = 0
    status: str = ""
    name: str = ""


def refused(error: errors.DomainError) -> Refused:
    """The refusal a domain error stands for."""
    if isinstance(error, errors.AlreadyTaken):
        return Refused(Reason.ALREADY_TAKEN, request_id=error.request_id, name=error.by)
    if isinstance(error, errors.StaleAction):
        return Refused(Reason.STALE, request_id=error.request_id, status=error.status)
    if isinstance(error, errors.NotYours):
        return Refused(Reason.NOT_YOURS, request_id=error.request_id)
    if isinstance(error, errors.UnknownRequest):
        return Refused(Reason.UNKNOWN_REQUEST, request_id=error.request_id)
    if isinstance(error, errors.AlreadyAnswered):
        return Refused(Reason.ALREADY_ANSWERED)
    if isinstance(error, errors.NotSupervisor):
        return Refused(Reason.NOT_SUPERVISOR)
    if isinstance(error, errors.NotRegistered):
        return Refused(Reason.NOT_REGISTERED)
    if isinstance(error, errors.UnknownDepartment):
        return Refused(Reason.UNKNOWN_DEPARTMENT)
    if isinstance(error, errors.QuestionGone):
        return Refused(Reason.QUESTION_GONE)
    if isinstance(error, errors.AlreadySentOn):
        return Refused(Reason.ALREADY_SENT_ON, request_id=error.request_id)
    return Refused(Reason.NO_LONGER_APPLIES)


# --- guests ----------------------------------------------------------------------------------


class GuestHelp(Notice):
    """What a guest can do."""


class Welcome(Notice):
    """The greeting after /start."""

    first_name: str
    room: str | None


class AskRoom(Notice):
    """Ask the guest for the room number."""


class RoomSaved(Notice):
    """Confirm the room number; ``request_ids``: the open requests it was added to."""

    room: str
    request_ids: tuple[int, ...] = ()


class RoomStillNeeded(Notice):
    """Ask again, with the acknowledgement of a request, for a room the bot does not know."""

    request_id: int


class RoomLinkInvalid(Notice):
    """A ``/start`` room link that is not one of the hotel's (tampered, or from elsewhere)."""


class RoomInvalid(Notice):
    """The room number does not look like one."""


class RequestAck(Notice):
    """The instant acknowledgement of a new request, honest about who has it (a ``Tier``);
    ``choices``: the other departments the guest may pick, when no keyword matched."""

    request_id: int
    department: str
    tier: str
    choices: tuple[str, ...] = ()
    urgent: bool = False  # treated as urgent: the guest is told, and whom to call


class DepartmentPicked(Notice):
    """Confirm the guest's choice of department."""

    request_id: int
    department: str
    tier: str


class AcceptedForGuest(Notice):
    """Tell the guest who took the request."""

    request_id: int
    name: str
    department: str


class DoneForGuest(Notice):
    """Tell the guest the request is done."""

    request_id: int


class MergedForGuest(Notice):
    """Tell the guest that ``request_id`` is handled together with ``into_id``."""

    request_id: int
    into_id: int


class CancelledForGuest(Notice):
    """Confirm a cancellation to the guest."""

    request_id: int


class GuestRequests(Notice):
    """The guest's /requests list: (number, department, status, snippet, media kind) each;
    the waiting and accepted ones get a Cancel button."""

    requests: tuple[tuple[int, str, str, str, str | None], ...]
    menu = True


class FollowupQuestion(Notice):
    """The follow-up check-in, with its two answers as buttons."""

    followup_id: int
    request_id: int
    snippet: str
    media_kind: str | None


class FollowupThanks(Notice):
    """Reply to a positive follow-up."""

    request_id: int


class RatingQuestion(Notice):
    """Ask for an optional rating, with 1–5 as buttons."""

    followup_id: int


class RatingThanks(Notice):
    """Thank the guest for a rating."""

    rating: int


class ReopenedForGuest(Notice):
    """Reply to a negative follow-up; ``ask_why``: with the question what is still wrong."""

    request_id: int
    department: str
    ask_why: bool = True


class AddedForGuest(Notice):
    """Confirm that the guest's message joined request ``request_id`` (``relay``: it answered a
    staff member, and went to them; ``reopened``: the done request is open again)."""

    request_id: int
    relay: bool = False
    reopened: bool = False


class StaffMessage(Notice):
    """What a staff member wrote to the guest about a request, as written: ``text`` is in
    ``language`` (the staff member's), for a translation step at rendering; ``name``: their
    first name."""

    request_id: int
    name: str
    text: str
    language: str


class Courtesy(Notice):
    """A guest's thanks, greeting, "ok" or emoji, answered in kind without a request
    (``said``: a ``bot.smalltalk.SmallTalk`` value)."""

    said: str


class InstantAnswer(Notice):
    """A guest's question answered from the hotel's knowledge base (``answer``: the entry's
    text in the guest's language), with a button to send the question to staff after all."""

    question_id: int
    answer: str


class AnswerSentOn(Notice):
    """The instant answer, edited once its question went on to staff as ``request_id``."""

    answer: str
    request_id: int


class AddedQuietly(Notice):
    """A guest sends more to a request in a minute than the per-minute limit: all of it is
    kept on the request, and staff read it there rather than message by message."""

    request_id: int


class SlowDown(Notice):
    """A guest sends more messages than the per-minute limit."""

    limit: int


class ForgetQuestion(Notice):
    """Confirm /forgetme before erasing anything, with Erase and Keep buttons."""


class Forgotten(Notice):
    """Confirm the erasure."""


class Kept(Notice):
    """The guest chose not to erase."""


# --- staff -----------------------------------------------------------------------------------


class StaffHelp(Notice):
    """What a staff member can do (and a supervisor, with ``supervisor``)."""

    supervisor: bool


class StaffWelcome(Notice):
    """The greeting of a registered staff member after /start."""

    name: str
    department: str
    supervisor: bool
    on_duty: bool


class DutyStatus(Notice):
    """Whether the staff member is on duty, with a button to switch."""

    on_duty: bool
    menu = True


class WaitingSent(Notice):
    """How many waiting requests were offered when a shift started."""

    count: int


class StillAssigned(Notice):
    """Remind a staff member going off duty of their accepted requests."""

    request_ids: tuple[int, ...]


class CardStatus(StrEnum):
    """The status line under a staff member's copy of a request."""

    NONE = ""
    ACCEPTED_BY_YOU = "accepted_by_you"
    TAKEN_BY = "taken_by"  # name: who took it
    DONE_BY = "done_by"  # name: who did it
    RELEASED_BY_YOU = "released_by_you"
    CANCELLED_BY_GUEST = "cancelled_by_guest"
    MOVED_TO = "moved_to"  # name: the department's key
    WITHDRAWN_OFF_DUTY = "withdrawn_off_duty"
    HANDED_ON = "handed_on"  # name: the department's key; the reader left the staff
    ERASED = "erased"
    DISMISSED_BY = "dismissed_by"  # name: who closed it as not a request
    MERGED_INTO = "merged_into"  # name: who merged it (into ``Card.merged_into``)


class CardButtons(StrEnum):
    """The buttons under a staff member's copy of a request."""

    NONE = ""
    ACCEPT = "accept"
    ASSIGNEE = "assignee"  # Done and Release


@dataclass(frozen=True)
class Memory:
    """What staff know of a request's guest when its card is built (``services.memory``):
    how many requests they made earlier this stay, the last few as (number, status), and
    the newest notes about them, shortened for the card."""

    earlier: int = 0
    recent: tuple[tuple[int, str], ...] = ()
    notes: tuple[str, ...] = ()


NO_MEMORY = Memory()


class Card(Notice):
    """A request as a staff member sees it: a new offer, or an edit of their copy."""

    request_id: int
    department: str
    room: str | None
    language: str
    reopened: bool
    media_kind: str | None
    text: str
    tier: str = "department"
    full_text_above: bool = False
    status: str = CardStatus.NONE
    name: str = ""
    buttons: str = CardButtons.NONE
    merged_into: int = 0  # closed as a duplicate of this request
    earlier: int = 0  # the guest's memory (``Memory``)
    recent: tuple[tuple[int, str], ...] = ()
    notes: tuple[str, ...] = ()
    urgent: bool = False


def card(
    request: Request,
    *,
    tier: str = "department",
    full_text_above: bool = False,
    status: CardStatus = CardStatus.NONE,
    name: str = "",
    buttons: CardButtons = CardButtons.NONE,
    memory: Memory = NO_MEMORY,
) -> Card:
    """The card of ``request`` as it is now, with what staff know of its guest."""
    assert request.id is not None
    return Card(
        request_id=request.id,
        department=request.department,
        room=request.room,
        language=request.language,
        reopened=bool(request.reopened_count),
        media_kind=request.media_kind,
        text="" if full_text_above else request.text,
        tier=tier,
        full_text_above=full_text_above,
        status=status,
        name=name,
        buttons=buttons,
        merged_into=request.merged_into_id or 0,
        earlier=memory.earlier,
        recent=memory.recent,
        notes=memory.notes,
        urgent=request.priority == Priority.URGENT,
    )


class DismissReason(StrEnum):
    """The quick answers to "why is this not a request?"."""

    CHAT = "chat"  # just a thanks or a chat
    DUPLICATE = "duplicate"
    TEST = "test"
    NONE = "none"  # no reason given


class DismissQuestion(Notice):
    """Ask why request ``request_id`` is not a request: quick reasons as buttons, or a line."""

    request_id: int


class Dismissed(Notice):
    """Confirm to the staff member that the request was closed as not a request."""

    request_id: int


class KeptOpen(Notice):
    """The staff member chose to leave the request open after all."""

    request_id: int


class MergeChoices(Notice):
    """The guest's other open requests to merge ``request_id`` into: (number, status, snippet,
    media kind) each, with a "Merge into" button; none: a polite refusal."""

    request_id: int
    choices: tuple[tuple[int, str, str, str | None], ...]


class Merged(Notice):
    """Confirm to the staff member that ``request_id`` was merged into ``into_id``."""

    request_id: int
    into_id: int


class NoteQuestion(Notice):
    """Ask for a note about the guest of ``request_id`` (at most ``limit`` characters)."""

    request_id: int
    limit: int


class NoteSaved(Notice):
    """Confirm a note about the guest of ``request_id``."""

    request_id: int


class NoteTooLong(Notice):
    """A note over ``limit`` characters (it had ``length``) is refused; a shorter one is asked."""

    limit: int
    length: int


class GuestUsage(Notice):
    """How to call /guest."""


class GuestsInRoom(Notice):
    """``/guest 412``: each guest in ``room`` as (language, requests of the stay, notes): the
    requests count, then (number, status, snippet, media kind) of the newest, then notes as
    (text, author); none: nobody is known to be in the room."""

    room: str
    guests: tuple[
        tuple[
            str,
            int,
            tuple[tuple[int, str, str, str | None], ...],
            tuple[tuple[str, str], ...],
        ],
        ...,
    ]


class Quote(Notice):
    """A part of a guest's long text, shown as written above the card."""

    text: str
    request_id: int | None = None  # None in rows stored before it was kept


class QuoteErased(Notice):
    """What a part of a guest's long text says once the guest had their data erased (when the
    message is too old to delete)."""


class Addition(StrEnum):
    """How a guest's later message joined a request, as the staff see it."""

    ADDED = "added"  # a reply to a message about it, a burst, an explanation
    ANSWER = "answer"  # the answer to a staff member's message
    REOPENED = "reopened"  # added to a done request, which is open again
    MERGED = "merged"  # a duplicate of the same guest, merged into it by staff


class GuestAdded(Notice):
    """A guest's later message about a request, for the staff who hold it (pointing to their
    card): ``text`` as written, in ``language`` (the request's), for a translation step at
    rendering; ``how``: an ``Addition``."""

    request_id: int
    room: str | None
    text: str
    media_kind: str | None
    language: str
    how: str = Addition.ADDED


class ReplyPrompt(Notice):
    """Ask the staff member for the message to send to the guest of a request."""

    request_id: int


class RelaySent(Notice):
    """Confirm that the staff member's message went to the guest."""

    request_id: int


class RelayClosed(Notice):
    """The request is finished: nothing more is relayed to its guest."""

    request_id: int


class CancelledForAssignee(Notice):
    """Tell the assignee that the guest cancelled."""

    request_id: int


class StaffTasks(Notice):
    """The /tasks list: (number, room, snippet, media kind) each."""

    requests: tuple[tuple[int, str | None, str, str | None], ...]


# --- supervisors -----------------------------------------------------------------------------


class NegativeFollowupAlert(Notice):
    """A guest said a request is not fixed."""

    request_id: int
    room: str | None
    department: str


class UrgentAlert(Notice):
    """An urgent request, for the supervisors at once: created urgent or marked so later."""

    request_id: int
    room: str | None
    department: str
    text: str  # a snippet
    media_kind: str | None = None


class StaffUnreachableAlert(Notice):
    """A staff member blocked the bot; ``count`` of their requests were handed on."""

    name: str
    department: str
    count: int


class CheckoutUsage(Notice):
    """How to call /checkout."""


class CheckedOut(Notice):
    """``count`` guests' stays in ``room`` were ended by a supervisor's /checkout."""

    room: str
    count: int


class LogUsage(Notice):
    """How to call /log."""


class FollowupsUsage(Notice):
    """How to call /followups."""


class ReportUsage(Notice):
    """How to call /report."""
