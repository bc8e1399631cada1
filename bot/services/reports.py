"""Supervisors' views: a request's timeline, a day's follow-up log and a period's report.

The log and the report are computed with aggregates in the database and load only the rows
they show, so that a busy hotel's month (a million requests) answers in seconds. Those seconds
are spent in a worker thread (see ``handlers/supervisor.py`` and ``read_only``), not on the
event loop that answers guests.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, cast, func, literal_column, or_
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from bot.db import SessionFactory
from bot.i18n import Translator
from bot.models import (
    Event,
    EventKind,
    FollowUp,
    FollowUpStatus,
    Guest,
    Priority,
    Question,
    Request,
    RequestStatus,
    Staff,
    as_utc,
)
from bot.services import errors
from bot.services.common import Env
from bot.services.figures import (
    BusiestHour,
    FollowupTotals,
    PeriodFigures,
    QuestionTotals,
    Spread,
)
from bot.services.requests import staff_member
from bot.texts import supervisor as texts

# /followups lists at most this many follow-ups; a day with more lists only those that need
# attention, so that a busy hotel's day stays one message.
FOLLOWUP_LINES = 30
# Requests are counted per UTC quarter of an hour, then per local hour: every time zone's
# offset is a multiple of 15 minutes, so each quarter lies within one local hour.
QUARTER = 900
# Percentiles of a period's durations are read from at most this many requests (every k-th
# one in a busier period): exact up to this many, and no sort of a month in the database.
PERCENTILE_SAMPLE = 20_000
# What the report counts as done, and whose time to done it shows.
DONE_STATUSES = (RequestStatus.DONE, RequestStatus.CLOSED)


T = TypeVar("T")


def read_only(sessions: SessionFactory, view: Callable[[Session], T]) -> T:
    """Run ``view`` in a session of its own, which writes nothing; safe in a worker thread.

    On PostgreSQL the transaction is READ ONLY and REPEATABLE READ, so that the report's several
    queries see one snapshot; SQLite's is rolled back when the session closes.
    """
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
        return view(session)


class BadArgument(ValueError):
    """A report's argument (a day, a period) is not understood."""


class BadDay(BadArgument):
    """The day argument of /followups is not understood."""


class BadPeriod(BadArgument):
    """The period argument of /report is not understood."""


class PeriodKind(StrEnum):
    """How long a report's period is."""

    MONTH = "month"
    WEEK = "week"
    DAY = "day"


@dataclass(frozen=True)
class Period:
    """Calendar days ``first`` up to ``end`` (excluded) in the hotel's time zone."""

    kind: PeriodKind
    first: date
    end: date

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period's start and end as aware times."""
        return _midnight(self.first, tz), _midnight(self.end, tz)


def supervisor(session: Session, staff_id: int | None) -> Staff:
    """The active supervisor ``staff_id``, else a domain error."""
    staff = staff_member(session, staff_id)
    if not staff.is_supervisor:
        raise errors.NotSupervisor
    return staff


def timeline(session: Session, env: Env, *, staff_id: int | None, request_id: int) -> str:
    """The full timeline of a request, for a supervisor."""
    reader = supervisor(session, staff_id)
    request = session.get(Request, request_id)
    if request is None:
        raise errors.UnknownRequest(request_id)
    guest = session.get(Guest, request.guest_id)
    events = list(
        session.exec(select(Event).where(Event.request_id == request_id).order_by(col(Event.id)))
    )
    return texts.timeline(env.hotel, env.t(reader.language), request, guest, events)


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


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _attention() -> ColumnElement[bool]:
    """A follow-up the guest answered "not fixed", or rated 1 or 2."""
    return or_(col(FollowUp.answer) == "no", col(FollowUp.rating).between(1, 2))


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def followup_totals(session: Session, start: datetime, end: datetime) -> FollowupTotals:
    """Answers to the follow-ups sent from ``start`` to ``end``, counted in one query."""
    sent_at = col(FollowUp.sent_at)
    # More columns than sqlmodel's select() types; a plain SQLAlchemy select on the connection.
    row = (
        session.connection()
        .execute(
            sa_select(
                func.count(),
                _count_if(col(FollowUp.answer) == "yes"),
                _count_if(col(FollowUp.answer) == "no"),
                _count_if(col(FollowUp.status) == FollowUpStatus.UNANSWERED),
                func.count(col(FollowUp.rating)),
                func.avg(col(FollowUp.rating)),
                _count_if(_attention()),
            ).where(sent_at >= start, sent_at < end)
        )
        .one()
    )
    sent, yes, no, silent, rated, average, attention = row
    return FollowupTotals(
        sent=int(sent),
        all_good=int(yes),
        not_fixed=int(no),
        no_answer=int(silent),
        rated=int(rated),
        average_rating=float(average) if average is not None else None,
        needing_attention=int(attention),
    )


def followup_log(
    session: Session, env: Env, *, staff_id: int | None, day_spec: str | None, now: datetime
) -> str:
    """Follow-ups sent on a day in the hotel's time zone: totals, then the ones to look at.

    A quiet day (at most ``FOLLOWUP_LINES`` follow-ups) is listed whole, in the order sent; a
    busier one lists only those that need attention, newest first, at most
    ``FOLLOWUP_LINES`` of them.
    """
    reader = supervisor(session, staff_id)
    tz = env.hotel.tz
    day = parse_day(day_spec, now.astimezone(tz).date())
    start, end = _midnight(day, tz), _midnight(day + timedelta(days=1), tz)
    totals = followup_totals(session, start, end)
    sent_at = col(FollowUp.sent_at)
    query = (
        select(FollowUp, Request)
        .join(Request, col(Request.id) == FollowUp.request_id)
        .where(sent_at >= start, sent_at < end)
    )
    busy = totals.sent > FOLLOWUP_LINES
    if busy:
        query = query.where(_attention()).order_by(sent_at.desc(), col(FollowUp.id).desc())
    else:
        query = query.order_by(sent_at, col(FollowUp.id))
    rows = [(f, r) for f, r in session.exec(query.limit(FOLLOWUP_LINES)).all()]
    more = totals.needing_attention - len(rows) if busy else 0
    t = env.t(reader.language)
    return texts.followup_log(
        env.hotel, t, t.date(day, "full"), totals, rows, attention_only=busy, more=more
    )


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _month_of(year: int, month: int) -> Period:
    first = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    return Period(PeriodKind.MONTH, first, end)


def parse_period(spec: str | None, today: date) -> Period:
    """``month`` (the default), ``week``, ``today``, ``yesterday``, ``YYYY-MM`` or
    ``YYYY-MM-DD``, relative to ``today`` in the hotel's time zone; ``BadPeriod`` otherwise.

    ``month`` and ``week`` are the whole calendar month and ISO week (Monday to Sunday) that
    contain ``today``.
    """
    word = (spec or "month").strip().lower()
    try:
        if word == "month":
            return _month_of(today.year, today.month)
        if word == "week":
            monday = today - timedelta(days=today.weekday())
            return Period(PeriodKind.WEEK, monday, monday + timedelta(days=7))
        if word in ("today", "yesterday") or _DAY.match(word):
            day = parse_day(word, today)
            return Period(PeriodKind.DAY, day, day + timedelta(days=1))
        if found := _MONTH.match(word):
            return _month_of(int(found[1]), int(found[2]))
    except (BadDay, ValueError) as exc:  # e.g. 2026-13 or 2026-02-30
        raise BadPeriod(word) from exc
    raise BadPeriod(word)


def quarter_hour(session: Session, moment: Any) -> Any:
    """The UTC quarter of an hour that contains ``moment``, as SQL: its start on PostgreSQL,
    its number since the Unix epoch on SQLite (see ``quarter_start``)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_bin(
            literal_column("INTERVAL '15 minutes'"),
            moment,
            literal_column("TIMESTAMPTZ '2000-01-01 00:00:00+00'"),
        )
    return cast(func.strftime("%s", moment), Integer) // QUARTER


def quarter_start(value: int | datetime | str) -> datetime:
    if isinstance(value, int):
        return datetime.fromtimestamp(value * QUARTER, UTC)
    return as_utc(value)


def nearest_rank(values: list[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values`` by nearest rank: the value at ⌈q·n⌉."""
    return values[max(1, math.ceil(q * len(values))) - 1]


def spread(seconds: list[float]) -> Spread:
    """Median and 90th percentile of durations."""
    if not seconds:
        return Spread()
    ordered = sorted(seconds)
    return Spread(nearest_rank(ordered, 0.5), nearest_rank(ordered, 0.9))


def _durations(
    session: Session, start: datetime, end: datetime, requests: int, sample: int
) -> tuple[Spread, Spread]:
    """Times to accept and to done of the period's ``requests``, from at most ``sample`` of
    them: all of them in a period with no more, else every k-th request by number, so that
    the database neither sorts nor sends the whole period.

    A time to done counts only for a request that is done now (the report's "done"): one
    reopened since keeps its old ``done_at`` but has no acceptance any more, and would show a
    time to done next to "none accepted"."""
    created = col(Request.created_at)
    query = select(
        created, col(Request.accepted_at), col(Request.done_at), col(Request.status)
    ).where(created >= start, created < end)
    step = math.ceil(requests / sample)
    if step > 1:
        query = query.where(col(Request.id) % step == 0)
    to_accept: list[float] = []
    to_done: list[float] = []
    for created_at, accepted_at, done_at, status in session.exec(query.limit(sample)):
        if accepted_at is not None:
            to_accept.append((accepted_at - created_at).total_seconds())
        if done_at is not None and status in DONE_STATUSES:
            to_done.append((done_at - created_at).total_seconds())
    return spread(to_accept), spread(to_done)


def _busiest_hour(
    session: Session, start: datetime, end: datetime, tz: ZoneInfo
) -> BusiestHour | None:
    created = col(Request.created_at)
    quarter = quarter_hour(session, created)
    per_hour: Counter[int] = Counter()
    for quarter_of_hour, requests in session.exec(
        select(quarter, func.count()).where(created >= start, created < end).group_by(quarter)
    ).all():
        per_hour[quarter_start(quarter_of_hour).astimezone(tz).hour] += int(requests)
    if not per_hour:
        return None
    hour, requests = min(per_hour.items(), key=lambda item: (-item[1], item[0]))
    return BusiestHour(hour, requests)


def period_figures(
    session: Session,
    env: Env,
    start: datetime,
    end: datetime,
    *,
    sample: int = PERCENTILE_SAMPLE,
) -> PeriodFigures:
    """The figures of the requests created and the follow-ups sent from ``start`` to ``end``.

    Counts are exact; the percentiles of durations come from at most ``sample`` requests.
    """
    created = col(Request.created_at)
    # More columns than sqlmodel's select() types; a plain SQLAlchemy select on the connection.
    rows = (
        session.connection()
        .execute(
            sa_select(
                col(Request.department),
                col(Request.status),
                func.count(),
                _count_if(col(Request.reopened_count) > 0),
                _count_if(col(Request.priority) == Priority.URGENT.value),
            )
            .where(created >= start, created < end)
            .group_by(col(Request.department), col(Request.status))
        )
        .all()
    )
    departments: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    reopened = urgent = 0
    for department, status, count, reopened_here, urgent_here in rows:
        departments[department] += int(count)
        statuses[status] += int(count)
        reopened += int(reopened_here)
        urgent += int(urgent_here)
    set_aside = _set_aside(session, start, end) if statuses[RequestStatus.CLOSED] else 0
    requests = sum(departments.values())
    to_accept, to_done = _durations(session, start, end, requests, sample)
    order = {key: index for index, key in enumerate(env.hotel.department_keys)}
    return PeriodFigures(
        requests=requests,
        departments=tuple(
            sorted(departments.items(), key=lambda item: (-item[1], order.get(item[0], len(order))))
        ),
        done=sum(statuses[status] for status in DONE_STATUSES) - set_aside,
        cancelled=statuses[RequestStatus.CANCELLED],
        still_open=statuses[RequestStatus.OPEN] + statuses[RequestStatus.ACCEPTED],
        reopened=reopened,
        to_accept=to_accept,
        to_done=to_done,
        busiest_hour=_busiest_hour(session, start, end, env.hotel.tz),
        followups=followup_totals(session, start, end),
        questions=question_totals(session, start, end),
        set_aside=set_aside,
        urgent=urgent,
    )


def _set_aside(session: Session, start: datetime, end: datetime) -> int:
    """The period's requests that staff closed as not a request or as a duplicate."""
    created = col(Request.created_at)
    query = (
        select(func.count(func.distinct(col(Event.request_id))))
        .join(Request, col(Request.id) == col(Event.request_id))
        .where(
            created >= start,
            created < end,
            col(Request.status) == RequestStatus.CLOSED,
            col(Event.kind).in_([EventKind.DISMISSED.value, EventKind.MERGED.value]),
        )
    )
    return int(session.exec(query).one())


def question_totals(session: Session, start: datetime, end: datetime) -> QuestionTotals:
    """Questions answered from the knowledge base from ``start`` to ``end``, in one query."""
    created = col(Question.created_at)
    answered, sent_on = session.exec(
        select(func.count(), func.count(col(Question.request_id))).where(
            created >= start, created < end
        )
    ).one()
    return QuestionTotals(answered=int(answered), sent_on=int(sent_on))


def period_report(
    session: Session, env: Env, *, staff_id: int | None, period_spec: str | None, now: datetime
) -> str:
    """``/report``: requests and follow-ups of a month, week or day in the hotel's time zone."""
    reader = supervisor(session, staff_id)
    period = parse_period(period_spec, now.astimezone(env.hotel.tz).date())
    return period_text(session, env, period, env.t(reader.language))


def period_label(t: Translator, period: Period) -> str:
    """A period in words, as ``/report`` names it: a month, a week's days or a day."""
    if period.kind is PeriodKind.MONTH:
        return t.month(period.first)
    if period.kind is PeriodKind.WEEK:
        return t.days(period.first, period.end - timedelta(days=1))
    return t.date(period.first, "full")


def period_text(session: Session, env: Env, period: Period, t: Translator) -> str:
    """The figures of ``period`` as ``/report`` words them, for the reader of ``t``."""
    start, end = period.bounds(env.hotel.tz)
    figures = period_figures(session, env, start, end)
    return texts.period_report(env.hotel, t, period_label(t, period), figures)
