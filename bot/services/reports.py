"""Supervisors' views: a request's timeline and a day's follow-up log."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from bot import messages
from bot.models import Event, FollowUp, Guest, Request, Staff
from bot.services import errors
from bot.services.common import Env
from bot.services.requests import staff_member


class BadDay(ValueError):
    """The day argument of /followups is not understood."""


def supervisor(session: Session, telegram_id: int) -> Staff:
    """The active supervisor with this Telegram id, else a domain error."""
    staff = staff_member(session, telegram_id)
    if not staff.is_supervisor:
        raise errors.NotSupervisor
    return staff


def timeline(session: Session, env: Env, *, telegram_id: int, request_id: int) -> str:
    """The full timeline of a request, for a supervisor."""
    reader = supervisor(session, telegram_id)
    request = session.get(Request, request_id)
    if request is None:
        raise errors.UnknownRequest(request_id)
    guest = session.get(Guest, request.guest_id)
    events = list(
        session.exec(select(Event).where(Event.request_id == request_id).order_by(col(Event.id)))
    )
    return messages.timeline(env.hotel, env.t(reader.language), request, guest, events)


def parse_day(spec: str | None, today: date) -> date:
    """``today``, ``yesterday`` or an ISO date; ``BadDay`` otherwise."""
    word = (spec or "today").strip().lower()
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(word)
    except ValueError as exc:
        raise BadDay(word) from exc


def followup_log(
    session: Session, env: Env, *, telegram_id: int, day_spec: str | None, now: datetime
) -> str:
    """Follow-ups sent on a day in the hotel's time zone, with answers and ratings."""
    reader = supervisor(session, telegram_id)
    tz = env.hotel.tz
    day = parse_day(day_spec, now.astimezone(tz).date())
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    rows = session.exec(
        select(FollowUp, Request)
        .join(Request, col(Request.id) == FollowUp.request_id)
        .where(col(FollowUp.sent_at) >= start, col(FollowUp.sent_at) < end)
        .order_by(col(FollowUp.sent_at))
    ).all()
    t = env.t(reader.language)
    return messages.followup_log(env.hotel, t, t.date(day, "full"), [(f, r) for f, r in rows])
