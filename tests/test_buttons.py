"""Typed buttons: every action packs, signs and opens back; anything else is a stale button."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from telegram.ext import Application

from bot.buttons import (
    ACTIONS,
    ID,
    Accept,
    ButtonAction,
    CallbackSigner,
    Cancel,
    Done,
    FollowUpAnswer,
    Forget,
    KeepOpen,
    MarkNormal,
    MarkUrgent,
    MergeInto,
    MergeMenu,
    NotARequest,
    NotARequestBecause,
    NoteAbout,
    PickDepartment,
    Rate,
    Release,
    ReplyToGuest,
    SendToStaff,
    SetDuty,
    SetLanguage,
    pack,
    unpack,
)
from bot.models import OutboxMessage, Request, RequestStatus
from handlers import register as register_handlers
from tests.conftest import Desk, register
from tests.harness import Bot
from tests.telegram_fakes import callback_update

# Each action with the callback data earlier versions sent for it: buttons already in chats
# must keep opening to the same action after an upgrade.
WIRE = {
    Accept(12): "acc:12",
    Release(12): "rel:12",
    Done(12): "done:12",
    ReplyToGuest(12): "rpl:12",
    Cancel(7): "can:7",
    PickDepartment(7, "room_service"): "dep:7:room_service",
    FollowUpAnswer(3, fine=True): "fu:3:y",
    FollowUpAnswer(3, fine=False): "fu:3:n",
    Rate(3, 5): "rate:3:5",
    SetDuty(on=True): "duty:on",
    SetDuty(on=False): "duty:off",
    SetLanguage("de"): "lang:de",
    Forget(confirmed=True): "forget:yes",
    Forget(confirmed=False): "forget:no",
    NotARequest(12): "nar:12",
    NotARequestBecause(12, "chat"): "narr:12:chat",
    KeepOpen(12): "keep:12",
    MergeMenu(12): "mrg:12",
    MergeInto(12, 9): "mrgi:12:9",
    NoteAbout(12): "note:12",
    MarkUrgent(12): "urg:12",
    MarkNormal(12): "nurg:12",
    SendToStaff(9): "ask:9",
}
SIGNER = CallbackSigner.for_token("123456:TEST")


def test_every_action_type_has_an_example() -> None:
    assert {type(action) for action in WIRE} == set(ACTIONS.values())


@pytest.mark.parametrize(("action", "data"), list(WIRE.items()), ids=list(WIRE.values()))
def test_every_action_round_trips_in_the_wire_format_of_earlier_versions(
    action: ButtonAction, data: str
) -> None:
    assert pack(action) == data
    assert unpack(data) == action
    signed = SIGNER.sign(action)
    assert signed.startswith(data + ":")
    assert SIGNER.open(signed) == action
    assert len(signed.encode()) <= 64


@pytest.mark.parametrize(
    "data",
    [
        "zap:1",
        "acc",
        "acc:",
        "acc:x",
        "acc:1:2",
        "acc:-1",
        "acc:1234567890123",
        "rate:1:9",
        "rate:1:0",
        "fu:1:maybe",
        "duty:yes",
        "lang:deu",
        "dep:1:Bad-Key",
        "forget:",
        "",
        ":",
    ],
)
def test_unknown_or_malformed_data_opens_to_nothing(data: str) -> None:
    assert unpack(data) is None
    assert SIGNER.open(SIGNER.sign_data(data) if data else data) is None


def test_a_field_that_cannot_be_written_is_refused_when_the_button_is_built() -> None:
    with pytest.raises(ValueError, match="no:colons"):
        pack(PickDepartment(1, "no:colons"))
    with pytest.raises(ValueError, match="6"):
        pack(Rate(1, 6))
    with pytest.raises(ValueError, match="1000000000000"):
        ID.encode(10**12)
    assert len(SIGNER.sign(PickDepartment(10**12 - 1, "d" * 32)).encode()) <= 64  # the largest


@pytest.mark.parametrize(
    "data",
    [
        "acc:1:AAAAAAAA",  # forged signature
        SIGNER.sign_data("zap:1"),  # signed, but no such action
        SIGNER.sign_data("acc:one"),  # signed, malformed field
        SIGNER.sign_data("acc:1:2"),  # signed, one field too many
        "acc:1",  # no signature
    ],
    ids=["forged", "unknown-prefix", "malformed", "extra-field", "unsigned"],
)
async def test_a_bad_press_is_answered_as_stale_and_runs_no_handler(
    bot: Bot, desk: Desk, engine: Engine, data: str
) -> None:
    register(desk, 1001, "Maria", "housekeeping")
    await bot.say(5001, "towels")
    card = bot.telegram.last_message(1001)
    with Session(engine) as session:
        before = len(session.exec(select(OutboxMessage)).all())
    bot.telegram.clear()

    await bot.feed(callback_update(1001, data, card))

    assert bot.telegram.alerts() == ["This button no longer applies."]
    assert [c.method for c in bot.telegram.calls] == ["answerCallbackQuery"]
    with Session(engine) as session:
        assert session.get(Request, 1).status == RequestStatus.OPEN  # type: ignore[union-attr]
        assert len(session.exec(select(OutboxMessage)).all()) == before


def test_every_action_type_has_a_callback_and_a_new_one_without_fails() -> None:
    register_handlers(Application.builder().token("123456:TEST").build())  # all answered

    @dataclass(frozen=True)
    class Snooze(ButtonAction):
        """An action nobody answers yet."""

        prefix = "snz"
        codecs = (ID,)
        request_id: int

    try:
        with pytest.raises(RuntimeError, match="snz"):
            register_handlers(Application.builder().token("123456:TEST").build())
    finally:
        del ACTIONS[Snooze.prefix]


def test_two_actions_cannot_share_a_prefix() -> None:
    with pytest.raises(TypeError):

        @dataclass(frozen=True)
        class Other(ButtonAction):
            prefix = "acc"
            codecs = (ID,)
            request_id: int
