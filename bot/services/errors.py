"""Typed domain errors; handlers turn them into localized answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a user can cause."""


class NotRegistered(DomainError):
    """The user is not registered staff."""


class NotSupervisor(DomainError):
    """The action is for supervisors."""


class UnknownRequest(DomainError):
    """No such request (or not this guest's)."""

    def __init__(self, request_id: int) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class AlreadyTaken(DomainError):
    """Somebody else accepted the request first."""

    def __init__(self, request_id: int, by: str) -> None:
        super().__init__(request_id, by)
        self.request_id = request_id
        self.by = by


class StaleAction(DomainError):
    """The button belongs to a state the request has left."""

    def __init__(self, request_id: int | None, status: str) -> None:
        super().__init__(request_id, status)
        self.request_id = request_id or 0
        self.status = status


class NotYours(DomainError):
    """The request is assigned to somebody else."""

    def __init__(self, request_id: int) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class AlreadyAnswered(DomainError):
    """The follow-up was answered before."""


class UnknownDepartment(DomainError):
    """A department key that the hotel config does not have."""

    def __init__(self, key: str, valid: list[str]) -> None:
        super().__init__(key)
        self.key = key
        self.valid = valid


class QuestionGone(DomainError):
    """No such question of this guest's (or its text was erased)."""


class AlreadySentOn(DomainError):
    """The question was sent on to staff before, as ``request_id``."""

    def __init__(self, request_id: int) -> None:
        super().__init__(request_id)
        self.request_id = request_id
