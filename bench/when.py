"""``python -m bench.when``: what reading a time in a message costs, and what dateparser alone
gets wrong.

Prints the import time and memory of dateparser (each in a fresh interpreter), the first call
with and without ``bot.when.warm_up``, the cost per call of ``find_time`` on messages with and
without a time, and the phrases of ``tests/test_when.py`` that ``search_dates`` alone (with the
settings that ``bot.when`` would use without its normaliser) reads as another local time.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import timeit
from datetime import timedelta

from bot.when import LANGUAGES, find_time
from tests.test_when import NOW, PHRASES, ROME

_COLD = """
import json, resource, sys, time
from datetime import datetime, UTC
from zoneinfo import ZoneInfo
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
before = rss()
import bot.when as when
t = time.perf_counter()
if sys.argv[1] == "import":
    import dateparser.search
    took = time.perf_counter() - t
elif sys.argv[1] == "warm":
    when.warm_up(when.LANGUAGES)
    took = time.perf_counter() - t
else:
    when.find_time("a taxi tomorrow at 6", "en", datetime.now(UTC), ZoneInfo("Europe/Rome"))
    took = time.perf_counter() - t
    t = time.perf_counter()
    when.find_time("domani alle 7", "it", datetime.now(UTC), ZoneInfo("Europe/Rome"))
    took_it = time.perf_counter() - t
print(json.dumps({"seconds": took, "rss": rss() - before,
                  "next_language": locals().get("took_it")}))
"""

WITHOUT_TIME = [
    ("en", "Two towels to room 412 please, and the TV remote is not working"),
    ("it", "Due asciugamani in camera 412, grazie"),
    ("ru", "Два полотенца в номер 412, пожалуйста"),
    ("de", "Zwei Handtücher bitte, Zimmer 215"),
]


def _cold(what: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _COLD, what], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def _per_call(cases: list[tuple[str, str]], number: int = 20) -> float:
    """Median microseconds per find_time call over ``cases``."""
    times = []
    for locale, text in cases:
        find_time(text, locale, NOW, ROME)
        runs = timeit.repeat(
            lambda text=text, locale=locale: find_time(text, locale, NOW, ROME),  # type: ignore[misc]
            number=number,
            repeat=3,
        )
        times.append(min(runs) / number * 1e6)
    return statistics.median(times)


def _dateparser_alone() -> list[tuple[str, str, str, str]]:
    """The phrases ``search_dates`` alone reads wrong: (locale, text, expected, its reading)."""
    from dateparser.search import search_dates

    base = NOW.astimezone(ROME).replace(tzinfo=None)
    wrong = []
    for locale, cases in PHRASES.items():
        settings = {
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": base,
            "RETURN_AS_TIMEZONE_AWARE": False,
            "DATE_ORDER": LANGUAGES[locale].date_order,
        }
        for text, days, local in cases:
            hour, minute = map(int, local.split(":"))
            expected = (base + timedelta(days=days)).replace(hour=hour, minute=minute)
            found = search_dates(text, languages=[locale], settings=settings)
            reading = "nothing" if not found else f"{found[0][1]:%a %d %H:%M} ({found[0][0]!r})"
            if not found or found[0][1] != expected:
                wrong.append((locale, text, f"{expected:%a %d %H:%M}", reading))
    return wrong


def main() -> int:
    imported = _cold("import")
    warmed = _cold("warm")
    first = _cold("first")
    print(f"import dateparser.search: {imported['seconds'] * 1000:.0f} ms, "
          f"{imported['rss'] / 2**20:.0f} MB")  # fmt: skip
    print(f"warm_up(all six): {warmed['seconds'] * 1000:.0f} ms, {warmed['rss'] / 2**20:.0f} MB")
    print(f"first find_time with a time (cold): {first['seconds'] * 1000:.0f} ms, "
          f"then a first Italian one {first['next_language'] * 1000:.0f} ms")  # fmt: skip
    with_time = [(locale, text) for locale, cases in PHRASES.items() for text, _, _ in cases]
    print(f"find_time, a message without a time: {_per_call(WITHOUT_TIME, 2000):.0f} µs a call")
    print(f"find_time, a message with a time: {_per_call(with_time):.0f} µs a call (median)")
    wrong = _dateparser_alone()
    total = sum(len(cases) for cases in PHRASES.values())
    print(f"\nsearch_dates alone reads {len(wrong)} of {total} phrases wrong:")
    for locale, text, expected, reading in wrong:
        print(f"  {locale} {text!r}: means {expected}, read {reading}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
