"""Every text a guest, staff member or supervisor reads, rendered in the reader's locale."""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from typing import assert_never

from babel import Locale

from bot.config import HotelConfig
from bot.i18n import Translator
from bot.models import (
    Event,
    EventKind,
    FollowUp,
    FollowUpStatus,
    Guest,
    Request,
    RequestStatus,
    Staff,
)
from bot.routing import Tier
from bot.services import errors
from bot.services.figures import FollowupTotals, PeriodFigures, Spread

CARD_TEXT_LIMIT = 3000
SNIPPET_LIMIT = 60


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


def content_label(t: Translator, request: Request) -> str:
    """What kind of attachment a request has, in words."""
    _ = t.gettext
    labels = {
        "photo": _("photo"),
        "voice": _("voice message"),
        "document": _("file"),
        "location": _("location"),
    }
    return labels.get(request.media_kind or "", "")


def snippet(t: Translator, request: Request, limit: int = SNIPPET_LIMIT) -> str:
    """A short quote of the request for lists and questions."""
    text = " ".join(request.text.split())
    if not text:
        return f"[{content_label(t, request)}]"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def department(hotel: HotelConfig, t: Translator, key: str) -> str:
    """A department's display name for this reader."""
    return hotel.department_name(key, t.locale)


# --- guests ---------------------------------------------------------------------------------


def guest_help(t: Translator) -> str:
    """What a guest can do."""
    _ = t.gettext
    return _(
        "Just write what you need — fresh towels, a taxi at 6:00, a TV that does not work — "
        "and I will pass it to the right team at once. You can also send a photo, a voice "
        "message or your location.\n\n"
        "/requests — your open requests\n"
        "/room — set your room number\n"
        "/language — change the language\n"
        "/forgetme — erase your data\n"
        "/help — this message"
    )


def welcome(hotel: HotelConfig, t: Translator, guest: Guest) -> str:
    """The greeting after /start."""
    _ = t.gettext
    if guest.first_name:
        hello = _("Welcome to {hotel}, {name}! I am the hotel's concierge.").format(
            hotel=hotel.hotel.name, name=guest.first_name
        )
    else:
        hello = _("Welcome to {hotel}! I am the hotel's concierge.").format(hotel=hotel.hotel.name)
    lines = [hello, "", guest_help(t)]
    if guest.room:
        lines += ["", _("Your room: {room}.").format(room=guest.room)]
    return "\n".join(lines)


def ask_room(t: Translator) -> str:
    """Ask the guest for the room number."""
    _ = t.gettext
    return _("What is your room number? Reply with just the number, for example 412.")


def room_saved(t: Translator, room: str) -> str:
    """Confirm the room number."""
    _ = t.gettext
    return _("Thank you, I have noted room {room}.").format(room=room)


def room_invalid(t: Translator) -> str:
    """The room number does not look like one."""
    _ = t.gettext
    return _("That does not look like a room number. Please send just the number, for example 412.")


def request_ack(hotel: HotelConfig, t: Translator, request: Request, tier: Tier) -> str:
    """The instant acknowledgement of a new request, honest about who has it."""
    _ = t.gettext
    name = department(hotel, t, request.department)
    fallback = department(hotel, t, hotel.hotel.fallback_department)
    if tier is Tier.DEPARTMENT:
        # TRANSLATORS: {department} is a team name from the hotel's config, e.g. Housekeeping.
        return _("Request #{number} received — {department} is on it.").format(
            number=request.id, department=name
        )
    if tier is Tier.FALLBACK:
        return _(
            "Request #{number} received. {department} has nobody on duty right now, "
            "so {fallback} is on it."
        ).format(number=request.id, department=name, fallback=fallback)
    if tier is Tier.SUPERVISORS:
        return _(
            "Request #{number} received. {department} has nobody on duty right now, "
            "so the duty manager is on it."
        ).format(number=request.id, department=name)
    return _(
        "Request #{number} received and saved. Nobody is on duty to take it at this moment; "
        "it goes to the first staff member who starts their shift, and I will tell you as "
        "soon as someone accepts it."
    ).format(number=request.id)


def pick_department_hint(t: Translator) -> str:
    """Offer the guest to choose the department themselves."""
    _ = t.gettext
    return _("Not the right team? Choose one:")


def department_picked(hotel: HotelConfig, t: Translator, request: Request, tier: Tier) -> str:
    """Confirm the guest's choice of department."""
    _ = t.gettext
    name = department(hotel, t, request.department)
    if tier is Tier.NOBODY:
        return _(
            "Request #{number} moved to {department}. Nobody is on duty there at this moment; "
            "I will tell you as soon as someone accepts it."
        ).format(number=request.id, department=name)
    return _("Request #{number} moved to {department}.").format(number=request.id, department=name)


def accepted_for_guest(hotel: HotelConfig, t: Translator, request: Request, staff: Staff) -> str:
    """Tell the guest who took the request."""
    _ = t.gettext
    return _("{name} from {department} has accepted request #{number}.").format(
        name=staff.name, department=department(hotel, t, staff.department), number=request.id
    )


def done_for_guest(t: Translator, request: Request) -> str:
    """Tell the guest the request is done."""
    _ = t.gettext
    return _(
        "Request #{number} is done. I will check with you a little later that everything is fine."
    ).format(number=request.id)


def cancelled_for_guest(t: Translator, request: Request) -> str:
    """Confirm a cancellation to the guest."""
    _ = t.gettext
    return _("Request #{number} is cancelled.").format(number=request.id)


def guest_requests(hotel: HotelConfig, t: Translator, requests: list[Request]) -> str:
    """The guest's /requests list."""
    _ = t.gettext
    if not requests:
        return _("You have no open requests. Just write what you need.")
    lines = [
        t.ngettext(
            "You have {count} open request:", "You have {count} open requests:", len(requests)
        ).format(count=len(requests))
    ]
    for request in requests:
        lines.append(
            _("#{number} · {department} · {status}\n{text}").format(
                number=request.id,
                department=department(hotel, t, request.department),
                status=status_label(t, request.status),
                text=snippet(t, request),
            )
        )
    return "\n\n".join(lines)


def cancel_button(t: Translator, request: Request) -> str:
    """Label of the guest's cancel button."""
    _ = t.gettext
    return _("Cancel #{number}").format(number=request.id)


def followup_question(t: Translator, request: Request) -> str:
    """The follow-up check-in."""
    _ = t.gettext
    return _("Hello again! Is everything all right with request #{number} ({text})?").format(
        number=request.id, text=snippet(t, request)
    )


def followup_yes_button(t: Translator) -> str:
    """Label of the positive follow-up answer."""
    _ = t.gettext
    return _("Yes, all good")


def followup_no_button(t: Translator) -> str:
    """Label of the negative follow-up answer."""
    _ = t.gettext
    return _("No, not yet")


def followup_thanks(t: Translator, request: Request) -> str:
    """Reply to a positive follow-up."""
    _ = t.gettext
    return _("Glad to hear it! Request #{number} is closed.").format(number=request.id)


def rating_question(t: Translator) -> str:
    """Ask for an optional rating."""
    _ = t.gettext
    return _("If you like, rate how we handled it (1 = poor, 5 = excellent):")


def rating_thanks(t: Translator, rating: int) -> str:
    """Thank the guest for a rating."""
    _ = t.gettext
    return _("Thank you for your rating: {stars}").format(stars=stars(rating))


def reopened_for_guest(hotel: HotelConfig, t: Translator, request: Request) -> str:
    """Reply to a negative follow-up."""
    _ = t.gettext
    return _(
        "I am sorry. Request #{number} is open again and back with {department} as a "
        "priority, and the duty manager has been told."
    ).format(number=request.id, department=department(hotel, t, request.department))


def language_prompt(t: Translator) -> str:
    """Ask the reader to choose a language."""
    _ = t.gettext
    return _("Choose your language:")


def language_set(t: Translator) -> str:
    """Confirm the new language, in that language."""
    _ = t.gettext
    return _("Language set to {language}.").format(language=t.language_name)


def unsupported_content(t: Translator) -> str:
    """A polite answer to stickers, games and the like."""
    _ = t.gettext
    return _(
        "Sorry, I cannot handle this kind of message. Please write your request as text, "
        "or send a photo, a voice message or your location."
    )


def unknown_command(t: Translator) -> str:
    """The prefix of the help shown for an unknown command."""
    _ = t.gettext
    return _("I do not know that command.")


def your_id(t: Translator, telegram_id: int) -> str:
    """The sender's numeric Telegram id, needed to register staff."""
    _ = t.gettext
    # TRANSLATORS: {id} is a number such as 123456789.
    return _("Your Telegram id: {id}").format(id=telegram_id)


def edit_not_forwarded(t: Translator) -> str:
    """Edits of sent messages are not passed on."""
    _ = t.gettext
    return _(
        "I saw that you edited a message. Edits do not reach the staff; please send the "
        "change as a new message."
    )


def delayed_by_outage(t: Translator) -> str:
    """The database is down: the message waits with Telegram and will be handled."""
    _ = t.gettext
    return _(
        "Sorry, a technical problem on our side delays your message. It is not lost: it will "
        "be handled as soon as the problem is fixed. If it is urgent, please call the front desk."
    )


def try_again_later(t: Translator) -> str:
    """An honest answer when something broke on our side."""
    _ = t.gettext
    return _(
        "Sorry, something went wrong on our side and your last message could not be "
        "handled. Please send it again in a minute; if it is urgent, call the front desk."
    )


# --- staff ----------------------------------------------------------------------------------


def staff_help(t: Translator, staff: Staff) -> str:
    """What a staff member (or supervisor) can do."""
    _ = t.gettext
    text = _(
        "New requests for your department reach you here while you are on duty. Press Accept "
        "to take one, then Done when it is finished, or Release to hand it back.\n\n"
        "/duty — go on or off duty\n"
        "/tasks — requests you have accepted\n"
        "/language — change the language\n"
        "/help — this message"
    )
    if staff.is_supervisor:
        text += "\n\n" + _(
            "As a supervisor you also receive escalations and negative follow-ups.\n"
            "/log N — the full timeline of request N\n"
            "/followups [today|yesterday|YYYY-MM-DD] — the follow-up log of a day\n"
            "/report [month|week|today|yesterday|YYYY-MM|YYYY-MM-DD] — figures of a period"
        )
    return text


def role_label(t: Translator, staff: Staff) -> str:
    """Staff member or supervisor, in words."""
    _ = t.gettext
    return _("supervisor") if staff.is_supervisor else _("staff member")


def staff_welcome(hotel: HotelConfig, t: Translator, staff: Staff) -> str:
    """The greeting of a registered staff member after /start."""
    _ = t.gettext
    hello = _("Hello {name}! You are registered as {role} in {department}.").format(
        name=staff.name,
        role=role_label(t, staff),
        department=department(hotel, t, staff.department),
    )
    return "\n\n".join([hello, duty_status(t, staff), staff_help(t, staff)])


def duty_status(t: Translator, staff: Staff) -> str:
    """Whether the staff member is on duty."""
    _ = t.gettext
    if staff.on_duty:
        return _("You are on duty: new requests reach you here.")
    return _("You are off duty: no new requests reach you.")


def duty_button(t: Translator, staff: Staff) -> str:
    """Label of the button that switches duty."""
    _ = t.gettext
    return _("Go off duty") if staff.on_duty else _("Go on duty")


def waiting_sent(t: Translator, count: int) -> str:
    """How many waiting requests were offered when a shift started."""
    return t.ngettext(
        "{count} waiting request has been sent to you.",
        "{count} waiting requests have been sent to you.",
        count,
    ).format(count=count)


def still_assigned(t: Translator, requests: list[Request]) -> str:
    """Remind a staff member going off duty of their accepted requests."""
    numbers = ", ".join(f"#{request.id}" for request in requests)
    return t.ngettext(
        "You still have {count} accepted request ({numbers}). Release it if someone else "
        "should finish it.",
        "You still have {count} accepted requests ({numbers}). Release them if someone else "
        "should finish them.",
        len(requests),
    ).format(count=len(requests), numbers=numbers)


def offer_card(
    hotel: HotelConfig,
    t: Translator,
    request: Request,
    *,
    tier: Tier = Tier.DEPARTMENT,
    status_line: str = "",
    full_text_above: bool = False,
) -> str:
    """The request as a staff member sees it."""
    _ = t.gettext
    lines = [
        _("Request #{number} · {department}").format(
            number=request.id, department=department(hotel, t, request.department)
        ),
        _("Room {room} · guest speaks {language}").format(
            room=request.room or _("unknown"),
            language=_language_name(request.language, t.locale),
        ),
    ]
    if request.reopened_count:
        lines.append(_("⚠️ REOPENED: the guest said it is not fixed yet."))
    if tier is Tier.FALLBACK:
        lines.append(_("Nobody is on duty in that department, so it comes to you."))
    elif tier is Tier.SUPERVISORS:
        lines.append(_("Nobody is on duty in that department or at the front, so it comes to you."))
    lines.append("")
    kind = content_label(t, request)
    if kind:
        lines.append(f"[{kind}]")
    if full_text_above:
        lines.append(_("(the full text is in the messages above)"))
    elif request.text:
        text = request.text
        lines.append(text if len(text) <= CARD_TEXT_LIMIT else text[: CARD_TEXT_LIMIT - 1] + "…")
    if status_line:
        lines += ["", status_line]
    return "\n".join(lines)


def accept_button(t: Translator) -> str:
    """Label of the Accept button."""
    _ = t.gettext
    return _("Accept")


def done_button(t: Translator) -> str:
    """Label of the Done button."""
    _ = t.gettext
    return _("Done")


def release_button(t: Translator) -> str:
    """Label of the Release button."""
    _ = t.gettext
    return _("Release")


def accepted_by_you(t: Translator) -> str:
    """Status line of the card the assignee sees."""
    _ = t.gettext
    return _("✅ Accepted by you.")


def taken_by(t: Translator, name: str) -> str:
    """Status line of the card others see after an accept."""
    _ = t.gettext
    return _("Taken by {name}.").format(name=name)


def done_by(t: Translator, name: str) -> str:
    """Status line of a finished request."""
    _ = t.gettext
    return _("✔️ Done by {name}.").format(name=name)


def released_by_you(t: Translator) -> str:
    """Status line after releasing a request."""
    _ = t.gettext
    return _("You released it; it has been offered again.")


def cancelled_by_guest(t: Translator) -> str:
    """Status line of a request the guest cancelled."""
    _ = t.gettext
    return _("✖️ Cancelled by the guest.")


def moved_to(hotel: HotelConfig, t: Translator, key: str) -> str:
    """Status line of a request the guest moved to another department."""
    _ = t.gettext
    return _("Moved to {department} by the guest.").format(department=department(hotel, t, key))


def withdrawn_off_duty(t: Translator) -> str:
    """Status line of offers withdrawn when going off duty."""
    _ = t.gettext
    return _("You went off duty; this request was handed on.")


def cancelled_for_assignee(t: Translator, request: Request) -> str:
    """Tell the assignee that the guest cancelled."""
    _ = t.gettext
    return _("The guest cancelled request #{number}; you can stop working on it.").format(
        number=request.id
    )


def staff_tasks(hotel: HotelConfig, t: Translator, requests: list[Request]) -> str:
    """The /tasks list."""
    _ = t.gettext
    if not requests:
        return _("You have no accepted requests.")
    lines = [_("Your accepted requests:")]
    for request in requests:
        lines.append(
            _("#{number} · room {room} · {text}").format(
                number=request.id, room=request.room or _("unknown"), text=snippet(t, request)
            )
        )
    return "\n".join(lines)


def negative_followup_alert(hotel: HotelConfig, t: Translator, request: Request) -> str:
    """Alert supervisors that a guest said a request is not fixed."""
    _ = t.gettext
    return _(
        "⚠️ The guest in room {room} says request #{number} ({department}) is not fixed. "
        "It has been reopened. Timeline: /log {number}"
    ).format(
        room=request.room or _("unknown"),
        number=request.id,
        department=department(hotel, t, request.department),
    )


def error_text(t: Translator, error: errors.DomainError) -> str:
    """A domain error as a short answer (fits a callback alert)."""
    _ = t.gettext
    if isinstance(error, errors.AlreadyTaken):
        return _("Already taken by {name}.").format(name=error.by)
    if isinstance(error, errors.StaleAction):
        return _("Request #{number} is {status} now; this button no longer applies.").format(
            number=error.request_id, status=status_label(t, error.status)
        )
    if isinstance(error, errors.NotYours):
        return _("Request #{number} is assigned to someone else.").format(number=error.request_id)
    if isinstance(error, errors.UnknownRequest):
        return _("There is no request #{number}.").format(number=error.request_id)
    if isinstance(error, errors.AlreadyAnswered):
        return _("You have already answered this. Thank you!")
    if isinstance(error, errors.NotSupervisor):
        return _("This command is for supervisors.")
    if isinstance(error, errors.NotRegistered):
        return _("Only registered hotel staff can do this.")
    if isinstance(error, errors.UnknownDepartment):
        return _("There is no such department.")
    return _("This button no longer applies.")


@cache
def _language_name(code: str, reader_locale: str) -> str:
    """A language's name in the reader's language (Babel's lookup is slow and never changes)."""
    return str(Locale.parse(code).get_display_name(reader_locale))


# --- supervisors ----------------------------------------------------------------------------


def event_line(hotel: HotelConfig, t: Translator, event: Event) -> str:
    """One audit-trail event in words, with its time in the hotel's zone."""
    return f"{t.datetime(event.at, hotel.tz)} — {event_text(hotel, t, event)}"


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
            room=request.room or _("unknown"),
            language=_language_name(request.language, t.locale),
            name=(guest.first_name if guest else "") or "—",
        ),
        snippet(t, request, limit=300),
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


def followups_usage(t: Translator) -> str:
    """How to call /followups."""
    _ = t.gettext
    return _("Use /followups, /followups yesterday or /followups 2026-11-23.")


def report_usage(t: Translator) -> str:
    """How to call /report."""
    _ = t.gettext
    return _(
        "Use /report for this month, or /report followed by week, today, yesterday, "
        "a month such as 2026-11 or a day such as 2026-11-23."
    )


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


def log_usage(t: Translator) -> str:
    """How to call /log."""
    _ = t.gettext
    return _("Use /log followed by a request number, for example /log 12.")


def _parse(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


def staff_unreachable_alert(hotel: HotelConfig, t: Translator, staff: Staff, count: int) -> str:
    """Tell supervisors that a staff member blocked the bot."""
    return t.ngettext(
        "⚠️ {name} ({department}) has blocked the bot and is now off duty. "
        "{count} request of theirs was handed on.",
        "⚠️ {name} ({department}) has blocked the bot and is now off duty. "
        "{count} requests of theirs were handed on.",
        count,
    ).format(name=staff.name, department=department(hotel, t, staff.department), count=count)


def slow_down(t: Translator, limit: int) -> str:
    """A guest sends more messages than the per-minute limit."""
    return t.ngettext(
        "You are sending messages very quickly. I keep at most {limit} request a minute; "
        "please wait a moment and send the rest again.",
        "You are sending messages very quickly. I keep at most {limit} requests a minute; "
        "please wait a moment and send the rest again.",
        limit,
    ).format(limit=limit)


def forget_question(t: Translator) -> str:
    """Confirm /forgetme before erasing anything."""
    _ = t.gettext
    return _(
        "This erases your name, your room and the text of all your requests from our "
        "records, and cancels the requests that are still open. It cannot be undone."
    )


def forget_button(t: Translator) -> str:
    """Label of the button that erases the guest's data."""
    _ = t.gettext
    return _("Erase my data")


def keep_button(t: Translator) -> str:
    """Label of the button that keeps the guest's data."""
    _ = t.gettext
    return _("Keep it")


def forgotten(t: Translator) -> str:
    """Confirm the erasure."""
    _ = t.gettext
    return _("Done: your data is erased. If you write again, I will treat you as a new guest.")


def kept(t: Translator) -> str:
    """The guest chose not to erase."""
    _ = t.gettext
    return _("Nothing was erased.")


def erased_for_staff(t: Translator) -> str:
    """Status line of a card whose text the guest had erased."""
    _ = t.gettext
    return _("Erased at the guest's request.")
