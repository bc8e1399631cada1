"""Times in guests' messages: real phrases in every shipped language, counts that are not
times, passed and far times, and the daylight-saving changes of Europe/Rome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import when
from bot.when import MAX_AHEAD, find_time

ROME = ZoneInfo("Europe/Rome")
# Wednesday 2 December 2026, 15:30 in Rome.
NOW = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)

TODAY, TOMORROW, FRIDAY = 0, 1, 2  # days after Wednesday 2 December

# (message, days after today, local time). Times without a day are their next occurrence:
# at 15:30, "at 7:30" is tomorrow and "at 18" is today.
PHRASES: dict[str, list[tuple[str, int, str]]] = {
    "en": [
        ("Breakfast at 7:30 please", TOMORROW, "07:30"),
        ("A taxi tomorrow at 6 please", TOMORROW, "06:00"),
        ("Can you wake me up at 6:30?", TOMORROW, "06:30"),
        ("Table for two tonight at 9", TODAY, "21:00"),
        ("Could you clean the room tonight?", TODAY, "20:00"),
        ("Bring the towels in 20 minutes", TODAY, "15:50"),
        ("Pick up the laundry in two hours", TODAY, "17:30"),
        ("I need a taxi at 6", TOMORROW, "06:00"),
        ("Dinner at 7 pm", TODAY, "19:00"),
        ("wake-up call 7am", TOMORROW, "07:00"),
        ("Taxi at 18:45", TODAY, "18:45"),
        ("6 in the morning", TOMORROW, "06:00"),
        ("Room service at 9 in the evening", TODAY, "21:00"),
        ("A massage on Friday at 8", FRIDAY, "08:00"),
        ("Late checkout the day after tomorrow at 1 pm", FRIDAY, "13:00"),
        ("Tomorrow morning at 7 a taxi to the airport", TOMORROW, "07:00"),
        ("Lunch at noon", TOMORROW, "12:00"),
        ("My flight is at 7 o'clock, a taxi at 4:45 am please", TOMORROW, "07:00"),
    ],
    "it": [
        ("Colazione alle 7:30 per favore", TOMORROW, "07:30"),
        ("Un taxi domani alle 6", TOMORROW, "06:00"),
        ("Mi svegliate alle 6:30?", TOMORROW, "06:30"),
        ("Un tavolo per stasera alle 9", TODAY, "21:00"),
        ("Potete pulire la camera stasera?", TODAY, "20:00"),
        ("Gli asciugamani tra 20 minuti", TODAY, "15:50"),
        ("Ritirate la biancheria tra due ore", TODAY, "17:30"),
        ("Il taxi alle 18", TODAY, "18:00"),
        ("Sveglia alle 7 di mattina", TOMORROW, "07:00"),
        ("Cena alle 9 di sera", TODAY, "21:00"),
        ("Un massaggio venerdì alle 8", FRIDAY, "08:00"),
        ("Check-out dopodomani alle 10", FRIDAY, "10:00"),
        ("Domani mattina alle 7 un taxi", TOMORROW, "07:00"),
        ("Il transfer alle 15.45", TODAY, "15:45"),
        ("Fra mezz'ora in camera", TODAY, "16:00"),
        ("Sveglia alle 7 e mezza", TOMORROW, "07:30"),
        ("La cena alle 21 di sera", TODAY, "21:00"),
    ],
    "ru": [
        ("Завтрак в 7:30, пожалуйста", TOMORROW, "07:30"),
        ("Такси завтра в 6", TOMORROW, "06:00"),
        ("Разбудите меня в 6:30", TOMORROW, "06:30"),
        ("Такси завтра в 7 утра", TOMORROW, "07:00"),
        ("Ужин в 8 вечера", TODAY, "20:00"),
        ("Массаж в 3 дня", TOMORROW, "15:00"),
        ("Принесите воду в 2 ночи", TOMORROW, "02:00"),
        ("Столик сегодня вечером в 9", TODAY, "21:00"),
        ("Полотенца через 20 минут", TODAY, "15:50"),
        ("Заберите бельё через два часа", TODAY, "17:30"),
        ("Через час уберите номер", TODAY, "16:30"),
        ("Трансфер в пятницу в 19:00", FRIDAY, "19:00"),
        ("Выезд послезавтра в 10", FRIDAY, "10:00"),
        ("Такси в 18", TODAY, "18:00"),
        ("Разбудите в 7 с половиной", TOMORROW, "07:30"),
    ],
    "es": [
        ("El desayuno a las 7:30, por favor", TOMORROW, "07:30"),
        ("Un taxi mañana a las 6", TOMORROW, "06:00"),
        ("Despiértenme a las 6:30", TOMORROW, "06:30"),
        ("Una mesa esta noche a las 9", TODAY, "21:00"),
        ("¿Pueden limpiar la habitación esta noche?", TODAY, "20:00"),
        ("Las toallas en 20 minutos", TODAY, "15:50"),
        ("Recojan la ropa en dos horas", TODAY, "17:30"),
        ("El taxi a las 3", TOMORROW, "03:00"),
        ("Despertador a las 7 de la mañana", TOMORROW, "07:00"),
        ("Cena a las 9 de la noche", TODAY, "21:00"),
        ("Un masaje el viernes a las 8", FRIDAY, "08:00"),
        ("Salida pasado mañana a las 10", FRIDAY, "10:00"),
        ("Traslado dentro de media hora", TODAY, "16:00"),
        ("Un taxi a las 5 de la tarde", TODAY, "17:00"),
        ("Un taxi a las 9 y media de la noche", TODAY, "21:30"),
    ],
    "fr": [
        ("Le petit déjeuner à 7h30 svp", TOMORROW, "07:30"),
        ("Un taxi demain à 6h", TOMORROW, "06:00"),
        ("Réveillez-moi à 6h30", TOMORROW, "06:30"),
        ("Une table ce soir à 9h", TODAY, "21:00"),
        ("Pouvez-vous faire la chambre ce soir ?", TODAY, "20:00"),
        ("Les serviettes dans 20 minutes", TODAY, "15:50"),
        ("Récupérez le linge dans deux heures", TODAY, "17:30"),
        ("Le taxi à 18h", TODAY, "18:00"),
        ("Réveil à 7 heures du matin", TOMORROW, "07:00"),
        ("Dîner à 9 heures du soir", TODAY, "21:00"),
        ("Un massage vendredi à 8h", FRIDAY, "08:00"),
        ("Départ après-demain à 10h", FRIDAY, "10:00"),
        ("Un taxi demain à 6 heures", TOMORROW, "06:00"),
        ("Le transfert dans une demi-heure", TODAY, "16:00"),
        ("Réveil à 7 heures et quart", TOMORROW, "07:15"),
    ],
    "de": [
        ("Frühstück um 7:30 bitte", TOMORROW, "07:30"),
        ("Ein Taxi morgen um 6", TOMORROW, "06:00"),
        ("Weck mich um 6:30", TOMORROW, "06:30"),
        ("Einen Tisch heute Abend um 9", TODAY, "21:00"),
        ("Können Sie heute Abend das Zimmer machen?", TODAY, "20:00"),
        ("Die Handtücher in 20 Minuten", TODAY, "15:50"),
        ("Die Wäsche in zwei Stunden abholen", TODAY, "17:30"),
        ("Das Taxi um 18 Uhr", TODAY, "18:00"),
        ("Taxi 18 Uhr", TODAY, "18:00"),
        ("Weckruf um 7 Uhr morgens", TOMORROW, "07:00"),
        ("Abendessen um 9 Uhr abends", TODAY, "21:00"),
        ("Eine Massage am Freitag um 8", FRIDAY, "08:00"),
        ("Abreise übermorgen um 10", FRIDAY, "10:00"),
        ("Morgen früh um 7 ein Taxi", TOMORROW, "07:00"),
        ("Guten Morgen, Frühstück um 8", TOMORROW, "08:00"),
    ],
}

CASES = [(locale, *case) for locale, cases in PHRASES.items() for case in cases]


@pytest.mark.parametrize(("locale", "text", "days", "local"), CASES)
def test_a_phrase_is_read_as_the_local_time_it_means(locale, text, days, local):
    found = find_time(text, locale, NOW, ROME)

    assert found is not None, text
    expected = (NOW.astimezone(ROME) + timedelta(days=days)).date()
    assert (found.local.date(), found.local.strftime("%H:%M")) == (expected, local), text
    assert found.at == found.local.astimezone(UTC)
    assert found.at.tzinfo is UTC
    assert found.usable
    assert found.text == text[found.span[0] : found.span[1]]


def test_every_shipped_language_has_ten_phrases():
    assert set(PHRASES) == set(when.LANGUAGES) == {"en", "it", "ru", "es", "fr", "de"}
    assert all(len(cases) >= 10 for cases in PHRASES.values())


@pytest.mark.parametrize(
    ("locale", "text", "words", "day_explicit", "time_explicit"),
    [
        ("en", "A taxi tomorrow at 6 please", "tomorrow at 6", True, True),
        ("en", "Breakfast at 7:30 please", "at 7:30", False, True),
        ("en", "Could you clean the room tonight?", "tonight", True, False),
        ("en", "Bring the towels in 20 minutes", "in 20 minutes", True, True),
        ("it", "Un taxi domani alle 6", "domani alle 6", True, True),
        ("ru", "Такси завтра в 7 утра", "завтра в 7 утра", True, True),
        ("es", "Una mesa esta noche a las 9", "esta noche a las 9", True, True),
        ("fr", "Un massage vendredi à 8h", "vendredi à 8h", True, True),
        ("de", "Das Taxi um 18 Uhr", "um 18 Uhr", False, True),
    ],
)
def test_the_words_that_say_the_time_are_given(locale, text, words, day_explicit, time_explicit):
    found = find_time(text, locale, NOW, ROME)

    assert found is not None
    assert (found.text, found.day_explicit, found.time_explicit) == (
        words,
        day_explicit,
        time_explicit,
    )


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "Two towels to room 412 please"),
        ("en", "2 towels please"),
        ("en", "Room 215: the TV is broken"),
        ("en", "We are 3 adults and 2 kids"),
        ("en", "Good morning! The shower is cold"),
        ("en", "Can I have a taxi tomorrow?"),
        ("en", "I may need an iron"),
        ("en", "at 2 rooms the light is off"),
        ("en", "the price was 7.50"),
        ("it", "Due asciugamani in camera 412"),
        ("it", "2 cuscini per favore"),
        ("it", "Buonanotte e grazie"),
        ("ru", "Два полотенца в номер 412"),
        ("ru", "В 5 номере не работает телевизор"),
        ("ru", "Номер на 2 ночи"),
        ("ru", "Продлите на 3 дня"),
        ("ru", "Через 3 дня мы уезжаем"),
        ("es", "Dos toallas a la habitación 215"),
        ("es", "Buenos días, no hay agua caliente"),
        ("fr", "Une chambre à 2 lits"),
        ("fr", "Deux serviettes pour la chambre 412"),
        ("de", "Zwei Handtücher bitte"),
        ("de", "Guten Morgen, die Heizung ist kalt"),
        ("de", "Zimmer 215, 2 Kissen"),
    ],
)
def test_a_message_without_a_time_has_none(locale, text):
    assert find_time(text, locale, NOW, ROME) is None


def test_a_message_without_a_time_never_reaches_dateparser(monkeypatch):
    def refuse():
        raise AssertionError("dateparser called")

    monkeypatch.setattr(when, "_search", refuse)

    assert find_time("Two towels to room 412 please", "en", NOW, ROME) is None
    assert find_time("Due asciugamani, grazie", "it", NOW, ROME) is None


def test_english_is_read_in_any_locale():
    found = find_time("Taxi at 7pm", "it", NOW, ROME)

    assert found is not None
    assert found.local.strftime("%H:%M") == "19:00"


def test_a_locale_without_a_table_is_read_in_english():
    found = find_time("Taxi tomorrow at 6 please", "pt", NOW, ROME)

    assert found is not None
    assert found.local == datetime(2026, 12, 3, 6, 0, tzinfo=ROME)


def test_a_long_message_is_read_around_the_time():
    text = "Guten Morgen! " + "Wir haben eine Frage zum Zimmer und zur Heizung. " * 20
    found = find_time(text + "Bitte ein Taxi morgen um 6, danke.", "de", NOW, ROME)

    assert found is not None
    assert found.text == "morgen um 6"
    assert found.local == datetime(2026, 12, 3, 6, 0, tzinfo=ROME)


def test_warm_up_loads_every_shipped_language():
    when.warm_up(when.LANGUAGES)  # no error; then the first message is a warm call

    assert find_time("morgen um 6", "de", NOW, ROME) is not None


def test_a_time_only_phrase_earlier_than_now_is_tomorrow():
    late = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)  # 23:00 in Rome

    found = find_time("a taxi at 6", "en", late, ROME)

    assert found is not None
    assert found.local == datetime(2026, 12, 3, 6, 0, tzinfo=ROME)
    assert not found.day_explicit
    assert found.usable


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "Breakfast today at 10"),
        ("en", "this morning at 8"),
        ("it", "oggi alle 10"),
        ("ru", "сегодня в 10:00"),
        ("de", "heute um 9 Uhr"),
    ],
)
def test_a_day_and_time_that_have_passed_are_flagged(locale, text):
    found = find_time(text, locale, NOW, ROME)

    assert found is not None
    assert found.in_past
    assert not found.usable


def test_a_time_too_far_ahead_is_flagged():
    found = find_time("a taxi on 5 March at 8", "en", NOW, ROME)

    assert found is not None
    assert found.local == datetime(2027, 3, 5, 8, 0, tzinfo=ROME)
    assert found.too_far
    assert not found.in_past
    assert found.at - NOW > MAX_AHEAD


def test_a_time_within_the_range_is_not_too_far():
    found = find_time("a taxi on 20 December at 8", "en", NOW, ROME)

    assert found is not None
    assert found.usable


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        find_time("at 7", "en", datetime(2026, 12, 2, 14, 30), ROME)


# Europe/Rome moves to summer time at 02:00 on 29 March 2026 (+01:00 → +02:00) and back at
# 03:00 on 25 October 2026 (+02:00 → +01:00).
SPRING_EVE = datetime(2026, 3, 28, 19, 0, tzinfo=UTC)  # Saturday 20:00 in Rome
AUTUMN_EVE = datetime(2026, 10, 24, 19, 0, tzinfo=UTC)  # Saturday 21:00 in Rome


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "tomorrow at 7"),
        ("en", "wake me up at 7"),
        ("it", "domani alle 7"),
        ("ru", "завтра в 7 утра"),
        ("de", "morgen um 7"),
    ],
)
@pytest.mark.parametrize(
    ("now", "utc"),
    [
        (SPRING_EVE, datetime(2026, 3, 29, 5, 0, tzinfo=UTC)),  # 07:00 +02:00
        (AUTUMN_EVE, datetime(2026, 10, 25, 6, 0, tzinfo=UTC)),  # 07:00 +01:00
    ],
)
def test_seven_tomorrow_across_a_daylight_saving_change(locale, text, now, utc):
    found = find_time(text, locale, now, ROME)

    assert found is not None
    assert found.at == utc
    assert (found.local.hour, found.local.minute) == (7, 0)
    assert found.local.utcoffset() == (
        timedelta(hours=2) if now is SPRING_EVE else timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("now", "local"),
    [
        # 01:30 +01:00 plus two hours is 04:30 +02:00 (the wall clock skips 02:00–03:00).
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "2026-03-29T04:30:00+02:00"),
        # 02:30 +02:00 plus two hours is 03:30 +01:00 (the wall clock does 02:00–03:00 twice).
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25T03:30:00+01:00"),
    ],
)
def test_in_two_hours_counts_real_hours_across_a_change(now, local):
    found = find_time("in two hours", "en", now, ROME)

    assert found is not None
    assert found.at == now + timedelta(hours=2)
    assert found.local.isoformat() == local


def test_a_wall_clock_time_skipped_in_spring_reads_as_after_the_change():
    found = find_time("wake me up at 2:30", "en", SPRING_EVE, ROME)

    assert found is not None
    assert found.local.isoformat() == "2026-03-29T03:30:00+02:00"


def test_tonight_after_midnight_is_the_next_day():
    found = find_time("a taxi tonight at 1", "en", NOW, ROME)

    assert found is not None
    assert found.local == datetime(2026, 12, 3, 1, 0, tzinfo=ROME)


@pytest.mark.bench
def test_the_benchmark_of_reading_times_runs():
    from bench import when as bench_when

    first = bench_when._cold("first")
    wrong = bench_when._dateparser_alone()

    assert first["seconds"] > 0
    assert all(len(row) == 4 for row in wrong)
