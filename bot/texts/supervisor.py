"""What supervisors read: alerts, and the computed views (/log, /followups, /report).

The views are formatted where they are read (in a worker thread, in the reader's locale) and
sent as ``Prerendered`` notices: see ``bot.notices.Prerendered``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

from bot.config import HotelConfig
from bot.i18n import Translator, noop
from bot.models import Event, EventKind, FollowUp, FollowUpStatus, Guest, Request
from bot.notices import (
    CheckedOut,
    CheckoutUsage,
    FollowupsUsage,
    LogUsage,
    NegativeFollowupAlert,
    ReportUsage,
    StaffUnreachableAlert,
    UrgentAlert,
    snippet_of,
)
from bot.services.figures import FollowupTotals, PeriodFigures, Spread
from bot.texts.common import (
    department,
    duration,
    fixed,
    language_name,
    says,
    snippet,
    stars,
    status_label,
    unknown_room,
)
from bot.texts.staff import dismissal

fixed(LogUsage, noop("Use /log followed by a request number, for example /log 12."))
fixed(CheckoutUsage, noop("Use /checkout followed by a room number, for example /checkout 412."))
fixed(FollowupsUsage, noop("Use /followups, /followups yesterday or /followups 2026-11-23."))
fixed(
    ReportUsage,
    noop(
        "Use /report for this month, or /report followed by week, today, yesterday, "
        "a month such as 2026-11 or a day such as 2026-11-23."
    ),
)


@says(NegativeFollowupAlert)
def _negative_followup(notice: NegativeFollowupAlert, t: Translator, hotel: HotelConfig) -> str:
    return t.gettext(
        "⚠️ The guest in room {room} says request #{number} ({department}) is not fixed. "
        "It has been reopened. Timeline: /log {number}"
    ).format(
        room=unknown_room(t, notice.room),
        number=notice.request_id,
        department=department(hotel, t, notice.department),
    )


@says(UrgentAlert)
def _urgent(notice: UrgentAlert, t: Translator, hotel: HotelConfig) -> str:
    return t.gettext(
        "🚨 Urgent request #{number} · room {room} · {department}: {text}\nTimeline: /log {number}"
    ).format(
        number=notice.request_id,
        room=unknown_room(t, notice.room),
        department=department(hotel, t, notice.department),
        text=snippet(t, notice.text, notice.media_kind),
    )


@says(StaffUnreachableAlert)
def _staff_unreachable(notice: StaffUnreachableAlert, t: Translator, hotel: HotelConfig) -> str:
    return t.ngettext(
        "⚠️ {name} ({department}) has blocked the bot and is now off duty. "
        "{count} request of theirs was handed on.",
        "⚠️ {name} ({department}) has blocked the bot and is now off duty. "
        "{count} requests of theirs were handed on.",
        notice.count,
    ).format(
        name=notice.name, department=department(hotel, t, notice.department), count=notice.count
    )


@says(CheckedOut)
def _checked_out(notice: CheckedOut, t: Translator, _hotel: HotelConfig) -> str:
    if not notice.count:
        return t.gettext("No guest has room {room} at the moment.").format(room=notice.room)
    # TRANSLATORS: a supervisor ended the stay; the guests are not told, their requests go on.
    return t.ngettext(
        "Room {room}: {count} guest checked out. The bot will ask for the room again "
        "with their next request.",
        "Room {room}: {count} guests checked out. The bot will ask for the room again "
        "with their next request.",
        notice.count,
    ).format(room=notice.room, count=notice.count)


def event_line(hotel: HotelConfig, t: Translator, event: Event) -> str:
    """One audit-trail event in words, with its time in the hotel's zone."""
    return f"{t.datetime(event.at, hotel.tz)} — {event_text(hotel, t, event)}"


def _said(t: Translator, details: dict[str, Any]) -> str:
    """The text of a relayed or added message, or its kind of attachment."""
    media = details.get("media")
    return snippet(t, str(details.get("text") or ""), media if isinstance(media, str) else None)


def event_text(hotel: HotelConfig, t: Translator, event: Event) -> str:
    """What an audit-trail event says happened; every kind has its own words."""
    _ = t.gettext
    d = event.details
    who = event.actor_name or _("system")
    kind = EventKind(event.kind)
    if kind is EventKind.CREATED:
        return _("created by the guest ({name})").format(name=who)
    if kind is EventKind.ROUTED:
        how = {
            "keywords": _("by keywords"),
            "fallback": _("no keyword matched"),
            "guest": _("chosen by the guest"),
        }.get(str(d.get("by", "")), "")
        return _("routed to {department} ({how})").format(
            department=department(hotel, t, str(d.get("department", ""))), how=how
        )
    if kind is EventKind.OFFERED:
        return _("offered to {names}").format(names=", ".join(d.get("names", [])))
    if kind is EventKind.NOBODY_ON_DUTY:
        return _("nobody on duty to offer it to")
    if kind is EventKind.ACCEPTED:
        return _("accepted by {name}").format(name=who)
    if kind is EventKind.RELEASED:
        return _("released by {name}").format(name=who)
    if kind is EventKind.DONE:
        return _("done by {name}").format(name=who)
    if kind is EventKind.FOLLOWUP_SCHEDULED:
        return _("follow-up scheduled for {time}").format(
            time=t.time(_parse(d["due_at"]), hotel.tz)
        )
    if kind is EventKind.FOLLOWUP_SENT:
        return _("follow-up sent to the guest")
    if kind is EventKind.FOLLOWUP_ANSWERED:
        if d.get("answer") == "yes":
            return _("follow-up answered: all good")
        return _("follow-up answered: not fixed")
    if kind is EventKind.FOLLOWUP_UNANSWERED:
        return _("follow-up got no answer")
    if kind is EventKind.RATED:
        return _("rated {stars} by the guest").format(stars=stars(int(d.get("rating", 0))))
    if kind is EventKind.REOPENED:
        return _("reopened")
    if kind is EventKind.CLOSED:
        return _("closed")
    if kind is EventKind.CANCELLED:
        return _("cancelled by {name}").format(name=who)
    if kind is EventKind.DISMISSED:
        return dismissal(t, who, d)
    if kind is EventKind.MERGED:
        return _("closed by {name} as a duplicate of #{number}").format(
            name=who, number=d.get("into", "?")
        )
    if kind is EventKind.MERGED_IN:
        return _("#{number} of the same guest merged into this one by {name}").format(
            number=d.get("duplicate", "?"), name=who
        )
    if kind is EventKind.GUEST_UNREACHABLE:
        # TRANSLATORS: a timeline entry; the request itself goes on.
        return _("the guest has blocked the bot and no longer receives messages")
    if kind is EventKind.STAFF_UNREACHABLE:
        # TRANSLATORS: a timeline entry; {name} is the staff member who held the request.
        return _("{name} has blocked the bot: taken off duty, the request handed on").format(
            name=who
        )
    if kind is EventKind.ANONYMIZED:
        return _("the guest's personal data was erased")
    if kind is EventKind.ADDED:
        return _("the guest added: {text}").format(text=_said(t, d))
    if kind is EventKind.GUEST_MESSAGE:
        return _("the guest answered: {text}").format(text=_said(t, d))
    if kind is EventKind.STAFF_MESSAGE:
        # TRANSLATORS: a timeline entry; the staff member's message to the guest follows.
        return _("{name} wrote to the guest: {text}").format(name=who, text=_said(t, d))
    if kind is EventKind.ROOM_SET:
        # TRANSLATORS: a timeline entry; the guest gave the room after sending the request.
        return _("room {room} given by the guest").format(room=str(d.get("room", "")))
    if kind is EventKind.MARKED_URGENT:
        if d.get("by") == "keywords":
            # TRANSLATORS: a timeline entry; {word} is the hotel's urgent keyword that matched.
            return _("urgent: the guest wrote “{word}”").format(word=str(d.get("keyword", "")))
        return _("marked urgent by {name}").format(name=who)
    if kind is EventKind.MARKED_NORMAL:
        return _("marked not urgent by {name}").format(name=who)
    assert_never(kind)


def timeline(
    hotel: HotelConfig, t: Translator, request: Request, guest: Guest | None, events: list[Event]
) -> str:
    """The /log answer."""
    _ = t.gettext
    header = [
        _("Request #{number} · {department} · {status}").format(
            number=request.id,
            department=department(hotel, t, request.department),
            status=status_label(t, request.status),
        ),
        _("Room {room} · guest speaks {language} · {name}").format(
            room=unknown_room(t, request.room),
            language=language_name(request.language, t.locale),
            name=(guest.first_name if guest else "") or "—",
        ),
        snippet(t, snippet_of(request, limit=300), request.media_kind),
        "",
    ]
    return "\n".join(header + [event_line(hotel, t, event) for event in events])


def followup_answer_label(t: Translator, followup: FollowUp) -> str:
    """A follow-up's outcome in words."""
    _ = t.gettext
    if followup.status == FollowUpStatus.ANSWERED:
        return _("all good") if followup.answer == "yes" else _("not fixed")
    if followup.status == FollowUpStatus.UNANSWERED:
        return _("no answer")
    return _("waiting for an answer")


def followup_line(hotel: HotelConfig, t: Translator, followup: FollowUp, request: Request) -> str:
    """One follow-up of the /followups list."""
    _ = t.gettext
    sent = t.time(followup.sent_at, hotel.tz) if followup.sent_at else "—"
    line = _("#{number} · {department} · {language} · sent {time} · {answer}").format(
        number=request.id,
        department=department(hotel, t, request.department),
        language=followup.language,
        time=sent,
        answer=followup_answer_label(t, followup),
    )
    if followup.rating:
        line += " · " + stars(followup.rating)
    return line


def followup_totals(t: Translator, totals: FollowupTotals) -> list[str]:
    """How the follow-ups were answered, and their average rating if any."""
    _ = t.gettext
    lines = [
        _("Sent: {sent} · all good: {yes} · not fixed: {no} · no answer: {silent}").format(
            sent=t.number(totals.sent),
            yes=t.number(totals.all_good),
            no=t.number(totals.not_fixed),
            silent=t.number(totals.no_answer),
        )
    ]
    if totals.average_rating is not None:
        lines.append(
            _("Average rating: {average} from {count}").format(
                average=t.decimal(totals.average_rating), count=t.number(totals.rated)
            )
        )
    return lines


def followup_log(
    hotel: HotelConfig,
    t: Translator,
    day_label: str,
    totals: FollowupTotals,
    rows: list[tuple[FollowUp, Request]],
    *,
    attention_only: bool = False,
    more: int = 0,
) -> str:
    """The /followups answer: the day's totals, then the follow-ups listed.

    With ``attention_only`` the list holds only those answered "not fixed" or rated 1–2,
    newest first, and ``more`` says how many of them were left out.
    """
    _ = t.gettext
    lines = [_("Follow-ups sent on {day}").format(day=day_label)]
    if not totals.sent:
        lines.append(_("None."))
        return "\n".join(lines)
    lines += followup_totals(t, totals)
    lines.append("")
    if attention_only:
        lines.append(_("Needing attention (not fixed, or rated 1 or 2), newest first:"))
        if not rows:
            lines.append(_("None."))
    lines += [followup_line(hotel, t, followup, request) for followup, request in rows]
    if more > 0:
        lines.append(
            t.ngettext("… and {count} more", "… and {count} more", more).format(
                count=t.number(more)
            )
        )
    return "\n".join(lines)


def period_report(hotel: HotelConfig, t: Translator, period: str, figures: PeriodFigures) -> str:
    """The /report answer: a period's requests and follow-ups in figures."""
    _ = t.gettext
    lines = [_("Report for {period}").format(period=period), ""]
    if not figures.requests:
        lines.append(_("No requests were created in this period."))
    else:
        lines.append(_("Requests created: {count}").format(count=t.number(figures.requests)))
        for key, count in figures.departments:
            # TRANSLATORS: one department's requests and their share, e.g. "Housekeeping: 60 (25%)".
            line = _("{department}: {count} ({share})").format(
                department=department(hotel, t, key),
                count=t.number(count),
                share=t.percent(count / figures.requests),
            )
            lines.append("• " + line)
        lines.append(
            _("Done: {done} · cancelled: {cancelled} · still open: {open}").format(
                done=t.number(figures.done),
                cancelled=t.number(figures.cancelled),
                open=t.number(figures.still_open),
            )
        )
        if figures.urgent:
            lines.append(_("Urgent requests: {count}").format(count=t.number(figures.urgent)))
        if figures.set_aside:
            lines.append(
                _("Closed by staff as not a request or as a duplicate: {count}").format(
                    count=t.number(figures.set_aside)
                )
            )
        lines.append(
            _("Reopened after a follow-up: {count}").format(count=t.number(figures.reopened))
        )
        lines.append(_spread_line(t, figures.to_accept, accept=True))
        lines.append(_spread_line(t, figures.to_done, accept=False))
        if figures.busiest_hour is not None:
            hour, count = figures.busiest_hour.hour, figures.busiest_hour.requests
            lines.append(
                t.ngettext(
                    "Busiest hour: {hours} ({count} request)",
                    "Busiest hour: {hours} ({count} requests)",
                    count,
                ).format(
                    hours=f"{t.hour(hour)}–{t.hour((hour + 1) % 24)}",
                    count=t.number(count),
                )
            )
    lines.append("")
    totals = figures.followups
    if not totals.sent:
        lines.append(_("No follow-ups were sent in this period."))
    else:
        lines.append(_("Follow-ups:"))
        lines += followup_totals(t, totals)
        if totals.average_rating is None:
            lines.append(_("No ratings."))
    if figures.questions.answered:
        lines.append("")
        lines.append(
            _("Questions answered instantly: {count} · sent on to staff: {sent}").format(
                count=t.number(figures.questions.answered),
                sent=t.number(figures.questions.sent_on),
            )
        )
    return "\n".join(lines)


def _spread_line(t: Translator, spread: Spread, *, accept: bool) -> str:
    _ = t.gettext
    if spread.median is None or spread.p90 is None:
        return _("Time to accept: none accepted") if accept else _("Time to done: none done")
    if accept:
        text = _("Time to accept: median {median} · 90th percentile {p90}")
    else:
        text = _("Time to done: median {median} · 90th percentile {p90}")
    return text.format(median=duration(t, spread.median), p90=duration(t, spread.p90))


def _parse(value: object) -> datetime:
    return datetime.fromisoformat(str(value))
