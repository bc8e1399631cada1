"""The period's chart: its figures, and a PNG whose labels render in every script offered."""

from __future__ import annotations

import gc
import io
import logging
import subprocess
import sys
import warnings
from datetime import timedelta

import pytest
from PIL import Image

from bot import charts, exports
from bot.config import HotelConfig
from bot.i18n import I18n
from bot.models import Staff
from bot.services.common import Env, Person
from tests.conftest import START, Desk, accept, mark_done, submit
from tests.test_exports import a_month

LI = Person(telegram_id=5010, chat_id=5010, first_name="Li", language_code="en")


def test_chart_data_counts_by_local_hour_department_and_rating(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    a_month(desk)  # towels at 10:00 Rome (housekeeping), a taxi at 10:16 (front desk)
    desk.clock.advance(3600)
    request = submit(desk, LI, "broken tv")
    assert request.id is not None
    start, end = exports.period_of(desk.env, "2026-11", START).bounds(desk.env.hotel.tz)

    data = desk.read(lambda s: charts.chart_data(s, desk.env, start, end))

    assert {
        key: [(h, n) for h, n in enumerate(counts) if n] for key, counts in data.per_hour.items()
    } == {
        "housekeeping": [(10, 1)],
        "front_desk": [(10, 1)],
        "maintenance": [(11, 1)],
    }
    assert data.to_accept == [1.0]
    assert data.to_done == [11.0]
    assert data.ratings == [0, 0, 0, 1, 0]


def test_chart_durations_come_from_a_sample_of_a_busy_period(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    for _ in range(6):
        request = submit(desk, LI, "towels")
        assert request.id is not None
        desk.clock.advance(60)
        accept(desk, 1001, request.id)
        mark_done(desk, 1001, request.id)
    start, end = START - timedelta(days=1), START + timedelta(days=1)

    data = desk.read(lambda s: charts.chart_data(s, desk.env, start, end, sample=3))

    assert sum(sum(counts) for counts in data.per_hour.values()) == 6  # counts stay exact
    assert len(data.to_accept) == 3  # every second request


DATA = charts.ChartData(
    per_hour={"housekeeping": [0] * 8 + [3, 5, 2] + [0] * 13, "front_desk": [1] * 24},
    to_accept=[1.0, 2.5, 4.0, 12.0],
    to_done=[10.0, 15.0, 30.0],
    ratings=[1, 0, 2, 5, 9],
)


def draw(hotel: HotelConfig, env: Env, language: str, title: str) -> tuple[bytes, list[str]]:
    """Render the chart; the warnings and log records matplotlib gave while doing it."""
    problems: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logging.getLogger("matplotlib").addHandler(handler)
    gc.collect()  # connections left by earlier tests warn when collected, not matplotlib
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", ResourceWarning)
            image = charts.render(hotel, env.t(language), title, DATA)
    finally:
        logging.getLogger("matplotlib").removeHandler(handler)
    return image, problems + [str(w.message) for w in caught]


def decoded(image: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(image))
    picture.load()
    return picture


def test_a_russian_chart_renders_every_glyph(hotel: HotelConfig, env: Env) -> None:
    image, problems = draw(hotel, env, "ru", "Ноябрь 2026 г.")

    assert problems == []
    picture = decoded(image)
    assert (picture.format, picture.size) == ("PNG", (1000, 900))
    assert len(picture.convert("L").getcolors(256) or []) > 20  # drawn, not blank


@pytest.mark.parametrize(
    "title",
    [
        "2026年11月 · 每小时的请求 · 時間帯別のリクエスト · 시간대별 요청",
        "الطلبات في الساعة · نوفمبر ٢٠٢٦",
    ],
)
def test_chinese_japanese_korean_and_arabic_labels_render(
    hotel: HotelConfig, env: Env, title: str
) -> None:
    image, problems = draw(hotel, env, "en", title)

    assert problems == []
    assert decoded(image).size == (1000, 900)


def test_without_the_bundled_fonts_the_same_labels_miss_glyphs(
    hotel: HotelConfig, env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: DejaVu Sans alone has no CJK glyphs."""
    monkeypatch.setattr(charts, "_fonts", lambda: ("DejaVu Sans",))

    _, problems = draw(hotel, env, "en", "每小时的请求")

    assert any("missing from font" in problem for problem in problems)


def test_every_shipped_language_renders(hotel: HotelConfig) -> None:
    env = Env(hotel=hotel, i18n=I18n("en"))
    for language in ("en", "it", "ru", "es", "fr", "de"):
        _, problems = draw(hotel, env, language, language)
        assert problems == [], language


def test_the_bot_does_not_import_the_plotting_or_spreadsheet_libraries() -> None:
    code = (
        "import sys, bot.app, bot.cli, bot.charts, bot.exports; "
        "print(sorted(m for m in ('matplotlib', 'xlsxwriter', 'numpy', 'PIL') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
