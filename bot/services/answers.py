"""Instant answers: a guest's question answered from the hotel's knowledge base, no request.

The hotel lists its common questions in the config (``[[answers]]``, matched by
``bot.knowledge``). A question that matches is answered at once in the guest's language and
stored as a ``Question`` (personal data: ``services.privacy`` erases its text); the answer
carries a button that sends the question to staff after all, as the request it would have
been.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.models import Guest, Question, Request
from bot.notices import AnswerSentOn, InstantAnswer
from bot.notifier import Outbox
from bot.services import errors, requests
from bot.services.common import Env, tell


def answer(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    guest: Guest,
    content: requests.Content,
    now: datetime,
) -> bool:
    """Answer the guest's message from the knowledge base if it is a question it knows;
    whether it was (a message with an attachment, or one that names a need, never is)."""
    if content.media_kind is not None:
        return False
    hotel = env.hotel
    entry = hotel.knowledge.match(content.text, guest.language, hotel.hotel.languages)
    if entry is None:
        return False
    assert guest.id is not None
    question = Question(
        guest_id=guest.id,
        entry=entry.key,
        text=content.text,
        language=guest.language,
        created_at=now,
    )
    session.add(question)
    session.flush()
    assert question.id is not None
    reply = entry.answer(guest.language, hotel.hotel.default_language)
    tell(out, guest, InstantAnswer(question.id, reply))
    return True


def send_to_staff(
    session: Session,
    out: Outbox,
    env: Env,
    *,
    guest_id: int | None,
    question_id: int,
    message_id: int | None,
    now: datetime,
) -> Request:
    """The guest pressed "Not what I asked": their question becomes a request, exactly as if
    they had sent it without an answer (routed, offered, acknowledged), and the answer (the
    message ``message_id``) says so.

    Refused (``QuestionGone``) for a question that is not the presser's or whose text was
    erased, and (``AlreadySentOn``) for one sent on before.
    """
    guest = session.get(Guest, guest_id) if guest_id is not None else None
    # Locked: two presses at once must not make two requests.
    question = session.exec(
        select(Question).where(Question.id == question_id).with_for_update()
    ).first()
    if guest is None or question is None or question.guest_id != guest.id or not question.text:
        raise errors.QuestionGone
    if question.request_id is not None:
        raise errors.AlreadySentOn(question.request_id)
    request = requests.create(session, out, env, guest, requests.Content(question.text), now)
    question.request_id = request.id
    session.add(question)
    tell(
        out,
        guest,
        AnswerSentOn(_answer_of(env, question), request.id or 0),
        edit_message_id=message_id,
    )
    return request


def _answer_of(env: Env, question: Question) -> str:
    """The answer the question got, as the hotel's config words it now ('' if the entry was
    removed since)."""
    for entry in env.hotel.knowledge.entries:
        if entry.key == question.entry:
            return entry.answer(question.language, env.hotel.hotel.default_language)
    return ""
