"""Check the translation catalogs: ``python -m bot.catalogs`` exits 1 on any problem.

Every offered language but English (the source language) must translate every message, keep
exactly the ``{placeholders}`` of the original, and have no fuzzy entries.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES_DIR, SUPPORTED_LOCALES

SOURCE_LOCALE = "en"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def problems(catalog: Catalog, locale: str) -> list[str]:
    """Everything wrong with one catalog, one line each."""
    found: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        label = f"{locale}: {str(ids[0])[:60]!r}"
        if message.fuzzy:
            found.append(label + " is fuzzy")
        if locale == SOURCE_LOCALE:
            continue
        if not all(strings):
            found.append(label + " is not translated")
            continue
        expected = set().union(*(_placeholders(str(i)) for i in ids))
        for string in strings:
            # A singular plural form may drop {count} ("one request"), nothing may be invented.
            extra = _placeholders(str(string)) - expected
            missing = (
                expected - _placeholders(str(string)) - ({"{count}"} if len(ids) > 1 else set())
            )
            if extra or missing:
                got = sorted(_placeholders(str(string)))
                found.append(f"{label} has placeholders {got} instead of {sorted(expected)}")
    return found


def check(locales_dir: Path = LOCALES_DIR) -> list[str]:
    """Problems of all supported catalogs."""
    found: list[str] = []
    for locale in SUPPORTED_LOCALES:
        path = locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not path.exists():
            found.append(f"{locale}: missing {path}")
            continue
        with path.open("rb") as handle:
            found += problems(read_po(handle, locale=locale), locale)
    return found


def main() -> int:
    """Print the problems; exit status 1 if there are any."""
    found = check()
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print("catalogs complete: {}".format(", ".join(SUPPORTED_LOCALES)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
