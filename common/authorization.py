"""The services' one authorization check: each checks again what the gateway checked (the gateway is
not the only guard; gateway/authorization.yaml says who may do what), with the same refusal everywhere.
Object rules (a case within the caller's sight, a file of a violation report) stay beside their data
(services/complaints/cases.py `may_see`, evidence.py) and raise the same Forbidden or a 404."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from common.errors import Forbidden

STAFF = "staff"
BENEFICIARY = "beneficiary"
INTEGRATOR = "integrator"
REPORTER = "reporter"  # a named case's reporter session (the gateway's, after a code texted to the case's mobile)


def forbidden(detail: str, message: str = "شما اجازهٔ این کار را ندارید.") -> Forbidden:
    return Forbidden("forbidden", message, detail)


def is_staff(actor: dict | None, roles: Iterable[str]) -> bool:
    return bool(actor) and actor.get("kind") == STAFF and actor.get("role") in set(roles)


def has_scope(actor: dict | None, scope: str) -> bool:
    """An integrator's API key that carries this scope."""
    return bool(actor) and actor.get("kind") == INTEGRATOR and scope in actor.get("scopes", ())


def is_reporter_of(actor: dict | None, tracking_code: str) -> bool:
    """The reporter session of this very case (one session opens one case)."""
    return bool(actor) and actor.get("kind") == REPORTER and actor.get("tracking_code") == tracking_code


def require(actor: dict | None, *roles: str) -> dict:
    """A staff member in one of these roles, else Forbidden; the actor, for what follows."""
    if not is_staff(actor, roles):
        raise forbidden(f"needs one of the roles {', '.join(sorted(roles))}")
    return actor


def require_staff_id(actor: dict | None) -> str:
    """A staff member's id (any role): for what belongs to the account itself, such as its notifications."""
    try:
        if actor and actor.get("kind") == STAFF:
            return str(uuid.UUID(str(actor["id"])))
    except (KeyError, ValueError):
        pass
    raise forbidden("needs a staff account")


def require_beneficiary(actor: dict | None) -> str:
    """The national ID of a beneficiary's session: they see only their own."""
    if not actor or actor.get("kind") != BENEFICIARY or not actor.get("national_id"):
        raise forbidden("needs a beneficiary session", "این فهرست فقط برای خود ذی‌نفع است.")
    return actor["national_id"]
