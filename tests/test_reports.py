"""Supervisors' timeline and follow-up log."""

from __future__ import annotations

import pytest

from bot.models import Staff
from bot.services import errors, followups, reports, requests
from bot.services.common import Person
from bot.services.requests import Content
from tests.conftest import START, Desk

GUEST = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en")


def lifecycle(desk: Desk, text: str, *, fine: bool | None, rating: int | None = None) -> int:
    request = desk(
        lambda s, out, env, now: requests.submit(
            s, out, env, person=GUEST, content=Content(text=text), now=now
        )
    )
    assert request is not None and request.id is not None
    rid = request.id
    desk.clock.advance(60)
    desk(
        lambda s, out, env, now: requests.accept(
            s, out, env, telegram_id=1001, request_id=rid, now=now
        )
    )
    desk.clock.advance(600)
    desk(
        lambda s, out, env, now: requests.mark_done(
            s, out, env, telegram_id=1001, request_id=rid, now=now
        )
    )
    desk.clock.advance(300)
    desk(lambda s, out, env, now: followups.process_due(s, out, env, now))
    followup_id = rid  # one follow-up per request in these tests
    if fine is not None:
        desk(
            lambda s, out, env, now: followups.answer(
                s,
                out,
                env,
                telegram_id=GUEST.telegram_id,
                followup_id=followup_id,
                fine=fine,
                message_id=None,
                now=now,
            )
        )
    if rating is not None:
        desk(
            lambda s, out, env, now: followups.rate(
                s,
                out,
                env,
                telegram_id=GUEST.telegram_id,
                followup_id=followup_id,
                rating=rating,
                message_id=None,
                now=now,
            )
        )
    return rid


def test_timeline_lists_every_event_in_hotel_time(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "towels", fine=True, rating=5)

    text = desk.read(lambda s: reports.timeline(s, desk.env, telegram_id=1009, request_id=1))

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
        desk.read(lambda s: reports.timeline(s, desk.env, telegram_id=1001, request_id=1))
    with pytest.raises(errors.NotRegistered):
        desk.read(
            lambda s: reports.timeline(s, desk.env, telegram_id=GUEST.telegram_id, request_id=1)
        )
    with pytest.raises(errors.UnknownRequest):
        desk.read(lambda s: reports.timeline(s, desk.env, telegram_id=1009, request_id=42))


def test_followup_log_of_a_day(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "towels", fine=True, rating=4)
    lifecycle(desk, "pillow", fine=False)
    lifecycle(desk, "clean the room", fine=None)

    text = desk.read(
        lambda s: reports.followup_log(
            s, desk.env, telegram_id=1009, day_spec="today", now=desk.clock.now()
        )
    )

    lines = text.splitlines()
    assert lines[0] == "Follow-ups sent on Monday, November 23, 2026"
    assert lines[1].startswith("#1 · Housekeeping · en · sent 10:16\u202fAM · all good · ★★★★☆")
    assert lines[2].startswith("#2 · Housekeeping · en · sent ")
    assert lines[2].endswith(" · not fixed")
    assert lines[3].endswith(" · waiting for an answer")
    assert lines[-2] == "Sent: 3 · all good: 1 · not fixed: 1 · no answer: 0"
    assert lines[-1] == "Average rating: 4.0 from 1"


def test_followup_log_other_days(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "towels", fine=True)
    tomorrow = START.replace(day=24)
    yesterday_view = desk.read(
        lambda s: reports.followup_log(
            s, desk.env, telegram_id=1009, day_spec="yesterday", now=tomorrow
        )
    )
    assert "#1 · Housekeeping" in yesterday_view
    other_day = desk.read(
        lambda s: reports.followup_log(
            s, desk.env, telegram_id=1009, day_spec="2026-11-20", now=tomorrow
        )
    )
    assert other_day.splitlines()[1] == "None."
    with pytest.raises(reports.BadDay):
        desk.read(
            lambda s: reports.followup_log(
                s, desk.env, telegram_id=1009, day_spec="someday", now=tomorrow
            )
        )
