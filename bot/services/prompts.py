"""A staff member's next plain text as the answer to something the bot asked them.

A button on a request card ("Reply to the guest", "Note about the guest", "Not a request")
may need a line of text. The bot asks for it and remembers the question on the staff member
(``Staff.prompt_kind``, ``prompt_request_id``, ``prompt_until``); their next plain text in the
private chat within ``PROMPT_MINUTES`` is the answer, handled by the use case registered for
the kind. Asking again replaces the question; ``/cancel`` or the time running out drops it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.models import Staff
from bot.notices import StaffHelp
from bot.notifier import Outbox
from bot.services.common import Env, tell

PROMPT_MINUTES = 10

# kind -> use case answering it: (session, out, env, *, staff, request_id, text, now)
Answer = Callable[..., object]
ANSWERS: dict[str, Answer] = {}


def answers(kind: str) -> Callable[[Answer], Answer]:
    """Register the use case that takes the text answering prompts of ``kind``."""

    def register(use_case: Answer) -> Answer:
        if kind in ANSWERS:
            raise ValueError(f"two answers for the prompt kind {kind!r}")
        ANSWERS[kind] = use_case
        return use_case

    return register


@dataclass(frozen=True)
class Pending:
    """What the staff member's next text answers: ``kind`` about request ``request_id``."""

    kind: str
    request_id: int | None


def ask(staff: Staff, kind: str, request_id: int | None, now: datetime) -> None:
    """Take ``staff``'s next plain text as the answer to ``kind`` (the caller tells them)."""
    staff.prompt_kind, staff.prompt_request_id = kind, request_id
    staff.prompt_until = now + timedelta(minutes=PROMPT_MINUTES)


def pending(staff: Staff, now: datetime) -> Pending | None:
    """The question ``staff``'s next text answers, if one is still open."""
    if staff.prompt_kind is None or staff.prompt_until is None or staff.prompt_until <= now:
        return None
    return Pending(staff.prompt_kind, staff.prompt_request_id)


def take(staff: Staff, now: datetime) -> Pending | None:
    """The open question, cleared: a text answers it once."""
    found = pending(staff, now)
    clear(staff)
    return found


def clear(staff: Staff) -> None:
    """Drop the open question, if any."""
    staff.prompt_kind = staff.prompt_request_id = staff.prompt_until = None


def answer(
    session: Session, out: Outbox, env: Env, *, staff_id: int | None, text: str, now: datetime
) -> bool:
    """Give a staff member's plain text to the prompt it answers; without one (or after it
    ran out) they get their help. True if a prompt took it."""
    staff = session.get(Staff, staff_id) if staff_id is not None else None
    if staff is None or not staff.active:
        return False
    found = take(staff, now)
    session.add(staff)
    use_case = ANSWERS.get(found.kind) if found is not None else None
    if found is None or use_case is None:
        tell(out, staff, StaffHelp(staff.is_supervisor))
        return False
    use_case(session, out, env, staff=staff, request_id=found.request_id, text=text, now=now)
    return True
