"""The knowledge base: guests' questions answered from the hotel's config, needs left alone."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, HotelConfig, parse_hotel_config
from bot.knowledge import Knowledge
from tests.conftest import TEST_HOTEL

# The test hotel without its own knowledge base: these tests bring theirs.
BASE = TEST_HOTEL.read_text(encoding="utf-8").split("\n[[answers]]", 1)[0]

ANSWERS = """
[[answers]]
key = "wifi"
keywords = { en = ["wifi", "wi-fi", "internet", "password"], it = ["wifi", "internet", "password"], de = ["wlan", "wifi", "internet", "passwort"], ru = ["wifi", "вайфай", "интернет", "пароль"], es = ["wifi", "internet", "contraseña", "clave"], fr = ["wifi", "internet", "mot de passe"] }
text = { en = "Wi-Fi: HotelTesta, password: welcome2026", it = "Wi-Fi: HotelTesta, password: welcome2026" }

[[answers]]
key = "breakfast"
keywords = { en = ["breakfast"], it = ["colazione"], de = ["frühstück"], ru = ["завтрак"], es = ["desayuno"], fr = ["petit déjeuner", "petit-déjeuner"] }
text = { en = "Breakfast is served 7:00–10:30 in the Sala Verde, ground floor." }

[[answers]]
key = "checkout"
keywords = { en = ["check-out", "check out"], it = ["check-out", "partenza", "lasciare la camera"], de = ["check-out", "auschecken", "abreise"], ru = ["выезд", "чекаут", "выселение"], es = ["check-out", "salida"], fr = ["check-out", "départ", "libérer la chambre"] }
text = { en = "Check-out is until 11:00.", de = "Check-out ist bis 11:00 Uhr." }

[[answers]]
key = "parking"
keywords = { en = ["parking", "car park", "garage"], it = ["parchegg", "garage"], de = ["parkplatz", "parken", "garage", "tiefgarage"], ru = ["парковк", "стоянк"], es = ["aparcamiento", "parking", "aparcar"], fr = ["parking", "garer", "stationnement"] }
text = { en = "Our garage is behind the hotel, 20 € a night." }

[[answers]]
key = "gym"
keywords = { en = ["gym", "fitness"], it = ["palestra", "fitness"], de = ["fitness", "fitnessraum"], ru = ["спортзал", "фитнес"], es = ["gimnasio"], fr = ["salle de sport", "fitness"] }
text = { en = "The gym on floor -1 is open 6:00–22:00." }
"""


@pytest.fixture(scope="module")
def hotel() -> HotelConfig:
    return parse_hotel_config(BASE + ANSWERS)


QUESTIONS = [
    ("en", "What's the wifi password?", "wifi"),
    ("en", "wi fi pasword pls", "wifi"),
    ("en", "When is breakfast?", "breakfast"),
    ("en", "what time is check out", "checkout"),
    ("en", "Is there parking for my car?", "parking"),
    ("en", "where is the gym", "gym"),
    ("it", "Qual è la password del wifi?", "wifi"),
    ("it", "A che ora è la colazione?", "breakfast"),
    ("it", "colazioni fino a che ora?", "breakfast"),
    ("it", "Dove posso parcheggiare?", "parking"),
    ("it", "Entro che ora devo lasciare la camera?", "checkout"),
    ("de", "Wie lautet das WLAN-Passwort?", "wifi"),
    ("de", "Wann gibt es Frühstück?", "breakfast"),
    ("de", "Bis wann ist der Check-out?", "checkout"),
    ("de", "Gibt es einen Parkplatz?", "parking"),
    ("ru", "Какой пароль от вайфая?", "wifi"),
    ("ru", "Во сколько завтрак?", "breakfast"),
    ("ru", "Где парковка?", "parking"),
    ("ru", "До скольки выезд?", "checkout"),
    ("es", "¿Cuál es la contraseña del wifi?", "wifi"),
    ("es", "¿A qué hora es el desayuno?", "breakfast"),
    ("es", "¿Tienen gimnasio?", "gym"),
    ("fr", "Quel est le mot de passe du wifi ?", "wifi"),
    ("fr", "Le petit-déjeuner est à quelle heure ?", "breakfast"),
    ("fr", "Où se trouve la salle de sport ?", "gym"),
    ("fr", "Où puis-je garer ma voiture ?", "parking"),
    # A guest writing in another language than their Telegram's is still understood.
    ("en", "Frühstück?", "breakfast"),
]


@pytest.mark.parametrize(("locale", "text", "key"), QUESTIONS, ids=lambda v: str(v))
def test_questions_get_their_answer(hotel: HotelConfig, locale: str, text: str, key: str) -> None:
    entry = hotel.knowledge.match(text, locale, hotel.hotel.languages)
    assert entry is not None and entry.key == key


NEEDS = [
    ("en", "The wifi doesn't work"),
    ("en", "wifi is broken in room 215"),
    ("en", "Can you bring breakfast to my room?"),
    ("en", "I need a parking ticket"),
    ("it", "Il wifi non funziona"),
    ("it", "Potete portarmi la colazione in camera?"),
    ("de", "Das WLAN funktioniert nicht"),
    ("de", "Können Sie mir das Frühstück aufs Zimmer bringen?"),
    ("ru", "Не работает вайфай"),
    ("ru", "Принесите завтрак в номер"),
    ("es", "El wifi no funciona"),
    ("es", "¿Me pueden traer el desayuno?"),
    ("fr", "Le wifi ne marche pas"),
    ("fr", "Il n'y a pas de wifi"),
    ("fr", "Pouvez-vous apporter le petit déjeuner ?"),
    # No topic of the knowledge base: not an answer either.
    ("en", "two more towels please"),
    ("en", "the breaking news channel"),  # "break…" is not "breakfast"
    ("en", "gum"),
    ("de", "Der Fernseher ist kaputt"),
]


@pytest.mark.parametrize(("locale", "text"), NEEDS, ids=lambda v: str(v))
def test_needs_and_other_messages_are_not_answered(
    hotel: HotelConfig, locale: str, text: str
) -> None:
    assert hotel.knowledge.match(text, locale, hotel.hotel.languages) is None


def test_answer_in_the_guests_language_else_the_hotels(hotel: HotelConfig) -> None:
    checkout = next(e for e in hotel.knowledge.entries if e.key == "checkout")
    assert checkout.answer("de", "en") == "Check-out ist bis 11:00 Uhr."
    assert checkout.answer("ru", "en") == "Check-out is until 11:00."


def test_long_messages_and_empty_ones_are_not_questions(hotel: HotelConfig) -> None:
    assert hotel.knowledge.match("breakfast? " * 30, "en", hotel.hotel.languages) is None
    assert hotel.knowledge.match("", "en", hotel.hotel.languages) is None
    assert hotel.knowledge.match(None, "en", hotel.hotel.languages) is None
    assert Knowledge(()).match("breakfast?", "en", hotel.hotel.languages) is None


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ('key = "wifi"\nkeywords = { en = [] }\ntext = { en = "x" }', "at least one keyword"),
        ('key = "wifi"\nkeywords = { en = ["wifi"] }\ntext = { it = "x" }', "default language"),
        ('key = "wifi"\nkeywords = { xx = ["wifi"] }\ntext = { en = "x" }', "unsupported"),
        ('key = "Wi Fi"\nkeywords = { en = ["wifi"] }\ntext = { en = "x" }', "answers.0.key"),
        ('key = "wifi"\nkeywords = { en = ["wifi"] }\ntext = { en = " " }', "empty"),
    ],
)
def test_bad_answers_are_named(entry: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_hotel_config(BASE + "\n[[answers]]\n" + entry)


def test_duplicate_answer_keys_are_named() -> None:
    entry = '\n[[answers]]\nkey = "wifi"\nkeywords = { en = ["wifi"] }\ntext = { en = "x" }\n'
    with pytest.raises(ConfigError, match=r"answers\.1\.key: duplicate key 'wifi'"):
        parse_hotel_config(BASE + entry * 2)
