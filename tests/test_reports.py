"""Supervisors' timeline, follow-up log and period reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import I18n
from bot.models import FollowUp, FollowUpStatus, Guest, Request, RequestStatus, Staff
from bot.notices import ReportUsage
from bot.services import errors, reports
from bot.services.common import Person
from bot.services.reports import Period, PeriodKind
from bot.texts import common, render
from tests.conftest import (
    START,
    Desk,
    accept,
    answer_followup,
    mark_done,
    rate_followup,
    run_timers,
    staff_id_of,
    submit,
)

GUEST = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en")
I18N_EN = I18n("en").translator("en")


def lifecycle(desk: Desk, text: str, *, fine: bool | None, rating: int | None = None) -> int:
    request = submit(desk, GUEST, text)
    assert request.id is not None
    rid = request.id
    desk.clock.advance(60)
    accept(desk, 1001, rid)
    desk.clock.advance(600)
    mark_done(desk, 1001, rid)
    desk.clock.advance(300)
    run_timers(desk)
    followup_id = rid  # one follow-up per request in these tests
    if fine is not None:
        answer_followup(desk, GUEST.telegram_id, followup_id, fine=fine)
    if rating is not None:
        rate_followup(desk, GUEST.telegram_id, followup_id, rating)
    return rid


def test_timeline_lists_every_event_in_hotel_time(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "towels", fine=True, rating=5)

    text = desk.read(
        lambda s: reports.timeline(s, desk.env, staff_id=staff_id_of(s, 1009), request_id=1)
    )

    lines = text.splitlines()
    assert lines[0] == "Request #1 · Housekeeping · closed"
    assert lines[1] == "Room unknown · guest speaks English · John"
    events = [line.split(" — ", 1)[1] for line in lines[4:]]
    assert events == [
        "created by the guest (John)",
        "routed to Housekeeping (by keywords)",
        "offered to Maria",
        "accepted by Maria",
        "done by Maria",
        "follow-up scheduled for 10:16\u202fAM",
        "follow-up sent to the guest",
        "follow-up answered: all good",
        "closed",
        "rated ★★★★★ by the guest",
    ]
    # 09:00 UTC is 10:00 in Rome; the first event is at the start of the test clock.
    assert lines[4].startswith("11/23/26, 10:00\u202fAM — ")


def test_timeline_is_for_supervisors_only(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "towels", fine=None)
    with pytest.raises(errors.NotSupervisor):
        desk.read(
            lambda s: reports.timeline(s, desk.env, staff_id=staff_id_of(s, 1001), request_id=1)
        )
    with pytest.raises(errors.NotRegistered):
        desk.read(
            lambda s: reports.timeline(
                s, desk.env, staff_id=staff_id_of(s, GUEST.telegram_id), request_id=1
            )
        )
    with pytest.raises(errors.UnknownRequest):
        desk.read(
            lambda s: reports.timeline(s, desk.env, staff_id=staff_id_of(s, 1009), request_id=42)
        )


def test_followup_log_of_a_day(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "towels", fine=True, rating=4)
    lifecycle(desk, "pillow", fine=False)
    lifecycle(desk, "clean the room", fine=None)

    text = desk.read(
        lambda s: reports.followup_log(
            s, desk.env, staff_id=staff_id_of(s, 1009), day_spec="today", now=desk.clock.now()
        )
    )

    lines = text.splitlines()
    assert lines[:4] == [
        "Follow-ups sent on Monday, November 23, 2026",
        "Sent: 3 · all good: 1 · not fixed: 1 · no answer: 0",
        "Average rating: 4.0 from 1",
        "",
    ]
    # A quiet day lists every follow-up, in the order they were sent.
    assert lines[4] == "#1 · Housekeeping · en · sent 10:16\u202fAM · all good · ★★★★☆"
    assert lines[5].startswith("#2 · Housekeeping · en · sent ")
    assert lines[5].endswith(" · not fixed")
    assert lines[6].endswith(" · waiting for an answer")
    assert len(lines) == 7


def test_followup_log_other_days(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "towels", fine=True)
    tomorrow = START.replace(day=24)
    yesterday_view = desk.read(
        lambda s: reports.followup_log(
            s, desk.env, staff_id=staff_id_of(s, 1009), day_spec="yesterday", now=tomorrow
        )
    )
    assert "#1 · Housekeeping" in yesterday_view
    other_day = desk.read(
        lambda s: reports.followup_log(
            s, desk.env, staff_id=staff_id_of(s, 1009), day_spec="2026-11-20", now=tomorrow
        )
    )
    assert other_day.splitlines()[1] == "None."
    with pytest.raises(reports.BadDay):
        desk.read(
            lambda s: reports.followup_log(
                s, desk.env, staff_id=staff_id_of(s, 1009), day_spec="someday", now=tomorrow
            )
        )


# --- seeded history ---------------------------------------------------------------------------

ROME = ZoneInfo("Europe/Rome")


def rome(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    """A time on the hotel's clock (Europe/Rome), as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=ROME).astimezone(UTC)


def seed_request(
    desk: Desk,
    created: datetime,
    *,
    department: str = "housekeeping",
    status: RequestStatus = RequestStatus.CLOSED,
    accept: float | None = None,
    done: float | None = None,
    reopened: int = 0,
) -> int:
    """A request as the services leave it: ``accept`` and ``done`` are seconds after creation."""
    with desk.sessions() as session:
        guest = session.get(Guest, 1)
        if guest is None:
            guest = Guest(
                id=1,
                telegram_id=GUEST.telegram_id,
                chat_id=GUEST.chat_id,
                first_name="John",
                language="en",
                created_at=created,
                updated_at=created,
            )
            session.add(guest)
            session.flush()
        request = Request(
            guest_id=1,
            department=department,
            status=status,
            text="towels",
            language="en",
            reopened_count=reopened,
            created_at=created,
            updated_at=created,
            accepted_at=created + timedelta(seconds=accept) if accept is not None else None,
            done_at=created + timedelta(seconds=done) if done is not None else None,
        )
        session.add(request)
        session.commit()
        assert request.id is not None
        return request.id


def seed_followup(
    desk: Desk,
    request_id: int,
    sent: datetime,
    *,
    answer: str | None = None,
    rating: int | None = None,
    unanswered: bool = False,
) -> None:
    """A follow-up sent at ``sent``, answered ``yes``/``no``, ignored, or still waiting."""
    if answer is not None:
        status = FollowUpStatus.ANSWERED
    else:
        status = FollowUpStatus.UNANSWERED if unanswered else FollowUpStatus.SENT
    with desk.sessions() as session:
        session.add(
            FollowUp(
                request_id=request_id,
                status=status,
                due_at=sent,
                sent_at=sent,
                answer=answer,
                answered_at=sent + timedelta(minutes=5) if answer else None,
                rating=rating,
                language="en",
                created_at=sent,
            )
        )
        session.commit()


def report(desk: Desk, spec: str | None, now: datetime, telegram_id: int = 1009) -> str:
    return desk.read(
        lambda s: reports.period_report(
            s, desk.env, staff_id=staff_id_of(s, telegram_id), period_spec=spec, now=now
        )
    )


@pytest.fixture
def november(desk: Desk, sofia_supervisor: Staff) -> None:
    """Ten requests of November 2026 and one on each side of it, in the hotel's time."""
    done = RequestStatus.DONE  # done, waiting for the follow-up; the default is closed
    # Just before November in Rome (22:30 UTC) and just after it (Nov 30, 23:10 UTC).
    seed_request(desk, rome(10, 31, 23, 30), accept=1, done=2)
    seed_request(desk, rome(12, 1, 0, 10), department="maintenance", accept=1, done=2)
    # In November: 00:30 on the 1st is still October 31 in UTC.
    first = seed_request(desk, rome(11, 1, 0, 30), accept=60, done=600)
    second = seed_request(desk, rome(11, 2, 10, 5), accept=120, done=900)
    third = seed_request(desk, rome(11, 3, 10, 20), accept=180, done=1200, reopened=1)
    fourth = seed_request(desk, rome(11, 5, 10, 45), status=done, accept=240, done=1500)
    fifth = seed_request(desk, rome(11, 9, 10, 59), department="front_desk", accept=300, done=1800)
    sixth = seed_request(
        desk,
        rome(11, 12, 14),
        department="front_desk",
        status=done,
        accept=360,
        done=2400,
        reopened=2,
    )
    seed_request(desk, rome(11, 15, 14, 30), accept=420, done=7200)
    seed_request(
        desk,
        rome(11, 20, 14, 59),
        department="maintenance",
        status=RequestStatus.CANCELLED,
        accept=480,
    )
    seed_request(desk, rome(11, 28, 18), status=RequestStatus.ACCEPTED, accept=3600)
    seed_request(desk, rome(11, 30, 23, 59), department="front_desk", status=RequestStatus.OPEN)
    seed_followup(desk, first, rome(11, 1, 1), answer="yes", rating=5)
    seed_followup(desk, second, rome(11, 2, 11), answer="yes", rating=4)
    seed_followup(desk, third, rome(11, 3, 11), answer="no", rating=2)
    seed_followup(desk, fourth, rome(11, 5, 11, 30), unanswered=True)
    seed_followup(desk, fifth, rome(11, 9, 11, 30))
    # Sent just after midnight on December 1 in Rome: not November's.
    seed_followup(desk, sixth, rome(12, 1, 0, 5), answer="yes", rating=1)


def test_report_of_a_month(desk: Desk, november: None) -> None:
    text = report(desk, None, rome(11, 30, 21))

    assert text.splitlines() == [
        "Report for November 2026",
        "",
        "Requests created: 10",
        "• Housekeeping: 6 (60%)",
        "• Front desk: 3 (30%)",
        "• Maintenance: 1 (10%)",
        "Done: 7 · cancelled: 1 · still open: 2",
        "Reopened after a follow-up: 2",
        # 60 … 480 s and one hour: the 5th of 9 and the 9th of 9.
        "Time to accept: median 5 min · 90th percentile 1 h",
        # 600 … 2400 s and two hours: the 4th of 7 and the 7th of 7.
        "Time to done: median 25 min · 90th percentile 2 h",
        "Busiest hour: 10:00\u202fAM–11:00\u202fAM (4 requests)",
        "",
        "Follow-ups:",
        "Sent: 5 · all good: 2 · not fixed: 1 · no answer: 1",
        "Average rating: 3.7 from 3",
    ]
    assert report(desk, "2026-11", rome(12, 15, 9)) == text
    assert report(desk, "month", rome(11, 1, 0, 1)) == text


def test_report_periods_follow_the_hotel_clock(desk: Desk, november: None) -> None:
    # 00:30 on December 1 in Rome is still November 30 in UTC.
    just_after = rome(12, 1, 0, 30)

    december = report(desk, None, just_after)
    assert december.splitlines()[:4] == [
        "Report for December 2026",
        "",
        "Requests created: 1",
        "• Maintenance: 1 (100%)",
    ]
    assert "Busiest hour: 12:00\u202fAM–1:00\u202fAM (1 request)" in december
    assert december.splitlines()[-3:] == [
        "Follow-ups:",
        "Sent: 1 · all good: 1 · not fixed: 0 · no answer: 0",
        "Average rating: 1.0 from 1",
    ]
    today = report(desk, "today", just_after)
    assert today.splitlines()[0] == "Report for Tuesday, December 1, 2026"
    assert today.splitlines()[1:] == december.splitlines()[1:]

    yesterday = report(desk, "yesterday", just_after)
    assert yesterday.splitlines() == [
        "Report for Monday, November 30, 2026",
        "",
        "Requests created: 1",
        "• Front desk: 1 (100%)",
        "Done: 0 · cancelled: 0 · still open: 1",
        "Reopened after a follow-up: 0",
        "Time to accept: none accepted",
        "Time to done: none done",
        "Busiest hour: 11:00\u202fPM–12:00\u202fAM (1 request)",
        "",
        "No follow-ups were sent in this period.",
    ]
    assert report(desk, "2026-11-30", just_after) == yesterday

    # Wednesday, November 4: the week from Monday 2 to Sunday 8.
    week = report(desk, "week", rome(11, 4, 12)).splitlines()
    assert week[0] == "Report for Nov 2\u2009–\u20098, 2026"
    assert week[2] == "Requests created: 3"
    assert "Busiest hour: 10:00\u202fAM–11:00\u202fAM (3 requests)" in week


def test_report_across_a_daylight_saving_change(desk: Desk, sofia_supervisor: Staff) -> None:
    # On March 29, 2026 Rome moves from UTC+1 to UTC+2 at 02:00: the day has 23 hours.
    seed_request(desk, datetime(2026, 3, 28, 23, 30, tzinfo=UTC), accept=60)  # 00:30 CET
    seed_request(desk, datetime(2026, 3, 29, 8, 10, tzinfo=UTC), accept=60)  # 10:10 CEST
    seed_request(desk, datetime(2026, 3, 29, 8, 50, tzinfo=UTC), accept=60)  # 10:50 CEST
    seed_request(desk, datetime(2026, 3, 29, 9, 5, tzinfo=UTC), accept=60)  # 11:05 CEST
    seed_request(desk, datetime(2026, 3, 29, 22, 5, tzinfo=UTC), accept=60)  # March 30, 00:05

    text = report(desk, "2026-03-29", datetime(2026, 4, 1, tzinfo=UTC)).splitlines()

    assert text[0] == "Report for Sunday, March 29, 2026"
    assert text[2] == "Requests created: 4"
    assert "Busiest hour: 10:00\u202fAM–11:00\u202fAM (2 requests)" in text


def test_report_of_an_empty_period(desk: Desk, november: None) -> None:
    assert report(desk, "2025-01", rome(11, 30, 21)).splitlines() == [
        "Report for January 2025",
        "",
        "No requests were created in this period.",
        "",
        "No follow-ups were sent in this period.",
    ]


def test_report_from_the_services(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "towels", fine=True, rating=4)
    lifecycle(desk, "clean the room", fine=None)
    # Reopened, and waiting for staff again (last: the guest's next message would explain it).
    lifecycle(desk, "pillow", fine=False)

    text = report(desk, "today", desk.clock.now())

    assert text.splitlines() == [
        "Report for Monday, November 23, 2026",
        "",
        "Requests created: 3",
        "• Housekeeping: 3 (100%)",
        "Done: 2 · cancelled: 0 · still open: 1",
        "Reopened after a follow-up: 1",
        "Time to accept: median 1 min · 90th percentile 1 min",
        "Time to done: median 11 min · 90th percentile 11 min",
        "Busiest hour: 10:00\u202fAM–11:00\u202fAM (3 requests)",
        "",
        "Follow-ups:",
        "Sent: 3 · all good: 1 · not fixed: 1 · no answer: 0",
        "Average rating: 4.0 from 1",
    ]


def test_report_percentiles_of_a_busy_period_come_from_every_kth_request(
    desk: Desk, sofia_supervisor: Staff
) -> None:
    for number in range(1, 13):  # request n is accepted after n minutes
        seed_request(desk, rome(11, 2, 9) + timedelta(hours=number), accept=60 * number)
    start, end = rome(11, 1, 0), rome(12, 1, 0)

    whole = desk.read(lambda s: reports.period_figures(s, desk.env, start, end))
    sampled = desk.read(lambda s: reports.period_figures(s, desk.env, start, end, sample=4))

    assert (whole.to_accept.median, whole.to_accept.p90) == (360, 660)
    # Requests 3, 6, 9 and 12: the 2nd and the 4th of four.
    assert (sampled.to_accept.median, sampled.to_accept.p90) == (360, 720)
    assert sampled.requests == 12
    assert sampled.done == 12


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 12, 1))),
        ("month", Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 12, 1))),
        ("WEEK", Period(PeriodKind.WEEK, date(2026, 11, 23), date(2026, 11, 30))),
        ("today", Period(PeriodKind.DAY, date(2026, 11, 25), date(2026, 11, 26))),
        ("yesterday", Period(PeriodKind.DAY, date(2026, 11, 24), date(2026, 11, 25))),
        ("2026-12", Period(PeriodKind.MONTH, date(2026, 12, 1), date(2027, 1, 1))),
        ("2024-02-29", Period(PeriodKind.DAY, date(2024, 2, 29), date(2024, 3, 1))),
    ],
)
def test_report_periods(spec: str | None, expected: Period) -> None:
    assert reports.parse_period(spec, date(2026, 11, 25)) == expected


@pytest.mark.parametrize("spec", ["someday", "2026-13", "2026-11-31", "2026-1", "20261123", "w48"])
def test_report_refuses_a_period_it_does_not_understand(
    desk: Desk, sofia_supervisor: Staff, spec: str
) -> None:
    with pytest.raises(reports.BadPeriod):
        report(desk, spec, START)
    assert render(ReportUsage(), desk.env.t("en"), desk.env.hotel)[0] == (
        "Use /report for this month, or /report followed by week, today, yesterday, "
        "a month such as 2026-11 or a day such as 2026-11-23."
    )


def test_report_is_for_supervisors_only(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    with pytest.raises(errors.NotSupervisor):
        report(desk, None, START, telegram_id=1001)
    with pytest.raises(errors.NotRegistered):
        report(desk, None, START, telegram_id=GUEST.telegram_id)


def test_report_durations_read_like_a_clock() -> None:
    t = I18N_EN
    assert [common.duration(t, s) for s in (0, 44.6, 59.6, 90, 3599, 3600, 5400, 86400, 90000)] == [
        "0 s",
        "45 s",
        "1 min",
        "2 min",
        "1 h",
        "1 h",
        "1 h 30 min",
        "1 d",
        "1 d 1 h",
    ]


# --- the follow-up log of a busy day ------------------------------------------------------------


def busy_day(desk: Desk, count: int, attention: int) -> None:
    """``count`` follow-ups sent on November 23 from 08:00 a minute apart; the first
    ``attention`` of them need attention (alternately "not fixed" and rated 1 or 2)."""
    kinds = [("no", None), ("yes", 1), ("yes", 2), ("no", 1)]
    for number in range(count):
        sent = rome(11, 23, 8) + timedelta(minutes=number)
        request_id = seed_request(desk, sent - timedelta(minutes=30), accept=60, done=600)
        answer, rating = kinds[number % 4] if number < attention else ("yes", 4)
        seed_followup(desk, request_id, sent, answer=answer, rating=rating)


def followups_of(desk: Desk, day: str = "2026-11-23") -> list[str]:
    text = desk.read(
        lambda s: reports.followup_log(
            s, desk.env, staff_id=staff_id_of(s, 1009), day_spec=day, now=rome(11, 24, 12)
        )
    )
    assert len(text) < 4096
    return text.splitlines()


def test_busy_day_lists_only_what_needs_attention_newest_first(
    desk: Desk, sofia_supervisor: Staff
) -> None:
    busy_day(desk, count=45, attention=36)

    lines = followups_of(desk)

    assert lines[:5] == [
        "Follow-ups sent on Monday, November 23, 2026",
        "Sent: 45 · all good: 27 · not fixed: 18 · no answer: 0",
        "Average rating: 2.0 from 36",
        "",
        "Needing attention (not fixed, or rated 1 or 2), newest first:",
    ]
    listed = lines[5:-1]
    assert len(listed) == 30
    # Follow-up 36 (request #36, sent 08:35) is the newest that needs attention.
    assert listed[0] == "#36 · Housekeeping · en · sent 8:35\u202fAM · not fixed · ★☆☆☆☆"
    assert listed[1] == "#35 · Housekeeping · en · sent 8:34\u202fAM · all good · ★★☆☆☆"
    assert listed[-1].startswith("#7 · Housekeeping · en · sent 8:06\u202fAM · ")
    assert not any("★★★★☆" in line for line in listed)
    assert lines[-1] == "… and 6 more"


def test_busy_day_with_little_to_look_at_lists_all_of_it(
    desk: Desk, sofia_supervisor: Staff
) -> None:
    busy_day(desk, count=40, attention=3)

    lines = followups_of(desk)

    assert lines[4:] == [
        "Needing attention (not fixed, or rated 1 or 2), newest first:",
        "#3 · Housekeeping · en · sent 8:02\u202fAM · all good · ★★☆☆☆",
        "#2 · Housekeeping · en · sent 8:01\u202fAM · all good · ★☆☆☆☆",
        "#1 · Housekeeping · en · sent 8:00\u202fAM · not fixed",
    ]


def test_busy_day_with_nothing_to_look_at(desk: Desk, sofia_supervisor: Staff) -> None:
    busy_day(desk, count=31, attention=0)

    assert followups_of(desk)[3:] == [
        "",
        "Needing attention (not fixed, or rated 1 or 2), newest first:",
        "None.",
    ]


def test_quiet_day_lists_every_follow_up(desk: Desk, sofia_supervisor: Staff) -> None:
    busy_day(desk, count=30, attention=4)

    lines = followups_of(desk)

    assert lines[1] == "Sent: 30 · all good: 28 · not fixed: 2 · no answer: 0"
    listed = lines[4:]
    assert len(listed) == 30
    assert listed[0] == "#1 · Housekeeping · en · sent 8:00\u202fAM · not fixed"
    assert listed[-1] == "#30 · Housekeeping · en · sent 8:29\u202fAM · all good · ★★★★☆"
