"""The follow-up's answer timeout (timer kind ``followup.expire``): a question nobody answered
in ``timings.followup_answer_timeout`` is logged as unanswered and closes the request.

A whole timer kind in one module: its name and key, how it starts and stops, and its handler
(registered in ``bot.timers.kinds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, update
from sqlmodel import Session, col

from bot import lifecycle, timers
from bot.lifecycle import Action
from bot.models import EventKind, FollowUp, FollowUpStatus
from bot.notifier import Outbox
from bot.services.common import Env, record_each
from bot.timers import Due

EXPIRE = "followup.expire"


def key(followup_id: int) -> str:
    """The key of a follow-up's answer timeout."""
    return f"followup:{followup_id}:expire"


def start(
    session: Session, out: Outbox, followup_ids: Sequence[int], expires: datetime, now: datetime
) -> None:
    """Start the answer timeout of questions just sent."""
    timers.schedule_many(
        session,
        out,
        EXPIRE,
        [(key(f), expires, {"followup": f}) for f in followup_ids],
        now=now,
    )


def stop(session: Session, followup_id: int) -> None:
    """The guest answered in time."""
    timers.cancel(session, key(followup_id))


def expire_due(
    session: Session, _out: Outbox, _env: Env, now: datetime, batch: Sequence[Due]
) -> None:
    """Handler of ``followup.expire``: mark the questions still unanswered and close their
    requests if they are still done; a late answer still counts (``followups.answer``)."""
    connection = session.connection()
    expired = connection.execute(
        update(FollowUp)
        .where(
            col(FollowUp.id).in_([int(due.payload["followup"]) for due in batch]),
            col(FollowUp.status) == FollowUpStatus.SENT,
        )
        .values(status=FollowUpStatus.UNANSWERED)
        .returning(col(FollowUp.request_id))
    ).scalars()
    request_ids = [int(r) for r in expired]
    record_each(connection, request_ids, EventKind.FOLLOWUP_UNANSWERED, now)
    close_unanswered(connection, request_ids, now)


def close_unanswered(connection: Connection, request_ids: Sequence[int], now: datetime) -> None:
    """Close the requests, among ``request_ids``, that are still done: the only request status
    change the follow-up timers make."""
    lifecycle.move_many(connection, request_ids, Action.EXPIRE, now)
