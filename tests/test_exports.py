"""Supervisors' exports: CSV in a zip and XLSX, localized, streamed, without erased data."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot import exports
from bot.cli import app
from bot.models import Guest, Staff
from bot.services import privacy, reports
from bot.services.common import Env, Person
from tests.conftest import (
    START,
    TEST_HOTEL,
    Desk,
    accept,
    answer_followup,
    guest_id_of,
    mark_done,
    rate_followup,
    run_timers,
    staff_id_of,
    start_chat,
    submit,
)

JOHN = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en")
ERIKA = Person(telegram_id=5004, chat_id=5004, first_name="Erika", language_code="de")


def a_month(desk: Desk) -> None:
    """John (room 412) asks for towels: accepted after a minute by Maria, done ten minutes
    later, the follow-up answered "all good" and rated 4. Erika (room 733) asks for a taxi
    and erases her data before anyone takes it."""
    start_chat(desk, JOHN, "room-412")
    request = submit(desk, JOHN, "towels please")
    assert request.id == 1
    desk.clock.advance(60)
    accept(desk, 1001, 1)
    desk.clock.advance(600)
    mark_done(desk, 1001, 1)
    desk.clock.advance(300)
    run_timers(desk)
    answer_followup(desk, JOHN.telegram_id, 1, fine=True)
    rate_followup(desk, JOHN.telegram_id, 1, 4)
    start_chat(desk, ERIKA, "room-733")
    submit(desk, ERIKA, "ein Taxi bitte")
    desk(
        lambda s, out, env, now: privacy.forget(
            s,
            out,
            env,
            person=ERIKA,
            guest_id=guest_id_of(s, ERIKA.telegram_id),
            confirmed=True,
            message_id=None,
            now=now,
        )
    )


def scope_of(env: Env, language: str = "en", period: str = "2026-11") -> exports.Scope:
    return exports.scope(env, period_spec=period, language=language, now=START)


def xlsx_of(desk: Desk, scope: exports.Scope) -> dict[str, list[tuple[Any, ...]]]:
    out = io.BytesIO()
    counts = desk.read(lambda s: exports.export(s, scope, exports.Format.XLSX, out))
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()), read_only=True)
    sheets = {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}
    assert sum(len(rows) - 1 for rows in sheets.values()) == sum(counts.values())
    return sheets


def csv_of(desk: Desk, scope: exports.Scope) -> dict[str, list[list[str]]]:
    out = io.BytesIO()
    desk.read(lambda s: exports.export(s, scope, exports.Format.CSV, out))
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
            for name in archive.namelist()
        }


def test_the_requests_sheet_has_local_times_assignee_and_durations(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    a_month(desk)

    sheets = xlsx_of(desk, scope_of(desk.env))

    assert list(sheets) == ["Requests", "Timeline", "Follow-ups"]
    header, towels, taxi = sheets["Requests"]
    assert header[:6] == (
        "Request no.",
        "Created at",
        "Accepted at",
        "Done at",
        "Closed at",
        "Department",
    )
    # START is 09:00 UTC, 10:00 in Rome; the spreadsheet shows the hotel's wall clock.
    assert towels == (
        1,
        datetime(2026, 11, 23, 10, 0),
        datetime(2026, 11, 23, 10, 1),
        datetime(2026, 11, 23, 10, 11),
        datetime(2026, 11, 23, 10, 16),
        "Housekeeping",
        "closed",
        "412",
        "en",
        "Maria",
        60,
        660,
        0,
    )
    assert taxi[0] == 2 and taxi[6] == "cancelled"
    follow_ups = sheets["Follow-ups"]
    assert follow_ups[1] == (
        1,
        datetime(2026, 11, 23, 10, 16),
        "all good",
        datetime(2026, 11, 23, 10, 16),
        4,
        "en",
    )
    kinds = [row[2] for row in sheets["Timeline"][1:] if row[0] == 1]
    assert kinds[:4] == ["created", "routed", "offered", "accepted"]
    assert ("accepted", "staff", "Maria") in [row[2:] for row in sheets["Timeline"][1:]]


def test_an_erased_guest_appears_without_room_or_name(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    a_month(desk)
    scope = scope_of(desk.env)

    sheets = xlsx_of(desk, scope)
    files = csv_of(desk, scope)

    taxi = sheets["Requests"][2]
    assert taxi[0] == 2 and taxi[7] is None  # the room is gone, as from the guest's record
    everything = repr(sheets) + repr(files)
    assert "Erika" not in everything and "733" not in everything and "Taxi" not in everything
    assert "John" in everything  # John was not erased: his own events keep his name
    erika = desk.read(lambda s: s.get(Guest, 2))
    assert erika is not None and erika.erased_at is not None


def test_csv_files_match_the_sheets(desk: Desk, maria_housekeeping: Staff) -> None:
    a_month(desk)
    scope = scope_of(desk.env)

    files = csv_of(desk, scope)

    assert sorted(files) == ["events.csv", "followups.csv", "requests.csv"]
    towels = files["requests.csv"][1]
    assert towels[:5] == [
        "1",
        "2026-11-23 10:00:00",
        "2026-11-23 10:01:00",
        "2026-11-23 10:11:00",
        "2026-11-23 10:16:00",
    ]
    assert towels[9:12] == ["Maria", "60", "660"]
    assert files["requests.csv"][2][2] == ""  # never accepted: no time, no duration
    sheets = xlsx_of(desk, scope)
    assert len(files["events.csv"]) == len(sheets["Timeline"])


def test_headers_and_values_are_in_the_readers_language(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    a_month(desk)

    russian = xlsx_of(desk, scope_of(desk.env, "ru"))
    italian = csv_of(desk, scope_of(desk.env, "it"))

    assert list(russian) == ["Заявки", "История", "Контрольные вопросы"]
    assert russian["Заявки"][0][:3] == ("№ заявки", "Создана", "Принята")
    assert russian["Заявки"][1][5:7] == ("Хаускипинг", "закрыта")
    assert italian["requests.csv"][0][:3] == ["N. richiesta", "Creata il", "Presa in carico il"]
    assert italian["followups.csv"][1][2] == "tutto bene"


def test_a_period_without_requests_has_its_sheets_and_headers(desk: Desk) -> None:
    sheets = xlsx_of(desk, scope_of(desk.env, period="2026-10"))

    assert {name: len(rows) for name, rows in sheets.items()} == {
        "Requests": 1,
        "Timeline": 1,
        "Follow-ups": 1,
    }


def test_a_table_longer_than_a_sheet_goes_on_in_the_next(
    desk: Desk, maria_housekeeping: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_month(desk)
    monkeypatch.setattr(exports, "SHEET_ROWS", 5)  # a header and four rows a sheet

    sheets = xlsx_of(desk, scope_of(desk.env))

    timeline = [name for name in sheets if name.startswith("Timeline")]
    assert timeline[:2] == ["Timeline", "Timeline (2)"]
    assert all(sheets[name][0][0] == "Request no." for name in timeline)
    assert all(len(sheets[name]) <= 5 for name in timeline)


def test_sheet_names_are_valid_for_excel() -> None:
    assert exports.sheet_name("Requests: a/b?") == "Requests ab"
    assert exports.sheet_name("x" * 40, 12) == "x" * 26 + " (12)"


def test_every_table_is_read_with_a_streaming_cursor(
    desk: Desk, engine: Engine, maria_housekeeping: Staff
) -> None:
    a_month(desk)
    seen: list[tuple[str, bool, int | None]] = []

    def spy(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        options = context.execution_options
        seen.append(
            (statement.split()[1], options.get("stream_results", False), options.get("yield_per"))
        )

    event.listen(engine, "before_cursor_execute", spy)
    try:
        desk.read(lambda s: exports.export(s, scope_of(desk.env), exports.Format.CSV, io.BytesIO()))
    finally:
        event.remove(engine, "before_cursor_execute", spy)

    selects = [entry for entry in seen if entry[0] != "1"]
    assert len(selects) == len(exports.TABLES)
    assert all(stream and per == exports.YIELD_PER for _, stream, per in selects)


def test_an_unknown_language_and_a_bad_period_are_refused(env: Env) -> None:
    with pytest.raises(exports.UnknownLanguage):
        exports.scope(env, period_spec="month", language="zh", now=START)
    with pytest.raises(reports.BadPeriod):
        exports.scope(env, period_spec="2026-13", language="en", now=START)


def test_the_period_is_the_hotels_calendar_day(env: Env) -> None:
    scope = exports.scope(env, period_spec="2026-11-23", language="en", now=START)

    assert scope.start.isoformat() == "2026-11-23T00:00:00+01:00"
    assert scope.end - scope.start == timedelta(days=1)


# --- the command line -------------------------------------------------------------------------


def invoke(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, list(args), env={"DATABASE_URL": db_url, "CONCIERGE_CONFIG": str(TEST_HOTEL)}
    )
    return result.exit_code, result.output


def test_concierge_export_writes_csv_and_xlsx(
    desk: Desk, db_url: str, tmp_path: Path, maria_housekeeping: Staff
) -> None:
    a_month(desk)

    code, out = invoke(
        db_url, "export", "--period", "2026-11", "--format", "csv", "--out", str(tmp_path / "m.zip")
    )
    assert code == 0, out
    assert out.startswith("wrote 2 requests, ")
    assert out.strip().endswith(" events, 1 followups to {}".format(tmp_path / "m.zip"))
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        assert len(archive.read("requests.csv").decode("utf-8-sig").splitlines()) == 3

    code, out = invoke(
        db_url,
        "export",
        "--period",
        "2026-11",
        "--format",
        "xlsx",
        "--language",
        "de",
        "--out",
        str(tmp_path / "m.xlsx"),
    )
    assert code == 0, out
    book = openpyxl.load_workbook(tmp_path / "m.xlsx", read_only=True)
    assert book.sheetnames == ["Anfragen", "Verlauf", "Nachfragen"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--period", "2026-13"],
            "error: --period 2026-13: use month, week, today, yesterday, YYYY-MM or YYYY-MM-DD",
        ),
        (
            ["--language", "zh"],
            "error: unknown language 'zh'; the hotel offers: en, it, ru, es, fr, de",
        ),
        (["--format", "pdf"], "error: --format 'pdf': use csv or xlsx"),
    ],
)
def test_concierge_export_refuses_bad_arguments_in_one_line(
    engine: Engine, db_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out = invoke(db_url, "export", "--out", str(tmp_path / "x.xlsx"), *args)

    assert (code, out.strip()) == (2, message)
    assert not (tmp_path / "x.xlsx").exists()


def test_concierge_export_to_an_unwritable_path(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "x.xlsx"

    code, out = invoke(db_url, "export", "--out", str(target))

    assert (code, out.strip()) == (2, f"error: cannot write {target}: No such file or directory")


def test_concierge_report_prints_what_report_answers(
    desk: Desk, db_url: str, sofia_supervisor: Staff, maria_housekeeping: Staff, tmp_path: Path
) -> None:
    a_month(desk)
    expected = desk.read(
        lambda s: reports.period_report(
            s, desk.env, staff_id=staff_id_of(s, 1009), period_spec="2026-11", now=START
        )
    )

    code, out = invoke(db_url, "report", "--period", "2026-11", "--chart", str(tmp_path / "m.png"))

    assert code == 0, out
    assert out.startswith(expected + "\n")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_concierge_report_refuses_a_bad_period_and_an_unwritable_chart(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    code, out = invoke(db_url, "report", "--period", "someday")
    assert (code, out.strip()) == (
        2,
        "error: --period someday: use month, week, today, yesterday, YYYY-MM or YYYY-MM-DD",
    )

    target = tmp_path / "missing" / "c.png"
    code, out = invoke(db_url, "report", "--chart", str(target))
    assert code == 2
    assert (
        out.strip().splitlines()[-1] == f"error: cannot write {target}: No such file or directory"
    )
