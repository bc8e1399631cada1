"""Messages that are conversation, not requests: thanks, greetings, "ok", emoji and stickers.

A guest who writes "Danke schön!" or "ok 👍" after a request is being polite; turning that into
a ticket for the front desk wastes a person's time and confuses the guest. The rule is built so
that it cannot swallow a need:

- the message is short (``MAX_CHARACTERS``, ``MAX_WORDS``) and has no digits (a room, a time,
  a quantity are content);
- *every* word of it is in a closed list of courtesy words of the shipped languages, and at
  least one is an anchor (a word that is thanks, a greeting or an acknowledgement by itself,
  not only a filler such as "very" or "you");
- or it holds no words at all, only emoji or other symbols (a sticker is classified by its
  emoji the same way).

So "ok, but the TV is still broken" and "thanks, and two more towels" are requests: they have
words outside the lists. The lists are per language but applied together, since guests mix
languages ("ok, grazie").
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from functools import cache

MAX_CHARACTERS = 60
MAX_WORDS = 8


class SmallTalk(StrEnum):
    """What kind of courtesy a message is."""

    THANKS = "thanks"
    GREETING = "greeting"
    ACK = "ack"
    EMOJI = "emoji"


_THANKS = """
    thank thanks thankyou thx thanx tnx ty tks cheers appreciated
    grazie ringrazio
    danke dankeschön dankeschon dank vielen
    спасибо спс благодарю благодарим
    gracias agradezco
    merci remercie
"""
_GREETING = """
    hi hello hey hiya morning evening afternoon night goodmorning goodnight bye goodbye
    ciao salve buongiorno buonasera buonanotte arrivederci notte giornata serata
    hallo morgen tag abend nacht servus moin tschüss tschüs wiedersehen
    привет здравствуйте добрый доброе доброй ночи свидания
    hola buenos buenas días dias tardes noches adiós adios
    bonjour bonsoir salut revoir nuit journée soirée
"""
_ACK = """
    ok okay okey okk k kk alright fine good great perfect cool super noted understood got
    wonderful excellent lovely awesome nice
    va bene benissimo perfetto ottimo capito accordo
    alles klar gut prima toll perfekt passt verstanden ordnung
    ок окей хорошо отлично понял поняла понятно ясно ладно супер
    vale perfecto genial entendido acuerdo estupendo bien
    parfait entendu génial accord
"""
# Words that only go with an anchor: "thank you very much", "vielen Dank", "большое спасибо".
_FILLER = """
    you u very much so a lot again for everything all the your help it
    mille tante molte davvero infinite di cuore tutto lei voi ancora gentilissimi gentile
    grande d buona
    schön schon schönen sehr herzlichen besten tausend nochmals für ihre hilfe guten gute
    auf in
    большое огромное вам за всё все помощь ещё раз день вечер утро спокойной до
    muchas muchísimas muchisimas mil muy de todo por su ayuda
    beaucoup bien très tres à a vous pour tout votre aide encore bonne
    au
"""


@cache
def _words() -> tuple[dict[str, SmallTalk], frozenset[str]]:
    anchors: dict[str, SmallTalk] = {}
    for kind, words in ((SmallTalk.ACK, _ACK), (SmallTalk.GREETING, _GREETING)):
        anchors.update(dict.fromkeys(words.split(), kind))
    anchors.update(dict.fromkeys(_THANKS.split(), SmallTalk.THANKS))
    return anchors, frozenset(_FILLER.split())


_WORD = re.compile(r"[^\W\d_]+|\d+")
_REPEATS = re.compile(r"(.)\1{2,}")  # "thanksss", "grazieee", "okkk"


def _symbols_only(text: str) -> bool:
    """Whether ``text`` has at least one emoji or other symbol and nothing else but marks,
    punctuation, joiners and spaces."""
    seen = False
    for char in text:
        category = unicodedata.category(char)
        if category in ("So", "Sk", "Sm"):
            seen = True
        elif not (char.isspace() or category[0] in ("P", "M") or category in ("Cf", "Co")):
            return False
    return seen


def classify(text: str | None) -> SmallTalk | None:
    """The kind of courtesy ``text`` is, or None when it may name a need (a request)."""
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text).strip()
    if not text or len(text) > MAX_CHARACTERS:
        return None
    if _symbols_only(text):
        return SmallTalk.EMOJI
    words = _WORD.findall(text.casefold().replace("’", "'"))
    if not words or len(words) > MAX_WORDS:
        return None
    anchors, fillers = _words()
    kind: SmallTalk | None = None
    for raw in words:
        if raw.isdigit():
            return None
        word = raw if raw in anchors or raw in fillers else _REPEATS.sub(r"\1", raw)
        found = anchors.get(word)
        if found is None and word not in fillers:
            return None
        if found is not None and (kind is None or _RANK[found] > _RANK[kind]):
            kind = found
    return kind


# "Perfect, thanks" is thanks; "good night" a greeting.
_RANK = {SmallTalk.ACK: 0, SmallTalk.GREETING: 1, SmallTalk.THANKS: 2}
