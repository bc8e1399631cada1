"""What guests read."""

from __future__ import annotations

from bot.buttons import Cancel, FollowUpAnswer, Forget, PickDepartment, Rate, SendToStaff
from bot.config import HotelConfig
from bot.i18n import Translator, noop
from bot.models import ACTIVE_STATUSES
from bot.notices import (
    AcceptedForGuest,
    AddedForGuest,
    AddedQuietly,
    AnswerSentOn,
    AskRoom,
    CancelledForGuest,
    Courtesy,
    DepartmentPicked,
    DoneForGuest,
    FollowupQuestion,
    FollowupThanks,
    ForgetQuestion,
    Forgotten,
    GuestHelp,
    GuestRequests,
    InstantAnswer,
    Kept,
    MergedForGuest,
    RatingQuestion,
    RatingThanks,
    ReopenedForGuest,
    RequestAck,
    RoomInvalid,
    RoomLinkInvalid,
    RoomSaved,
    RoomStillNeeded,
    SlowDown,
    StaffMessage,
    Welcome,
)
from bot.notifier import Button
from bot.routing import Tier
from bot.texts.common import (
    Rendering,
    department,
    fixed,
    renders,
    says,
    snippet,
    stars,
    status_label,
    with_urgent,
)

HELP = noop(
    "Just write what you need — fresh towels, a taxi at 6:00, a TV that does not work — "
    "and I will pass it to the right team at once. You can also send a photo, a voice "
    "message or your location.\n\n"
    "/requests — your open requests\n"
    "/room — set your room number\n"
    "/language — change the language\n"
    "/forgetme — erase your data\n"
    "/help — this message"
)
fixed(GuestHelp, HELP)
fixed(AskRoom, noop("What is your room number? Reply with just the number, for example 412."))
fixed(
    RoomInvalid,
    noop("That does not look like a room number. Please send just the number, for example 412."),
)
fixed(
    Forgotten,
    noop("Done: your data is erased. If you write again, I will treat you as a new guest."),
)
fixed(Kept, noop("Nothing was erased."))


@says(Welcome)
def _welcome(notice: Welcome, t: Translator, hotel: HotelConfig) -> str:
    _ = t.gettext
    if notice.first_name:
        hello = _("Welcome to {hotel}, {name}! I am the hotel's concierge.").format(
            hotel=hotel.hotel.name, name=notice.first_name
        )
    else:
        hello = _("Welcome to {hotel}! I am the hotel's concierge.").format(hotel=hotel.hotel.name)
    lines = [hello, "", _(HELP)]
    if notice.room:
        lines += ["", _("Your room: {room}.").format(room=notice.room)]
    return "\n".join(lines)


fixed(
    RoomLinkInvalid,
    noop(
        "This room link isn't valid, so I could not note your room. "
        "What is your room number? Reply with just the number, for example 412."
    ),
)


@says(RoomSaved)
def _room_saved(notice: RoomSaved, t: Translator, _hotel: HotelConfig) -> str:
    text = t.gettext("Thank you, I have noted room {room}.").format(room=notice.room)
    if notice.request_ids:
        numbers = ", ".join(f"#{number}" for number in notice.request_ids)
        text += " " + t.ngettext(
            "I have added it to your request {numbers}.",
            "I have added it to your requests {numbers}.",
            len(notice.request_ids),
        ).format(numbers=numbers)
    return text


@says(RoomStillNeeded)
def _room_still_needed(notice: RoomStillNeeded, t: Translator, _hotel: HotelConfig) -> str:
    # TRANSLATORS: asked again, politely, with the acknowledgement of a new request.
    return t.gettext(
        "So that the team can find you for request #{number}, could you tell me your room "
        "number? Just the number is enough, for example 412."
    ).format(number=notice.request_id)


@renders(RequestAck)
def _request_ack(notice: RequestAck, t: Translator, hotel: HotelConfig) -> Rendering:
    """The acknowledgement, honest about who has the request; with the departments to pick
    from when no keyword matched."""
    _ = t.gettext
    name = department(hotel, t, notice.department)
    if notice.tier == Tier.DEPARTMENT:
        # TRANSLATORS: {department} is a team name from the hotel's config, e.g. Housekeeping.
        text = _("Request #{number} received — {department} is on it.").format(
            number=notice.request_id, department=name
        )
    elif notice.tier == Tier.FALLBACK:
        text = _(
            "Request #{number} received. {department} has nobody on duty right now, "
            "so {fallback} is on it."
        ).format(
            number=notice.request_id,
            department=name,
            fallback=department(hotel, t, hotel.hotel.fallback_department),
        )
    elif notice.tier == Tier.SUPERVISORS:
        text = _(
            "Request #{number} received. {department} has nobody on duty right now, "
            "so the duty manager is on it."
        ).format(number=notice.request_id, department=name)
    else:
        text = _(
            "Request #{number} received and saved. Nobody is on duty to take it at this moment; "
            "it goes to the first staff member who starts their shift, and I will tell you as "
            "soon as someone accepts it."
        ).format(number=notice.request_id)
        if not notice.urgent:  # an urgent request says whom to call below
            text = with_urgent(text, t, hotel)
    if notice.urgent:
        text += "\n\n" + _urgent_ack(t, hotel)
    if not notice.choices:
        return text, ()
    text += "\n\n" + _("Not the right team? Choose one:")
    buttons = tuple(
        (Button(department(hotel, t, key), PickDepartment(notice.request_id, key)),)
        for key in notice.choices
    )
    return text, buttons


def _urgent_ack(t: Translator, hotel: HotelConfig) -> str:
    """An urgent request's promise, honest about what a chat can do in an emergency."""
    _ = t.gettext
    desk = department(hotel, t, hotel.hotel.fallback_department)
    if hotel.hotel.phone:
        # TRANSLATORS: {department} is the hotel's front desk as named in its config.
        return _(
            "🚨 We are treating this as urgent. If it is an emergency, please also call "
            "{department} right away: {phone}."
        ).format(department=desk, phone=hotel.hotel.phone)
    return _(
        "🚨 We are treating this as urgent. If it is an emergency, please also call "
        "{department} right away."
    ).format(department=desk)


@says(DepartmentPicked)
def _department_picked(notice: DepartmentPicked, t: Translator, hotel: HotelConfig) -> str:
    _ = t.gettext
    name = department(hotel, t, notice.department)
    if notice.tier == Tier.NOBODY:
        text = _(
            "Request #{number} moved to {department}. Nobody is on duty there at this moment; "
            "I will tell you as soon as someone accepts it."
        ).format(number=notice.request_id, department=name)
        return with_urgent(text, t, hotel)
    return _("Request #{number} moved to {department}.").format(
        number=notice.request_id, department=name
    )


@says(AcceptedForGuest)
def _accepted(notice: AcceptedForGuest, t: Translator, hotel: HotelConfig) -> str:
    return t.gettext("{name} from {department} has accepted request #{number}.").format(
        name=notice.name,
        department=department(hotel, t, notice.department),
        number=notice.request_id,
    )


@says(DoneForGuest)
def _done(notice: DoneForGuest, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext(
        "Request #{number} is done. I will check with you a little later that everything is fine."
    ).format(number=notice.request_id)


@says(MergedForGuest)
def _merged(notice: MergedForGuest, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("Your request #{number} is being handled together with #{other}.").format(
        number=notice.request_id, other=notice.into_id
    )


@says(CancelledForGuest)
def _cancelled(notice: CancelledForGuest, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("Request #{number} is cancelled.").format(number=notice.request_id)


@renders(GuestRequests)
def _guest_requests(notice: GuestRequests, t: Translator, hotel: HotelConfig) -> Rendering:
    """The /requests list, with a Cancel button for each waiting or accepted request."""
    _ = t.gettext
    if not notice.requests:
        return _("You have no open requests. Just write what you need."), ()
    count = len(notice.requests)
    lines = [
        t.ngettext(
            "You have {count} open request:", "You have {count} open requests:", count
        ).format(count=count)
    ]
    buttons = []
    for number, key, status, text, media_kind in notice.requests:
        lines.append(
            _("#{number} · {department} · {status}\n{text}").format(
                number=number,
                department=department(hotel, t, key),
                status=status_label(t, status),
                text=snippet(t, text, media_kind),
            )
        )
        if status in ACTIVE_STATUSES:
            buttons.append((Button(_("Cancel #{number}").format(number=number), Cancel(number)),))
    return "\n\n".join(lines), tuple(buttons)


@renders(FollowupQuestion)
def _followup_question(notice: FollowupQuestion, t: Translator, _hotel: HotelConfig) -> Rendering:
    _ = t.gettext
    text = _("Hello again! Is everything all right with request #{number} ({text})?").format(
        number=notice.request_id, text=snippet(t, notice.snippet, notice.media_kind)
    )
    answers = (
        Button(_("Yes, all good"), FollowUpAnswer(notice.followup_id, fine=True)),
        Button(_("No, not yet"), FollowUpAnswer(notice.followup_id, fine=False)),
    )
    return text, (answers,)


@says(FollowupThanks)
def _followup_thanks(notice: FollowupThanks, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("Glad to hear it! Request #{number} is closed.").format(
        number=notice.request_id
    )


@renders(RatingQuestion)
def _rating_question(notice: RatingQuestion, t: Translator, _hotel: HotelConfig) -> Rendering:
    stars_row = tuple(Button(str(n), Rate(notice.followup_id, n)) for n in range(1, 6))
    return t.gettext("If you like, rate how we handled it (1 = poor, 5 = excellent):"), (stars_row,)


@says(RatingThanks)
def _rating_thanks(notice: RatingThanks, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext("Thank you for your rating: {stars}").format(stars=stars(notice.rating))


@says(ReopenedForGuest)
def _reopened(notice: ReopenedForGuest, t: Translator, hotel: HotelConfig) -> str:
    _ = t.gettext
    reopened = _(
        "I am sorry. Request #{number} is open again and back with {department} as a "
        "priority, and the duty manager has been told."
    ).format(number=notice.request_id, department=department(hotel, t, notice.department))
    if not notice.ask_why:
        return reopened
    return reopened + "\n\n" + _("What is still wrong? Your next message goes with the request.")


@says(AddedForGuest)
def _added(notice: AddedForGuest, t: Translator, _hotel: HotelConfig) -> str:
    _ = t.gettext
    if notice.reopened:
        text = _("Added to your request #{number}. It is open again, and the team has been told.")
    elif notice.relay:
        text = _("Thank you, I have passed your answer on (request #{number}).")
    else:
        text = _("Added to your request #{number}.")
    return text.format(number=notice.request_id)


@says(StaffMessage)
def _staff_message(notice: StaffMessage, t: Translator, _hotel: HotelConfig) -> str:
    """What a staff member wrote, as written (a translation step would plug in at rendering)."""
    # TRANSLATORS: {name} is the staff member's first name; their message follows on its own line.
    head = t.gettext("💬 {name}, about your request #{number}:").format(
        name=notice.name, number=notice.request_id
    )
    return head + "\n" + notice.text


_COURTESY = {
    "thanks": noop("You're very welcome! If you need anything else, just write to me."),
    "greeting": noop("Hello! How can I help? Just write what you need."),
}
_NOTED = noop("Noted. I'm here whenever you need anything.")


@says(Courtesy)
def _courtesy(notice: Courtesy, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext(_COURTESY.get(notice.said, _NOTED))


@renders(InstantAnswer)
def _instant_answer(notice: InstantAnswer, t: Translator, _hotel: HotelConfig) -> Rendering:
    """The hotel's own answer, as configured, with the way to a person under it."""
    label = t.gettext("Not what I asked — send it to staff")
    return notice.answer, ((Button(label, SendToStaff(notice.question_id)),),)


@says(AnswerSentOn)
def _answer_sent_on(notice: AnswerSentOn, t: Translator, _hotel: HotelConfig) -> str:
    sent = "↪ " + t.gettext("Sent on to staff as request #{number}.").format(
        number=notice.request_id
    )
    return notice.answer + "\n\n" + sent if notice.answer else sent


@says(AddedQuietly)
def _added_quietly(notice: AddedQuietly, t: Translator, _hotel: HotelConfig) -> str:
    return t.gettext(
        "You are sending a lot very quickly. I am adding all of it to request #{number}, and "
        "the team will read it there together."
    ).format(number=notice.request_id)


@says(SlowDown)
def _slow_down(notice: SlowDown, t: Translator, hotel: HotelConfig) -> str:
    text = t.ngettext(
        "You are sending messages very quickly. I keep at most {limit} request a minute; "
        "please wait a moment and send the rest again.",
        "You are sending messages very quickly. I keep at most {limit} requests a minute; "
        "please wait a moment and send the rest again.",
        notice.limit,
    ).format(limit=notice.limit)
    return with_urgent(text, t, hotel)


@renders(ForgetQuestion)
def _forget_question(_notice: ForgetQuestion, t: Translator, _hotel: HotelConfig) -> Rendering:
    _ = t.gettext
    text = _(
        "This erases your name, your room and the text of all your requests from our "
        "records, and cancels the requests that are still open. It cannot be undone."
    )
    choice = (
        Button(_("Erase my data"), Forget(confirmed=True)),
        Button(_("Keep it"), Forget(confirmed=False)),
    )
    return text, (choice,)
