"""Languages: negotiation, complete catalogs, and a locale per reader."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.catalogs import check
from bot.i18n import SUPPORTED_LOCALES, I18n
from bot.models import Staff
from bot.services.common import Env, Person
from tests.conftest import Desk, guest_writes


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("de-AT", "de"),
        ("it", "it"),
        ("pt-br", "en"),
        (None, "en"),
        ("ru", "ru"),
        ("es-419", "es"),
        ("FR", "fr"),
    ],
)
def test_negotiation_against_offered_locales(code: str | None, locale: str) -> None:
    assert I18n("en").negotiate(code) == locale


def test_hotel_may_offer_fewer_languages() -> None:
    i18n = I18n("it", offered=("it", "en"))
    assert i18n.negotiate("de") == "it"
    assert i18n.translator("de").locale == "it"


def test_catalogs_are_complete() -> None:
    assert check() == []


@pytest.mark.parametrize("locale", [code for code in SUPPORTED_LOCALES if code != "en"])
def test_every_language_is_really_translated(locale: str) -> None:
    t = I18n("en").translator(locale)
    assert t.gettext("Accept") != "Accept"
    assert "{number}" in t.gettext("Request #{number} is cancelled.")


def test_plural_forms_follow_the_language() -> None:
    ru = I18n("en").translator("ru")
    forms = {
        ru.ngettext(
            "{count} waiting request has been sent to you.",
            "{count} waiting requests have been sent to you.",
            n,
        )
        for n in (1, 3, 5)
    }
    assert len(forms) == 3


def test_dates_are_formatted_for_the_reader() -> None:
    moment = datetime(2026, 11, 23, 17, 5, tzinfo=UTC)
    rome = ZoneInfo("Europe/Rome")
    assert I18n("en").translator("de").datetime(moment, rome) == "23.11.26, 18:05"
    assert I18n("en").translator("en").time(moment, rome) == "6:05\u202fPM"


def test_each_recipient_reads_their_own_language(
    desk: Desk, env: Env, maria_housekeeping: Staff, olga_front_desk: Staff
) -> None:
    german = Person(telegram_id=5001, chat_id=5001, first_name="Anna", language_code="de-DE")
    guest_writes(desk, german, "Handtücher bitte")

    german_ack = desk.texts_to(5001)[0]
    assert german_ack.startswith(
        env.t("de").gettext("Request #{number} received — {department} is on it.").split("{")[0]
    )
    assert "Housekeeping" in german_ack
    italian_card = desk.texts_to(maria_housekeeping.telegram_id)[0]
    assert (
        env.t("it")
        .gettext("Request #{number} · {department}")
        .format(number=1, department="Governante")
        in italian_card
    )
    assert "tedesco" in italian_card  # the guest's language, named in Italian
