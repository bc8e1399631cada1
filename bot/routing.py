"""Which department a request belongs to, and who on duty should see it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from bot.config import HotelConfig
from bot.models import Role, Staff


class Tier(StrEnum):
    """Why the recipients of a request were chosen."""

    DEPARTMENT = "department"
    FALLBACK = "fallback"
    SUPERVISORS = "supervisors"
    NOBODY = "nobody"


@dataclass(frozen=True)
class Recipients:
    """The on-duty people a request is offered to."""

    tier: Tier
    staff: list[Staff]


def _score(text: str, keywords: list[str]) -> int:
    # A keyword that is not in the text at all cannot start a word there: the substring test
    # is far cheaper than the pattern and rules out nearly every keyword of a large hotel.
    return sum(1 for word in keywords if word in text and _keyword(word).search(text))


@cache
def _keyword(word: str) -> re.Pattern[str]:
    """A keyword's pattern, compiled once: a hotel's keywords outnumber ``re``'s own cache."""
    return re.compile(r"(?<!\w)" + re.escape(word))


def match_department(hotel: HotelConfig, text: str, locale: str) -> str | None:
    """The department whose keywords in ``locale`` match ``text`` best; other languages next.

    Keywords match at the start of a word, so ``towel`` also finds ``towels``. Ties go to the
    department listed first in the config.
    """
    folded = text.casefold()
    if not folded.strip():
        return None
    languages = [locale] + [code for code in hotel.hotel.languages if code != locale]
    for code in languages:
        best_key, best_score = None, 0
        for department in hotel.departments:
            score = _score(folded, department.keywords.get(code, []))
            if score > best_score:
                best_key, best_score = department.key, score
        if best_key is not None:
            return best_key
    return None


def urgent_keyword(hotel: HotelConfig, text: str, locale: str) -> str | None:
    """The first of the hotel's urgent keywords (``[urgent]``) that ``text`` mentions, or None.

    Keywords match at the start of a word, as department keywords do, in ``locale`` first and
    then in every other configured language; the ``ignore`` phrases are taken out first.
    """
    folded = text.casefold().replace("\u2019", "'")
    urgent = hotel.urgent
    if not folded.strip() or not any(urgent.keywords.values()):
        return None
    languages = [locale] + [code for code in hotel.hotel.languages if code != locale]
    for code in languages:
        for phrase in urgent.ignore.get(code, []):
            if phrase in folded:
                folded = _keyword(phrase).sub(" ", folded)
    for code in languages:
        for word in urgent.keywords.get(code, []):
            if word in folded and _keyword(word).search(folded):
                return word
    return None


def on_duty(
    session: Session, department: str | None = None, *, supervisors: bool = False
) -> list[Staff]:
    """Active on-duty staff of ``department`` (or supervisors), in registration order."""
    if department is not None and not supervisors:
        return list(session.exec(_ON_DUTY_IN, params={"department": department}))
    query = select(Staff).where(col(Staff.active), col(Staff.on_duty))
    if department is not None:
        query = query.where(Staff.department == department)
    if supervisors:
        query = query.where(Staff.role == Role.SUPERVISOR)
    return list(session.exec(query.order_by(col(Staff.id))))


_ON_DUTY_IN = (
    select(Staff)
    .where(col(Staff.active), col(Staff.on_duty), col(Staff.department) == bindparam("department"))
    .order_by(col(Staff.id))
)


def recipients(
    session: Session, hotel: HotelConfig, department: str, exclude: set[int] | None = None
) -> Recipients:
    """The department's on-duty staff, else the fallback department's, else on-duty supervisors.

    ``exclude`` leaves people out (someone who just released the request).
    """
    skip = exclude or set()

    def keep(staff: list[Staff]) -> list[Staff]:
        return [s for s in staff if s.id not in skip]

    staff = keep(on_duty(session, department))
    if staff:
        return Recipients(Tier.DEPARTMENT, staff)
    fallback = hotel.hotel.fallback_department
    if fallback != department:
        staff = keep(on_duty(session, fallback))
        if staff:
            return Recipients(Tier.FALLBACK, staff)
    staff = keep(on_duty(session, supervisors=True))
    if staff:
        return Recipients(Tier.SUPERVISORS, staff)
    return Recipients(Tier.NOBODY, [])


def supervisors_to_alert(session: Session) -> list[Staff]:
    """On-duty supervisors, or every active supervisor when none is on duty."""
    return on_duty(session, supervisors=True) or list(
        session.exec(
            select(Staff)
            .where(col(Staff.active), Staff.role == Role.SUPERVISOR)
            .order_by(col(Staff.id))
        )
    )
