"""The hotel config: the example loads, and every mistake is named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_hotel_config, parse_hotel_config
from bot.settings import EXAMPLE_CONFIG

VALID = """
[hotel]
name = "H"
timezone = "Europe/Rome"
fallback_department = "front_desk"

[[departments]]
key = "front_desk"
names = { en = "Front desk" }
"""


def test_example_config_describes_a_full_hotel() -> None:
    hotel = load_hotel_config(EXAMPLE_CONFIG)
    assert hotel.department_keys == [
        "front_desk",
        "housekeeping",
        "maintenance",
        "room_service",
        "concierge",
    ]
    assert hotel.hotel.languages == ("en", "it", "ru", "es", "fr", "de")
    for department in hotel.departments:
        assert set(department.names) == set(hotel.hotel.languages)
        assert set(department.keywords) == set(hotel.hotel.languages)
    assert hotel.followup_delay("housekeeping") == 1800
    assert hotel.department_name("maintenance", "de") == "Haustechnik"
    assert hotel.hotel.phone == "+39 06 1234 5678"


def test_minimal_config_gets_defaults() -> None:
    hotel = parse_hotel_config(VALID)
    assert hotel.hotel.default_language == "en"
    assert hotel.timings.followup_delay == 1800
    assert hotel.department_name("front_desk", "ja") == "Front desk"
    assert hotel.hotel.phone is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('timezone = "Europe/Rome"', 'timezone = "Mars/Olympus"'),
            "hotel.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            ('fallback_department = "front_desk"', 'fallback_department = "spa"'),
            "hotel.fallback_department: 'spa' is not a department key (keys: front_desk)",
        ),
        (
            ('names = { en = "Front desk" }', 'names = { it = "Reception" }'),
            "departments.0.names: missing the default language 'en'",
        ),
        (
            ('key = "front_desk"', 'key = "Front Desk"'),
            "departments.0.key: String should match pattern",
        ),
        (
            ('name = "H"', 'name = "H"\nlanguages = ["en", "ja"]'),
            "hotel.languages: unsupported language(s) ja",
        ),
        (('name = "H"', 'name = "H"\nstars = 5'), "hotel.stars: Extra inputs are not permitted"),
        (
            ("[hotel]", '[hotel]\ndefault_language = "fr"\nlanguages = ["en"]'),
            "hotel: default_language 'fr' is not in languages (en)",
        ),
        (
            ('name = "H"', 'name = "H"\nroom_pattern = "(["'),
            "hotel.room_pattern: not a valid regular expression",
        ),
        (
            ('name = "H"', 'name = "H"\nphone = "call us"'),
            "hotel.phone: String should match pattern",
        ),
    ],
)
def test_bad_config_names_the_key(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_hotel_config(VALID.replace(*change), "hotel.toml")
    assert str(raised.value).startswith("hotel.toml: " + message)


def test_timing_bounds_and_duplicate_departments() -> None:
    with pytest.raises(
        ConfigError, match=r"timings.followup_delay: Input should be greater than or equal to 1"
    ):
        parse_hotel_config(VALID + "\n[timings]\nfollowup_delay = 0\n")
    duplicate = VALID + '\n[[departments]]\nkey = "front_desk"\nnames = { en = "Again" }\n'
    with pytest.raises(ConfigError, match=r"departments.1.key: duplicate key 'front_desk'"):
        parse_hotel_config(duplicate)


def test_unreadable_or_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the hotel config"):
        load_hotel_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[hotel\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_hotel_config(broken)
