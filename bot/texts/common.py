"""The renderers' registry, and the labels and texts every audience shares."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from babel import Locale

from bot.buttons import SetLanguage, unpack
from bot.config import HotelConfig
from bot.i18n import Translator, noop
from bot.models import RequestStatus
from bot.notices import (
    DelayedByOutage,
    EditNotForwarded,
    GuestHelp,
    LanguagePrompt,
    LanguageSet,
    Notice,
    Prerendered,
    Reason,
    Refused,
    StaffHelp,
    TryAgainLater,
    UnknownCommand,
    Unsupported,
    YourId,
)
from bot.notifier import Button

Rows = tuple[tuple[Button, ...], ...]
Rendering = tuple[str, Rows]
N = TypeVar("N", bound=Notice)

RENDERERS: dict[type[Notice], Callable[[Any, Translator, HotelConfig], Rendering]] = {}


def renders(
    kind: type[N],
) -> Callable[[Callable[[N, Translator, HotelConfig], Rendering]], Callable[..., Rendering]]:
    """Register the function as the renderer of ``kind``: text and button rows."""

    def register(
        function: Callable[[N, Translator, HotelConfig], Rendering],
    ) -> Callable[..., Rendering]:
        if kind in RENDERERS:
            raise TypeError(f"{kind.__name__} has two renderers")
        RENDERERS[kind] = function
        return function

    return register


def says(
    kind: type[N],
) -> Callable[[Callable[[N, Translator, HotelConfig], str]], Callable[..., str]]:
    """Register the function as the renderer of ``kind``, a text without buttons."""

    def register(function: Callable[[N, Translator, HotelConfig], str]) -> Callable[..., str]:
        renders(kind)(lambda notice, t, hotel: (function(notice, t, hotel), ()))
        return function

    return register


def fixed(kind: type[Notice], message: str) -> None:
    """Register ``message`` (marked with ``noop``) as the whole text of ``kind``."""
    renders(kind)(lambda _notice, t, _hotel: (t.gettext(message), ()))


def render(notice: Notice, t: Translator, hotel: HotelConfig) -> Rendering:
    """``notice`` as text and button rows for the reader of ``t``."""
    return RENDERERS[type(notice)](notice, t, hotel)


# --- shared labels ---------------------------------------------------------------------------


def stars(rating: int) -> str:
    """A 1–5 rating as stars."""
    return "★" * rating + "☆" * (5 - rating)


def status_label(t: Translator, status: str) -> str:
    """A request status in words."""
    _ = t.gettext
    labels = {
        # TRANSLATORS: request statuses; also used in "Request #{number} is {status} now".
        RequestStatus.OPEN: _("waiting for staff"),
        RequestStatus.ACCEPTED: _("in progress"),
        RequestStatus.DONE: _("done"),
        RequestStatus.CLOSED: _("closed"),
        RequestStatus.CANCELLED: _("cancelled"),
    }
    return labels.get(RequestStatus(status), status)


def content_label(t: Translator, media_kind: str | None) -> str:
    """What kind of attachment a request has, in words."""
    _ = t.gettext
    labels = {
        "photo": _("photo"),
        "voice": _("voice message"),
        "document": _("file"),
        "location": _("location"),
    }
    return labels.get(media_kind or "", "")


def snippet(t: Translator, text: str, media_kind: str | None) -> str:
    """A request's quote (``bot.notices.snippet_of``), or its kind of attachment if it has no
    text."""
    return text or f"[{content_label(t, media_kind)}]"


def department(hotel: HotelConfig, t: Translator, key: str) -> str:
    """A department's display name for this reader."""
    return hotel.department_name(key, t.locale)


def unknown_room(t: Translator, room: str | None) -> str:
    """The room, or that it is unknown."""
    return room or t.gettext("unknown")


@cache
def language_name(code: str, reader_locale: str) -> str:
    """A language's name in the reader's language (Babel's lookup is slow and never changes)."""
    return str(Locale.parse(code).get_display_name(reader_locale))


def duration(t: Translator, seconds: float) -> str:
    """A duration as precise as a supervisor needs: seconds, minutes, hours or days."""
    _ = t.gettext

    def whole(value: float) -> int:  # halves round up, as on a clock
        return math.floor(value + 0.5)

    seconds = max(0.0, seconds)
    if whole(seconds) < 60:
        # TRANSLATORS: short durations; use your language's usual abbreviations.
        return _("{seconds} s").format(seconds=whole(seconds))
    minutes = whole(seconds / 60)
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        if not minutes:
            return _("{hours} h").format(hours=hours)
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    days, hours = divmod(whole(seconds / 3600), 24)
    if not hours:
        return _("{days} d").format(days=days)
    return _("{days} d {hours} h").format(days=days, hours=hours)


# --- notices every audience gets -------------------------------------------------------------


@renders(Prerendered)
def _prerendered(notice: Prerendered, _t: Translator, _hotel: HotelConfig) -> Rendering:
    rows = []
    for row in notice.buttons:
        buttons = []
        for label, data in row:
            action = unpack(str(data))
            if action is not None:  # else left out: pressed, it would only be answered as stale
                buttons.append(Button(str(label), action))
        if buttons:
            rows.append(tuple(buttons))
    return notice.text, tuple(rows)


@says(Refused)
def refusal(notice: Refused, t: Translator, _hotel: HotelConfig) -> str:
    """Why the action was refused."""
    _ = t.gettext
    reason = notice.reason
    if reason == Reason.ALREADY_TAKEN:
        return _("Already taken by {name}.").format(name=notice.name)
    if reason == Reason.STALE:
        return _("Request #{number} is {status} now; this button no longer applies.").format(
            number=notice.request_id, status=status_label(t, notice.status)
        )
    if reason == Reason.NOT_YOURS:
        return _("Request #{number} is assigned to someone else.").format(number=notice.request_id)
    if reason == Reason.UNKNOWN_REQUEST:
        return _("There is no request #{number}.").format(number=notice.request_id)
    if reason == Reason.ALREADY_ANSWERED:
        return _("You have already answered this. Thank you!")
    if reason == Reason.NOT_SUPERVISOR:
        return _("This command is for supervisors.")
    if reason == Reason.NOT_REGISTERED:
        return _("Only registered hotel staff can do this.")
    if reason == Reason.UNKNOWN_DEPARTMENT:
        return _("There is no such department.")
    return _("This button no longer applies.")


@renders(LanguagePrompt)
def _language_prompt(notice: LanguagePrompt, t: Translator, _hotel: HotelConfig) -> Rendering:
    buttons = tuple(
        (Button(language_name(code, code).capitalize(), SetLanguage(code)),)
        for code in notice.languages
    )
    return t.gettext("Choose your language:"), buttons


@says(LanguageSet)
def _language_set(_notice: LanguageSet, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("Language set to {language}.").format(language=t.language_name)


@says(YourId)
def _your_id(notice: YourId, t: Translator, _hotel: HotelConfig) -> str:
    # TRANSLATORS: {id} is a number such as 123456789.
    return t.gettext("Your Telegram id: {id}").format(id=notice.telegram_id)


@says(UnknownCommand)
def _unknown_command(notice: UnknownCommand, t: Translator, hotel: HotelConfig) -> str:
    help_notice = StaffHelp(notice.supervisor) if notice.staff else GuestHelp()
    return t.gettext("I do not know that command.") + "\n\n" + render(help_notice, t, hotel)[0]


fixed(
    Unsupported,
    noop(
        "Sorry, I cannot handle this kind of message. Please write your request as text, "
        "or send a photo, a voice message or your location."
    ),
)
fixed(
    EditNotForwarded,
    noop(
        "I saw that you edited a message. Edits do not reach the staff; please send the "
        "change as a new message."
    ),
)


def urgent(t: Translator, hotel: HotelConfig, *, always: bool = False) -> str:
    """Whom to call if it is urgent: the fallback department, with the front desk's phone when
    the config gives one (else, with ``always``, without it; otherwise nothing)."""
    _ = t.gettext
    desk = department(hotel, t, hotel.hotel.fallback_department)
    if hotel.hotel.phone:
        # TRANSLATORS: {department} is the hotel's front desk as named in its config.
        return _("If it is urgent, please call {department}: {phone}.").format(
            department=desk, phone=hotel.hotel.phone
        )
    if always:
        return _("If it is urgent, please contact {department} directly.").format(department=desk)
    return ""


def with_urgent(text: str, t: Translator, hotel: HotelConfig, *, always: bool = False) -> str:
    """``text`` followed by ``urgent``'s sentence, if any."""
    line = urgent(t, hotel, always=always)
    return f"{text} {line}" if line else text


@says(DelayedByOutage)
def _delayed(_notice: DelayedByOutage, t: Translator, hotel: HotelConfig) -> str:
    text = t.gettext(
        "Sorry, a technical problem on our side delays your message. It is not lost: it will "
        "be handled as soon as the problem is fixed."
    )
    return with_urgent(text, t, hotel, always=True)


@says(TryAgainLater)
def _try_again(_notice: TryAgainLater, t: Translator, hotel: HotelConfig) -> str:
    text = t.gettext(
        "Sorry, something went wrong on our side and your last message could not be "
        "handled. Please send it again in a minute."
    )
    return with_urgent(text, t, hotel, always=True)
