"""Notices are data: each kind has a renderer, and a stored notice reads as the one sent."""

from __future__ import annotations

import json

import pytest

from bot import notices as n
from bot.i18n import SUPPORTED_LOCALES
from bot.notifier import Outgoing
from bot.outbox import from_payload, to_payload
from bot.render import Renderer
from bot.services import errors
from bot.services.common import Env
from bot.texts import RENDERERS

# One of every kind, with values the way use cases snapshot them.
SAMPLES: list[n.Notice] = [
    n.Prerendered("a finished view", ((("Accept", "acc:1"),),)),
    n.UnknownCommand(staff=True, supervisor=True),
    n.UnknownCommand(),
    n.LanguagePrompt(("en", "it", "ru", "es", "fr", "de")),
    n.LanguageSet(),
    n.YourId(123456789),
    n.EditNotForwarded(),
    n.Unsupported(),
    n.TryAgainLater(),
    n.DelayedByOutage(),
    *(n.refused(e) for e in (errors.AlreadyTaken(1, "Luca"), errors.StaleAction(1, "done"))),
    *(n.refused(e) for e in (errors.NotYours(2), errors.UnknownRequest(3), errors.NotSupervisor())),
    *(
        n.refused(e)
        for e in (errors.AlreadyAnswered(), errors.NotRegistered(), errors.DomainError())
    ),
    n.refused(errors.UnknownDepartment("spa", ["housekeeping"])),
    *(n.refused(e) for e in (errors.QuestionGone(), errors.AlreadySentOn(5))),
    n.GuestHelp(),
    n.Welcome("Anna", "412"),
    n.Welcome("", None),
    n.AskRoom(),
    n.RoomSaved("412"),
    n.RoomSaved("412", (3,)),
    n.RoomSaved("412", (3, 5)),
    n.RoomStillNeeded(3),
    n.RoomLinkInvalid(),
    n.RoomInvalid(),
    *(n.RequestAck(1, "housekeeping", tier) for tier in ("department", "fallback", "supervisors")),
    n.RequestAck(1, "front_desk", "nobody", ("housekeeping", "maintenance")),
    n.RequestAck(1, "maintenance", "department", urgent=True),
    n.DepartmentPicked(1, "maintenance", "department"),
    n.DepartmentPicked(1, "maintenance", "nobody"),
    n.AcceptedForGuest(1, "Maria", "housekeeping"),
    n.DoneForGuest(1),
    n.CancelledForGuest(1),
    n.GuestRequests(()),
    n.GuestRequests(
        ((1, "housekeeping", "open", "towels", None), (2, "maintenance", "done", "", "photo"))
    ),
    n.FollowupQuestion(4, 1, "towels", None),
    n.FollowupThanks(1),
    n.RatingQuestion(4),
    n.RatingThanks(4),
    n.ReopenedForGuest(1, "housekeeping"),
    n.ReopenedForGuest(1, "housekeeping", ask_why=False),
    n.SlowDown(20),
    n.InstantAnswer(1, "Breakfast is served from 7:00 to 10:30."),
    n.AnswerSentOn("Breakfast is served from 7:00 to 10:30.", 5),
    n.AnswerSentOn("", 5),
    n.AddedForGuest(1),
    n.AddedQuietly(1),
    n.AddedForGuest(1, relay=True),
    n.AddedForGuest(1, reopened=True),
    n.StaffMessage(1, "Maria", "Soft or firm pillow?", "it"),
    n.Courtesy("thanks"),
    n.Courtesy("greeting"),
    n.Courtesy("ack"),
    n.ForgetQuestion(),
    n.Forgotten(),
    n.Kept(),
    n.StaffHelp(supervisor=False),
    n.StaffHelp(supervisor=True),
    n.StaffWelcome("Sofia", "front_desk", supervisor=True, on_duty=False),
    n.DutyStatus(on_duty=True),
    n.WaitingSent(3),
    n.StillAssigned((1, 4)),
    *(
        n.Card(
            1,
            "housekeeping",
            None,
            "de",
            True,
            "voice",
            "Zwei Handtücher",
            status=status,
            name="housekeeping",
        )
        for status in n.CardStatus
    ),
    n.Card(
        1,
        "housekeeping",
        "412",
        "it",
        False,
        None,
        "",
        "fallback",
        True,
        buttons=n.CardButtons.ACCEPT,
    ),
    n.Card(
        1,
        "maintenance",
        "412",
        "en",
        False,
        None,
        "there is water everywhere",
        buttons=n.CardButtons.ACCEPT,
        urgent=True,
    ),
    n.Card(
        1,
        "housekeeping",
        "412",
        "ru",
        False,
        None,
        "x" * 3500,
        "supervisors",
        buttons=n.CardButtons.ASSIGNEE,
    ),
    n.Card(
        4,
        "housekeeping",
        "412",
        "de",
        False,
        None,
        "Danke schön!",
        buttons=n.CardButtons.ACCEPT,
        earlier=5,
        recent=((3, "done"), (2, "closed"), (1, "cancelled")),
        notes=("allergic to feathers", "prefers late turndown"),
    ),
    n.Card(
        4,
        "housekeeping",
        "412",
        "de",
        False,
        None,
        "towels",
        status=n.CardStatus.MERGED_INTO,
        name="Maria",
        merged_into=3,
        earlier=1,
        recent=((3, "accepted"),),
    ),
    n.DismissQuestion(4),
    n.Dismissed(4),
    n.KeptOpen(4),
    n.MergeChoices(4, ()),
    n.MergeChoices(4, ((2, "open", "towels", None), (3, "accepted", "", "photo"))),
    n.Merged(4, 3),
    n.MergedForGuest(4, 3),
    n.NoteQuestion(4, 500),
    n.NoteSaved(4),
    n.NoteTooLong(500, 612),
    n.GuestUsage(),
    n.GuestsInRoom("412", ()),
    n.GuestsInRoom(
        "412",
        (
            (
                "de",
                2,
                ((1, "done", "towels", None), (2, "open", "", "photo")),
                (("allergic to feathers", "Maria"),),
            ),
            ("it", 0, (), (("quiet room", ""),)),
        ),
    ),
    n.Quote("part of a long text", 7),
    n.QuoteErased(),
    n.GuestAdded(1, "412", "and a pillow", None, "de"),
    n.GuestAdded(1, None, "", "photo", "de", n.Addition.ANSWER),
    n.GuestAdded(1, "412", "still broken", "voice", "it", n.Addition.REOPENED),
    n.GuestAdded(1, "412", "towels again", None, "de", n.Addition.MERGED),
    n.ReplyPrompt(1),
    n.RelaySent(1),
    n.RelayClosed(1),
    n.CancelledForAssignee(1),
    n.StaffTasks(()),
    n.StaffTasks(((1, "412", "towels", None), (2, None, "", "location"))),
    n.NegativeFollowupAlert(1, None, "housekeeping"),
    n.StaffUnreachableAlert("Luca", "housekeeping", 2),
    n.UrgentAlert(7, "412", "maintenance", "there is water everywhere"),
    n.CheckoutUsage(),
    n.CheckedOut("412", 0),
    n.CheckedOut("412", 2),
    n.LogUsage(),
    n.FollowupsUsage(),
    n.ReportUsage(),
]


def test_every_kind_has_a_renderer_and_a_sample() -> None:
    assert set(RENDERERS) == set(n.KINDS.values())
    assert {type(sample) for sample in SAMPLES} == set(n.KINDS.values())


def test_a_kind_is_named_after_its_class() -> None:
    assert n.RequestAck.kind == "request_ack"
    assert n.StaffUnreachableAlert(name="Luca", department="x", count=1).encode()["kind"] == (
        "staff_unreachable_alert"
    )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_a_stored_notice_renders_as_the_one_sent_in_every_language(env: Env, locale: str) -> None:
    render = Renderer(env.hotel, env.i18n)
    for sample in SAMPLES:
        message = Outgoing(42, sample, locale, edit_offer_id=3)
        stored = json.loads(json.dumps(to_payload(message)))  # as the JSON column keeps it
        back = from_payload(42, stored)
        assert back.notice is not None and back.notice.kind == sample.kind
        sent, read = render(message), render(back)
        assert sent == read and sent.text, sample
        assert read.edit_offer_id == 3


def test_an_unknown_kind_is_refused_when_read() -> None:
    with pytest.raises(KeyError):
        n.decode({"kind": "no_such_notice"})
