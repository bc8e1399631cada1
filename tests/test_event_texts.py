"""Every kind of audit-trail event reads as itself in the timeline, in every language."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import SUPPORTED_LOCALES
from bot.models import Event, EventKind, Staff
from bot.services import reports
from bot.services.common import Env, Person
from bot.services.unreachable import chat_blocked
from bot.texts import supervisor
from tests.conftest import START, Desk, accept, mark_done, submit

GUEST = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en")

# Each kind with the details it is recorded with, and the message (source text and its
# placeholders) its timeline entry must show.
KINDS: dict[EventKind, tuple[dict[str, Any], str, dict[str, str]]] = {
    EventKind.CREATED: ({}, "created by the guest ({name})", {"name": "Maria"}),
    EventKind.ROUTED: (
        {"department": "housekeeping", "by": "guest"},
        "routed to {department} ({how})",
        {"department": "housekeeping", "how": "chosen by the guest"},
    ),
    EventKind.OFFERED: (
        {"names": ["Maria", "Luca"]},
        "offered to {names}",
        {"names": "Maria, Luca"},
    ),
    EventKind.NOBODY_ON_DUTY: ({}, "nobody on duty to offer it to", {}),
    EventKind.ACCEPTED: ({}, "accepted by {name}", {"name": "Maria"}),
    EventKind.RELEASED: ({}, "released by {name}", {"name": "Maria"}),
    EventKind.DONE: ({}, "done by {name}", {"name": "Maria"}),
    EventKind.FOLLOWUP_SCHEDULED: (
        {"due_at": START.isoformat()},
        "follow-up scheduled for {time}",
        {"time": "*"},
    ),
    EventKind.FOLLOWUP_SENT: ({}, "follow-up sent to the guest", {}),
    EventKind.FOLLOWUP_ANSWERED: ({"answer": "no"}, "follow-up answered: not fixed", {}),
    EventKind.FOLLOWUP_UNANSWERED: ({}, "follow-up got no answer", {}),
    EventKind.RATED: ({"rating": 4}, "rated {stars} by the guest", {"stars": "★★★★☆"}),
    EventKind.REOPENED: ({}, "reopened", {}),
    EventKind.CLOSED: ({}, "closed", {}),
    EventKind.CANCELLED: ({}, "cancelled by {name}", {"name": "Maria"}),
    EventKind.DISMISSED: (
        {"text": "the guest was testing"},
        "closed as not a request by {name}: {reason}",
        {"name": "Maria", "reason": "“the guest was testing”"},
    ),
    EventKind.MERGED: (
        {"into": 3},
        "closed by {name} as a duplicate of #{number}",
        {"name": "Maria", "number": "3"},
    ),
    EventKind.MERGED_IN: (
        {"duplicate": 4},
        "#{number} of the same guest merged into this one by {name}",
        {"name": "Maria", "number": "4"},
    ),
    EventKind.GUEST_UNREACHABLE: (
        {},
        "the guest has blocked the bot and no longer receives messages",
        {},
    ),
    EventKind.STAFF_UNREACHABLE: (
        {},
        "{name} has blocked the bot: taken off duty, the request handed on",
        {"name": "Maria"},
    ),
    EventKind.ANONYMIZED: ({}, "the guest's personal data was erased", {}),
    EventKind.ADDED: (
        {"text": "and a pillow", "media": None, "via": "reply"},
        "the guest added: {text}",
        {"text": "and a pillow"},
    ),
    EventKind.STAFF_MESSAGE: (
        {"text": "soft or firm?"},
        "{name} wrote to the guest: {text}",
        {"name": "Maria", "text": "soft or firm?"},
    ),
    EventKind.GUEST_MESSAGE: (
        {"text": "soft", "media": None, "via": "relay"},
        "the guest answered: {text}",
        {"text": "soft"},
    ),
    EventKind.ROOM_SET: ({"room": "412"}, "room {room} given by the guest", {"room": "412"}),
    EventKind.MARKED_URGENT: ({}, "marked urgent by {name}", {"name": "Maria"}),
    EventKind.MARKED_NORMAL: ({}, "marked not urgent by {name}", {"name": "Maria"}),
}


def _event(kind: EventKind) -> Event:
    details, _msgid, _values = KINDS[kind]
    return Event(
        request_id=1,
        kind=kind.value,
        actor_kind="staff",
        actor_name="Maria",
        details=details,
        at=START,
    )


def test_the_table_covers_every_event_kind() -> None:
    assert set(KINDS) == set(EventKind)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", list(EventKind))
def test_each_event_kind_renders_its_own_text_in_every_locale(
    env: Env, locale: str, kind: EventKind
) -> None:
    t = env.t(locale)
    _details, msgid, values = KINDS[kind]
    text = supervisor.event_text(env.hotel, t, _event(kind))

    translated = t.gettext(msgid)
    if locale != "en":
        assert translated != msgid, f"{kind} is not translated into {locale}"
    localized = dict(values)
    if "department" in values:
        localized["department"] = env.hotel.department_name(values["department"], t.locale)
    if "how" in values:
        localized["how"] = t.gettext(values["how"])
    if "time" in values:
        localized["time"] = t.time(START, env.hotel.tz)
    assert text == translated.format(**localized)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_no_two_event_kinds_read_alike(env: Env, locale: str) -> None:
    t = env.t(locale)
    texts = [supervisor.event_text(env.hotel, t, _event(kind)) for kind in EventKind]
    assert len(set(texts)) == len(texts)


def test_the_log_says_who_blocked_the_bot_instead_of_a_cancellation(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    done = submit(desk, GUEST, "towels")
    accept(desk, 1001, done.id)  # type: ignore[arg-type]
    mark_done(desk, 1001, done.id)  # type: ignore[arg-type]
    held = submit(desk, Person(telegram_id=5004, chat_id=5004, first_name="Eva"), "pillow")
    accept(desk, 1001, held.id)  # type: ignore[arg-type]

    def blocked(chat_id: int) -> Any:
        return lambda session, out, env, now: chat_blocked(session, out, env, chat_id, now)

    desk(blocked(GUEST.chat_id))
    desk(blocked(1001))

    def entries(request_id: int | None) -> list[str]:
        assert request_id is not None
        text = desk.read(
            lambda s: reports.timeline(
                s, desk.env, staff_id=sofia_supervisor.id, request_id=request_id
            )
        )
        return [line.split(" — ", 1)[1] for line in text.splitlines()[4:]]

    assert entries(done.id)[-1] == "the guest has blocked the bot and no longer receives messages"
    assert entries(held.id)[-2:] == [
        "Maria has blocked the bot: taken off duty, the request handed on",
        "offered to Sofia",
    ]
    assert not any("cancelled" in line for line in entries(done.id) + entries(held.id))


def test_an_erased_guest_shows_as_erased_in_the_log(
    desk: Desk, maria_housekeeping: Staff, sofia_supervisor: Staff
) -> None:
    from bot.services import privacy

    request = submit(desk, GUEST, "towels")
    desk(
        lambda session, out, env, now: privacy.forget(
            session,
            out,
            env,
            person=GUEST,
            guest_id=request.guest_id,
            confirmed=True,
            message_id=None,
            now=now,
        )
    )
    text = desk.read(
        lambda s: reports.timeline(
            s, desk.env, staff_id=sofia_supervisor.id, request_id=request.id or 0
        )
    )
    lines = [line.split(" — ", 1)[1] for line in text.splitlines()[4:]]
    assert lines[-1] == "the guest's personal data was erased"
