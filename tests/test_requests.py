"""The request lifecycle on a real database: submit, route, offer, accept, release, done, cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from bot.models import Event, FollowUp, Guest, Offer, OfferStatus, Request, RequestStatus, Staff
from bot.services import errors, guests, requests
from bot.services import staff as staff_service
from bot.services.actors import identify
from bot.services.common import Person
from tests.conftest import (
    Desk,
    accept,
    cancel,
    done_request,
    guest_id_of,
    guest_writes,
    mark_done,
    register,
    release,
    set_duty,
    staff_id_of,
    start_chat,
    submit,
)

ENGLISH_GUEST = Person(telegram_id=5003, chat_id=5003, first_name="John", language_code="en-GB")


def events(desk: Desk, request_id: int) -> list[str]:
    return desk.read(
        lambda s: [
            e.kind
            for e in s.exec(
                select(Event).where(Event.request_id == request_id).order_by(col(Event.id))
            )
        ]
    )


def get(desk: Desk, request_id: int) -> Request:
    request = desk.read(lambda s: s.get(Request, request_id))
    assert request is not None
    return request


def test_request_is_stored_offered_to_department_and_acknowledged(
    desk: Desk, maria_housekeeping: Staff, luca_housekeeping: Staff, olga_front_desk: Staff
) -> None:
    request = submit(desk, ENGLISH_GUEST, "Two more towels please")

    assert request.id == 1
    assert request.department == "housekeeping"
    assert desk.texts_to(ENGLISH_GUEST.chat_id)[0] == "Request #1 received — Housekeeping is on it."
    maria_card = desk.messages_to(maria_housekeeping.telegram_id)[-1]
    assert "Two more towels please" in maria_card.text
    assert maria_card.buttons[0][0].data == "acc:1"
    assert desk.messages_to(luca_housekeeping.telegram_id)
    assert not desk.messages_to(olga_front_desk.telegram_id)
    assert events(desk, 1) == ["created", "routed", "offered"]


def test_unmatched_request_goes_to_fallback_and_guest_may_pick(
    desk: Desk, olga_front_desk: Staff, maria_housekeeping: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "Could someone help me with something?")

    ack = desk.messages_to(ENGLISH_GUEST.chat_id)[0]
    assert ack.text.startswith("Request #1 received — Front desk is on it.")
    assert [row[0].data for row in ack.buttons] == ["dep:1:housekeeping", "dep:1:maintenance"]

    desk(
        lambda s, out, env, now: requests.pick_department(
            s,
            out,
            env,
            guest_id=guest_id_of(s, ENGLISH_GUEST.telegram_id),
            request_id=1,
            department="housekeeping",
            now=now,
        )
    )
    assert get(desk, 1).department == "housekeeping"
    olga_edit = desk.messages_to(olga_front_desk.telegram_id)
    assert olga_edit and "Moved to" not in olga_edit[0].text  # Olga reads Russian
    assert olga_edit[0].buttons == ()
    assert desk.messages_to(maria_housekeeping.telegram_id)[-1].buttons[0][0].data == "acc:1"
    assert desk.texts_to(ENGLISH_GUEST.chat_id) == ["Request #1 moved to Housekeeping."]


def test_department_without_staff_falls_back_then_supervisors(
    desk: Desk, olga_front_desk: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "The TV is broken")
    ack = desk.texts_to(ENGLISH_GUEST.chat_id)[0]
    assert ack == (
        "Request #1 received. Maintenance has nobody on duty right now, so Front desk is on it."
    )
    assert desk.messages_to(olga_front_desk.telegram_id)


def test_nobody_on_duty_keeps_request_and_offers_it_at_first_shift(desk: Desk) -> None:
    maria = register(desk, 1001, "Maria", "housekeeping", on_duty=False)
    submit(desk, ENGLISH_GUEST, "Clean the room please")

    assert "Nobody is on duty" in desk.texts_to(ENGLISH_GUEST.chat_id)[0]
    assert get(desk, 1).status == RequestStatus.OPEN
    assert events(desk, 1)[-1] == "nobody_on_duty"

    set_duty(desk, 1001, on=True)
    texts = desk.texts_to(maria.telegram_id)
    assert any("Clean the room please" in text for text in texts)
    assert texts[-1] == "1 waiting request has been sent to you."


def test_first_accept_wins_and_others_see_who_took_it(
    desk: Desk, maria_housekeeping: Staff, luca_housekeeping: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    accept(desk, 1002, 1)

    assert desk.texts_to(ENGLISH_GUEST.chat_id) == [
        "Luca from Housekeeping has accepted request #1."
    ]
    luca = desk.messages_to(luca_housekeeping.telegram_id)[0]
    assert [b.data for b in luca.buttons[0]] == ["done:1", "rel:1"]
    maria = desk.messages_to(maria_housekeeping.telegram_id)[0]
    assert maria.edit_message_id is None or maria.buttons == ()
    assert "Luca" in maria.text and maria.buttons == ()

    with pytest.raises(errors.AlreadyTaken) as raised:
        accept(desk, 1001, 1)
    assert raised.value.by == "Luca"
    request = get(desk, 1)
    assert request.status == RequestStatus.ACCEPTED
    assert events(desk, 1).count("accepted") == 1


def test_accept_by_unregistered_or_uninvolved_is_refused(
    desk: Desk, maria_housekeeping: Staff, olga_front_desk: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    with pytest.raises(errors.NotRegistered):
        accept(desk, ENGLISH_GUEST.telegram_id, 1)
    with pytest.raises(errors.StaleAction):
        accept(desk, 1003, 1)
    with pytest.raises(errors.UnknownRequest):
        accept(desk, 1001, 99)
    assert get(desk, 1).status == RequestStatus.OPEN


def test_release_offers_it_again_to_everyone_else(
    desk: Desk, maria_housekeeping: Staff, luca_housekeeping: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    accept(desk, 1001, 1)
    with pytest.raises(errors.NotYours):
        release(desk, 1002, 1)

    release(desk, 1001, 1)

    assert get(desk, 1).status == RequestStatus.OPEN
    assert desk.messages_to(luca_housekeeping.telegram_id)[-1].buttons[0][0].data == "acc:1"
    maria = desk.messages_to(maria_housekeeping.telegram_id)
    assert len(maria) == 1 and maria[0].buttons == ()
    accept(desk, 1002, 1)
    assert get(desk, 1).assignee_id == luca_housekeeping.id


def test_done_tells_guest_and_schedules_follow_up(desk: Desk, maria_housekeeping: Staff) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    with pytest.raises(errors.StaleAction):
        mark_done(desk, 1001, 1)
    accept(desk, 1001, 1)
    mark_done(desk, 1001, 1)

    assert get(desk, 1).status == RequestStatus.DONE
    followup = desk.read(lambda s: s.exec(select(FollowUp)).one())
    assert followup.due_at == desk.clock.now() + timedelta(seconds=300)  # housekeeping's delay
    assert followup.language == "en"


def test_done_message_and_wake_up(desk: Desk, maria_housekeeping: Staff) -> None:
    done_request(desk, ENGLISH_GUEST)

    assert desk.texts_to(ENGLISH_GUEST.chat_id) == [
        "Request #1 is done. I will check with you a little later that everything is fine."
    ]
    assert desk.outbox.wake_times == [desk.clock.now() + timedelta(seconds=300)]
    assert desk.messages_to(maria_housekeeping.telegram_id)[0].buttons == ()
    assert events(desk, 1)[-2:] == ["done", "followup_scheduled"]


def test_guest_cancels_and_staff_are_told(
    desk: Desk, maria_housekeeping: Staff, luca_housekeeping: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    accept(desk, 1001, 1)
    other = Person(telegram_id=5999, chat_id=5999, first_name="Eve", language_code="en")
    with pytest.raises(errors.UnknownRequest):
        cancel(desk, other.telegram_id, 1)

    cancel(desk, ENGLISH_GUEST.telegram_id, 1)

    assert get(desk, 1).status == RequestStatus.CANCELLED
    assert desk.texts_to(ENGLISH_GUEST.chat_id) == ["Request #1 is cancelled."]
    maria = desk.texts_to(maria_housekeeping.telegram_id)
    assert len(maria) == 2  # her card is edited, and she is told to stop
    with pytest.raises(errors.StaleAction):
        mark_done(desk, 1001, 1)


def test_room_is_asked_once_and_remembered(desk: Desk, maria_housekeeping: Staff) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    assert desk.texts_to(ENGLISH_GUEST.chat_id)[-1].startswith("What is your room number?")

    answer = guest_writes(desk, ENGLISH_GUEST, "412")
    assert answer is None
    assert desk.texts_to(ENGLISH_GUEST.chat_id) == [
        "Thank you, I have noted room 412. I have added it to your request #1."
    ]

    desk.clock.advance(60)  # past the burst window: a request of its own
    request = submit(desk, ENGLISH_GUEST, "pillow")
    assert request.room == "412"
    assert not any("room number" in text for text in desk.texts_to(ENGLISH_GUEST.chat_id))


def test_unanswered_room_question_is_asked_again_with_the_next_request(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    desk.clock.advance(60)  # each past the burst window of the one before
    second = submit(desk, ENGLISH_GUEST, "and a pillow")
    assert second.id == 2 and second.room is None
    assert desk.texts_to(ENGLISH_GUEST.chat_id)[-1].startswith(
        "So that the team can find you for request #2, could you tell me your room number?"
    )


def test_start_deep_link_sets_room(desk: Desk) -> None:
    guest = start_chat(desk, ENGLISH_GUEST, "room-412")
    assert guest.room == "412"
    texts = desk.texts_to(ENGLISH_GUEST.chat_id)
    assert texts[0].startswith("Welcome to Hotel Testa, John!")
    assert "Your room: 412." in texts[0]
    assert len(texts) == 1


def test_long_text_is_kept_whole_and_split_for_staff(desk: Desk, maria_housekeeping: Staff) -> None:
    long_text = "Please clean " + ("the room carefully. " * 400)
    request = submit(desk, ENGLISH_GUEST, long_text)
    assert get(desk, request.id).text == long_text  # type: ignore[arg-type]
    texts = desk.texts_to(maria_housekeeping.telegram_id)
    assert len(texts) >= 3
    assert all(len(text) <= 4096 for text in texts)
    assert " ".join(texts[:-1]).split() == long_text.split()
    assert desk.messages_to(maria_housekeeping.telegram_id)[-1].buttons[0][0].data == "acc:1"


def test_photo_request_shows_staff_the_photo(desk: Desk, maria_housekeeping: Staff) -> None:
    submit(desk, ENGLISH_GUEST, "stain on the towel", media_kind="photo", file_id="PHOTO-1")
    first, card = desk.messages_to(maria_housekeeping.telegram_id)
    assert first.media.kind == "photo" and first.media.file_id == "PHOTO-1"
    assert "stain on the towel" in card.text


def test_location_request(desk: Desk, olga_front_desk: Staff) -> None:
    request = submit(desk, ENGLISH_GUEST, "", media_kind="location", latitude=41.9, longitude=12.5)
    assert request.department == "front_desk"
    first = desk.messages_to(olga_front_desk.telegram_id)[0]
    assert (first.media.latitude, first.media.longitude) == (41.9, 12.5)


def test_guest_lists_open_requests_with_cancel_buttons(
    desk: Desk, maria_housekeeping: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    desk.clock.advance(60)  # past the burst window: a request of its own
    submit(desk, ENGLISH_GUEST, "pillow")
    cancel(desk, ENGLISH_GUEST.telegram_id, 2)
    found = desk(
        lambda s, out, env, now: requests.open_for_guest(s, out, env, person=ENGLISH_GUEST, now=now)
    )
    assert [r.id for r in found] == [1]
    message = desk.messages_to(ENGLISH_GUEST.chat_id)[0]
    assert message.text.startswith("You have 1 open request:")
    assert message.buttons[0][0].data == "can:1"


def test_going_off_duty_hands_offers_on(
    desk: Desk, maria_housekeeping: Staff, olga_front_desk: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    set_duty(desk, 1001, on=False)
    offers = desk.read(lambda s: list(s.exec(select(Offer).order_by(col(Offer.id)))))
    assert [(o.staff_id, o.status) for o in offers] == [
        (maria_housekeeping.id, OfferStatus.WITHDRAWN),
        (olga_front_desk.id, OfferStatus.ACTIVE),
    ]


def test_staff_removed_from_cli_gives_back_accepted_requests(
    desk: Desk, maria_housekeeping: Staff, luca_housekeeping: Staff
) -> None:
    submit(desk, ENGLISH_GUEST, "towels")
    accept(desk, 1001, 1)
    desk(
        lambda s, out, env, now: staff_service.remove(
            s, out, env, staff_id=staff_id_of(s, 1001), now=now
        )
    )
    assert get(desk, 1).status == RequestStatus.OPEN

    sent = desk(lambda s, out, env, now: requests.offer_waiting(s, out, env, now))
    assert sent == 1
    assert desk.messages_to(luca_housekeeping.telegram_id)[-1].buttons[0][0].data == "acc:1"
    with pytest.raises(errors.NotRegistered):
        accept(desk, 1001, 1)


def test_guest_language_follows_telegram_until_chosen(desk: Desk, session: Session) -> None:
    italian = Person(telegram_id=5010, chat_id=5010, first_name="Marco", language_code="it-IT")
    start_chat(desk, italian)
    assert desk.read(lambda s: s.exec(select(Guest)).one().language) == "it"
    desk(
        lambda s, out, env, now: guests.set_language(
            s, out, env, person=italian, staff_id=None, locale="fr", now=now
        )
    )
    start_chat(desk, italian)
    assert desk.read(lambda s: s.exec(select(Guest)).one().language) == "fr"


def test_the_sender_is_told_apart_as_staff_guest_or_someone_new(desk: Desk) -> None:
    def who(telegram_id: int, language_code: str | None = None) -> tuple[str, str]:
        actor = desk.read(
            lambda s: identify(s, desk.env, telegram_id=telegram_id, language_code=language_code)
        )
        kind = "staff" if actor.is_staff else "guest" if actor.guest is not None else "new"
        return kind, actor.locale

    maria = register(desk, 7001, "Maria", "housekeeping", language="it")
    start_chat(desk, Person(telegram_id=7002, chat_id=7002, first_name="Ann", language_code="de"))
    start_chat(desk, Person(telegram_id=7001, chat_id=7001, first_name="Maria"))

    assert who(7003, "de") == ("new", "de")
    assert who(7002) == ("guest", "de")
    assert who(7001) == ("staff", "it")  # staff who once wrote as a guest are staff
    desk(
        lambda s, out, env, now: staff_service.remove(
            s, out, env, staff_id=staff_id_of(s, maria.telegram_id), now=now
        )
    )
    assert who(7001, "en") == ("guest", "en")  # … until they are removed
