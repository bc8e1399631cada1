"""Instant answers: the hotel's knowledge base matched against a guest's question.

Most guest messages are the same few questions (Wi-Fi, breakfast, check-out, parking). The
hotel lists them in its config (``[[answers]]``: keywords per language, an answer per
language); a question that matches is answered at once, and the guest can still send it to
staff. The matching:

- works on words, so word order does not matter; "wi-fi", "wi fi" and "wifi" are one word;
- forgives inflection and small typos with rapidfuzz: a word matches a keyword when their
  similarity (``fuzz.ratio``) is at least ``SIMILAR`` ("colazioni" ~ "colazione",
  "pasword" ~ "password") or the word starts with the keyword, which may be written as a
  stem ("parchegg" finds "parcheggiare", "frühstück" finds "Frühstücks"); keywords and words
  shorter than ``MIN_STEM`` letters match exactly, and a word is compared for typos only
  from ``MIN_FUZZY`` letters (one letter more or less is too much for a four-letter word:
  "gare", a station, is not "garer", to park);
- does not answer a message that names a need or a fault ("Wi-Fi doesn't work", "the Wi-Fi
  is very slow", "bring me breakfast", "a late check-out?", "I'd like breakfast at 8"):
  negations, fault words, request verbs and wishes (not a wish to know) of the shipped
  languages (``names_a_need``) make it a request, and so does a long message
  (``MAX_CHARACTERS``).

The answer with the most matching keywords wins, in the guest's language first; ties go to the
entry listed first.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

SIMILAR = 85.0
MIN_STEM = 4
MIN_FUZZY = 5
MAX_CHARACTERS = 200

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The words of ``text``, folded, with each pair of neighbours joined as well ("wi fi"
    is also "wifi")."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    folded = folded.replace("n't", " not").replace("n'", "ne ")  # "doesn't", "n'est"
    found = _WORD.findall(folded)
    return found + [a + b for a, b in itertools.pairwise(found)]


def _keyword_words(keyword: str) -> tuple[str, ...]:
    """A keyword as the words it must find: "check-out" is "checkout"; "room service" needs
    both words."""
    parts = _WORD.findall(unicodedata.normalize("NFKC", keyword).casefold())
    return ("".join(parts),) if "-" in keyword or len(parts) == 1 else tuple(parts)


@dataclass(frozen=True)
class Entry:
    """One answer of the knowledge base: its key, keywords and texts per language."""

    key: str
    keywords: dict[str, tuple[str, ...]]  # language → keywords, folded
    answers: dict[str, str]  # language → answer

    def answer(self, locale: str, default_locale: str) -> str:
        """The answer in ``locale``, else in the hotel's default language."""
        return self.answers.get(locale) or self.answers[default_locale]


class Knowledge:
    """The hotel's knowledge base, indexed once for matching."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = tuple(entries)
        # Per language, each entry with its keywords as the words they need.
        self._keywords = {
            code: [
                (entry, [_keyword_words(keyword) for keyword in entry.keywords.get(code, ())])
                for entry in self.entries
            ]
            for code in {code for entry in self.entries for code in entry.keywords}
        }
        parts = {
            part
            for entry in self.entries
            for kws in entry.keywords.values()
            for kw in kws
            for part in _keyword_words(kw)
        }
        self._parts = sorted(parts)
        self._long_parts = [part for part in self._parts if len(part) >= MIN_STEM]
        self._part_set = frozenset(parts)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def _found(self, text_words: Sequence[str]) -> set[str]:
        """The keyword words that the text's words match: the same word, a word starting with
        a stem, or a word similar enough (typos, endings)."""
        found = set()
        for word in set(text_words):
            if word in self._part_set:
                found.add(word)
            if len(word) < MIN_STEM:
                continue
            for end in range(MIN_STEM, len(word)):
                if word[:end] in self._part_set:
                    found.add(word[:end])
            if len(word) < MIN_FUZZY:
                continue
            for part, _score, _index in process.extract(
                word, self._long_parts, scorer=fuzz.ratio, score_cutoff=SIMILAR, limit=None
            ):
                found.add(part)
        return found

    def match(self, text: str | None, locale: str, languages: Sequence[str]) -> Entry | None:
        """The entry that answers ``text``, or None (no match, or the text names a need)."""
        if not self.entries or not text or len(text) > MAX_CHARACTERS:
            return None
        text_words = words(text)
        if not text_words or names_a_need(text_words):
            return None
        found = self._found(text_words)
        if not found:
            return None
        for code in (locale, *(code for code in languages if code != locale)):
            best, best_score = None, 0
            for entry, keywords in self._keywords.get(code, ()):
                score = sum(1 for parts in keywords if found.issuperset(parts))
                if score > best_score:
                    best, best_score = entry, score
            if best is not None:
                return best
        return None


# Words that make a message a request even when it names a topic of the knowledge base: a
# negation or fault ("doesn't work", "kaputt", "too slow"), or a verb asking for something to
# be done or booked. Whole words, and stems matched at the start of a word ("brok" finds
# "broken"). Neighbouring words are joined too (``words``), so "late check-out" is
# "latecheck" and "aufs Zimmer" is "aufszimmer".
_NEED_WORDS = frozenset(
    """
    not no never fix fixed cannot down bad poor weak locked
    non nicht kein keine keinen nie не нет ne pas jamais
    sale roto rota sucio sucia lento lenta lent lente mal male malo mala
    tomy incamera aufszimmer вномер enchambre
    """.split()  # noqa: SIM905 (a list that reads like one)
)
_NEED_STEMS = tuple(
    """
    broke brok repair need bring send problem issue leak dirty stuck slow drop disconnect
    terribl awful book reserv latecheck
    rott guast portat portar portami bisogn sporc manca lentissim debol pessim prenot posticip
    kaputt defekt bring brauch schick dreckig schmutzig langsam schlecht schwach buch
    spätercheck späterercheck späterencheck
    слома сломан принес нужн нужен пришл проблем гряз медлен плох слаб забронир брон поздн
    necesit traer traig envia envíe envie débil salidatard
    cassé panne apport besoin envoy problème faible mauvais réserv départtard
    """.split()  # noqa: SIM905
)


# Wanting something ("I'd like breakfast at 8", "vorrei la colazione") is a request too, unless
# what is wanted is to know ("I'd like to know the Wi-Fi password", "хочу узнать пароль").
_WANT_STEMS = tuple(
    """
    dlike wouldlike want wanna vorrei voglio vorremmo vogliamo möcht hätt
    хочу хотел хотим quisiera quiero queremos querría voudr veux voulons aimer
    """.split()  # noqa: SIM905
)
_KNOW_STEMS = tuple(
    """
    know tell ask sapere saper dirmi chiedere wissen sagen erfahren fragen
    знать узна подскаж скаж спрос saber decir preguntar savoir dire demander connaît
    """.split()  # noqa: SIM905
)


def names_a_need(text_words: Sequence[str]) -> bool:
    """Whether the words say something is wrong or ask for something to be done."""
    if any(word in _NEED_WORDS or word.startswith(_NEED_STEMS) for word in text_words):
        return True
    return any(word.startswith(_WANT_STEMS) for word in text_words) and not any(
        word.startswith(_KNOW_STEMS) for word in text_words
    )
