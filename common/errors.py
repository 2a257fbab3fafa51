"""Errors that cross RPC intact: nameko re-raises them in the gateway as the same class with the
same arguments, and the gateway turns each into application/problem+json."""
from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


class FieldError(dict):
    """One field at fault: the JSON path of the field, a stable code, a Persian message for people
    and an English detail for developers."""

    def __init__(self, field: str, code: str, message: str, detail: str):
        super().__init__(field=field, code=code, message=message, detail=detail)


@deserialize_to_instance
class InvalidRequest(Exception):
    expected = True  # a client's mistake, not a failure of the service

    def __init__(self, errors: list):
        super().__init__(errors)
        self.errors = [_restored(dict(e)) for e in errors]


def _restored(error: dict) -> dict:
    """A file's line number (uploads) as a number again: nameko sends every non-string argument as text."""
    if "line" in error:
        error["line"] = int(error["line"])
    return error


class ClientError(Exception):
    """An answer to a client's mistake, not a failure of the service: a stable code, a Persian
    message for people and an English detail for developers."""

    expected = True

    def __init__(self, code: str, message: str, detail: str):
        super().__init__(code, message, detail)
        self.code, self.message, self.detail = code, message, detail


@deserialize_to_instance
class NotFound(ClientError):
    pass


@deserialize_to_instance
class Unauthenticated(ClientError):
    """Who is asking could not be established: wrong password, an expired or revoked session."""


@deserialize_to_instance
class Forbidden(ClientError):
    pass


@deserialize_to_instance
class Conflict(ClientError):
    """The request is understood but the thing is not in a state that allows it (a case already
    answered, a step not the caller's to take)."""


@deserialize_to_instance
class TooManyRequests(ClientError):
    """Too many tries or requests for now: HTTP 429, with when to try again."""

    def __init__(self, code: str, message: str, detail: str, retry_after: int | str = 60):
        super().__init__(code, message, detail)
        self.retry_after = int(retry_after)  # nameko sends arguments as strings
        self.args = (code, message, detail, self.retry_after)  # so it crosses RPC whole
