"""Printable room cards: one A6 page per room with a QR code of the room's signed deep link.

A card shows the hotel's name, the room ("Room 412" in the hotel's default language), the QR
code of ``https://t.me/<bot>?start=<signed room payload>`` (``bot/roomlinks.py``), a short
line in each of the hotel's languages asking the guest to scan it, and the link in small
print. The PDF is drawn with fpdf2; the QR code (segno) is drawn as vector rectangles, so it
prints sharp at any size. The text is set in Fira Sans, from the ``fontpkg-fira-sans``
package and embedded (as a subset) in the PDF: it covers Latin, Cyrillic and Greek, not CJK,
Arabic or Hebrew; a hotel name or line in those scripts would print as empty boxes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import fontpkg
import segno
from fpdf import FPDF

from bot import roomlinks
from bot.config import HotelConfig
from bot.i18n import I18n, Translator

MAX_CARDS = 5000  # a typo such as 1-100000 should not print a book
FONT = "Fira Sans"
PAGE = (105.0, 148.0)  # A6 portrait, millimetres
MARGIN = 8.0
QR_BOX = 66.0  # the code with its quiet zone of four modules
_RANGE = re.compile(r"([0-9]+)-([0-9]+)")


class RoomListError(ValueError):
    """A ``--rooms`` list that names no room, a bad range or a room the hotel has not."""


@dataclass(frozen=True)
class Card:
    """One room's card: the room and the deep link its QR code opens."""

    room: str
    link: str


def parse_rooms(spec: str, room_regex: re.Pattern[str]) -> list[str]:
    """The rooms of a list such as ``101-120,201-220,12A``, in order, each once.

    An item of two numbers joined by a dash is an inclusive range (``101-120``; leading zeros
    are kept, ``01-09``); any other item is one room. Every room must match the hotel's
    ``room_pattern``; RoomListError names the first item that does not.
    """
    rooms: dict[str, None] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            raise RoomListError(f"empty item in the room list {spec!r}")
        if match := _RANGE.fullmatch(item):
            first, last = match.groups()
            if int(last) < int(first):
                raise RoomListError(f"range {item!r} ends before it starts")
            if int(last) - int(first) >= MAX_CARDS:
                raise RoomListError(f"range {item!r} has more than {MAX_CARDS} rooms")
            width = len(first) if first.startswith("0") else 0
            names = [str(n).zfill(width) for n in range(int(first), int(last) + 1)]
        else:
            names = [item]
        for room in names:
            if not room_regex.fullmatch(room):
                where = f"room {room!r}" + (f" of range {item!r}" if room != item else "")
                raise RoomListError(
                    f"{where} does not match hotel.room_pattern {room_regex.pattern!r}"
                )
            rooms[room] = None
        if len(rooms) > MAX_CARDS:
            raise RoomListError(f"more than {MAX_CARDS} rooms")
    return list(rooms)


def cards(rooms: Iterable[str], *, bot_username: str, key: bytes) -> list[Card]:
    """A card for each room, its link signed with ``key``; ValueError for a room too long."""
    return [
        Card(room, roomlinks.deep_link(bot_username, roomlinks.sign(room, key))) for room in rooms
    ]


def scan_lines(hotel: HotelConfig, i18n: I18n) -> list[str]:
    """The "scan me" line in each of the hotel's languages, the default language first."""
    languages = dict.fromkeys((hotel.hotel.default_language, *hotel.hotel.languages))
    return list(dict.fromkeys(_scan_line(i18n.translator(code)) for code in languages))


def _scan_line(t: Translator) -> str:
    # TRANSLATORS: under the QR code of a room card, one line per hotel language; keep it short.
    return t.gettext("Scan to message the concierge")


def _room_label(t: Translator, room: str) -> str:
    # TRANSLATORS: printed large on the QR code card of a guest room, e.g. "Room 412".
    return t.gettext("Room {room}").format(room=room)


def render(cards: Sequence[Card], hotel: HotelConfig, i18n: I18n) -> bytes:
    """The PDF with one A6 page per card."""
    pdf = FPDF(unit="mm", format=PAGE)
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN)
    pdf.set_title(f"{hotel.hotel.name}: room cards")
    pdf.set_creator("Concierge")
    pdf.add_font(FONT, "", Path(fontpkg.path(FONT, weight=400)))
    pdf.add_font(FONT, "B", Path(fontpkg.path(FONT, weight=700)))
    default = i18n.translator(hotel.hotel.default_language)
    # The texts every card shares are fitted once.
    name = _Text(hotel.hotel.name, "B", _size(pdf, hotel.hotel.name, "B", 16, 10), 7)
    lines = [_Text(line, "", _size(pdf, line, "", 9, 6), 4.6) for line in scan_lines(hotel, i18n)]
    for card in cards:
        pdf.add_page()
        pdf.set_y(MARGIN)
        name.write(pdf)
        label = _room_label(default, card.room)
        _Text(label, "B", _size(pdf, label, "B", 26, 12), 11).write(pdf)
        top = pdf.get_y() + 1
        _qr(pdf, card.link, (PAGE[0] - QR_BOX) / 2, top, QR_BOX)
        pdf.set_y(top + QR_BOX + 1)
        for line in lines:
            line.write(pdf)
        pdf.set_y(PAGE[1] - MARGIN - 3)
        _Text(card.link, "", _size(pdf, card.link, "", 6, 4.5), 2.6).write(pdf)
    return bytes(pdf.output())


WIDTH = PAGE[0] - 2 * MARGIN


def _size(pdf: FPDF, text: str, style: str, size: float, smallest: float) -> float:
    """The largest font size from ``size`` down to ``smallest`` at which ``text`` fits a line."""
    pdf.set_font(FONT, style, size)
    while size > smallest and pdf.get_string_width(text) > WIDTH:
        size -= 0.5
        pdf.set_font_size(size)
    return size


@dataclass(frozen=True)
class _Text:
    """A centred text at a fitted size: one line, or wrapped if it is too long even then."""

    text: str
    style: str
    size: float
    height: float

    def write(self, pdf: FPDF) -> None:
        """Write it at the current height and move below it."""
        pdf.set_font(FONT, self.style, self.size)
        if pdf.get_string_width(self.text) <= WIDTH:
            # cell, not multi_cell: multi_cell's line breaking costs a millisecond a line.
            pdf.cell(WIDTH, self.height, self.text, align="C", new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.multi_cell(WIDTH, self.height, self.text, align="C")


def _qr(pdf: FPDF, data: str, x: float, y: float, box: float) -> None:
    """Draw the QR code of ``data`` in a ``box`` mm square that includes its quiet zone."""
    code = segno.make(data, error="m", micro=False)
    modules = code.symbol_size(border=0)[0]
    unit = box / (modules + 8)
    left, top = x + 4 * unit, y + 4 * unit
    pdf.set_fill_color(0)
    for row, bits in enumerate(code.matrix):
        column = 0
        while column < modules:
            if not bits[column]:
                column += 1
                continue
            start = column
            while column < modules and bits[column]:
                column += 1
            # One rectangle per run of dark modules: a third of the rectangles of one each.
            pdf.rect(left + start * unit, top + row * unit, (column - start) * unit, unit, "F")
