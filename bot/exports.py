"""A period's data as files for supervisors: CSV (one file per table, in a zip) and XLSX (one
sheet per table), and the text of ``/report`` for the command line.

Each table is one ``Table``: its columns and the query that yields its rows, so that another
table (escalations) is one more entry in ``TABLES``. Rows are read with a streaming cursor
(a server-side cursor on PostgreSQL, ``YIELD_PER`` rows at a time) and written one by one: a
month of a million requests is never held in memory (``python -m bench.export`` measures it).

Times are the hotel's local time; headers, department names, statuses and answers are in the
reader's language. A guest who was erased (``/forgetme``) appears without room or name, as in
the rest of the app; request texts are never exported.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Executable
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from bot.config import HotelConfig
from bot.i18n import Translator
from bot.i18n import noop as _  # marks the headers for extraction; translated when written
from bot.models import ActorKind, Event, FollowUp, FollowUpStatus, Guest, Request, Staff
from bot.services.common import Env
from bot.services.reports import Period, parse_period, period_text
from bot.texts import common as common_texts

# Rows fetched from the database at a time (a server-side cursor's batch on PostgreSQL).
YIELD_PER = 2_000
# An XLSX sheet holds 1,048,576 rows; a longer table goes on in a sheet "… (2)" and so on.
SHEET_ROWS = 1_048_576
# Excel's limit on a sheet's name, and the characters it refuses in one.
SHEET_NAME = 31
_NOT_IN_SHEET_NAMES = str.maketrans("", "", "[]:*?/\\")

Row = tuple[Any, ...]


class ValueKind(StrEnum):
    """How a column's values are written (an XLSX cell type, a CSV text)."""

    TEXT = "text"
    NUMBER = "number"
    TIME = "time"  # the hotel's local time, without an offset


@dataclass(frozen=True)
class Column:
    """One column: its header (a msgid, translated for the reader) and its kind of value."""

    header: str
    kind: ValueKind = ValueKind.TEXT


@dataclass(frozen=True)
class Scope:
    """What an export covers and for whom: the period (aware times) and the reader."""

    hotel: HotelConfig
    t: Translator
    start: datetime
    end: datetime

    def local(self, moment: datetime | None) -> datetime | None:
        """A stored UTC time as the hotel's wall-clock time (naive, as a spreadsheet shows)."""
        if moment is None:
            return None
        return moment.astimezone(self.hotel.tz).replace(tzinfo=None)


@dataclass(frozen=True)
class Table:
    """One table of an export: ``key`` names its CSV file, ``title`` (a msgid) its sheet."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: Callable[[Session, Scope], Iterator[Row]]

    def headers(self, t: Translator) -> list[str]:
        """The column headers in the reader's language."""
        return [t.gettext(column.header) for column in self.columns]


def stream(session: Session, query: Executable) -> Iterator[Any]:
    """The rows of ``query``, fetched ``YIELD_PER`` at a time (server-side on PostgreSQL)."""
    connection = session.connection().execution_options(stream_results=True, yield_per=YIELD_PER)
    with connection.execute(query) as result:
        yield from result


def _seconds(start: datetime, end: datetime | None) -> int | None:
    return None if end is None else round((end - start).total_seconds())


def _requests(session: Session, scope: Scope) -> Iterator[Row]:
    created = col(Request.created_at)
    query = (
        sa_select(
            col(Request.id),
            created,
            col(Request.accepted_at),
            col(Request.done_at),
            col(Request.closed_at),
            col(Request.department),
            col(Request.status),
            col(Request.room),
            col(Request.language),
            col(Staff.name),
            col(Request.reopened_count),
            col(Guest.erased_at),
        )
        .join(Guest, col(Guest.id) == col(Request.guest_id))
        .outerjoin(Staff, col(Staff.id) == col(Request.assignee_id))
        .where(created >= scope.start, created < scope.end)
        .order_by(created, col(Request.id))
    )
    hotel, t = scope.hotel, scope.t
    departments: dict[str, str] = {}
    statuses: dict[str, str] = {}
    for (
        number,
        created_at,
        accepted_at,
        done_at,
        closed_at,
        department,
        status,
        room,
        language,
        assignee,
        reopened,
        erased_at,
    ) in stream(session, query):
        if department not in departments:
            departments[department] = hotel.department_name(department, t.locale)
        if status not in statuses:
            statuses[status] = common_texts.status_label(t, status)
        yield (
            number,
            scope.local(created_at),
            scope.local(accepted_at),
            scope.local(done_at),
            scope.local(closed_at),
            departments[department],
            statuses[status],
            "" if erased_at is not None else room or "",
            language,
            assignee or "",
            _seconds(created_at, accepted_at),
            _seconds(created_at, done_at),
            reopened,
        )


def _events(session: Session, scope: Scope) -> Iterator[Row]:
    """The timelines of the period's requests (those ``_requests`` exports)."""
    created = col(Request.created_at)
    query = (
        sa_select(
            col(Event.request_id),
            col(Event.at),
            col(Event.kind),
            col(Event.actor_kind),
            col(Event.actor_name),
            col(Guest.erased_at),
        )
        .join(Request, col(Request.id) == col(Event.request_id))
        .join(Guest, col(Guest.id) == col(Request.guest_id))
        .where(created >= scope.start, created < scope.end)
        .order_by(col(Event.request_id), col(Event.id))
    )
    for request_id, at, kind, actor_kind, actor_name, erased_at in stream(session, query):
        erased = erased_at is not None and actor_kind == ActorKind.GUEST
        yield (request_id, scope.local(at), kind, actor_kind, "" if erased else actor_name)


def _answer(t: Translator, status: str, answer: str | None) -> str:
    if status == FollowUpStatus.ANSWERED:
        return t.gettext("all good") if answer == "yes" else t.gettext("not fixed")
    if status == FollowUpStatus.UNANSWERED:
        return t.gettext("no answer")
    return t.gettext("waiting for an answer")


def _followups(session: Session, scope: Scope) -> Iterator[Row]:
    """The follow-ups sent in the period (as ``/report`` counts them)."""
    sent = col(FollowUp.sent_at)
    query = (
        sa_select(
            col(FollowUp.request_id),
            sent,
            col(FollowUp.status),
            col(FollowUp.answer),
            col(FollowUp.answered_at),
            col(FollowUp.rating),
            col(FollowUp.language),
        )
        .where(sent >= scope.start, sent < scope.end)
        .order_by(sent, col(FollowUp.id))
    )
    t = scope.t
    for request_id, sent_at, status, answer, answered_at, rating, language in stream(
        session, query
    ):
        yield (
            request_id,
            scope.local(sent_at),
            _answer(t, status, answer),
            scope.local(answered_at),
            rating,
            language,
        )


_NUMBER, _TIME = ValueKind.NUMBER, ValueKind.TIME

# The tables of an export, in the order of the sheets. Column headers are msgids.
TABLES: tuple[Table, ...] = (
    Table(
        "requests",
        _("Requests"),
        (
            Column(_("Request no."), _NUMBER),
            Column(_("Created at"), _TIME),
            Column(_("Accepted at"), _TIME),
            Column(_("Done at"), _TIME),
            Column(_("Closed at"), _TIME),
            Column(_("Department")),
            Column(_("Status")),
            Column(_("Room")),
            Column(_("Guest's language")),
            Column(_("Handled by")),
            Column(_("Seconds to accept"), _NUMBER),
            Column(_("Seconds to done"), _NUMBER),
            Column(_("Times reopened"), _NUMBER),
        ),
        _requests,
    ),
    Table(
        "events",
        _("Timeline"),
        (
            Column(_("Request no."), _NUMBER),
            Column(_("Time"), _TIME),
            Column(_("Event")),
            Column(_("By (guest, staff, system)")),
            Column(_("Name")),
        ),
        _events,
    ),
    Table(
        "followups",
        _("Follow-ups"),
        (
            Column(_("Request no."), _NUMBER),
            Column(_("Sent at"), _TIME),
            Column(_("Answer")),
            Column(_("Answered at"), _TIME),
            Column(_("Rating (1–5)"), _NUMBER),
            Column(_("Guest's language")),
        ),
        _followups,
    ),
)


class Format(StrEnum):
    """What an export is written as."""

    CSV = "csv"  # a zip with one CSV file per table
    XLSX = "xlsx"  # one workbook, a sheet per table


class UnknownLanguage(ValueError):
    """The reader's language is not one the hotel offers."""

    def __init__(self, code: str, offered: Sequence[str]) -> None:
        super().__init__(code)
        self.code = code
        self.offered = tuple(offered)


def scope(env: Env, *, period_spec: str | None, language: str | None, now: datetime) -> Scope:
    """The export of ``period_spec`` (as ``/report`` reads it) for a reader of ``language``
    (default: the hotel's); ``BadPeriod`` or ``UnknownLanguage`` otherwise."""
    hotel = env.hotel
    code = language or hotel.hotel.default_language
    if code not in hotel.hotel.languages:
        raise UnknownLanguage(code, hotel.hotel.languages)
    start, end = period_of(env, period_spec, now).bounds(hotel.tz)
    return Scope(hotel=hotel, t=env.t(code), start=start, end=end)


def period_of(env: Env, period_spec: str | None, now: datetime) -> Period:
    """The period ``period_spec`` means at ``now`` in the hotel's time zone."""
    return parse_period(period_spec, now.astimezone(env.hotel.tz).date())


def report_text(session: Session, env: Env, *, period: Period, language: str) -> str:
    """The text ``/report`` answers for ``period``, for a reader of ``language``."""
    return period_text(session, env, period, env.t(language))


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(" ", "seconds")
    return "" if value is None else value


def write_csv(session: Session, scope: Scope, table: Table, out: IO[str]) -> int:
    """Write ``table`` as CSV (a header, then one line per row) to ``out``; returns the rows."""
    writer = csv.writer(out)
    writer.writerow(table.headers(scope.t))
    count = 0
    for row in table.rows(session, scope):
        writer.writerow([_csv_value(value) for value in row])
        count += 1
    return count


def write_zip(
    session: Session, scope: Scope, target: Path | IO[bytes], tables: Iterable[Table] = TABLES
) -> dict[str, int]:
    """A zip of one ``<key>.csv`` per table (UTF-8 with a BOM, which Excel needs to read it
    as UTF-8); returns the rows of each table."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            with (
                archive.open(f"{table.key}.csv", "w", force_zip64=True) as member,
                io.TextIOWrapper(member, encoding="utf-8-sig", newline="") as out,
            ):
                counts[table.key] = write_csv(session, scope, table, out)
    return counts


def sheet_name(title: str, part: int = 1) -> str:
    """A valid sheet name for ``title`` (``title (2)`` for a table's second sheet)."""
    suffix = f" ({part})" if part > 1 else ""
    return title.translate(_NOT_IN_SHEET_NAMES)[: SHEET_NAME - len(suffix)] + suffix


_WIDTHS = {ValueKind.TIME: 19, ValueKind.NUMBER: 10, ValueKind.TEXT: 16}


def write_xlsx(
    session: Session, scope: Scope, target: Path | IO[bytes], tables: Iterable[Table] = TABLES
) -> dict[str, int]:
    """One workbook with a sheet per table (more sheets for a table longer than a sheet),
    written by xlsxwriter in constant-memory mode; returns the rows of each table."""
    import xlsxwriter  # type: ignore[import-untyped]  # only the exports need it

    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "default_date_format": "yyyy-mm-dd hh:mm:ss",
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    counts: dict[str, int] = {}
    try:
        for table in tables:
            title, headers = scope.t.gettext(table.title), table.headers(scope.t)
            part, line, sheet = 0, SHEET_ROWS, None
            count = 0
            for row in table.rows(session, scope):
                if line == SHEET_ROWS:
                    part += 1
                    sheet = _sheet(workbook, sheet_name(title, part), table, headers, bold)
                    line = 1
                assert sheet is not None
                sheet.write_row(line, 0, row)
                line += 1
                count += 1
            if part == 0:  # an empty table still has its sheet and headers
                _sheet(workbook, sheet_name(title), table, headers, bold)
            counts[table.key] = count
    finally:
        workbook.close()
    return counts


def _sheet(workbook: Any, name: str, table: Table, headers: list[str], bold: Any) -> Any:
    sheet = workbook.add_worksheet(name)
    for index, column in enumerate(table.columns):
        sheet.set_column(index, index, max(_WIDTHS[column.kind], len(headers[index]) + 2))
    sheet.write_row(0, 0, headers, bold)
    sheet.freeze_panes(1, 0)
    return sheet


def export(
    session: Session,
    scope: Scope,
    fmt: Format,
    target: Path | IO[bytes],
    tables: Iterable[Table] = TABLES,
) -> dict[str, int]:
    """Write the period's tables as ``fmt`` to ``target``; returns the rows of each table."""
    if fmt is Format.XLSX:
        return write_xlsx(session, scope, target, tables)
    return write_zip(session, scope, target, tables)
