"""The hotel's TOML configuration, validated into typed models with errors that name the key."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.i18n import SUPPORTED_LOCALES
from bot.knowledge import Entry, Knowledge

Seconds = Annotated[int, Field(ge=1, le=60 * 60 * 24 * 30)]
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class ConfigError(Exception):
    """The hotel configuration cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HotelSection(_Strict):
    """The ``[hotel]`` table."""

    name: str = Field(min_length=1, max_length=100)
    timezone: str
    default_language: str = "en"
    languages: tuple[str, ...] = SUPPORTED_LOCALES
    fallback_department: str
    room_pattern: str = r"^[0-9]{1,4}[A-Za-z]?$"
    # The front desk's phone, given in apologies when set (what a guest dials, e.g. "+39 06 1234"
    # or "9" from the room).
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 ()./-]{0,39}$")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Rome)"
            ) from None
        return value

    @field_validator("languages")
    @classmethod
    def _supported_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [code for code in value if code not in SUPPORTED_LOCALES]
        if unknown:
            raise ValueError(
                f"unsupported language(s) {', '.join(unknown)}; "
                f"supported: {', '.join(SUPPORTED_LOCALES)}"
            )
        if not value:
            raise ValueError("list at least one language")
        return value

    @field_validator("room_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _default_is_offered(self) -> HotelSection:
        if self.default_language not in self.languages:
            raise ValueError(
                f"default_language {self.default_language!r} is not in languages "
                f"({', '.join(self.languages)})"
            )
        return self


class Timings(_Strict):
    """The ``[timings]`` table, in seconds so that tests and demos can use short delays."""

    followup_delay: Seconds = 1800
    followup_answer_timeout: Seconds = 86400
    sweep_interval: Seconds = 60


class Limits(_Strict):
    """The ``[limits]`` table: protection against floods, and data retention."""

    guest_messages_per_minute: int = Field(default=20, ge=1, le=1000)
    retention_days: int = Field(default=90, ge=1, le=3650)
    # A guest's messages this soon after a new request join it (text then photo, an album,
    # the tail of a long text); 0: every message stands alone.
    burst_seconds: int = Field(default=10, ge=0, le=120)
    # How long the guest's next message answers a staff member's message.
    relay_reply_minutes: int = Field(default=15, ge=1, le=1440)
    # How long, after a "No" to a follow-up, the guest's next message explains what is wrong;
    # 0: not asked.
    explain_minutes: int = Field(default=30, ge=0, le=1440)


class Rooms(_Strict):
    """The ``[rooms]`` table: how long a guest's room number is kept.

    A stay ends ``stay_days`` after the room was given; with ``checkout_time`` (hotel time,
    "11:00") it ends at that time on the ``stay_days``-th day instead. The bot then forgets
    the room and asks again with the guest's next request.
    """

    stay_days: int = Field(default=14, ge=1, le=365)
    checkout_time: time | None = None

    @field_validator("checkout_time")
    @classmethod
    def _local_time(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError('give the hotel\'s local time without a zone, e.g. "11:00"')
        return value


class Department(_Strict):
    """One ``[[departments]]`` entry."""

    key: str = Field(pattern=KEY_PATTERN)
    names: dict[str, str]
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    followup_delay: Seconds | None = None

    @field_validator("names")
    @classmethod
    def _has_names(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError('give at least one display name, e.g. en = "Housekeeping"')
        for code, name in value.items():
            if not name.strip():
                raise ValueError(f"the {code} name is empty")
        return value

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {
            code: [word.strip().casefold() for word in words if word.strip()]
            for code, words in value.items()
        }

    def name(self, locale: str, default_locale: str) -> str:
        """Display name in ``locale``, else in the hotel default, else any."""
        return (
            self.names.get(locale)
            or self.names.get(default_locale)
            or next(iter(self.names.values()))
        )


def _folded(value: dict[str, list[str]]) -> dict[str, list[str]]:
    """Keywords as they are matched: trimmed, case-folded, with typographic apostrophes plain."""
    return {
        code: [word.strip().casefold().replace("\u2019", "'") for word in words if word.strip()]
        for code, words in value.items()
    }


class Urgent(_Strict):
    """The ``[urgent]`` table: words that make a guest's request urgent, per language.

    ``keywords`` match at the start of a word, as department keywords do, in every configured
    language (a guest may write in another than their Telegram's). ``ignore`` lists phrases
    that are never urgent although they contain a keyword ("fire tv", "smoke-free"): they are
    taken out of the text before the keywords are looked for.
    """

    keywords: dict[str, list[str]] = Field(default_factory=dict)
    ignore: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("keywords", "ignore")
    @classmethod
    def _clean(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = [code for code in value if code not in SUPPORTED_LOCALES]
        if unknown:
            raise ValueError(
                f"unsupported language(s) {', '.join(unknown)}; "
                f"supported: {', '.join(SUPPORTED_LOCALES)}"
            )
        return _folded(value)


class Answer(_Strict):
    """One ``[[answers]]`` entry of the knowledge base: a question's keywords and its answer,
    per language (see ``bot.knowledge``)."""

    key: str = Field(pattern=KEY_PATTERN)
    keywords: dict[str, list[str]]
    text: dict[str, str]

    @field_validator("keywords")
    @classmethod
    def _some_keywords(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        cleaned = {
            code: [word.strip().casefold() for word in words if word.strip()]
            for code, words in value.items()
        }
        if not any(cleaned.values()):
            raise ValueError('give at least one keyword, e.g. en = ["wifi", "password"]')
        return cleaned

    @field_validator("text")
    @classmethod
    def _no_empty_answer(cls, value: dict[str, str]) -> dict[str, str]:
        for code, text in value.items():
            if not text.strip():
                raise ValueError(f"the {code} answer is empty")
        return value


class HotelConfig(_Strict):
    """The whole hotel configuration file."""

    hotel: HotelSection
    timings: Timings = Timings()
    limits: Limits = Limits()
    rooms: Rooms = Rooms()
    urgent: Urgent = Urgent()
    departments: tuple[Department, ...] = Field(min_length=1)
    answers: tuple[Answer, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> HotelConfig:
        seen = self._check_entries(
            "departments",
            "names",
            [(d.key, d.names, (*d.names, *d.keywords)) for d in self.departments],
        )
        self._check_entries(
            "answers", "text", [(a.key, a.text, (*a.text, *a.keywords)) for a in self.answers]
        )
        if self.hotel.fallback_department not in seen:
            raise ValueError(
                f"hotel.fallback_department: {self.hotel.fallback_department!r} is not a "
                f"department key (keys: {', '.join(sorted(seen))})"
            )
        return self

    def _check_entries(
        self, table: str, texts: str, entries: list[tuple[str, dict[str, str], tuple[str, ...]]]
    ) -> set[str]:
        """Keys unique, texts in the default language, only supported languages; the keys."""
        keys: set[str] = set()
        for index, (key, named, languages) in enumerate(entries):
            if key in keys:
                raise ValueError(f"{table}.{index}.key: duplicate key {key!r}")
            keys.add(key)
            if self.hotel.default_language not in named:
                raise ValueError(
                    f"{table}.{index}.{texts}: missing the default language "
                    f"{self.hotel.default_language!r}"
                )
            for code in languages:
                if code not in SUPPORTED_LOCALES:
                    raise ValueError(
                        f"{table}.{index}: unsupported language {code!r}; "
                        f"supported: {', '.join(SUPPORTED_LOCALES)}"
                    )
        return keys

    @cached_property
    def knowledge(self) -> Knowledge:
        """The knowledge base, indexed for matching guests' questions."""
        return Knowledge(
            Entry(
                key=answer.key,
                keywords={code: tuple(words) for code, words in answer.keywords.items()},
                answers=dict(answer.text),
            )
            for answer in self.answers
        )

    @cached_property
    def tz(self) -> ZoneInfo:
        """The hotel's time zone."""
        return ZoneInfo(self.hotel.timezone)

    def stay_end(self, since: datetime) -> datetime:
        """When a stay whose room was given at ``since`` ends (UTC)."""
        days = timedelta(days=self.rooms.stay_days)
        if self.rooms.checkout_time is None:
            return since + days
        day = since.astimezone(self.tz).date() + days
        return datetime.combine(day, self.rooms.checkout_time, tzinfo=self.tz).astimezone(UTC)

    @cached_property
    def room_regex(self) -> re.Pattern[str]:
        """Compiled pattern of a valid room number."""
        return re.compile(self.hotel.room_pattern)

    @property
    def department_keys(self) -> list[str]:
        """Department keys in configuration order."""
        return [department.key for department in self.departments]

    def department(self, key: str) -> Department:
        """The department with ``key``; ``KeyError`` if unknown."""
        for department in self.departments:
            if department.key == key:
                return department
        raise KeyError(key)

    def department_name(self, key: str, locale: str) -> str:
        """Display name of department ``key`` in ``locale`` (the key itself if it was removed)."""
        try:
            return self.department(key).name(locale, self.hotel.default_language)
        except KeyError:
            return key

    def followup_delay(self, key: str) -> int:
        """Seconds between done and the follow-up question for department ``key``."""
        try:
            delay = self.department(key).followup_delay
        except KeyError:
            delay = None
        return delay if delay is not None else self.timings.followup_delay


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def parse_hotel_config(text: str, source: str = "<config>") -> HotelConfig:
    """Parse and validate TOML text; ``ConfigError`` names the source and the bad key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return HotelConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        # Cross-field checks name their key in the message; field errors get it from ``loc``.
        where = _location(error["loc"]) + ": " if error["loc"] else ""
        raise ConfigError(f"{source}: {where}{message}{suffix}") from exc


def load_hotel_config(path: Path) -> HotelConfig:
    """Read and validate the hotel configuration at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the hotel config: {exc.strerror}") from exc
    return parse_hotel_config(text, str(path))
