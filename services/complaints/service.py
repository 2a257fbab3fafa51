"""The complaints service (SPEC C): entrypoints only translate; the rules live in cases.py, staff.py,
org.py and domain.py."""
from __future__ import annotations

from common.rpc import rpc

from common.config import get_settings
from common.db import Database
from common.health import HealthRpc
from common.idempotency import once
from common.observability import Observability
from common.validation import parse
from services.complaints import api_keys, cases, domain, org, staff
from services.complaints.models import idempotency_keys
from services.complaints.schemas import CaseIntake


class ComplaintsService(HealthRpc):
    name = "complaints"

    db = Database("complaints")
    observability = Observability()

    # cases --------------------------------------------------------------------------------------
    @rpc
    def register_case(self, payload: dict, idempotency: dict | None = None) -> dict:
        """`idempotency`: {"client", "key"} from the caller's Idempotency-Key header. An anonymous
        report's answer carries its secret, which is never stored (a retry derives it again)."""
        intake = parse(CaseIntake, payload)
        secret = domain.case_secret(_seed(idempotency), get_settings().secret_derivation_key)
        with self.db.begin():
            view = once(self.db, idempotency_keys, idempotency, "register_case", intake.model_dump(),
                        lambda: cases.public_view(cases.register(self.db, intake, secret)))
        return {**view, "secret": secret} if view["anonymous"] else view

    @rpc
    def get_case(self, tracking_code: str, secret: str | None = None) -> dict:
        with self.db.begin():
            return cases.public_view(cases.find_for_citizen(self.db, tracking_code, secret))

    @rpc
    def get_case_for_staff(self, actor: dict, tracking_code: str) -> dict:
        staff.require_role(actor, *org.ROLES)  # staff only: an integrator's key never sees the text
        with self.db.begin():
            return cases.staff_view(self.db, actor, tracking_code)

    @rpc
    def list_cases_for_staff(self, actor: dict, limit: int = 20, after: str | None = None) -> dict:
        with self.db.begin():
            return cases.list_for_staff(self.db, actor, limit, after)

    # staff sessions (SPEC C11, C12) ----------------------------------------------------------------
    @rpc
    def login(self, username: str, password: str) -> dict:
        with self.db.begin():
            outcome = staff.authenticate(self.db, username, password)
        if isinstance(outcome, Exception):
            raise outcome  # after the commit, so failed attempts are counted
        return outcome

    @rpc
    def refresh_session(self, refresh_token: str) -> dict:
        with self.db.begin():
            outcome = staff.refresh(self.db, refresh_token)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @rpc
    def logout(self, refresh_token: str) -> None:
        with self.db.begin():
            staff.logout(self.db, refresh_token)

    @rpc
    def principal(self, staff_id: str, credentials_version: int) -> dict:
        with self.db.begin():
            return staff.current_principal(self.db, staff_id, credentials_version)

    @rpc
    def revoke_access(self, actor: dict, staff_id: str, reason: str) -> dict:
        staff.require_role(actor, "admin")
        with self.db.begin():
            return staff.revoke(self.db, staff_id, reason)

    @rpc
    def restore_access(self, actor: dict, staff_id: str, new_password: str) -> dict:
        staff.require_role(actor, "admin")
        with self.db.begin():
            return staff.restore(self.db, staff_id, new_password)

    # integrators' API keys ---------------------------------------------------------------------------
    @rpc
    def issue_api_key(self, actor: dict, name: str, scopes: list, idempotency: dict | None = None) -> dict:
        staff.require_role(actor, "admin")
        secret = api_keys.key_secret(_seed(idempotency), get_settings().secret_derivation_key)
        with self.db.begin():
            issued = once(self.db, idempotency_keys, idempotency, "issue_api_key", [name, sorted(scopes)],
                          lambda: api_keys.issue(self.db, actor, name, scopes, secret), redact=("key",))
        return {**issued, "key": api_keys.full_key(issued["prefix"], secret)}

    @rpc
    def revoke_api_key(self, actor: dict, key_id: str) -> dict:
        staff.require_role(actor, "admin")
        with self.db.begin():
            return api_keys.revoke(self.db, key_id)

    @rpc
    def api_key_principal(self, key: str) -> dict:
        with self.db.begin():
            return api_keys.principal_for(self.db, key)


def _seed(idempotency: dict | None) -> str | None:
    return f"{idempotency['client']}|{idempotency['key']}" if idempotency else None


SERVICE = ComplaintsService

