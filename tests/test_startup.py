"""Start-up calls of the Bot API: instances starting together wait out Telegram's flood control."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import _publish_commands, patiently, processor_for, set_webhook
from bot.runner import WebhookServer
from tests.harness import Bot

URL = "https://bot.example.com/telegram"
SECRET = "s3cret-s3cret-s3cret"
FLOOD = "Too Many Requests: retry after 1"


class Sleeps:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def methods(bot: Bot) -> list[str]:
    return [c.method for c in bot.telegram.calls if c.method != "getMe"]


async def test_a_webhook_refused_by_flood_control_is_set_after_retry_after(bot: Bot) -> None:
    sleeps = Sleeps()
    bot.telegram.fail_next("setWebhook", 429, FLOOD, retry_after=1)

    assert await set_webhook(bot.app.bot, URL, SECRET, sleep=sleeps)

    assert sleeps.seconds == [1.0]
    assert methods(bot) == ["getWebhookInfo", "setWebhook", "setWebhook"]
    assert bot.telegram.webhook["url"] == URL
    assert bot.telegram.sent_calls("setWebhook")[-1].params["secret_token"] == SECRET


async def test_a_webhook_already_set_to_the_url_is_not_set_again(bot: Bot) -> None:
    await set_webhook(bot.app.bot, URL, SECRET)
    bot.telegram.clear()

    assert not await set_webhook(bot.app.bot, URL, SECRET)
    assert methods(bot) == ["getWebhookInfo"]

    assert await set_webhook(bot.app.bot, URL + "/v2", SECRET)  # another URL is set
    assert methods(bot) == ["getWebhookInfo", "getWebhookInfo", "setWebhook"]


async def test_flood_control_on_delete_webhook_and_the_command_menu_is_waited_out(
    bot: Bot,
) -> None:
    sleeps = Sleeps()
    bot.telegram.fail_next("deleteWebhook", 429, FLOOD, retry_after=1)
    bot.telegram.fail_next("setMyCommands", 429, FLOOD, retry_after=1)
    bot.telegram.fail_next("setMyCommands", 429, FLOOD, retry_after=1)

    await patiently(bot.app.bot.delete_webhook, "deleteWebhook", sleep=sleeps)
    await _publish_commands(bot.app, bot.deps, sleep=sleeps)

    assert sleeps.seconds == [1.0, 1.0, 1.0]
    published = [c for c in bot.telegram.sent_calls("setMyCommands") if c.result is True]
    languages = [c.params.get("language_code") for c in published]
    assert languages == [None, *bot.deps.env.i18n.offered]  # every menu, once


async def test_flood_control_that_does_not_end_stops_the_start(bot: Bot) -> None:
    sleeps = Sleeps()
    for _ in range(5):
        bot.telegram.fail_next("setWebhook", 429, FLOOD, retry_after=1)
    with pytest.raises(Exception, match="Flood control exceeded"):
        await set_webhook(bot.app.bot, URL, SECRET, sleep=sleeps)
    assert len(sleeps.seconds) == 4


async def test_a_wrong_secret_makes_the_instance_set_its_own_once(bot: Bot) -> None:
    """Telegram may still hold the secret of before a change: the webhook is set again."""
    server = WebhookServer(bot.deps, processor_for(bot.app), SECRET, "/telegram", ("", 0))
    resets: list[bool] = []

    async def reset() -> None:
        resets.append(True)

    server.reset_webhook = reset
    update: dict[str, Any] = {"update_id": 1}
    async with TestClient(TestServer(server.app())) as client:
        for _ in range(2):
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "old-old-old-old-old"}
            assert (await client.post("/telegram", json=update, headers=wrong)).status == 403
        assert server._reset is not None
        await server._reset
    assert resets == [True]
