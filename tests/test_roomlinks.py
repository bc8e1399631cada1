"""Signed room payloads: round trip, refusal of anything tampered, Telegram's 64-character limit."""

from __future__ import annotations

import re

import pytest

from bot import roomlinks
from bot.buttons import CallbackSigner
from bot.roomlinks import MAX_PAYLOAD, MAX_ROOM_LENGTH, deep_link, room_key, sign, verify

KEY = room_key("123456:test-token")
DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

ROOMS = [
    "1",
    "7",
    "412",
    "1201",
    "12A",
    "9999z",
    "A-101",
    "west_12",
    "R12",
    "U12",
    "Suite 3",
    "3/2",
    "Ca' d'Oro",
    "Люкс 5",
    "Σουίτα 2",
    "Chambre é",
    "房间 101",
    "0" * MAX_ROOM_LENGTH,
    "Ж" * MAX_ROOM_LENGTH,
]


@pytest.mark.parametrize("room", ROOMS)
def test_round_trip_fits_a_deep_link(room: str) -> None:
    payload = sign(room, KEY)
    assert verify(payload, KEY) == room
    assert DEEP_LINK.fullmatch(payload), payload


def test_every_room_the_default_pattern_allows_round_trips() -> None:
    pattern = re.compile(r"^[0-9]{1,4}[A-Za-z]?$")
    rooms = [f"{n}{suffix}" for n in (0, 5, 42, 412, 1201, 9999) for suffix in ("", "A", "z")]
    assert all(pattern.fullmatch(room) for room in rooms)
    for room in rooms:
        assert verify(sign(room, KEY), KEY) == room


def test_plain_rooms_are_written_as_they_are() -> None:
    assert sign("412", KEY).startswith("R412")
    assert sign("A-101", KEY).startswith("RA-101")
    assert sign("Suite 3", KEY).startswith("UU3VpdGUgMw")
    assert len(sign("412", KEY)) == 1 + 3 + roomlinks.MAC_LENGTH


@pytest.mark.parametrize(
    "room",
    [
        "Z" * MAX_ROOM_LENGTH,  # the longest plain room
        "Ж" * MAX_ROOM_LENGTH,  # 16 two-byte letters: 32 bytes
        "Σ" * 14 + "-1",  # mixed scripts, 16 characters
        "房" * 12 + "12",  # 38 bytes: the longest room by bytes
    ],
)
def test_longest_rooms_stay_within_64_characters_of_the_alphabet(room: str) -> None:
    payload = sign(room, KEY)
    assert len(payload) <= MAX_PAYLOAD
    assert DEEP_LINK.fullmatch(payload)
    assert verify(payload, KEY) == room


def test_the_longest_payload_is_exactly_64_characters() -> None:
    assert len(sign("房" * 12 + "12", KEY)) == 64


@pytest.mark.parametrize("room", ["", "1" * (MAX_ROOM_LENGTH + 1), "房" * 13, "😀" * 10])
def test_rooms_that_cannot_fit_are_refused_when_signing(room: str) -> None:
    with pytest.raises(ValueError, match="room"):
        sign(room, KEY)


@pytest.mark.parametrize("room", ["412", "A-101", "Люкс 5", "房间 101", "Z" * MAX_ROOM_LENGTH])
def test_every_single_character_tamper_is_refused(room: str) -> None:
    payload = sign(room, KEY)
    for index, original in enumerate(payload):
        for replacement in ALPHABET:
            if replacement != original:
                tampered = payload[:index] + replacement + payload[index + 1 :]
                assert verify(tampered, KEY) is None, (index, replacement)


@pytest.mark.parametrize("room", ["412", "Люкс 5"])
def test_dropped_added_or_swapped_characters_are_refused(room: str) -> None:
    payload = sign(room, KEY)
    for index in range(len(payload)):
        assert verify(payload[:index] + payload[index + 1 :], KEY) is None
        for extra in "A_-9":
            assert verify(payload[:index] + extra + payload[index:], KEY) is None
    assert verify(payload + "A", KEY) is None


def test_another_key_is_refused() -> None:
    payload = sign("412", KEY)
    assert verify(payload, room_key("123456:another-token")) is None
    assert verify(payload, b"") is None


def test_a_payload_signed_with_the_button_key_is_refused() -> None:
    token = "123456:test-token"
    button_key = CallbackSigner.for_token(token)._key
    assert room_key(token) != button_key
    forged = "R412" + roomlinks._mac(button_key, "R412")
    assert verify(forged, button_key) == "412"  # well formed: only the key is wrong
    assert verify(forged, room_key(token)) is None


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "R",
        "room-412",
        "R412",
        "x" * 65,
        "R412 AAAAAAAAAAAA",
        "R412+AAAAAAAAAAA/",
        "Ж" * 20,
    ],
)
def test_malformed_payloads_are_refused(payload: str) -> None:
    assert verify(payload, KEY) is None


def test_a_well_signed_body_with_an_unknown_tag_or_bad_encoding_is_refused() -> None:
    for body in ("X412", "U", "R", "UA", "U____"):  # unknown tag, empty, not base64 or UTF-8
        assert verify(body + roomlinks._mac(KEY, body), KEY) is None


def test_deep_link() -> None:
    assert deep_link("@HotelBot", "R412abc") == "https://t.me/HotelBot?start=R412abc"
    assert deep_link("HotelBot", "R412abc") == "https://t.me/HotelBot?start=R412abc"
