"""Guests: who they are, their language and their room."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot import roomlinks
from bot.models import Guest, Staff
from bot.notices import (
    LanguagePrompt,
    LanguageSet,
    RoomInvalid,
    RoomLinkInvalid,
    RoomSaved,
    Welcome,
)
from bot.notifier import Outbox, Outgoing
from bot.services import rooms, unreachable
from bot.services.actors import find_guest
from bot.services.common import Env, Person, tell

ROOM_PAYLOAD_PREFIX = "room-"


def find(session: Session, telegram_id: int) -> Guest | None:
    """The guest with this Telegram id, if known."""
    return find_guest(session, telegram_id)


def ensure(
    session: Session, env: Env, person: Person, now: datetime, *, known: Guest | None = None
) -> Guest:
    """The guest behind ``person``, created on first contact with a negotiated language.

    ``known`` is the guest as already read in this session (when the sender was identified);
    it saves reading them again.
    """
    if known is not None and known in session and known.telegram_id == person.telegram_id:
        guest: Guest | None = known
    else:
        guest = find(session, person.telegram_id)
    if guest is None:
        guest = Guest(
            telegram_id=person.telegram_id,
            chat_id=person.chat_id,
            first_name=person.first_name[:128],
            language=env.i18n.negotiate(person.language_code),
            created_at=now,
            updated_at=now,
        )
        session.add(guest)
        session.flush()
        return guest
    changed = False
    if unreachable.guest_unblocked(guest):  # writing again means the bot is unblocked
        changed = True
    if guest.chat_id != person.chat_id or guest.first_name != person.first_name[:128]:
        guest.chat_id, guest.first_name = person.chat_id, person.first_name[:128]
        changed = True
    if not guest.language_chosen and person.language_code:
        language = env.i18n.negotiate(person.language_code)
        if language != guest.language:
            guest.language, changed = language, True
    if changed:
        guest.updated_at = now
        session.add(guest)
    return guest


def link_room(env: Env, payload: str) -> str | None:
    """The room a ``/start`` payload carries, if it is a valid room link of this hotel.

    A printed card's link is signed (``bot.roomlinks``). The plain ``room-412`` form, which
    anyone can type, says no more than ``/room 412`` and is read like it.
    """
    if payload.lower().startswith(ROOM_PAYLOAD_PREFIX):
        return rooms.valid_room(env, payload[len(ROOM_PAYLOAD_PREFIX) :])
    room = roomlinks.verify(payload, env.room_key) if env.room_key is not None else None
    return rooms.valid_room(env, room) if room is not None else None


def start(
    session: Session, out: Outbox, env: Env, *, person: Person, payload: str | None, now: datetime
) -> Guest:
    """Greet a guest after /start; a room link's payload (``link_room``) sets the room, and
    one that is not valid is refused before the room is asked for."""
    guest = ensure(session, env, person, now)
    room = link_room(env, payload) if payload else None
    filled: tuple[int, ...] = ()
    if room is not None:
        filled = rooms.give(session, out, env, guest, room, now)
    tell(out, guest, Welcome(guest.first_name, guest.room))
    if filled:
        tell(out, guest, RoomSaved(room or "", filled))
    if payload and room is None:
        guest.room_asked, guest.awaiting_room = True, True
        tell(out, guest, RoomLinkInvalid())
    elif guest.room is None:
        rooms.ask_room(out, env, guest)
    guest.updated_at = now
    session.add(guest)
    return guest


def set_room(
    session: Session, out: Outbox, env: Env, *, person: Person, room: str | None, now: datetime
) -> Guest:
    """Handle /room: ask for the number, or save the one given."""
    guest = ensure(session, env, person, now)
    if not room:
        rooms.ask_room(out, env, guest)
    elif valid := rooms.valid_room(env, room):
        filled = rooms.give(session, out, env, guest, valid, now)
        tell(out, guest, RoomSaved(valid, filled))
    else:
        guest.awaiting_room = True
        tell(out, guest, RoomInvalid())
    guest.updated_at = now
    session.add(guest)
    return guest


def language_menu(out: Outbox, env: Env, *, chat_id: int, locale: str) -> None:
    """Offer the hotel's languages as buttons."""
    out.send(Outgoing(chat_id, LanguagePrompt(env.i18n.offered), locale))


def set_language(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    person: Person,
    staff_id: int | None,
    locale: str,
    now: datetime,
) -> str:
    """Save the language a staff member (``staff_id``) or else the guest ``person`` chose;
    answer in it."""
    if locale not in env.i18n.offered:
        locale = env.i18n.default
    staff = session.get(Staff, staff_id) if staff_id is not None else None
    if staff is not None and staff.active:
        staff.language = locale
        session.add(staff)
    else:
        guest = ensure(session, env, person, now)
        guest.language, guest.language_chosen, guest.updated_at = locale, True, now
        session.add(guest)
    out.send(Outgoing(person.chat_id, LanguageSet(), locale))
    return locale
