"""A PNG chart of a period for supervisors: requests per hour of the day by department, the
spread of the times to accept and to done, and the guests' ratings.

matplotlib (Agg, no display) is imported when a chart is first drawn, never at the bot's
start-up: it costs about 0.7 s and 60 MB the first time. Labels are set in matplotlib's
DejaVu Sans (Latin, Greek, Cyrillic: every shipped language) with Noto Sans CJK JP (Chinese,
Japanese, Korean) and Noto Sans Arabic as fallbacks, all from installed packages: nothing is
downloaded when a chart is drawn.
"""

from __future__ import annotations

import io
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from bot.config import HotelConfig
from bot.i18n import Translator
from bot.models import FollowUp, Request
from bot.services.common import Env
from bot.services.reports import (
    DONE_STATUSES,
    PERCENTILE_SAMPLE,
    Period,
    quarter_hour,
    quarter_start,
)

# The font families tried for every character, in order (matplotlib falls back per glyph).
FAMILIES = ("DejaVu Sans", "Noto Sans CJK JP", "Noto Sans Arabic")
SIZE = (10.0, 9.0)  # inches; at DPI a 1000 × 900 pixel image, readable on a phone
DPI = 100
# rcParams are process-wide: charts are drawn one at a time (they run in worker threads).
_DRAWING = threading.Lock()


@dataclass(frozen=True)
class ChartData:
    """What a period's chart shows."""

    # Requests per local hour of the day (24 counts) for each department key, busiest first.
    per_hour: dict[str, list[int]] = field(default_factory=dict)
    # Minutes from creation to the latest acceptance / done, of at most a sample of requests.
    to_accept: list[float] = field(default_factory=list)
    to_done: list[float] = field(default_factory=list)
    # How many follow-ups sent in the period were rated 1 … 5 (index 0 is one star).
    ratings: list[int] = field(default_factory=lambda: [0] * 5)


def chart_data(
    session: Session, env: Env, start: datetime, end: datetime, *, sample: int = PERCENTILE_SAMPLE
) -> ChartData:
    """The chart's figures from ``start`` to ``end``: counts in the database, durations from
    at most ``sample`` requests (every k-th by number in a busier period, as ``/report``)."""
    created = col(Request.created_at)
    in_period = (created >= start, created < end)
    quarter = quarter_hour(session, created)
    per_hour: dict[str, list[int]] = {}
    total: Counter[str] = Counter()
    for department, quarter_of_hour, count in session.connection().execute(
        sa_select(col(Request.department), quarter, func.count())
        .where(*in_period)
        .group_by(col(Request.department), quarter)
    ):
        hour = quarter_start(quarter_of_hour).astimezone(env.hotel.tz).hour
        per_hour.setdefault(department, [0] * 24)[hour] += int(count)
        total[department] += int(count)
    order = {key: index for index, key in enumerate(env.hotel.department_keys)}
    ranked = sorted(per_hour, key=lambda key: (-total[key], order.get(key, len(order))))
    requests = sum(total.values())
    durations = sa_select(
        created, col(Request.accepted_at), col(Request.done_at), col(Request.status)
    ).where(*in_period)
    step = math.ceil(requests / sample) if requests else 1
    if step > 1:
        durations = durations.where(col(Request.id) % step == 0)
    to_accept: list[float] = []
    to_done: list[float] = []
    for created_at, accepted_at, done_at, status in session.connection().execute(
        durations.limit(sample)
    ):
        if accepted_at is not None:
            to_accept.append((accepted_at - created_at).total_seconds() / 60)
        if done_at is not None and status in DONE_STATUSES:  # as /report counts them
            to_done.append((done_at - created_at).total_seconds() / 60)
    sent = col(FollowUp.sent_at)
    ratings = [0] * 5
    for rating, count in session.connection().execute(
        sa_select(col(FollowUp.rating), func.count())
        .where(sent >= start, sent < end, col(FollowUp.rating).between(1, 5))
        .group_by(col(FollowUp.rating))
    ):
        if rating is not None:
            ratings[int(rating) - 1] = int(count)
    return ChartData(
        per_hour={key: per_hour[key] for key in ranked},
        to_accept=to_accept,
        to_done=to_done,
        ratings=ratings,
    )


@cache
def _fonts() -> tuple[str, ...]:
    """Register the bundled fallback fonts with matplotlib, once; the families found."""
    import fontpkg_noto_sans_arabic  # type: ignore[import-untyped]
    import noto_cjk_sans_jp_regular  # type: ignore[import-untyped]
    from matplotlib import font_manager

    files = [
        Path(str(noto_cjk_sans_jp_regular.FONT_PATH)),
        *sorted((Path(fontpkg_noto_sans_arabic.__file__).parent / "files").glob("*.ttf")),
    ]
    for path in files:
        font_manager.fontManager.addfont(str(path))
    known = {font.name for font in font_manager.fontManager.ttflist}
    return tuple(family for family in FAMILIES if family in known)


def render(hotel: HotelConfig, t: Translator, title: str, data: ChartData) -> bytes:
    """The chart as a PNG image, labelled in the reader's language."""
    import matplotlib

    matplotlib.use("Agg")  # before anything draws: no display, no GUI toolkit
    from matplotlib.figure import Figure

    _ = t.gettext
    with _DRAWING, matplotlib.rc_context({"font.family": list(_fonts()), "font.size": 10}):
        figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        figure.suptitle(title, fontsize=14)
        hours_axes, spread_axes, ratings_axes = figure.subplots(
            3, 1, height_ratios=(3, 2, 2), squeeze=True
        )
        hours = list(range(24))
        bottom = [0] * 24
        for key, counts in data.per_hour.items():
            hours_axes.bar(hours, counts, bottom=bottom, label=hotel.department_name(key, t.locale))
            bottom = [low + count for low, count in zip(bottom, counts, strict=True)]
        hours_axes.set_title(_("Requests per hour of the day"))
        hours_axes.set_xlabel(_("Hour of the day"))
        hours_axes.set_ylabel(_("Requests"))
        hours_axes.set_xticks(hours[::2])
        hours_axes.set_xlim(-0.6, 23.6)
        if data.per_hour:
            hours_axes.legend(fontsize=8, ncols=2)
        spreads = [data.to_accept or [0.0], data.to_done or [0.0]]
        spread_axes.boxplot(
            spreads,
            orientation="horizontal",
            tick_labels=[_("Time to accept"), _("Time to done")],
            showfliers=False,
        )
        spread_axes.set_title(_("Time to accept and to done (minutes, without outliers)"))
        spread_axes.set_xlabel(_("Minutes"))
        stars = ["★" * n for n in range(1, 6)]
        ratings_axes.bar(stars, data.ratings, color="#f2a900")
        ratings_axes.set_title(_("Guests' ratings"))
        ratings_axes.set_ylabel(_("Follow-ups"))
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def period_chart(session: Session, env: Env, *, period: Period, title: str, language: str) -> bytes:
    """The PNG chart of ``period`` for a reader of ``language``."""
    start, end = period.bounds(env.hotel.tz)
    return render(env.hotel, env.t(language), title, chart_data(session, env, start, end))
