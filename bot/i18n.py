"""Per-recipient translations: catalogs from ``locales/``, Babel negotiation and formatting.

There is no process-wide current language: every update or outgoing message gets its own
``Translator`` for the locale of the person who reads it.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "it", "ru", "es", "fr", "de")
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


@dataclass(frozen=True)
class Translator:
    """Translations and formatting for one reader's locale."""

    locale: str
    catalog: NullTranslations

    def gettext(self, message: str) -> str:
        """Translate ``message``."""
        return str(self.catalog.ugettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Translate a message with a plural form chosen by ``n``."""
        return str(self.catalog.ungettext(singular, plural, n))

    def datetime(self, moment: dt.datetime, tz: ZoneInfo, fmt: str = "short") -> str:
        """Format a UTC ``moment`` in the hotel's zone for this reader."""
        return str(format_datetime(moment.astimezone(tz), format=fmt, locale=self.locale))

    def time(self, moment: dt.datetime, tz: ZoneInfo, fmt: str = "short") -> str:
        """Format the time of day of a UTC ``moment`` in the hotel's zone."""
        return str(format_time(moment.astimezone(tz), format=fmt, locale=self.locale))

    def date(self, day: dt.date, fmt: str = "long") -> str:
        """Format a calendar day."""
        return str(format_date(day, format=fmt, locale=self.locale))

    @property
    def language_name(self) -> str:
        """The language's own name, e.g. ``Italiano``."""
        return str(Locale.parse(self.locale).get_display_name(self.locale)).capitalize()


class I18n:
    """Catalogs of all supported locales, compiled in memory from the ``.po`` files."""

    def __init__(
        self,
        default: str,
        offered: tuple[str, ...] = SUPPORTED_LOCALES,
        locales_dir: Path = LOCALES_DIR,
    ) -> None:
        self.default = default
        self.offered = offered
        self._translators = {code: Translator(code, _load(locales_dir, code)) for code in offered}

    def translator(self, locale: str | None) -> Translator:
        """Translator for ``locale``; the hotel default if it is not offered."""
        if locale in self._translators:
            return self._translators[locale]
        return self._translators[self.default]

    def negotiate(self, language_code: str | None) -> str:
        """Pick the offered locale that best fits Telegram's ``language_code``, else the default."""
        if not language_code:
            return self.default
        preferred = language_code.replace("_", "-").lower()
        found = negotiate_locale([preferred], list(self.offered), sep="-")
        if found is None:
            found = negotiate_locale([preferred.split("-")[0]], list(self.offered), sep="-")
        return str(found).lower() if found else self.default


def _load(locales_dir: Path, code: str) -> NullTranslations:
    po_path = locales_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        if code != "en":
            log.warning("no catalog for %s at %s; showing English", code, po_path)
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def noop(message: str) -> str:
    """Mark ``message`` for extraction without translating it (translated when shown)."""
    return message
