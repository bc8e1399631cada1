"""What staff members read (supervisors too, as staff)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.buttons import (
    Accept,
    Done,
    KeepOpen,
    MarkNormal,
    MarkUrgent,
    MergeInto,
    MergeMenu,
    NotARequest,
    NotARequestBecause,
    NoteAbout,
    Release,
    ReplyToGuest,
    SetDuty,
)
from bot.config import HotelConfig
from bot.i18n import Translator, noop
from bot.notices import (
    Addition,
    CancelledForAssignee,
    Card,
    CardButtons,
    CardStatus,
    Dismissed,
    DismissQuestion,
    DismissReason,
    DutyStatus,
    GuestAdded,
    GuestsInRoom,
    GuestUsage,
    KeptOpen,
    MergeChoices,
    Merged,
    NoteQuestion,
    NoteSaved,
    NoteTooLong,
    Quote,
    QuoteErased,
    RelayClosed,
    RelaySent,
    ReplyPrompt,
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
    fixed,
    language_name,
    renders,
    says,
    snippet,
    status_label,
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
GUEST_COMMAND_HELP = noop("/guest 412 — who is in room 412: their requests and notes")
SUPERVISOR_HELP = noop(
    "As a supervisor you also receive escalations and negative follow-ups.\n"
    "/log N — the full timeline of request N\n"
    "/followups [today|yesterday|YYYY-MM-DD] — the follow-up log of a day\n"
    "/report [month|week|today|yesterday|YYYY-MM|YYYY-MM-DD] — figures of a period"
)


@says(StaffHelp)
def staff_help(notice: StaffHelp, t: Translator, _hotel: HotelConfig) -> str:
    """What a staff member (or supervisor) can do."""
    text = t.gettext(HELP) + "\n" + t.gettext(GUEST_COMMAND_HELP)
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


def _status_line(
    t: Translator, hotel: HotelConfig, status: str, name: str, merged_into: int = 0
) -> str:
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
    if status == CardStatus.HANDED_ON:
        return _("You are no longer on the staff; this request went back to {department}.").format(
            department=department(hotel, t, name)
        )
    if status == CardStatus.ERASED:
        return _("Erased at the guest's request.")
    if status == CardStatus.DISMISSED_BY:
        return _("🚫 Closed as not a request by {name}.").format(name=name)
    if status == CardStatus.MERGED_INTO:
        return _("🔗 Merged into #{number} by {name}.").format(number=merged_into, name=name)
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
            (Button(_("💬 Reply to guest"), ReplyToGuest(notice.request_id)),),
        )
    return ()


@renders(Card)
def _card(notice: Card, t: Translator, hotel: HotelConfig) -> Rendering:
    """The request as a staff member sees it."""
    _ = t.gettext
    # TRANSLATORS: the first line of an urgent request's card, in capitals where usual.
    lines = [_("🚨 URGENT")] if notice.urgent else []
    lines += [
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
        lines.append(
            _("Nobody is on duty in that department or at {fallback}, so it comes to you.").format(
                fallback=department(hotel, t, hotel.hotel.fallback_department)
            )
        )
    lines.append("")
    kind = content_label(t, notice.media_kind)
    if kind:
        lines.append(f"[{kind}]")
    if notice.full_text_above:
        lines.append(_("(the full text is in the messages above)"))
    elif notice.text:
        text = notice.text
        lines.append(text if len(text) <= CARD_TEXT_LIMIT else text[: CARD_TEXT_LIMIT - 1] + "…")
    lines += _memory_lines(t, notice)
    status_line = _status_line(t, hotel, notice.status, notice.name, notice.merged_into)
    if status_line:
        lines += ["", status_line]
    return "\n".join(lines), _card_buttons(t, notice) + _card_tools(t, notice)


def _memory_lines(t: Translator, notice: Card) -> list[str]:
    """The guest's earlier requests of the stay and the notes about them, a line each."""
    lines = []
    if notice.earlier:
        listed = [f"#{number} {status_label(t, status)}" for number, status in notice.recent]
        if notice.earlier > len(listed):
            listed.append("…")
        lines.append(
            t.ngettext(
                "🕘 {count} earlier request this stay: {recent}",
                "🕘 {count} earlier requests this stay: {recent}",
                notice.earlier,
            ).format(count=notice.earlier, recent=", ".join(listed))
        )
    if notice.notes:
        lines.append("📝 " + " · ".join(notice.notes))
    return ["", *lines] if lines else []


def _card_tools(t: Translator, notice: Card) -> Rows:
    """A live card's own rows: close it as not a request, merge it, note about the guest; mark
    it urgent, or take that back."""
    _ = t.gettext
    if notice.buttons not in (CardButtons.ACCEPT, CardButtons.ASSIGNEE):
        return ()
    number = notice.request_id
    return (
        (
            Button(_("🚫 Not a request"), NotARequest(number)),
            Button(_("🔗 Merge…"), MergeMenu(number)),
            Button(_("📝 Note"), NoteAbout(number)),
        ),
        # Only supervisors can take urgency back; others pressing it are told so.
        (Button(_("Not urgent"), MarkNormal(number)),)
        if notice.urgent
        else (Button(_("🚨 Urgent"), MarkUrgent(number)),),
    )


def reason_label(t: Translator, reason: str) -> str:
    """A quick reason why something is not a request, as its button says it."""
    _ = t.gettext
    labels: dict[str, str] = {
        DismissReason.CHAT: _("Just a thanks or a chat"),
        DismissReason.DUPLICATE: _("Duplicate"),
        DismissReason.TEST: _("Test"),
        DismissReason.NONE: _("No reason"),
    }
    return labels.get(reason, reason)


def dismissal(t: Translator, name: str, details: Mapping[str, Any]) -> str:
    """The timeline's words for a request closed as not a request, with its reason."""
    _ = t.gettext
    if details.get("text"):
        reason = "“{}”".format(details["text"])
    elif details.get("reason") not in (None, DismissReason.NONE):
        reason = reason_label(t, str(details["reason"]))
    else:
        return _("closed as not a request by {name}").format(name=name)
    return _("closed as not a request by {name}: {reason}").format(name=name, reason=reason)


@renders(DismissQuestion)
def _dismiss_question(notice: DismissQuestion, t: Translator, _hotel: HotelConfig) -> Rendering:
    _ = t.gettext
    number = notice.request_id
    text = _(
        "Close #{number} as not a request? No follow-up is sent. Pick a reason, or write it "
        "in one line."
    ).format(number=number)

    def because(reason: DismissReason) -> Button:
        return Button(reason_label(t, reason), NotARequestBecause(number, reason.value))

    return text, (
        (because(DismissReason.CHAT), because(DismissReason.DUPLICATE)),
        (because(DismissReason.TEST), because(DismissReason.NONE)),
        (Button(_("↩️ Keep it open"), KeepOpen(number)),),
    )


@says(Dismissed)
def _dismissed(notice: Dismissed, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("#{number} is closed as not a request; the guest gets no follow-up.").format(
        number=notice.request_id
    )


@says(KeptOpen)
def _kept_open(notice: KeptOpen, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("#{number} stays as it was.").format(number=notice.request_id)


@renders(MergeChoices)
def _merge_choices(notice: MergeChoices, t: Translator, _hotel: HotelConfig) -> Rendering:
    _ = t.gettext
    number = notice.request_id
    if not notice.choices:
        text = _(
            "This guest has no other open request, so #{number} cannot be merged. If it asks "
            "for nothing, use “Not a request”."
        ).format(number=number)
        return text, ()
    lines = [_("Merge #{number} into which request of the same guest?").format(number=number)]
    for other, status, quoted, media_kind in notice.choices:
        lines.append(
            _("#{number} · {status} · {text}").format(
                number=other, status=status_label(t, status), text=snippet(t, quoted, media_kind)
            )
        )
    rows = tuple(
        (Button(_("Merge into #{number}").format(number=other), MergeInto(number, other)),)
        for other, *_rest in notice.choices
    )
    return "\n".join(lines), rows


@says(Merged)
def _merged(notice: Merged, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("#{number} is merged into #{other}; the guest has been told.").format(
        number=notice.request_id, other=notice.into_id
    )


@says(NoteQuestion)
def _note_question(notice: NoteQuestion, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext(
        "Write your note about the guest of #{number}, for example “allergic to feathers” "
        "(at most {limit} characters). It will show on their next cards."
    ).format(number=notice.request_id, limit=notice.limit)


@says(NoteSaved)
def _note_saved(notice: NoteSaved, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext(
        "Noted. The guest of #{number} will have it on their next cards and in /guest."
    ).format(number=notice.request_id)


@says(NoteTooLong)
def _note_too_long(notice: NoteTooLong, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext(
        "Sorry, that note has {length} characters and a note can have at most {limit}. "
        "Please send a shorter one."
    ).format(length=notice.length, limit=notice.limit)


fixed(GuestUsage, noop("Use /guest followed by a room number, for example /guest 412."))

GUEST_TEXT_LIMIT = 4096  # Telegram's limit for one message


@says(GuestsInRoom)
def _guests_in_room(notice: GuestsInRoom, t: Translator, _hotel: HotelConfig) -> str:
    _ = t.gettext
    if not notice.guests:
        return _("Nobody is registered in room {room} at the moment.").format(room=notice.room)
    lines = [_("Room {room}").format(room=notice.room)]
    for language, count, stay, notes in notice.guests:
        lines += [
            "",
            _("👤 A guest who speaks {language}").format(
                language=language_name(language, t.locale)
            ),
        ]
        if not count:
            lines.append(_("No requests this stay."))
        else:
            lines.append(
                t.ngettext(
                    "{count} request this stay:", "{count} requests this stay:", count
                ).format(count=count)
            )
        for number, status, quoted, media_kind in stay:
            lines.append(
                _("#{number} · {status} · {text}").format(
                    number=number,
                    status=status_label(t, status),
                    text=snippet(t, quoted, media_kind),
                )
            )
        for text, author in notes:
            lines.append(
                _("📝 {note} ({name})").format(note=text, name=author) if author else "📝 " + text
            )
    text = "\n".join(lines)
    return text if len(text) <= GUEST_TEXT_LIMIT else text[: GUEST_TEXT_LIMIT - 1] + "…"


@says(Quote)
def _quote(notice: Quote, _t: Translator, _hotel: HotelConfig) -> str:
    return notice.text


fixed(QuoteErased, noop("(erased at the guest's request)"))
_ADDITIONS = {
    # TRANSLATORS: a guest's later message about a request, sent to the staff who hold it.
    Addition.ADDED: noop("➕ #{number} · room {room} — the guest added:"),
    Addition.ANSWER: noop("💬 #{number} · room {room} — the guest answers:"),
    Addition.MERGED: noop(
        "🔗 #{number} · room {room} — a duplicate of the same guest, merged into it:"
    ),
    Addition.REOPENED: noop(
        "⚠️ #{number} · room {room} — the guest says it is not fixed yet, and the request is "
        "open again:"
    ),
}


@says(GuestAdded)
def _guest_added(notice: GuestAdded, t: Translator, _hotel: HotelConfig) -> str:
    """The guest's message, as written, under a line naming the request and the room."""
    head = t.gettext(_ADDITIONS.get(Addition(notice.how), _ADDITIONS[Addition.ADDED])).format(
        number=notice.request_id, room=unknown_room(t, notice.room)
    )
    kind = content_label(t, notice.media_kind)
    body = notice.text if notice.text else f"[{kind}]" if kind else ""
    text = "\n".join((head, body)) if body else head
    return text if len(text) <= CARD_TEXT_LIMIT else text[: CARD_TEXT_LIMIT - 1] + "…"


@says(ReplyPrompt)
def _reply_prompt(notice: ReplyPrompt, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext(
        "Write your message to the guest (request #{number}). Your next message here goes to "
        "them with your first name; your Telegram account stays private."
    ).format(number=notice.request_id)


@says(RelaySent)
def _relay_sent(notice: RelaySent, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext(
        "Sent to the guest of request #{number}. Their answer will come to you here."
    ).format(number=notice.request_id)


@says(RelayClosed)
def _relay_closed(notice: RelayClosed, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("Request #{number} is finished, so nothing more is sent to its guest.").format(
        number=notice.request_id
    )


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
