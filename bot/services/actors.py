"""Who is writing: a registered staff member, a known guest, or someone new.

People are known inside the domain by their own ids (``Staff.id``, ``Guest.id``): use cases
take those, events record them. A Telegram id is the Telegram channel's identity of a person
and stays a column of ``staff`` and ``guests``; it is read here (once per update, by
``identify``), where a guest first writes (``guests.ensure``), where Telegram reports a
blocked chat, by ``concierge staff add/remove --telegram-id`` and to address Telegram chats.

Why columns and not a table of identities (channel, external id -> person): a web login needs
a record of its own in any case (a password hash or an identity provider's subject, with its
own lifecycle), which will name ``staff.id``; nothing in the use cases changes when it comes.
The columns cost the hot path nothing, while a table would add an insert to every new guest's
first message and a join wherever staff are addressed (an offer goes to several at once).
Measured on SQLite with 20,000 guests, ``identify``'s one statement takes the same ~100 µs
either way, so the lookup itself decided nothing. A second channel for guests (another
messenger) is when an identities table, filled from these columns, pays for itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, bindparam
from sqlmodel import Session, col, select

from bot.models import Guest, Staff
from bot.services.common import Env


@dataclass(frozen=True)
class Actor:
    """The sender of an update and the locale to answer in."""

    locale: str
    staff: Staff | None = None
    guest: Guest | None = None

    @property
    def is_staff(self) -> bool:
        """Whether the sender is active staff (supervisors included)."""
        return self.staff is not None

    @property
    def is_supervisor(self) -> bool:
        """Whether the sender is an active supervisor."""
        return self.staff is not None and self.staff.is_supervisor


# Prepared once: looked up for every update.
_STAFF_BY_TELEGRAM_ID = select(Staff).where(col(Staff.telegram_id) == bindparam("telegram_id"))
_GUEST_BY_TELEGRAM_ID = select(Guest).where(col(Guest.telegram_id) == bindparam("telegram_id"))


def find_staff(session: Session, telegram_id: int) -> Staff | None:
    """The staff member (active or not) with this Telegram id (for the Telegram layer)."""
    return session.exec(_STAFF_BY_TELEGRAM_ID, params={"telegram_id": telegram_id}).first()


def find_guest(session: Session, telegram_id: int) -> Guest | None:
    """The guest with this Telegram id, if known (for the Telegram layer)."""
    return session.exec(_GUEST_BY_TELEGRAM_ID, params={"telegram_id": telegram_id}).first()


# Both in one statement (it runs for every update): the Telegram id, then the staff member and
# the guest who have it, either or both missing.
_SENDER = select(bindparam("telegram_id", type_=BigInteger).label("telegram_id")).subquery()
_STAFF_AND_GUEST = (
    select(Staff, Guest)
    .select_from(_SENDER)
    .outerjoin(Staff, col(Staff.telegram_id) == _SENDER.c.telegram_id)
    .outerjoin(Guest, col(Guest.telegram_id) == _SENDER.c.telegram_id)
)


def identify(session: Session, env: Env, *, telegram_id: int, language_code: str | None) -> Actor:
    """Look the sender up; their stored language wins over Telegram's ``language_code``."""
    staff, guest = session.exec(_STAFF_AND_GUEST, params={"telegram_id": telegram_id}).one()
    if staff is not None and staff.active:
        return Actor(locale=env.i18n.translator(staff.language).locale, staff=staff)
    if guest is not None:
        locale = guest.language
        if not guest.language_chosen and language_code:
            locale = env.i18n.negotiate(language_code)
        return Actor(locale=env.i18n.translator(locale).locale, guest=guest)
    return Actor(locale=env.i18n.negotiate(language_code))
