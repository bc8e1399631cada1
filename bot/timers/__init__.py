"""Durable timers: everything the bot must do at a time is a row of ``timers``.

The contract:

- ``schedule(session, out, kind, key, due, payload, now=now)`` in a use case's transaction
  makes the timer ``key`` fire at ``due``. Keys are deterministic (``followup:42:ask``), so
  scheduling is idempotent: a pending key moves to the new time and payload, a fired,
  cancelled or failed one is armed again. After the commit the process is woken at ``due``
  (through ``out.wake``).
- ``cancel(session, key)`` (or ``cancel_prefix``) in a transaction stops a pending timer:
  a state change that makes a timer pointless cancels it by its key.
- A kind is a name (``followup.ask``) and a handler registered in ``bot.timers.kinds``. A
  handler gets the session, the outbox, the env, ``now`` and a batch of due timers of its
  kind (in due order), and does what they stand for in that transaction. The timers are
  marked fired in the same transaction: a crash before the commit fires them again, after it
  never, so a handler's effects (rows, events, messages in the outbox) happen once. A handler
  must still check the state it acts on (a request may have moved since it was scheduled).
- A pass claims the due timers of all kinds in batches of ``BATCH``, on PostgreSQL with
  ``FOR UPDATE SKIP LOCKED`` so that several instances share them; the claim lasts as long
  as its transaction (``lease_owner`` / ``lease_until`` say who held a timer last, and
  until when), so a dead instance's claims are free at once. A batch that raises is rolled
  back and fired timer by timer: a failing timer is retried with backoff (5 s doubling, at
  most 1 h) and after ``MAX_ATTEMPTS`` marked failed with its error, logged; the others go on.
- The table is the record; the scheduler (``bot.scheduling``) is only the alarm clock: after
  each pass it is armed at ``next_due``, and a periodic sweep runs a pass anyway.

To add a kind: write its handler (a function of the signature ``Handler``) in its own module,
and add one line to ``HANDLERS`` in ``bot.timers.kinds``.
"""

from bot.timers.engine import (
    BATCH,
    MAX_ATTEMPTS,
    Due,
    Handler,
    Pass,
    cancel,
    cancel_prefix,
    fire_due,
    forget_finished,
    next_due,
    run,
    schedule,
    schedule_many,
)

__all__ = [
    "BATCH",
    "MAX_ATTEMPTS",
    "Due",
    "Handler",
    "Pass",
    "cancel",
    "cancel_prefix",
    "fire_due",
    "forget_finished",
    "next_due",
    "run",
    "schedule",
    "schedule_many",
]
