"""End to end: one request as a thread, with the real ``concierge run`` process against the
local fake Bot API — a photo right after its text, a Telegram reply that adds to the request,
and a staff member's question relayed to the guest and answered back (German guest, Italian
staff)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.i18n import I18n
from tests import test_e2e as e2e
from tests.command import staff_add
from tests.fakebotapi import FakeBotAPIThread
from tests.test_e2e import cli, mark, says, start, starts

pytestmark = pytest.mark.e2e

# The fixtures of the end-to-end suite: the fake Bot API, the test hotel (bursts of ten seconds,
# the default) and the bot's environment pointing at both and at the test database.
fake = e2e.fake
hotel_config = e2e.hotel_config
bot_env = e2e.bot_env

GUEST, MARIA = 7201, 7301
I18N = I18n("en")
de = I18N.translator("de").gettext
it = I18N.translator("it").gettext


def test_photo_text_merge_thread_reply_and_relay(
    tmp_path: Path, fake: FakeBotAPIThread, bot_env: dict[str, str]
) -> None:
    cli(staff_add(MARIA, "Maria", "housekeeping", language="it"), bot_env, tmp_path)
    bot = start(tmp_path, bot_env, fake)
    try:
        at = mark(fake)
        fake.user_message(MARIA, "/duty on", first_name="Maria", language_code="it")
        says(fake, MARIA, it("You are on duty: new requests reach you here."), at)
        fake.user_message(GUEST, "/start room-412", first_name="Anna", language_code="de")

        # A text and, a moment later, its photo: one request, one acknowledgement.
        at = mark(fake)
        fake.user_message(GUEST, "Das Handtuch ist fleckig", first_name="Anna", language_code="de")
        fake.user_photo(GUEST, first_name="Anna", language_code="de")
        ack = says(
            fake,
            GUEST,
            de("Request #{number} received — {department} is on it.").format(
                number=1, department="Housekeeping"
            ),
            at,
        )
        card = fake.wait_for_message(MARIA, "Das Handtuch ist fleckig", since=at)
        added = it("➕ #{number} · room {room} — the guest added:").format(number=1, room="412")
        photo = fake.wait_for_message(MARIA, lambda t: t.startswith(added), since=at)
        assert "photo" in photo
        assert photo["reply_to_message"]["message_id"] == card["message_id"]

        # A Telegram reply to the acknowledgement adds to request #1.
        at = mark(fake)
        fake.user_message(
            GUEST,
            "Und bitte auch ein Kissen",
            first_name="Anna",
            language_code="de",
            reply_to_message_id=ack["message_id"],
        )
        says(fake, GUEST, de("Added to your request #{number}.").format(number=1), at)
        fake.wait_for_message(MARIA, f"{added}\nUnd bitte auch ein Kissen", since=at)

        # Maria takes it and asks the guest a question through the bot.
        at = mark(fake)
        fake.press_button(MARIA, it("Accept"), language_code="it", first_name="Maria")
        starts(fake, GUEST, "Maria", at)
        fake.wait_for_message(MARIA, it("✅ Accepted by you."), since=at)
        at = mark(fake)
        fake.press_button(MARIA, it("💬 Reply to guest"), language_code="it", first_name="Maria")
        prompt = it(
            "Write your message to the guest (request #{number}). Your next message here goes "
            "to them with your first name; your Telegram account stays private."
        )
        says(fake, MARIA, prompt.format(number=1), at)
        at = mark(fake)
        fake.user_message(MARIA, "Morbido o rigido?", first_name="Maria", language_code="it")
        head = de("💬 {name}, about your request #{number}:").format(name="Maria", number=1)
        question = says(fake, GUEST, f"{head}\nMorbido o rigido?", at)

        # The guest answers with a Telegram reply; it goes back to Maria.
        at = mark(fake)
        fake.user_message(
            GUEST,
            "Weich, bitte",
            first_name="Anna",
            language_code="de",
            reply_to_message_id=question["message_id"],
        )
        answers = it("💬 #{number} · room {room} — the guest answers:").format(number=1, room="412")
        says(fake, MARIA, f"{answers}\nWeich, bitte", at)
        says(
            fake,
            GUEST,
            de("Thank you, I have passed your answer on (request #{number}).").format(number=1),
            at,
        )
        # One request all along: nothing ever said "#2".
        assert not any("#2" in (m["text"] or m["caption"] or "") for m in fake.messages_to(GUEST))
    finally:
        code = bot.stop()
    output = bot.output()
    assert code == 0, output
    assert "Traceback" not in output
    assert "Kissen" not in output and "Anna" not in output  # guest data stays out of the log
