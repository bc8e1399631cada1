"""The figures of the supervisors' reports, as plain values between the queries and the texts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of some durations, in seconds (``None`` when there are none)."""

    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class FollowupTotals:
    """What the follow-ups sent in a period got as answers."""

    sent: int = 0
    all_good: int = 0
    not_fixed: int = 0
    no_answer: int = 0
    rated: int = 0
    average_rating: float | None = None
    needing_attention: int = 0  # answered "not fixed", or rated 1 or 2


@dataclass(frozen=True)
class BusiestHour:
    """The hour of the day (in the hotel's time zone) in which most requests were created."""

    hour: int
    requests: int


@dataclass(frozen=True)
class QuestionTotals:
    """Guests' questions answered from the knowledge base in a period."""

    answered: int = 0
    sent_on: int = 0  # of those, sent on to staff by the guest ("not what I asked")


@dataclass(frozen=True)
class PeriodFigures:
    """Everything ``/report`` shows about the requests created and follow-ups sent in a period."""

    requests: int
    departments: tuple[tuple[str, int], ...]  # (key, requests), most requests first
    done: int  # done, or closed after being done
    cancelled: int
    still_open: int  # waiting for staff or in progress
    reopened: int  # reopened at least once after a "not fixed" follow-up
    to_accept: Spread
    to_done: Spread
    busiest_hour: BusiestHour | None
    followups: FollowupTotals
    questions: QuestionTotals = QuestionTotals()
    set_aside: int = 0  # closed by staff as not a request or as a duplicate (never done)
    urgent: int = 0  # urgent now (by keywords or marked by staff)
