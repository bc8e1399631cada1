"""The time a guest means in a message: "a taxi tomorrow at 6", "завтра в 7 утра", "tra 20 minuti".

dateparser (``search_dates``) knows the days of every language — *tomorrow*, weekday names
in their inflections, dates — but misreads the times guests actually write: a bare hour
("tomorrow at 6" comes back as the current time, scrapinghub/dateparser#1080), "18 Uhr",
"a las 3" (#1159), "7 утра", "в 3 дня" (read as *in 3 days*), "stasera alle 9", "venerdì
alle 8" (read as August). So a small normaliser, driven by one table per language
(``bot/when_languages.toml``, read into ``LANGUAGES``), reads the time of day itself and
rewrites it as ``HH:MM`` — a form dateparser reads right in every language — and rewrites
the few day phrases it misreads ("day after tomorrow", "dopodomani", "pasado mañana") into
ones it reads right. dateparser then finds the day around that time. The rules that follow are ours:

- a message needs a time of day (written, or a part of the day with a usual hour: "tonight"
  is 20:00, ``time_explicit`` false); a day alone ("tomorrow") is not a time;
- a time without a day is its next occurrence: at 23:00, "at 6" is tomorrow 06:00;
- a time with a day that has passed is returned with ``in_past``, one more than
  ``MAX_AHEAD`` away with ``too_far``: the caller refuses them politely;
- "in 20 minutes / two hours" is counted in UTC from ``now`` (correct across a daylight-saving
  change, where adding to the wall clock is not); a day and a time of day are a wall-clock
  time in the hotel's zone, converted with ``zoneinfo``. A wall-clock time that does not exist
  (02:30 on the spring-forward night) is read with the offset before the change (03:30 after
  it); one that exists twice (the autumn night) is the first.

Every time found is meant to be echoed back to the guest for confirmation: this reads
guests' wording, and wording can be read two ways.

Cost: a message with no time of day costs a few regular expressions and never touches
dateparser; one with a time costs one ``search_dates`` call on a window of at most
``WINDOW`` characters around it (0.8 ms on the benchmark machine, ``python -m bench.when``).
dateparser is imported on first use (0.13 s and 17 MB; the first call with its language data
about 0.27 s); ``warm_up`` does that for the hotel's languages at start-up instead (0.4 s and
22 MB for all six).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

# A time further ahead than this is flagged ``too_far`` (a guest's request is for this stay).
MAX_AHEAD = timedelta(days=60)
# dateparser reads at most this many characters either side of the time of day: the day
# belongs next to it, and a long message then costs no more than a short one.
WINDOW = 60


class Part(Enum):
    """A part of the day: it turns a 12-hour reading into a 24-hour one."""

    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"
    NIGHT = "night"


# The hour a part of the day means when no hour is given ("tonight", "domani mattina").
USUAL_HOUR = {Part.MORNING: 9, Part.AFTERNOON: 15, Part.EVENING: 20}


def _hour_in(part: Part, hour: int) -> int:
    """The 24-hour reading of ``hour`` (1–12) said with ``part``."""
    if part is Part.MORNING:
        return 0 if hour == 12 else hour
    if part is Part.NIGHT:
        if hour == 12:
            return 0
        return hour + 12 if 6 <= hour <= 11 else hour
    return hour + 12 if hour < 12 else hour  # afternoon, evening


def _hour_with(day_part: DayPart, hour: int) -> int:
    """The 24-hour reading of ``hour`` (1–12) after a part of the day: "tonight at 9"."""
    if day_part.part is Part.EVENING and hour <= 4:
        return hour  # "tonight at 1": after midnight
    return _hour_in(day_part.part, hour)


@dataclass(frozen=True)
class DayPart:
    """A phrase naming a part of the day, and the day if it names one: "tonight", "утром"."""

    pattern: str
    part: Part
    # What dateparser is given instead ("today" for "tonight"); "" for no day ("in the evening").
    day: str = ""
    # Not a part of the day at all, only taken out of dateparser's way ("Guten Morgen").
    ignore: bool = False


@dataclass(frozen=True)
class Language:
    """The normaliser's table for one language. Patterns are regular expressions, case-blind."""

    code: str
    # Words before a bare hour that make it a time: "at 6", "alle 7", "um 6", "в 7".
    prepositions: str
    # Words after the hour that make it one: "18 Uhr", "à 6 heures", "в 7 часов".
    hour_words: str
    # Words after a number that make it a count, not an hour: "at 2 rooms", "в 5 номере".
    counted: str
    # Parts of the day after an hour: "7 утра", "9 in the evening", "alle 9 di sera".
    after_hour: Mapping[str, Part]
    # Minutes said in words after the hour: "a las 9 y media", "alle 7 e un quarto".
    past_hour: Mapping[str, int]
    # Parts of the day standing on their own: "tonight", "heute Abend", "por la mañana".
    day_parts: Sequence[DayPart]
    # "in" of "in 20 minutes", units, and number words 1–12 (and a few more).
    within: str
    minutes: str
    hours: str
    numbers: Mapping[str, int]
    # "half an hour" as a whole.
    half_hour: str
    noon: str
    midnight: str
    # Words naming a day: a day dateparser found next to the time is taken only with one.
    days: str
    # Month names (stems): a date with the time ("5 December at 8") is taken with one too.
    months: str
    # Phrases dateparser misreads, and what it reads right instead.
    rewrites: Mapping[str, str] = field(default_factory=dict)
    # After-hour words that also count things unless a preposition comes first ("на 2 ночи").
    after_hour_needs_preposition: frozenset[str] = frozenset()
    # A unit without a number is one of it: "через час".
    bare_unit: bool = False
    # How dateparser reads "5.12." (dateparser's own default is month first).
    date_order: str = "DMY"


def _language(code: str, table: dict[str, Any]) -> Language:
    """One language's table of ``when_languages.toml`` as a ``Language``."""
    values = dict(table)
    values["after_hour"] = {k: Part(v) for k, v in values.get("after_hour", {}).items()}
    values["day_parts"] = tuple(
        DayPart(p["pattern"], Part(p["part"]), p.get("day", ""), p.get("ignore", False))
        for p in values.get("day_parts", ())
    )
    needs = values.pop("after_hour_needs_preposition", ())
    return Language(code=code, after_hour_needs_preposition=frozenset(needs), **values)


# The tables are data: bot/when_languages.toml, one table a language.
LANGUAGES: dict[str, Language] = {
    code: _language(code, table)
    for code, table in tomllib.loads(
        resources.files("bot").joinpath("when_languages.toml").read_text(encoding="utf-8")
    ).items()
}


@dataclass(frozen=True)
class Found:
    """A time found in a message."""

    at: datetime  # aware, UTC
    local: datetime  # aware, in the hotel's zone
    text: str  # the words of the message that say it
    span: tuple[int, int]  # where they are: text == message[span[0]:span[1]]
    day_explicit: bool  # the message names the day ("tomorrow at 6", "in 20 minutes")
    time_explicit: bool  # the message names the hour (not only "tonight")
    in_past: bool  # the time named has passed: refuse it
    too_far: bool  # more than MAX_AHEAD ahead: refuse it

    @property
    def usable(self) -> bool:
        """Neither passed nor too far ahead."""
        return not self.in_past and not self.too_far


def find_time(text: str, locale: str, now: datetime, tz: ZoneInfo) -> Found | None:
    """The first time named in ``text``, read in ``locale`` (then English), or None.

    ``now`` is aware (UTC); wall-clock times are in ``tz``, the hotel's zone.
    """
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    tables = [LANGUAGES[locale]] if locale in LANGUAGES else []
    if locale != "en":
        tables.append(LANGUAGES["en"])
    for table in tables:
        found = _find(text, table, now, tz)
        if found is not None:
            return found
    return None


def warm_up(locales: Iterable[str]) -> None:
    """Import dateparser and load the data of ``locales`` now rather than on a guest's message."""
    base = datetime.now(UTC).replace(tzinfo=None)
    for locale in locales:
        if locale in LANGUAGES:
            _search()("12:00", [locale], _settings(base, LANGUAGES[locale].date_order))


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    """A time of day read from the message, and where it was."""

    start: int  # of the words (with the preposition)
    end: int
    hour_start: int  # of what is replaced by HH:MM (after the preposition)
    hour: int
    minute: int
    part: Part | None  # a part of the day said with it ("7 pm", "7 утра")


@dataclass(frozen=True)
class _Compiled:
    clock: re.Pattern[str]
    duration: re.Pattern[str]
    day_parts: re.Pattern[str]
    rewrites: re.Pattern[str]
    days: re.Pattern[str]
    dates: re.Pattern[str]
    counted: re.Pattern[str]
    prepositions: re.Pattern[str]
    after_hour: Mapping[str, Part]
    past_hour: Mapping[str, int]
    day_part_of: Callable[[str], DayPart]
    rewrite_of: Callable[[str], str]


def _alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


@cache
def _compiled(code: str) -> _Compiled:
    lang = LANGUAGES[code]
    flags = re.IGNORECASE
    after = _alternation(lang.after_hour)
    numbers = _alternation(re.escape(w) for w in sorted(lang.numbers, key=len, reverse=True))
    clock = re.compile(
        rf"(?P<prep>(?<![\w'])(?:{lang.prepositions})\s+)?"
        rf"(?:(?P<noon>(?<![\w'-])(?:{lang.noon}))|(?P<midnight>(?<![\w'-])(?:{lang.midnight}))"
        rf"|(?<![\w:.,/€$-])(?P<h>[01]?\d|2[0-3])"
        r"(?:(?P<sep>[:.]|h ?)(?P<m>[0-5]\d))?"
        rf"(?:\s*(?P<word>{lang.hour_words})(?:\s*(?P<m2>[0-5]\d)(?!\d))?(?!\w))?"
        rf"(?:\s+(?P<past>{_alternation(lang.past_hour) or '(?!)'})(?!\w))?"
        r"(?:\s*(?P<ampm>[ap]\.?\s?m\.?)(?!\w))?"
        rf"(?:\s+(?P<part>{after}))?)"
        r"(?![\w:/]|[.,]\d)",
        flags,
    )
    duration = re.compile(
        rf"(?<!\w)(?:{lang.within})\s+(?:(?P<half>{lang.half_hour})"
        rf"|(?:(?P<n>\d{{1,3}}|(?:{numbers}))\s*)?(?P<unit>(?P<min>{lang.minutes})"
        rf"|(?P<hr>{lang.hours})))(?!\w)",
        flags,
    )
    day_parts = re.compile(
        rf"(?<!\w)(?:{_alternation(d.pattern for d in lang.day_parts)})(?!\w)", flags
    )
    rewrites = re.compile(rf"(?<!\w)(?:{_alternation(lang.rewrites) or '(?!)'})(?!\w)", flags)

    def day_part_of(words: str) -> DayPart:
        return next(d for d in lang.day_parts if re.fullmatch(d.pattern, words, flags))

    def rewrite_of(words: str) -> str:
        return next(r for p, r in lang.rewrites.items() if re.fullmatch(p, words, flags))

    return _Compiled(
        clock=clock,
        duration=duration,
        day_parts=day_parts,
        rewrites=rewrites,
        days=re.compile(rf"(?<!\w)(?:{lang.days})", flags),
        dates=re.compile(rf"(?<!\w)(?:{lang.months})|\d{{1,2}}\s*[./]\s*\d{{1,2}}", flags),
        counted=re.compile(rf"\s*(?:{lang.counted})(?!\w)", flags),
        prepositions=re.compile(rf"(?<!\w)(?:{lang.prepositions}|on|am|le|el|il|la)(?!\w)", flags),
        after_hour=dict(lang.after_hour),
        past_hour=dict(lang.past_hour),
        day_part_of=day_part_of,
        rewrite_of=rewrite_of,
    )


def _clock(match: re.Match[str], lang: Language, c: _Compiled) -> _Clock | None:
    """The time of day of a ``clock`` match, or None if it is a count or not a time."""
    prep = match.group("prep")
    hour_start = match.start("prep") + len(prep) if prep else match.start()
    if match.group("noon") or match.group("midnight"):
        hour = 12 if match.group("noon") else 0
        return _Clock(match.start(), match.end(), hour_start, hour, 0, None)
    hour = int(match.group("h"))
    minutes = match.group("m") or match.group("m2")
    sep, ampm, word, part_words, past = (
        match.group("sep"),
        match.group("ampm"),
        match.group("word"),
        match.group("part"),
        match.group("past"),
    )
    if not (prep or word or ampm or part_words or past or (minutes and sep not in (".", None))):
        # A bare number, or "7.30" without "at": a count, a price, a room.
        return None
    bare = not (minutes or word or ampm or part_words or past)
    if bare and c.counted.match(match.string, match.end()):
        return None  # "at 2 rooms", "в 5 номере"
    part: Part | None = None
    if part_words:
        key = next(k for k in c.after_hour if re.fullmatch(k, part_words, re.IGNORECASE))
        if part_words.lower() in lang.after_hour_needs_preposition and not prep:
            return None  # "на 2 ночи", "3 дня": nights and days, not hours
        part = c.after_hour[key]
    if ampm:
        pm = ampm.lower().startswith("p")
        if not 1 <= hour <= 12:
            return None
        hour = (hour % 12) + (12 if pm else 0)
        part = part or (Part.AFTERNOON if pm else Part.MORNING)
    elif part is not None:
        if 1 <= hour <= 12:
            hour = _hour_in(part, hour)
        elif hour < 13 or part not in (Part.AFTERNOON, Part.EVENING):
            return None  # "0 in the morning", "21 утра"
        # else "alle 21 di sera": 24-hour already
    minute = int(minutes or 0)
    if past and not minutes:
        offset = next(v for k, v in c.past_hour.items() if re.fullmatch(k, past, re.IGNORECASE))
        hour, minute = divmod(hour * 60 + offset, 60)
        hour %= 24
    return _Clock(match.start(), match.end(), hour_start, hour, minute, part)


def _duration(text: str, lang: Language, c: _Compiled) -> tuple[re.Match[str], timedelta] | None:
    for match in c.duration.finditer(text):
        if match.group("half"):
            return match, timedelta(minutes=30)
        n = match.group("n")
        if n is None:
            if not lang.bare_unit:
                continue
            count = 1
        elif n.isdigit():
            count = int(n)
        else:
            count = next(v for k, v in lang.numbers.items() if k.lower() == n.lower())
        if count == 0:
            continue
        unit = timedelta(minutes=1) if match.group("min") else timedelta(hours=1)
        return match, count * unit
    return None


@dataclass
class _Edits:
    """Replacements of spans of a text, and the way back from the new text to the old."""

    text: str
    edits: list[tuple[int, int, str]] = field(default_factory=list)

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in self.edits)

    def add(self, start: int, end: int, replacement: str) -> None:
        self.edits.append((start, end, replacement))

    def apply(self) -> tuple[str, list[_Segment]]:
        """The new text, and its segments in order."""
        out: list[str] = []
        segments: list[_Segment] = []
        old = new = 0
        for start, end, replacement in [*sorted(self.edits), (len(self.text), len(self.text), "")]:
            if start > old:
                out.append(self.text[old:start])
                segments.append(_Segment(new, new + start - old, old, start, True))
                new += start - old
            if end > start or replacement:
                out.append(replacement)
                segments.append(_Segment(new, new + len(replacement), start, end, False))
                new += len(replacement)
            old = end
        return "".join(out), segments


@dataclass(frozen=True)
class _Segment:
    """A piece of the new text (``new``:``new_end``) and the old text it stands for."""

    new: int
    new_end: int
    old: int
    old_end: int
    verbatim: bool


def _new_span(segments: list[_Segment], start: int, end: int) -> tuple[int, int]:
    """Where the replacement of the old span ``start:end`` is in the new text."""
    segment = next(s for s in segments if not s.verbatim and (s.old, s.old_end) == (start, end))
    return segment.new, segment.new_end


def _old_span(segments: list[_Segment], start: int, end: int) -> tuple[int, int]:
    """The old span of the new span ``start:end``."""
    old_start = next(
        (s.old + (start - s.new if s.verbatim else 0) for s in segments if start < s.new_end),
        segments[-1].old_end,
    )
    old_end = next(
        (s.old + (end - s.new) if s.verbatim else s.old_end for s in segments if end <= s.new_end),
        segments[-1].old_end,
    )
    return old_start, max(old_start, old_end)


def _find(text: str, lang: Language, now: datetime, tz: ZoneInfo) -> Found | None:
    c = _compiled(lang.code)
    duration = _duration(text, lang, c)
    clock = next((k for m in c.clock.finditer(text) if (k := _clock(m, lang, c))), None)
    if duration is not None and (clock is None or duration[0].start() <= clock.start):
        match, delta = duration
        at = (now + delta).astimezone(UTC)
        return _found(text, match.start(), match.end(), at, tz, now, day=True, hour=True)

    edits = _Edits(text)
    day_part: DayPart | None = None
    day_part_span = (0, 0)
    for match in c.day_parts.finditer(text):
        if clock is not None and not (match.end() <= clock.start or match.start() >= clock.end):
            continue
        found_part = c.day_part_of(match.group())
        if found_part.ignore:
            edits.add(match.start(), match.end(), "")
            continue
        if day_part is None:
            day_part, day_part_span = found_part, (match.start(), match.end())
            if clock is None:
                continue  # replaced below with the day and the usual hour
        edits.add(match.start(), match.end(), found_part.day)
    if clock is not None:
        hour, minute = clock.hour, clock.minute
        if clock.part is None and day_part is not None and 1 <= hour <= 12:
            hour = _hour_with(day_part, hour)  # "tonight at 9"
        edits.add(clock.hour_start, clock.end, f"{hour:02d}:{minute:02d}")
    elif day_part is not None and day_part.day and day_part.part in USUAL_HOUR:
        hour, minute = USUAL_HOUR[day_part.part], 0  # "tonight"
        edits.add(*day_part_span, f"{day_part.day} {hour:02d}:00")
    else:
        return None  # no time of day; "in the morning" alone has no hour to offer
    for match in c.rewrites.finditer(text):
        if edits.free(match.start(), match.end()):
            edits.add(match.start(), match.end(), c.rewrite_of(match.group()))

    normalised, segments = edits.apply()
    if clock is not None:
        n0, n1 = _new_span(segments, clock.hour_start, clock.end)
        clock_new = (n0 - (clock.hour_start - clock.start), n1)
        span = (clock.start, clock.end)
    else:
        n0, n1 = _new_span(segments, *day_part_span)
        clock_new = (n1 - len("00:00"), n1)
        span = day_part_span
    day, day_new = _day(normalised, clock_new, lang, c, now, tz)
    if day is not None and day_new is not None:
        day_old = _old_span(segments, *day_new)
        span = (min(span[0], day_old[0]), max(span[1], day_old[1]))
        tonight = (
            day_part is not None
            and bool(day_part.day)
            and day_part.part in (Part.EVENING, Part.NIGHT)
        )
        if tonight and hour < 6:
            day += timedelta(days=1)  # "tonight at 1" is after midnight
    explicit = day is not None
    if day is None:
        day = now.astimezone(tz).date()
        if _wall(day, hour, minute, tz) <= now:
            day += timedelta(days=1)
    at = _wall(day, hour, minute, tz)
    return _found(text, *span, at, tz, now, day=explicit, hour=clock is not None)


def _wall(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time in ``tz`` (a skipped time reads as after the change)."""
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def _day(
    normalised: str,
    clock: tuple[int, int],
    lang: Language,
    c: _Compiled,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[date | None, tuple[int, int] | None]:
    """The day dateparser reads next to the time of day at ``clock``, with its span, if any."""
    lo = max(0, clock[0] - WINDOW)
    hi = min(len(normalised), clock[1] + WINDOW)
    if lo > 0:  # whole words only: "Guten Morgen" cut to "Morgen" would be tomorrow
        lo = normalised.find(" ", lo, clock[0]) + 1 or clock[0]
    if hi < len(normalised):
        hi = max(normalised.rfind(" ", clock[1], hi), clock[1])
    window = normalised[lo:hi]
    base = now.astimezone(tz).replace(tzinfo=None)
    results = _search()(window, [lang.code], _settings(base, lang.date_order)) or []
    position = 0
    candidates: list[tuple[int, int, datetime]] = []
    for words, value in results:
        start = window.find(words, position)
        if start < 0:
            continue
        position = start + len(words)
        candidates.append((lo + start, lo + position, value))
    # The match holding the time first, then the others, nearest first.
    candidates.sort(
        key=lambda m: (not (m[0] <= clock[0] and clock[1] <= m[1]), abs(m[0] - clock[0]))
    )
    for start, end, value in candidates:
        holds = start <= clock[0] and clock[1] <= end
        rest = normalised[start:end]
        if holds:
            rest = normalised[start : clock[0]] + " " + normalised[clock[1] : end]
        rest = c.prepositions.sub(" ", rest)
        if c.days.search(rest) or (holds and c.dates.search(rest)):
            return value.date(), (start, end)
    return None, None


def _found(
    text: str,
    start: int,
    end: int,
    at: datetime,
    tz: ZoneInfo,
    now: datetime,
    *,
    day: bool,
    hour: bool,
) -> Found:
    # Trim spaces and punctuation the span may have taken with it.
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not (text[end - 1].isalnum() or text[end - 1] in ".'"):
        end -= 1
    return Found(
        at=at,
        local=at.astimezone(tz),
        text=text[start:end],
        span=(start, end),
        day_explicit=day,
        time_explicit=hour,
        in_past=at <= now,
        too_far=at - now > MAX_AHEAD,
    )


# --- dateparser ----------------------------------------------------------------------------

_Search = Callable[[str, list[str], Any], list[tuple[str, datetime]] | None]


@cache
def _search() -> _Search:
    """dateparser's ``search_dates``, imported on first use (see the module's docstring)."""
    from dateparser.search import search_dates

    def search(text: str, languages: list[str], settings: Any) -> list[tuple[str, datetime]] | None:
        return search_dates(text, languages=languages, settings=settings)

    return search


def _settings(base: datetime, date_order: str) -> dict[str, Any]:
    # Naive in, naive out: the wall clock of the hotel; zoneinfo does the offsets (dateparser's
    # own arithmetic on local times is off by an hour across a daylight-saving change).
    return {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": base,
        "RETURN_AS_TIMEZONE_AWARE": False,
        "DATE_ORDER": date_order,
    }
