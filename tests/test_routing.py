"""Routing by keywords in the guest's language, and the chain of who is on duty."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.config import HotelConfig
from bot.routing import Tier, match_department, recipients
from tests.conftest import Desk, register


@pytest.mark.parametrize(
    ("text", "locale", "department"),
    [
        ("Two more TOWELS please", "en", "housekeeping"),
        ("Vorrei due asciugamani", "it", "housekeeping"),
        ("Der Fernseher ist kaputt", "de", "maintenance"),
        ("Нужны полотенца", "ru", "housekeeping"),
        ("towels please", "it", "housekeeping"),  # English words from an Italian guest
        ("a taxi at 6:00", "en", "front_desk"),
        ("the tv is broken and there is a towel on the floor", "en", "maintenance"),
        ("Hello!", "en", None),
        ("", "en", None),
    ],
)
def test_match_department(
    hotel: HotelConfig, text: str, locale: str, department: str | None
) -> None:
    assert match_department(hotel, text, locale) == department


def test_keywords_match_word_starts_only(hotel: HotelConfig) -> None:
    assert match_department(hotel, "my stv", "en") is None


def test_recipients_chain(desk: Desk, session: Session, hotel: HotelConfig) -> None:
    assert recipients(session, hotel, "maintenance").tier is Tier.NOBODY
    sofia = register(desk, 1009, "Sofia", "housekeeping", role="supervisor")  # type: ignore[arg-type]
    assert recipients(session, hotel, "maintenance").tier is Tier.SUPERVISORS
    olga = register(desk, 1003, "Olga", "front_desk")
    found = recipients(session, hotel, "maintenance")
    assert (found.tier, [s.name for s in found.staff]) == (Tier.FALLBACK, ["Olga"])
    register(desk, 1004, "Piotr", "maintenance")
    assert [s.name for s in recipients(session, hotel, "maintenance").staff] == ["Piotr"]
    assert [s.name for s in recipients(session, hotel, "housekeeping").staff] == ["Sofia"]
    # Olga excluded, nobody at the front desk: the supervisors, and only they.
    escalated = recipients(session, hotel, "front_desk", exclude={olga.id})  # type: ignore[arg-type]
    assert (escalated.tier, [s.id for s in escalated.staff]) == (Tier.SUPERVISORS, [sofia.id])


def test_off_duty_and_removed_staff_get_nothing(
    desk: Desk, session: Session, hotel: HotelConfig
) -> None:
    register(desk, 1001, "Maria", "housekeeping", on_duty=False)
    assert recipients(session, hotel, "housekeeping").tier is Tier.NOBODY
