"""The sender: delivers outbox rows through the Bot API, in every running instance.

It claims due rows (see ``bot.outbox``), waits for each row's pacing slot, sends it, and records
the outcome (outcomes that finish together share one short transaction): sent (with the message
id, remembered on an offer when the row is a request card), retried with exponential backoff on
network errors and 5xx, retried after exactly ``retry_after`` on 429, given up on a permanent
error, or — when the chat has blocked the bot — given up for the whole chat, and Telegram's
"kicked" update for the chat stored in the intake, where the processor handles it as if
Telegram had sent it (``handlers/membership.py``), in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, update
from sqlmodel import Session
from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import intake, outbox, queue
from bot.buttons import CallbackSigner
from bot.clock import Clock
from bot.db import SessionFactory, any_pending_in, bookkeeping
from bot.models import Offer, OutboxMessage, OutboxStatus
from bot.notifier import CAPTION_LIMIT, TEXT_LIMIT, Media, Outgoing, Rendered, split_text
from bot.outbox import Rates
from bot.telegram_http import JsonApi, retry_seconds

log = logging.getLogger(__name__)

CLAIM_BATCH = 100  # outbox rows leased per claim
_T = TypeVar("_T")

MAX_AGE = timedelta(hours=24)
# While other requests are under way, the recorder waits this long for them to finish, so that
# messages sent together (a guest's acknowledgement and the staff card) share one transaction.
RECORD_WAIT = 0.01
# A busy sender claims at most this often (a request arriving alone, 20 ms after the one before
# at 50 a second, never waits for it) ...
CLAIM_SPACING = 0.01
# ... and, when claims take longer (a burst: many rows, a backlog of paced staff cards), this
# many times a claim's duration after it, up to MAX_CLAIM_SPACING: claiming then takes at
# most about a ninth of the sender's time, and each claim takes more messages at once.
CLAIM_COST_FACTOR = 8.0
MAX_CLAIM_SPACING = 0.03
MIN_WAIT = 0.001  # the shortest wait for a paced row, so that rounding cannot spin the loop
MAX_BACKOFF = 300.0
# Bot API requests at once. httpx checks every pooled connection on each request, so a pool
# sized for the 30 messages a second Telegram allows is much cheaper than its default of 256.
HTTP_CONNECTIONS = 16


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery attempt."""

    status: OutboxStatus | None  # None: try again later
    message_id: int | None = None
    retry_in: float = 0.0
    hold_chat: bool = False
    blocked: bool = False
    error: str | None = None
    answered_at: datetime | None = None  # when the attempt ended (Telegram's answer came)


class Delivery(NamedTuple):
    """A row, the message it holds and what happened when it was sent."""

    row: OutboxMessage
    message: Rendered
    outcome: Outcome


def claim_spacing(took: float) -> float:
    """Seconds from the start of a claim that took ``took`` seconds to the next one."""
    return min(MAX_CLAIM_SPACING, max(CLAIM_SPACING, CLAIM_COST_FACTOR * took))


def backoff(attempts: int) -> float:
    """Seconds before retry number ``attempts``: 0.5, 1, 2, 4 … up to five minutes, jittered."""
    base = min(MAX_BACKOFF, 0.5 * 2.0 ** max(0, attempts - 1))
    jitter: float = random.uniform(0.8, 1.2)
    return base * jitter


def _markup_json(message: Rendered, signer: CallbackSigner) -> dict[str, Any] | None:
    """The message's buttons, signed, as the Bot API's JSON."""
    if not message.buttons:
        return None
    return {
        "inline_keyboard": [
            [{"text": b.text, "callback_data": signer.sign(b.action)} for b in row]
            for row in message.buttons
        ]
    }


async def _send_media(bot: Bot, chat_id: int, media: Media) -> Message | None:
    caption = media.caption[:CAPTION_LIMIT] or None
    if media.kind == "location" and media.latitude is not None and media.longitude is not None:
        return await bot.send_location(
            chat_id=chat_id, latitude=media.latitude, longitude=media.longitude
        )
    if media.kind == "photo" and media.file_id:
        return await bot.send_photo(chat_id=chat_id, photo=media.file_id, caption=caption)
    if media.kind == "voice" and media.file_id:
        return await bot.send_voice(chat_id=chat_id, voice=media.file_id, caption=caption)
    if media.kind == "document" and media.file_id:
        return await bot.send_document(chat_id=chat_id, document=media.file_id, caption=caption)
    return None


async def send(
    api: JsonApi,
    message: Rendered,
    edit_target: int | None,
    signer: CallbackSigner,
) -> int | None:
    """Send ``message``, or edit ``edit_target`` with it (or delete it, or its buttons, as
    ``message.remove`` says); return the id of the last message sent.

    A text over Telegram's limit is split; the buttons go with the last part. Texts go out
    with their answer left as JSON (only its message id is kept).
    """
    bot = api.bot
    if message.remove is not None:
        if edit_target is None:
            return None
        if message.remove == "message":
            await bot.delete_message(chat_id=message.chat_id, message_id=edit_target)
        else:
            await bot.edit_message_reply_markup(chat_id=message.chat_id, message_id=edit_target)
        return None
    if edit_target is not None:
        text = (
            message.text
            if len(message.text) <= TEXT_LIMIT
            else message.text[: TEXT_LIMIT - 1] + "…"
        )
        markup = _markup_json(message, signer)
        result = await bot.edit_message_text(
            chat_id=message.chat_id,
            message_id=edit_target,
            text=text,
            reply_markup=InlineKeyboardMarkup.de_json(markup, bot) if markup else None,
        )
        return result.message_id if isinstance(result, Message) else None
    last: int | None = None
    if message.media is not None:
        media = await _send_media(bot, message.chat_id, message.media)
        last = media.message_id if media is not None else None
    if message.text:
        parts = split_text(message.text)
        for index, part in enumerate(parts):
            sent = await api.send_message(
                {
                    "chat_id": message.chat_id,
                    "text": part,
                    "reply_markup": (
                        _markup_json(message, signer) if index == len(parts) - 1 else None
                    ),
                },
            )
            last = int(sent["message_id"])
    return last


class Sender:
    """Claims and delivers outbox rows until stopped.

    Outcomes are written by one recorder task: everything that finished while the previous
    write ran, or within ``RECORD_WAIT`` while other requests were under way, goes into the
    next transaction together, so a busy sender commits once per batch rather than once per
    message.
    """

    def __init__(
        self,
        api: JsonApi,
        sessions: SessionFactory,
        clock: Clock,
        *,
        owner: str,
        rates: Rates,
        signer: CallbackSigner,
        render: Callable[[Outgoing], Rendered],
        poll_interval: float = 0.5,
        max_in_flight: int = 64,
        max_requests: int = HTTP_CONNECTIONS,
        database_in_thread: bool = False,
    ) -> None:
        self._api = api
        self._sessions = sessions
        self._clock = clock
        self._owner = owner
        self._rates = rates
        self._signer = signer
        self._render = render
        # Called after a refused chat's update was stored (the app wakes the processor).
        self.updates_stored: Callable[[], None] = lambda: None
        self._poll_interval = poll_interval
        self._in_thread = database_in_thread
        self._slots = asyncio.Semaphore(max_in_flight)
        self._requests = asyncio.Semaphore(max_requests)
        self._wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: list[Delivery] = []
        self._has_results = asyncio.Event()
        self._sending = 0  # Bot API requests under way
        self._quiet = asyncio.Event()  # set when none is
        self._stopping = False
        self._held = queue.Held(outbox.QUEUE, owner)  # claimed, outcome not yet recorded
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def api(self) -> JsonApi:
        """The Bot API client messages go through."""
        return self._api

    @property
    def _bot_id(self) -> int:
        """The bot's user id, the number its token starts with."""
        number = self._api.bot.token.partition(":")[0]
        return int(number) if number.isdigit() else 0

    def wake(self) -> None:
        """New rows were committed: claim now instead of at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        """Deliver until ``stop``; database trouble only delays delivery."""
        recorder = asyncio.create_task(self._record_results(), name="outbox-recorder")
        self._heartbeat = asyncio.create_task(
            queue.heartbeat(lambda: self._database(self.renew_leases)), name="outbox-heartbeat"
        )
        try:
            await self._claim_loop()
        finally:
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
            self._flush_results()
            if not self._tasks:  # else ``stop`` ends it once deliveries under way are done
                self._heartbeat.cancel()

    def renew_leases(self) -> int:
        """Extend the leases of the rows claimed and not yet recorded (the heartbeat)."""
        if not self._held.keys:
            return 0
        with self._sessions() as session:
            bookkeeping(session)
            renewed = self._held.renew(session, self._clock.now())
            session.commit()
            return renewed

    async def _claim_loop(self) -> None:
        loop = asyncio.get_running_loop()
        claimed_at, spacing = -CLAIM_SPACING, CLAIM_SPACING
        while not self._stopping:
            # While updates are handled back to back, each commit wakes this loop: spaced
            # claims take the messages of a few updates in one transaction instead of one each.
            pause = claimed_at + spacing - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            claimed_at = loop.time()
            self._wakeup.clear()
            try:
                claimed = await self._database(self._claim)
            except Exception:
                log.exception("claiming outbox rows failed; retrying")
                claimed = outbox.Claimed([], None)
            spacing = claim_spacing(loop.time() - claimed_at)
            for row in claimed.rows:
                await self._slots.acquire()
                task = asyncio.create_task(self._deliver_and_queue(row))
                self._tasks.add(task)
                task.add_done_callback(self._finished)
            if len(claimed.rows) == CLAIM_BATCH:
                continue  # more may be due at once
            # A short batch took everything claimable: rows committed since, and a chat's next
            # row once its head is recorded, wake the loop; so does the time a row left for its
            # chat's pacing may go; the poll finds the rest (retries, other instances' leases).
            wait = self._poll_interval
            if claimed.next_at is not None:
                due_in = (claimed.next_at - self._clock.now()).total_seconds()
                wait = min(wait, max(MIN_WAIT, due_in))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def stop(self) -> None:
        """Stop claiming, let deliveries under way finish and record their outcomes.

        Their leases cover a crash meanwhile.
        """
        self._stopping = True
        self._wakeup.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        self._flush_results()
        if self._heartbeat is not None:
            self._heartbeat.cancel()

    async def drain(self) -> int:
        """Deliver everything due now; return how many rows were tried.

        For tests: unlike ``run`` it claims nothing ahead of time, records every outcome before
        it claims again, and returns once nothing is due.
        """
        tried = 0
        while True:
            claimed = self._claim(horizon=timedelta(0)).rows
            if not claimed:
                return tried
            results = await asyncio.gather(*(self._deliver(row) for row in claimed))
            self._write(list(results))  # drained again right away: no wake needed
            tried += len(claimed)

    def _claim(self, horizon: timedelta = timedelta(seconds=1)) -> outbox.Claimed:
        with self._sessions() as session:
            bookkeeping(session)
            rows = outbox.claim(
                session,
                owner=self._owner,
                now=self._clock.now(),
                rates=self._rates,
                horizon=horizon,
                limit=CLAIM_BATCH,
            )
            session.commit()
            self._held.add(rows.rows)
            return rows

    async def _deliver_and_queue(self, row: OutboxMessage) -> None:
        result = await self._deliver(row)  # not inline: the recorder swaps ``_results``
        self._results.append(result)
        self._has_results.set()

    async def _deliver(self, row: OutboxMessage) -> Delivery:
        assert row.send_at is not None
        delay = (row.send_at - self._clock.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        try:  # rendered now, in the reader's locale (``bot.render``)
            message = self._render(outbox.from_payload(row.chat_id, row.payload))
        except Exception as exc:  # a bug: retrying would not help
            log.exception("outbox row %s cannot be rendered", row.id)
            failed = Outcome(OutboxStatus.FAILED, error=repr(exc)[:300])
            return Delivery(row, Rendered(row.chat_id), failed)
        async with self._requests:
            self._sending += 1
            self._quiet.clear()
            try:
                outcome = replace(await self._attempt(message), answered_at=self._clock.now())
            finally:
                self._sending -= 1
                if not self._sending:
                    self._quiet.set()
        return Delivery(row, message, outcome)

    async def _record_results(self) -> None:
        """Write the outcomes as they come, a transaction for all that are waiting."""
        while True:
            await self._has_results.wait()
            if self._sending:  # messages sent together are recorded together
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), RECORD_WAIT)
            self._has_results.clear()
            # Deliveries finishing while this is written join the next write.
            results, self._results = self._results, []
            if results:
                more: bool = await self._database(self._write, results)
                if more:
                    self.wake()
            await asyncio.sleep(0)

    def _flush_results(self) -> None:
        results, self._results = self._results, []
        if results and self._write(results):
            self.wake()

    async def _database(self, work: Callable[..., _T], *args: Any) -> _T:
        """Run the sender's own database work; on PostgreSQL in a worker thread, so that the
        event loop sends and handles updates while the server answers."""
        if self._in_thread:
            return await asyncio.to_thread(work, *args)
        return work(*args)

    def _write(self, results: list[Delivery]) -> bool:
        """Record outcomes in one transaction; if that fails, one by one, so one bad row cannot
        hold up the others (a row not recorded is sent again when its lease ends).

        True if the sender should claim again (a chat has its next row waiting)."""
        try:
            more = self._record(results)
        except Exception:
            if len(results) == 1:
                log.exception(
                    "recording delivery of outbox row %s failed; its lease will expire",
                    results[0].row.id,
                )
                self._held.discard([results[0].row])
                return False
        else:
            self._held.discard(result.row for result in results)
            return more
        wanted = [self._write([result]) for result in results]  # every one, no short cut
        return any(wanted)

    def _edit_target(self, message: Rendered) -> int | None:
        if message.edit_message_id is not None:
            return message.edit_message_id
        if message.edit_offer_id is None:
            return None
        with self._sessions() as session:
            offer = session.get(Offer, message.edit_offer_id)
            return offer.message_id if offer is not None else None

    async def _attempt(self, message: Rendered) -> Outcome:
        target = self._edit_target(message)
        if target is None and message.edit_offer_id is not None and not message.buttons:
            return Outcome(OutboxStatus.SKIPPED, error="nothing to edit")
        if target is None and message.remove is not None:
            return Outcome(OutboxStatus.SKIPPED, error="nothing to remove")
        try:
            sent = await send(self._api, message, target, self._signer)
        except RetryAfter as exc:
            seconds = retry_seconds(exc)
            return Outcome(
                None, retry_in=seconds, hold_chat=True, error=f"429 retry after {seconds}"
            )
        except Forbidden as exc:
            return Outcome(OutboxStatus.FAILED, blocked=True, error=str(exc))
        except BadRequest as exc:
            text = str(exc).lower()
            if "not modified" in text:
                return Outcome(OutboxStatus.SENT, message_id=target)
            if "message to edit not found" in text or "can't be edited" in text:
                return Outcome(OutboxStatus.SKIPPED, error=str(exc))
            # Gone already, or older than Telegram lets a bot delete (48 hours): nothing to do.
            if "message to delete not found" in text or "can't be deleted" in text:
                return Outcome(OutboxStatus.SKIPPED, error=str(exc))
            if "chat not found" in text:
                return Outcome(OutboxStatus.FAILED, blocked=True, error=str(exc))
            return Outcome(OutboxStatus.FAILED, error=str(exc))
        except NetworkError as exc:  # timeouts, connection errors and 5xx answers
            return Outcome(None, error=str(exc) or type(exc).__name__)
        except TelegramError as exc:
            return Outcome(OutboxStatus.FAILED, error=str(exc))
        except Exception as exc:  # a bug must not strand the row until its lease ends
            log.exception("unexpected error delivering to chat %s", message.chat_id)
            return Outcome(None, error=repr(exc)[:300])
        if message.remove is not None:  # the row is no message of its own
            return Outcome(OutboxStatus.SENT)
        return Outcome(OutboxStatus.SENT, message_id=sent if sent is not None else target)

    def _record(self, results: list[Delivery]) -> bool:
        """Write outcomes with two statements for the whole batch (retries and blocked chats,
        being rare, add their own)."""
        now = self._clock.now()
        refused: list[dict[str, Any]] = []
        rows: list[dict[str, object]] = []
        offers: list[dict[str, object]] = []
        with self._sessions() as session:
            bookkeeping(session)
            for result in results:
                rows.append(self._outcome_values(session, result, now))
                _row, message, outcome = result
                offer_id = message.offer_id or (message.edit_offer_id if message.buttons else None)
                if (
                    outcome.status is OutboxStatus.SENT
                    and offer_id is not None
                    and outcome.message_id is not None
                ):
                    offers.append({"offer": offer_id, "message": outcome.message_id})
            connection = session.connection()
            connection.execute(_RECORD_OUTCOME, rows)
            if offers:
                connection.execute(_REMEMBER_CARD, offers)
            answered = [
                (row.chat_id, outcome.answered_at)
                for row, _message, outcome in results
                if outcome.answered_at is not None and not outcome.hold_chat
            ]
            outbox.paced_sends(session, answered, self._rates)
            for row, _message, outcome in results:
                if outcome.blocked:
                    assert row.id is not None  # a stored row
                    outbox.drop_chat(session, row.chat_id, "blocked")
                    refused.append(intake.chat_refused(row.id, row.chat_id, self._bot_id, now))
            intake.store(session, refused, now)
            finished = {
                row.chat_id for row, _message, outcome in results if outcome.status is not None
            }
            more = any_pending_in(connection, _OUTBOX, finished)
            session.commit()
        if refused:
            self.updates_stored()
        return more

    def _outcome_values(
        self, session: Session, result: Delivery, now: datetime
    ) -> dict[str, object]:
        """The row's new values for ``_RECORD_OUTCOME``; a 429's hold on the chat is applied."""
        row, _message, outcome = result
        values: dict[str, object] = {
            "row": row.id,
            "owner": self._owner,
            "status": row.status,
            "attempts": row.attempts,  # the claim counted this attempt
            "not_before": row.not_before,
            "send_at": row.send_at,
            "sent_at": None,
            "message": None,
            "error": outcome.error,
        }
        if outcome.status is None:
            if now - row.created_at > MAX_AGE:
                values["status"] = OutboxStatus.FAILED.value
                log.error(
                    "giving up outbox row %s for chat %s after %s attempts",
                    row.id,
                    row.chat_id,
                    values["attempts"],
                )
            else:
                wait = outcome.retry_in if outcome.hold_chat else backoff(row.attempts)
                values["not_before"] = now + timedelta(seconds=wait)
                values["send_at"] = None  # recorded: a claim taking it again need not doubt it
                if outcome.hold_chat:
                    outbox.hold_chat(session, row.chat_id, now + timedelta(seconds=wait))
                log.warning(
                    "delivery to chat %s failed (%s); retry in %.1fs",
                    row.chat_id,
                    outcome.error,
                    wait,
                )
        else:
            values["status"] = outcome.status.value
            if outcome.status is OutboxStatus.SENT:
                values.update(sent_at=now, message=outcome.message_id)
            elif outcome.status is OutboxStatus.FAILED:
                log.warning("delivery to chat %s failed for good: %s", row.chat_id, outcome.error)
        return values


_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
# Built once: one executemany per batch of outcomes. Only the lease holder may record.
_RECORD_OUTCOME = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row"), _OUTBOX.c.lease_owner == bindparam("owner"))
    .values(
        status=bindparam("status"),
        attempts=bindparam("attempts"),
        not_before=bindparam("not_before"),
        send_at=bindparam("send_at"),
        sent_at=bindparam("sent_at"),
        message_id=bindparam("message"),
        last_error=bindparam("error"),
        lease_owner=None,
        lease_until=None,
    )
)


_OFFERS = Offer.__table__  # type: ignore[attr-defined]
_REMEMBER_CARD = (
    update(_OFFERS)
    .where(_OFFERS.c.id == bindparam("offer"))
    .values(message_id=bindparam("message"))
)
