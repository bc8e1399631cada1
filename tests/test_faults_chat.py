"""Smaller faults seen in chat: stale cards and buttons, erased guests' messages to staff,
consistent report figures, and the texts that name the front desk."""

from __future__ import annotations

from bot.models import Staff
from tests.conftest import Desk
from tests.test_reports import lifecycle, report


def test_report_of_a_reopened_request_counts_no_time_to_done(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    lifecycle(desk, "pillow", fine=False)  # done, then reopened: waiting for staff again

    lines = report(desk, "today", desk.clock.now()).splitlines()

    assert "Done: 0 · cancelled: 0 · still open: 1" in lines
    assert "Time to accept: none accepted" in lines
    assert "Time to done: none done" in lines  # not a median of a request not done
