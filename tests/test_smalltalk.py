"""Thanks, greetings, "ok" and emoji are conversation; anything that may name a need is not."""

from __future__ import annotations

import pytest

from bot.smalltalk import MAX_CHARACTERS, SmallTalk, classify

THANKS = SmallTalk.THANKS
GREETING = SmallTalk.GREETING
ACK = SmallTalk.ACK
EMOJI = SmallTalk.EMOJI

COURTESY = {
    "en": [
        ("Thank you!", THANKS),
        ("thanks a lot", THANKS),
        ("Thank you very much for your help", THANKS),
        ("thx", THANKS),
        ("Thanksss!!", THANKS),
        ("ok", ACK),
        ("OK 👍", ACK),
        ("okkk", ACK),
        ("Perfect, thanks", THANKS),
        ("all good", ACK),
        ("Good morning!", GREETING),
        ("hi", GREETING),
        ("Good night", GREETING),
    ],
    "it": [
        ("Grazie mille!", THANKS),
        ("grazie di cuore", THANKS),
        ("Grazieee", THANKS),
        ("Va bene", ACK),
        ("ok perfetto", ACK),
        ("D'accordo, grazie", THANKS),
        ("Buongiorno", GREETING),
        ("buona notte", GREETING),
        ("Ciao!", GREETING),
    ],
    "de": [
        ("Danke schön!", THANKS),
        ("Vielen Dank", THANKS),
        ("Dankeschön", THANKS),
        ("Alles klar", ACK),
        ("Super, danke!", THANKS),
        ("In Ordnung", ACK),
        ("Guten Morgen", GREETING),
        ("Gute Nacht", GREETING),
        ("Passt, vielen Dank nochmals", THANKS),
    ],
    "ru": [
        ("Спасибо!", THANKS),
        ("Большое спасибо", THANKS),
        ("спс", THANKS),
        ("Хорошо", ACK),
        ("Понятно, спасибо", THANKS),
        ("Добрый вечер", GREETING),
        ("Спокойной ночи", GREETING),
        ("ок", ACK),
    ],
    "es": [
        ("¡Muchas gracias!", THANKS),
        ("Gracias por todo", THANKS),
        ("Vale", ACK),
        ("Perfecto, gracias", THANKS),
        ("De acuerdo", ACK),
        ("Buenos días", GREETING),
        ("buenas noches", GREETING),
        ("Hola", GREETING),
    ],
    "fr": [
        ("Merci beaucoup !", THANKS),
        ("merci", THANKS),
        ("D’accord", ACK),
        ("Parfait, merci bien", THANKS),
        ("Très bien", ACK),
        ("Bonjour", GREETING),
        ("Bonne nuit", GREETING),
        ("Bonne soirée !", GREETING),
    ],
}


@pytest.mark.parametrize(
    ("text", "kind"), [pair for pairs in COURTESY.values() for pair in pairs], ids=repr
)
def test_courtesy_in_every_shipped_language(text: str, kind: SmallTalk) -> None:
    assert classify(text) is kind


@pytest.mark.parametrize("text", ["👍", "🙏🙏", "❤️", "😊 👌", "👍🏽"])
def test_emoji_only(text: str) -> None:
    assert classify(text) is EMOJI


REQUESTS = [
    # Courtesy words around a need: the need wins.
    "ok, but the TV is still broken",
    "Thanks, and two more towels please",
    "thank you, can I have a taxi at 6",
    "Good morning, the shower is cold",
    "Grazie, ma il condizionatore non funziona",
    "Danke, aber das WLAN geht nicht",
    "Спасибо, но полотенца так и не принесли",
    "Gracias, ¿me traen más almohadas?",
    "Merci, mais la télé ne marche pas",
    # Words that are needs on their own, short as they are.
    "help",
    "Help!",
    "not good",
    "no",
    "towels",
    "ok 215",  # a room, a time or a quantity is content
    "412",
    "6:00",
    "?",
    "...",
    "",
    "   ",
    "Hilfe",
    "помощь",
    "ayuda",
    "aide",
]


@pytest.mark.parametrize("text", REQUESTS, ids=repr)
def test_anything_that_may_name_a_need_is_not_small_talk(text: str) -> None:
    assert classify(text) is None


def test_long_messages_are_never_small_talk() -> None:
    assert classify("thank you " * 3) is THANKS
    assert classify("thank you " * 10) is None  # over the word cap
    assert classify("t" * (MAX_CHARACTERS + 1)) is None
    assert classify(None) is None
