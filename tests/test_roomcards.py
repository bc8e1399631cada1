"""Room cards: the room list, the PDF (rendered and its QR code decoded back) and ``concierge qr``."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pypdfium2 as pdfium
import pytest
import zxingcpp
from typer.testing import CliRunner

from bot.cli import app
from bot.config import HotelConfig
from bot.i18n import I18n
from bot.roomcards import Card, RoomListError, cards, parse_rooms, render, scan_lines
from bot.roomlinks import room_key, verify
from tests.conftest import TEST_HOTEL
from tests.fakebotapi import FakeBotAPIThread

DEFAULT_ROOMS = re.compile(r"^[0-9]{1,4}[A-Za-z]?$")
TOKEN = "123456:room-card-token"
KEY = room_key(TOKEN)
runner = CliRunner()


def pages(pdf: bytes) -> list[pdfium.PdfPage]:
    return list(pdfium.PdfDocument(pdf))


def text_of(page: pdfium.PdfPage) -> str:
    return str(page.get_textpage().get_text_range())


def decoded_links(page: pdfium.PdfPage) -> list[str]:
    """The QR codes zxing finds on the page rendered at 200 dpi."""
    image = page.render(scale=200 / 72).to_pil()
    return [code.text for code in zxingcpp.read_barcodes(image)]


def payload_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["start"][0]


def named(hotel: HotelConfig, name: str) -> HotelConfig:
    return hotel.model_copy(update={"hotel": hotel.hotel.model_copy(update={"name": name})})


# The room list


def test_ranges_and_single_rooms_in_order_each_once() -> None:
    assert parse_rooms("101-103, 12A,201-202,102", DEFAULT_ROOMS) == [
        "101",
        "102",
        "103",
        "12A",
        "201",
        "202",
    ]


def test_a_range_keeps_leading_zeros() -> None:
    assert parse_rooms("08-11", DEFAULT_ROOMS) == ["08", "09", "10", "11"]


def test_a_single_room_range() -> None:
    assert parse_rooms("7-7", DEFAULT_ROOMS) == ["7"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("120-101", "range '120-101' ends before it starts"),
        ("101,12AB", "room '12AB' does not match hotel.room_pattern '^[0-9]{1,4}[A-Za-z]?$'"),
        (
            "9998-10001",
            "room '10000' of range '9998-10001' does not match hotel.room_pattern",
        ),
        ("101,,102", "empty item in the room list '101,,102'"),
        ("", "empty item"),
        ("1-9999", "range '1-9999' has more than 5000 rooms"),
        ("A-C", "room 'A-C' does not match"),
    ],
)
def test_bad_lists_name_the_item(spec: str, message: str) -> None:
    with pytest.raises(RoomListError) as raised:
        parse_rooms(spec, DEFAULT_ROOMS)
    assert str(raised.value).startswith(message)


def test_a_hotel_pattern_with_dashes_and_letters() -> None:
    pattern = re.compile(r"^[A-Z]-[0-9]{3}$")
    assert parse_rooms("A-101,B-202", pattern) == ["A-101", "B-202"]


# The PDF


def test_cards_link_to_the_bot_with_a_signed_room() -> None:
    [card] = cards(["412"], bot_username="HotelTestaBot", key=KEY)
    assert card.link.startswith("https://t.me/HotelTestaBot?start=R412")
    assert verify(payload_of(card.link), KEY) == "412"


def test_one_page_per_card_whose_qr_code_decodes_to_its_signed_link(hotel: HotelConfig) -> None:
    made = cards(["101", "412", "12A"], bot_username="HotelTestaBot", key=KEY)
    pdf = render(made, hotel, I18n("en"))
    assert pdf.startswith(b"%PDF")
    printed = pages(pdf)
    assert len(printed) == 3
    [link] = decoded_links(printed[1])
    assert link == made[1].link
    assert verify(payload_of(link), KEY) == "412"
    assert verify(payload_of(link), room_key("123456:another-token")) is None


def test_the_text_layer_has_the_hotel_the_room_every_language_and_the_link(
    hotel: HotelConfig,
) -> None:
    [card] = cards(["412"], bot_username="HotelTestaBot", key=KEY)
    text = text_of(pages(render([card], hotel, I18n("en")))[0])
    assert "Hotel Testa" in text
    assert "Room 412" in text
    assert "Отсканируйте код, чтобы написать консьержу" in text
    assert "Scannen Sie den Code, um dem Concierge zu schreiben" in text
    assert card.link in text.replace("\r", "").replace("\n", "")


def test_the_room_label_is_in_the_hotels_default_language(hotel: HotelConfig) -> None:
    italian = hotel.model_copy(
        update={"hotel": hotel.hotel.model_copy(update={"default_language": "it"})}
    )
    text = text_of(
        pages(render(cards(["412"], bot_username="HotelTestaBot", key=KEY), italian, I18n("it")))[0]
    )
    assert "Camera 412" in text
    assert text.index("Inquadri il codice") < text.index("Scan to message the concierge")


def test_scan_lines_follow_the_hotels_languages(hotel: HotelConfig) -> None:
    two = hotel.model_copy(
        update={
            "hotel": hotel.hotel.model_copy(
                update={"default_language": "ru", "languages": ("en", "ru")}
            )
        }
    )
    assert scan_lines(two, I18n("ru", ("en", "ru"))) == [
        "Отсканируйте код, чтобы написать консьержу",
        "Scan to message the concierge",
    ]


def test_cyrillic_and_greek_are_in_the_embedded_font(
    hotel: HotelConfig, caplog: pytest.LogCaptureFixture
) -> None:
    greek = named(hotel, "Ξενοδοχείο Ήλιος · Гостиница «Солнце»")
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        pdf = render([Card("Люкс 5", "https://t.me/HotelTestaBot?start=x")], greek, I18n("en"))
    assert not [r for r in caplog.records if "missing" in r.getMessage()]
    text = text_of(pages(pdf)[0])
    assert "Ξενοδοχείο Ήλιος" in text and "Гостиница «Солнце»" in text
    assert "Room Люкс 5" in text


def test_cjk_is_beyond_the_font(hotel: HotelConfig, caplog: pytest.LogCaptureFixture) -> None:
    # The limit the README names: the embedded font has no CJK glyphs.
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        render(
            [Card("412", "https://t.me/HotelTestaBot?start=x")], named(hotel, "酒店"), I18n("en")
        )
    assert any("missing the following glyphs" in r.getMessage() for r in caplog.records)


def test_a_long_hotel_name_wraps_and_the_code_still_decodes(hotel: HotelConfig) -> None:
    long_name = "Grand Hotel " + "Magnifico " * 8
    made = cards(["9999Z"], bot_username="a_rather_long_hotel_concierge_bot", key=KEY)
    page = pages(render(made, named(hotel, long_name.strip()), I18n("en")))[0]
    assert decoded_links(page) == [made[0].link]
    assert "Magnifico" in text_of(page)


# concierge qr


def qr(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str | None
) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    environ: dict[str, str | None] = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "CONCIERGE_CONFIG": str(TEST_HOTEL),
        "TELEGRAM_BASE_URL": None,
        **env,
    }
    result = runner.invoke(app, ["qr", *args], env=environ)
    return result.exit_code, result.output


def test_qr_writes_one_card_per_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rooms.pdf"
    code, output = qr(
        ["--rooms", "101-103,12A", "--out", str(out), "--bot-username", "@HotelTestaBot"],
        tmp_path,
        monkeypatch,
    )
    assert code == 0, output
    assert output.strip() == f"wrote 4 room cards to {out} (links to @HotelTestaBot)"
    printed = pages(out.read_bytes())
    assert len(printed) == 4
    [link] = decoded_links(printed[3])
    assert link.startswith("https://t.me/HotelTestaBot?start=")
    assert verify(payload_of(link), KEY) == "12A"
    assert "Room 12A" in text_of(printed[3])


def test_qr_asks_telegram_for_the_username(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rooms.pdf"
    with FakeBotAPIThread() as fake:
        code, output = qr(
            ["--rooms", "412", "--out", str(out)],
            tmp_path,
            monkeypatch,
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_BASE_URL=fake.base_url,
        )
    assert code == 0, output
    assert output.strip() == f"wrote 1 room card to {out} (links to @concierge_test_bot)"
    [link] = decoded_links(pages(out.read_bytes())[0])
    assert verify(payload_of(link), room_key(fake.token)) == "412"


@pytest.mark.parametrize(
    ("rooms", "message"),
    [
        ("120-101", "error: --rooms: range '120-101' ends before it starts"),
        (
            "101,12AB",
            "error: --rooms: room '12AB' does not match hotel.room_pattern '^[0-9]{1,4}[A-Za-z]?$'",
        ),
    ],
)
def test_qr_refuses_a_bad_room_or_range_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rooms: str, message: str
) -> None:
    out = tmp_path / "rooms.pdf"
    code, output = qr(
        ["--rooms", rooms, "--out", str(out), "--bot-username", "HotelTestaBot"],
        tmp_path,
        monkeypatch,
    )
    assert (code, output.strip()) == (2, message)
    assert not out.exists()


def test_qr_without_token_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = qr(
        ["--rooms", "412", "--out", "rooms.pdf", "--bot-username", "HotelTestaBot"],
        tmp_path,
        monkeypatch,
        TELEGRAM_BOT_TOKEN=None,
    )
    assert (code, output.strip()) == (
        2,
        "error: TELEGRAM_BOT_TOKEN is not set; room links are signed with a key derived from it",
    )


def test_qr_refuses_a_username_that_is_not_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = qr(
        ["--rooms", "412", "--out", "rooms.pdf", "--bot-username", "my bot"], tmp_path, monkeypatch
    )
    assert code == 2
    assert output.strip() == (
        "error: --bot-username 'my bot' is not a Telegram username (5-32 of A-Z a-z 0-9 _)"
    )


def test_qr_when_telegram_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = qr(
        ["--rooms", "412", "--out", "rooms.pdf"],
        tmp_path,
        monkeypatch,
        TELEGRAM_BASE_URL="http://127.0.0.1:9/bot",
    )
    assert code == 3
    lines = output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach the Telegram Bot API at http://127.0.0.1:9/bot")
    assert lines[0].endswith("give it with --bot-username")


def test_qr_cannot_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = qr(
        [
            "--rooms",
            "412",
            "--out",
            str(tmp_path / "missing" / "rooms.pdf"),
            "--bot-username",
            "HotelTestaBot",
        ],
        tmp_path,
        monkeypatch,
    )
    assert code == 2
    assert output.strip().startswith(f"error: cannot write {tmp_path / 'missing' / 'rooms.pdf'}: ")


def test_qr_has_help() -> None:
    result = runner.invoke(app, ["qr", "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and "--rooms" in result.output
