"""Who is writing: a registered staff member, a known guest, or someone new."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

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


def identify(session: Session, env: Env, *, telegram_id: int, language_code: str | None) -> Actor:
    """Look the sender up; their stored language wins over Telegram's ``language_code``."""
    staff = session.exec(select(Staff).where(Staff.telegram_id == telegram_id)).first()
    if staff is not None and staff.active:
        return Actor(locale=env.i18n.translator(staff.language).locale, staff=staff)
    guest = session.exec(select(Guest).where(Guest.telegram_id == telegram_id)).first()
    if guest is not None:
        locale = guest.language
        if not guest.language_chosen and language_code:
            locale = env.i18n.negotiate(language_code)
        return Actor(locale=env.i18n.translator(locale).locale, guest=guest)
    return Actor(locale=env.i18n.negotiate(language_code))
