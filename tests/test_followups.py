"""Follow-ups on a real database: due, sent once, answered, rated, reopened, expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot import timers
from bot.models import Event, FollowUp, FollowUpStatus, Request, RequestStatus, Staff
from bot.services import errors
from bot.services.common import Person
from bot.services.followup_timeout import EXPIRE
from bot.services.followups import ASK
from tests.conftest import (
    Desk,
    answer_followup,
    done_request,
    followup_sent,
    rate_followup,
    run_timers,
)

GUEST = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en")


def answer(
    desk: Desk, followup_id: int, fine: bool, telegram_id: int = GUEST.telegram_id
) -> Request:
    """The guest answers on the question's message, number 77."""
    return answer_followup(desk, telegram_id, followup_id, fine=fine, message_id=77)


def status(desk: Desk, request_id: int) -> str:
    return desk.read(lambda s: s.get(Request, request_id).status)  # type: ignore[union-attr]


def followup_status(desk: Desk) -> str:
    return desk.read(lambda s: s.exec(select(FollowUp)).one().status)


def test_follow_up_is_sent_when_due_and_only_once(desk: Desk, maria_housekeeping: Staff) -> None:
    done_request(desk, GUEST)
    assert run_timers(desk).fired == {}  # not due yet
    assert desk.messages_to(GUEST.chat_id) == []
    assert desk.outbox.wake_times == [desk.clock.now() + timedelta(seconds=300)]

    desk.clock.advance(300)
    assert run_timers(desk).fired == {ASK: 1}
    assert followup_status(desk) == FollowUpStatus.SENT
    question = desk.messages_to(GUEST.chat_id)[0]
    assert question.text == "Hello again! Is everything all right with request #1 (towels)?"
    assert [b.data for b in question.buttons[0]] == ["fu:1:y", "fu:1:n"]

    assert run_timers(desk).fired == {}
    assert desk.messages_to(GUEST.chat_id) == []


def test_overdue_follow_up_is_sent_after_a_long_outage(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    done_request(desk, GUEST)
    desk.clock.advance(3 * 24 * 3600)  # the bot was down for three days
    assert run_timers(desk).fired == {ASK: 1}
    assert len(desk.messages_to(GUEST.chat_id)) == 1
    followup = desk.read(lambda s: s.exec(select(FollowUp)).one())
    assert followup.status == FollowUpStatus.SENT
    assert followup.sent_at == desk.clock.now()


def test_yes_closes_and_asks_for_a_rating(desk: Desk, maria_housekeeping: Staff) -> None:
    followup_sent(desk, GUEST)
    desk.clock.advance(60)

    answer(desk, 1, fine=True)
    assert status(desk, 1) == RequestStatus.CLOSED
    thanks, rating = desk.messages_to(GUEST.chat_id)
    assert thanks.edit_message_id == 77 and thanks.text == "Glad to hear it! Request #1 is closed."
    assert [b.data for b in rating.buttons[0]] == [f"rate:1:{n}" for n in range(1, 6)]

    with pytest.raises(errors.AlreadyAnswered):
        answer(desk, 1, fine=False)

    rate_followup(desk, GUEST.telegram_id, 1, 4, message_id=78)
    assert desk.texts_to(GUEST.chat_id) == ["Thank you for your rating: ★★★★☆"]
    assert desk.read(lambda s: s.get(Request, 1).rating) == 4  # type: ignore[union-attr]
    with pytest.raises(errors.AlreadyAnswered):
        rate_followup(desk, GUEST.telegram_id, 1, 5, message_id=78)


def test_no_reopens_flags_reroutes_and_alerts_supervisors(
    desk: Desk, maria_housekeeping: Staff, luca_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    followup_sent(desk, GUEST)

    answer(desk, 1, fine=False)

    request = desk.read(lambda s: s.get(Request, 1))
    assert request is not None
    assert (request.status, request.reopened_count, request.assignee_id) == (
        RequestStatus.OPEN,
        1,
        None,
    )
    luca_card = desk.messages_to(luca_housekeeping.telegram_id)[-1]
    assert "REOPENED" in luca_card.text and luca_card.buttons[0][0].data == "acc:1"
    alert = desk.texts_to(sofia_supervisor.telegram_id)
    assert alert == [
        "⚠️ The guest in room unknown says request #1 (Housekeeping) is not fixed. "
        "It has been reopened. Timeline: /log 1"
    ]
    assert desk.texts_to(GUEST.chat_id)[0].startswith("I am sorry. Request #1 is open again")


def test_unanswered_follow_up_is_logged_and_a_late_no_still_reopens(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    followup_sent(desk, GUEST)
    desk.clock.advance(3600)  # the answer timeout of the test hotel

    assert run_timers(desk).fired == {EXPIRE: 1}
    assert followup_status(desk) == FollowUpStatus.UNANSWERED
    assert status(desk, 1) == RequestStatus.CLOSED
    kinds = desk.read(lambda s: [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))])
    assert kinds[-2:] == ["followup_unanswered", "closed"]

    answer(desk, 1, fine=False)
    assert status(desk, 1) == RequestStatus.OPEN


def test_only_the_guest_can_answer(desk: Desk, maria_housekeeping: Staff) -> None:
    followup_sent(desk, GUEST)
    with pytest.raises(errors.UnknownRequest):
        answer(desk, 1, fine=False, telegram_id=1001)
    assert status(desk, 1) == RequestStatus.DONE


def test_follow_up_of_a_request_no_longer_done_is_dropped_not_sent(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    done_request(desk, GUEST)
    with desk.sessions() as session:  # e.g. a supervisor closed it by hand meanwhile
        request = session.get(Request, 1)
        assert request is not None
        request.status = RequestStatus.CLOSED
        session.add(request)
        session.commit()
    desk.clock.advance(300)

    run_timers(desk)

    assert followup_status(desk) == FollowUpStatus.CANCELLED
    assert desk.messages_to(GUEST.chat_id) == []


def test_next_due_is_the_earliest_send_or_expiry(desk: Desk, maria_housekeeping: Staff) -> None:
    done_request(desk, GUEST, "towels")
    desk.clock.advance(100)
    done_request(desk, GUEST, "pillow")
    first_due = desk.clock.now() - timedelta(seconds=100) + timedelta(seconds=300)
    assert desk.read(timers.next_due) == first_due
    desk.clock.advance(200)
    run_timers(desk)
    assert desk.read(timers.next_due) == first_due + timedelta(seconds=100)


async def test_a_backlog_larger_than_a_batch_is_cleared_in_one_pass(
    bot, desk: Desk, maria_housekeeping: Staff
) -> None:
    for n in range(timers.BATCH + 20):
        done_request(desk, GUEST, f"towels {n}")
        desk.clock.advance(4)  # within the guest's per-minute limit
    bot.clock.advance(300)

    await bot.deps.run_timers()

    with desk.sessions() as session:
        statuses = {f.status for f in session.exec(select(FollowUp)).all()}
    assert statuses == {FollowUpStatus.SENT}
