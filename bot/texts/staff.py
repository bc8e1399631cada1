"""What staff members read (supervisors too, as staff)."""

from __future__ import annotations

from bot.buttons import Accept, Done, Release, SetDuty
from bot.config import HotelConfig
from bot.i18n import Translator, noop
from bot.notices import (
    CancelledForAssignee,
    Card,
    CardButtons,
    CardStatus,
    DutyStatus,
    Quote,
    StaffHelp,
    StaffTasks,
    StaffWelcome,
    StillAssigned,
    WaitingSent,
)
from bot.notifier import Button
from bot.routing import Tier
from bot.texts.common import (
    Rendering,
    Rows,
    content_label,
    department,
    language_name,
    renders,
    says,
    snippet,
    unknown_room,
)

CARD_TEXT_LIMIT = 3000

HELP = noop(
    "New requests for your department reach you here while you are on duty. Press Accept "
    "to take one, then Done when it is finished, or Release to hand it back.\n\n"
    "/duty — go on or off duty\n"
    "/tasks — requests you have accepted\n"
    "/language — change the language\n"
    "/help — this message"
)
SUPERVISOR_HELP = noop(
    "As a supervisor you also receive escalations and negative follow-ups.\n"
    "/log N — the full timeline of request N\n"
    "/followups [today|yesterday|YYYY-MM-DD] — the follow-up log of a day\n"
    "/report [month|week|today|yesterday|YYYY-MM|YYYY-MM-DD] — figures of a period"
)


@says(StaffHelp)
def staff_help(notice: StaffHelp, t: Translator, _hotel: HotelConfig) -> str:
    """What a staff member (or supervisor) can do."""
    text = t.gettext(HELP)
    if notice.supervisor:
        text += "\n\n" + t.gettext(SUPERVISOR_HELP)
        text += "\n" + t.gettext("/checkout ROOM — end the stay of the guests in a room")
    return text


def _duty_status(t: Translator, on_duty: bool) -> str:
    _ = t.gettext
    if on_duty:
        return _("You are on duty: new requests reach you here.")
    return _("You are off duty: no new requests reach you.")


@says(StaffWelcome)
def _welcome(notice: StaffWelcome, t: Translator, hotel: HotelConfig) -> str:
    _ = t.gettext
    hello = _("Hello {name}! You are registered as {role} in {department}.").format(
        name=notice.name,
        role=_("supervisor") if notice.supervisor else _("staff member"),
        department=department(hotel, t, notice.department),
    )
    help_text = staff_help(StaffHelp(notice.supervisor), t, hotel)
    return "\n\n".join([hello, _duty_status(t, notice.on_duty), help_text])


@renders(DutyStatus)
def _duty(notice: DutyStatus, t: Translator, _hotel: HotelConfig) -> Rendering:
    _ = t.gettext
    label = _("Go off duty") if notice.on_duty else _("Go on duty")
    return _duty_status(t, notice.on_duty), ((Button(label, SetDuty(on=not notice.on_duty)),),)


@says(WaitingSent)
def _waiting_sent(notice: WaitingSent, t: Translator, _hotel: HotelConfig) -> str:
    return t.ngettext(
        "{count} waiting request has been sent to you.",
        "{count} waiting requests have been sent to you.",
        notice.count,
    ).format(count=notice.count)


@says(StillAssigned)
def _still_assigned(notice: StillAssigned, t: Translator, _hotel: HotelConfig) -> str:
    count = len(notice.request_ids)
    numbers = ", ".join(f"#{number}" for number in notice.request_ids)
    return t.ngettext(
        "You still have {count} accepted request ({numbers}). Release it if someone else "
        "should finish it.",
        "You still have {count} accepted requests ({numbers}). Release them if someone else "
        "should finish them.",
        count,
    ).format(count=count, numbers=numbers)


def _status_line(t: Translator, hotel: HotelConfig, status: str, name: str) -> str:
    _ = t.gettext
    if status == CardStatus.ACCEPTED_BY_YOU:
        return _("✅ Accepted by you.")
    if status == CardStatus.TAKEN_BY:
        return _("Taken by {name}.").format(name=name)
    if status == CardStatus.DONE_BY:
        return _("✔️ Done by {name}.").format(name=name)
    if status == CardStatus.RELEASED_BY_YOU:
        return _("You released it; it has been offered again.")
    if status == CardStatus.CANCELLED_BY_GUEST:
        return _("✖️ Cancelled by the guest.")
    if status == CardStatus.MOVED_TO:
        return _("Moved to {department} by the guest.").format(
            department=department(hotel, t, name)
        )
    if status == CardStatus.WITHDRAWN_OFF_DUTY:
        return _("You went off duty; this request was handed on.")
    if status == CardStatus.ERASED:
        return _("Erased at the guest's request.")
    return ""


def _card_buttons(t: Translator, notice: Card) -> Rows:
    _ = t.gettext
    if notice.buttons == CardButtons.ACCEPT:
        return ((Button(_("Accept"), Accept(notice.request_id)),),)
    if notice.buttons == CardButtons.ASSIGNEE:
        return (
            (
                Button(_("Done"), Done(notice.request_id)),
                Button(_("Release"), Release(notice.request_id)),
            ),
        )
    return ()


@renders(Card)
def _card(notice: Card, t: Translator, hotel: HotelConfig) -> Rendering:
    """The request as a staff member sees it."""
    _ = t.gettext
    lines = [
        _("Request #{number} · {department}").format(
            number=notice.request_id, department=department(hotel, t, notice.department)
        ),
        _("Room {room} · guest speaks {language}").format(
            room=unknown_room(t, notice.room),
            language=language_name(notice.language, t.locale),
        ),
    ]
    if notice.reopened:
        lines.append(_("⚠️ REOPENED: the guest said it is not fixed yet."))
    if notice.tier == Tier.FALLBACK:
        lines.append(_("Nobody is on duty in that department, so it comes to you."))
    elif notice.tier == Tier.SUPERVISORS:
        lines.append(_("Nobody is on duty in that department or at the front, so it comes to you."))
    lines.append("")
    kind = content_label(t, notice.media_kind)
    if kind:
        lines.append(f"[{kind}]")
    if notice.full_text_above:
        lines.append(_("(the full text is in the messages above)"))
    elif notice.text:
        text = notice.text
        lines.append(text if len(text) <= CARD_TEXT_LIMIT else text[: CARD_TEXT_LIMIT - 1] + "…")
    status_line = _status_line(t, hotel, notice.status, notice.name)
    if status_line:
        lines += ["", status_line]
    return "\n".join(lines), _card_buttons(t, notice)


@says(Quote)
def _quote(notice: Quote, _t: Translator, _hotel: HotelConfig) -> str:
    return notice.text


@says(CancelledForAssignee)
def _cancelled(notice: CancelledForAssignee, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("The guest cancelled request #{number}; you can stop working on it.").format(
        number=notice.request_id
    )


@says(StaffTasks)
def _tasks(notice: StaffTasks, t: Translator, _hotel: HotelConfig) -> str:
    _ = t.gettext
    if not notice.requests:
        return _("You have no accepted requests.")
    lines = [_("Your accepted requests:")]
    for number, room, text, media_kind in notice.requests:
        lines.append(
            _("#{number} · room {room} · {text}").format(
                number=number, room=unknown_room(t, room), text=snippet(t, text, media_kind)
            )
        )
    return "\n".join(lines)
