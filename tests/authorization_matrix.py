"""Reads gateway/authorization.yaml and says what a caller should receive: shared by the unit test
(every route has an entry that agrees with its @requires mark) and the e2e walk (the running platform
answers as the entry says)."""
from __future__ import annotations

import re
from functools import lru_cache

import yaml

from common.config import PROJECT_ROOT

MATRIX_FILE = PROJECT_ROOT / "gateway" / "authorization.yaml"
NO_CREDENTIALS = ("anonymous", "citizen", "reporter")
KEY_SCOPES = {"key_cases_read": "cases:read", "key_open311_write": "open311:write"}
# callers whose name is not their role
ROLE_OF = {"county_expert_elsewhere": "county_expert"}
_PARAMETER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


@lru_cache
def matrix() -> dict:
    return yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))


def operations() -> dict[str, dict]:
    return matrix()["operations"]


def callers() -> list[str]:
    return list(matrix()["callers"])


def objects() -> list[str]:
    return list(matrix()["objects"])


def role_of(caller: str) -> str | None:
    """The role a staff caller signs in with ("beneficiary" for the beneficiary); None for the others."""
    if caller in NO_CREDENTIALS or caller in KEY_SCOPES:
        return None
    return ROLE_OF.get(caller, caller)


def roles(entry: dict) -> set[str]:
    """The entry's roles with its groups expanded."""
    groups = matrix()["groups"]
    found: set[str] = set()
    for name in entry.get("roles", ()):
        found |= set(groups.get(name, [name]))
    return found


def admitted(entry: dict, caller: str) -> bool:
    """Does the route's mark let this caller in (before anything about the object)?"""
    if "roles" not in entry and "scope" not in entry:
        return True
    if caller in KEY_SCOPES:
        return entry.get("scope") == KEY_SCOPES[caller]
    return role_of(caller) in roles(entry)


def relations(caller: str, obj: str | None) -> list[str]:
    """The caller's relations to the object, narrowest first: a holder is also in sight."""
    if obj is None:
        return []
    if caller in matrix()["holders"][obj]:
        return ["holder", "in_sight"]
    return ["in_sight"] if caller in matrix()["sight"][obj] else ["out_of_sight"]


def expected(entry: dict, caller: str, obj: str | None = None) -> int:
    """The status this caller should receive for this object (None: an operation without objects)."""
    if not admitted(entry, caller):
        return 401 if caller in NO_CREDENTIALS else 403
    return _resolve(entry["answer"], caller, obj)


def _resolve(answer, caller: str, obj: str | None) -> int:
    if isinstance(answer, int):
        return answer
    groups = matrix()["groups"]
    role = role_of(caller)
    for key in (caller, obj, *relations(caller, obj)):
        if key is not None and key in answer:
            return _resolve(answer[key], caller, obj)
    for key, value in answer.items():
        if key in groups and role in groups[key]:
            return _resolve(value, caller, obj)
    if "others" in answer:
        return _resolve(answer["others"], caller, obj)
    raise KeyError(f"no answer for {caller} on {obj}: {answer}")


def key_of(method: str, rule: str) -> str:
    """"GET /api/v1/cases/{tracking_code}" from a Flask rule ("/api/v1/cases/<tracking_code>")."""
    return method.upper() + " " + _PARAMETER.sub(r"{\1}", rule)
