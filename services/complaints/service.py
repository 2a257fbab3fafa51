"""The complaints service (SPEC C): entrypoints only translate; the rules live in cases.py, staff.py,
org.py and domain.py."""
from __future__ import annotations

from datetime import timedelta

from nameko.timer import timer

from common.config import get_settings
from common.db import Database
from common.errors import InvalidRequest
from common.health import HealthRpc
from common.idempotency import once
from common.observability import Observability
from common.rpc import rpc
from common.validation import parse
from services.complaints import api_keys, cases, domain, evidence, org, outages, reports, staff, steps, sweeps
from services.complaints.models import idempotency_keys
from services.complaints.schemas import (
    Answer, CaseIntake, Note, OutageIntake, Rating, Referral, ReportAgain, RequiredNote,
)


class ComplaintsService(HealthRpc):
    name = "complaints"

    db = Database("complaints")
    observability = Observability()

    # cases --------------------------------------------------------------------------------------
    @rpc
    def register_case(self, payload: dict, idempotency: dict | None = None, actor: dict | None = None) -> dict:
        """`idempotency`: {"client", "key"} from the caller's Idempotency-Key header. An anonymous
        report's answer carries its secret, which is never stored (a retry derives it again).
        `actor`: the hotline operator or staff member registering on a caller's behalf (SPEC C1)."""
        intake = parse(CaseIntake, payload)
        if actor is not None:
            staff.require_role(actor, *org.ROLES)
            intake = intake.model_copy(update={"channel": domain.channel_of_staff(actor["role"], intake.channel)})
        secret = domain.case_secret(_seed(idempotency), get_settings().secret_derivation_key)
        with self.db.begin():
            view = once(self.db, idempotency_keys, idempotency, "register_case", intake.model_dump(),
                        lambda: cases.public_view(cases.register(self.db, intake, secret, actor)))
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
    def list_cases_for_staff(self, actor: dict, limit: int = 20, after: str | None = None,
                             mobile: str | None = None) -> dict:
        if mobile is not None:
            staff.require_role(actor, *org.FINDS_BY_MOBILE)
        with self.db.begin():
            return cases.list_for_staff(self.db, actor, limit, after, mobile)

    @rpc
    def cartable(self, actor: dict, limit: int = 20, after: str | None = None, filters: dict | None = None) -> dict:
        staff.require_role(actor, *org.ACTS_ON_CASES)
        with self.db.begin():
            return cases.cartable(self.db, actor, limit, after, filters)

    # the case's way through the organization (SPEC C4-C6) --------------------------------------------
    @rpc
    def refer_case(self, actor: dict, tracking_code: str, payload: dict) -> dict:
        referral = parse(Referral, payload)
        with self.db.begin():
            return cases.refer(self.db, actor, tracking_code, referral.unit, referral.note)

    @rpc
    def answer_case(self, actor: dict, tracking_code: str, payload: dict) -> dict:
        reply = parse(Answer, payload)
        with self.db.begin():
            return cases.answer(self.db, actor, tracking_code, reply.text, reply.attachments)

    @rpc
    def approve_answer(self, actor: dict, tracking_code: str, payload: dict) -> dict:
        note = parse(Note, payload)
        with self.db.begin():
            return cases.approve(self.db, actor, tracking_code, note.note)

    @rpc
    def return_answer(self, actor: dict, tracking_code: str, payload: dict) -> dict:
        note = parse(RequiredNote, payload)
        with self.db.begin():
            return cases.return_answer(self.db, actor, tracking_code, note.note)

    @rpc
    def request_evidence(self, actor: dict, tracking_code: str, payload: dict) -> dict:
        note = parse(RequiredNote, payload)
        with self.db.begin():
            return cases.request_evidence(self.db, actor, tracking_code, note.note)

    # the citizen after the answer (SPEC C10) and evidence (C4) ------------------------------------------
    @rpc
    def report_again(self, tracking_code: str, secret: str | None, payload: dict) -> dict:
        report = parse(ReportAgain, payload)
        with self.db.begin():
            return cases.report_again(self.db, tracking_code, secret, report.text)

    @rpc
    def rate_answer(self, tracking_code: str, secret: str | None, payload: dict) -> dict:
        rating = parse(Rating, payload)
        with self.db.begin():
            return cases.rate(self.db, tracking_code, secret, rating.score)

    @rpc
    def add_evidence(self, tracking_code: str, secret: str | None, filename: str | None, content_b64: str) -> dict:
        with self.db.begin():
            return evidence.add_from_reporter(self.db, tracking_code, secret, filename, content_b64)

    @rpc
    def add_attachment(self, actor: dict, tracking_code: str, filename: str | None, content_b64: str) -> dict:
        staff.require_role(actor, *org.ACTS_ON_CASES)
        with self.db.begin():
            return evidence.add_from_staff(self.db, actor, tracking_code, filename, content_b64)

    @rpc
    def get_file(self, actor: dict, tracking_code: str, file_id: str) -> dict:
        staff.require_role(actor, *org.ROLES)
        with self.db.begin():
            return evidence.download(self.db, actor, tracking_code, file_id)

    # reports (SPEC C13, C15) ------------------------------------------------------------------------------
    @rpc
    def dashboard(self, actor: dict, start: str, end: str) -> dict:
        staff.require_role(actor, *org.SEES_REPORTS)
        with self.db.begin():
            return reports.dashboard(self.db, actor, *_period(start, end))

    @rpc
    def scorecards(self, actor: dict, start: str, end: str) -> list:
        staff.require_role(actor, *org.SEES_REPORTS)
        with self.db.begin():
            return reports.scorecards(self.db, actor, *_period(start, end))

    @rpc
    def org_units(self, kind: str | None = None, parent: str | None = None) -> list:
        return org.listing(kind, parent)

    # timers: safe in every replica (SKIP LOCKED, or a row per period) -------------------------------
    @timer(interval=get_settings().deadline_sweep_seconds)
    def sweep_deadlines(self) -> dict:
        """First the pulse (a silence since the last one long enough is recorded as an outage, which the
        sweeps then count out of every deadline), and again after each batch (outages.py)."""
        interval = timedelta(seconds=get_settings().deadline_sweep_seconds)

        def beat():
            outages.pulse(self.db, outages.DEADLINE_PULSE, interval)

        beat()
        done = {"warned": sweeps.run_until_done(sweeps.warn_due, self.db, between=beat),
                "escalated": sweeps.run_until_done(sweeps.escalate_overdue, self.db, between=beat),
                "closed": sweeps.run_until_done(sweeps.close_answered, self.db, between=beat)}
        sweeps.refresh_set_aside_gauge(self.db)
        return done

    @timer(interval=300)
    def sweep_inactive_staff(self) -> int:
        revoked = sweeps.revoke_inactive(self.db)
        sweeps.refresh_set_aside_gauge(self.db)
        return revoked

    # outages and the sweeps' set-aside rows (issue 17: outages do not count against people; one bad row
    # never stops a sweep) --------------------------------------------------------------------------------
    @rpc
    def record_outage(self, actor: dict, payload: dict, idempotency: dict | None = None) -> dict:
        staff.require_role(actor, "admin")
        window = parse(OutageIntake, payload)
        with self.db.begin():
            return once(self.db, idempotency_keys, idempotency, "record_outage", window.model_dump(mode="json"),
                        lambda: outages.record_by_operator(self.db, actor, window.starts_at, window.ends_at,
                                                           window.reason))

    @rpc
    def list_outages(self, actor: dict) -> list:
        staff.require_role(actor, *org.SEES_REPORTS)
        with self.db.begin():
            return outages.listing(self.db)

    @rpc
    def list_sweep_failures(self, actor: dict) -> list:
        staff.require_role(actor, "admin")
        with self.db.begin():
            return sweeps.failures(self.db)

    @rpc
    def retry_sweep_failure(self, actor: dict, sweep: str, subject_id: str) -> dict:
        staff.require_role(actor, "admin")
        with self.db.begin():
            return sweeps.retry_now(self.db, actor, sweep, subject_id)

    @timer(interval=600)
    def publish_statistics(self) -> list:
        return reports.publish_due_statistics(self.db)

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
            return sweeps.revoke_by_admin(self.db, staff_id, reason)

    @rpc
    def list_staff(self, actor: dict, only_revoked: bool = False) -> list:
        staff.require_role(actor, "admin")
        with self.db.begin():
            return staff.listing(self.db, only_revoked)

    @rpc
    def deadline_policies(self) -> list:
        with self.db.begin():
            return steps.policy_rows(self.db)

    @rpc
    def set_deadline_policies(self, actor: dict, rules: list) -> list:
        staff.require_role(actor, "admin")
        with self.db.begin():
            steps.set_policy(self.db, rules)
            return steps.policy_rows(self.db)

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


def _period(start: str, end: str):
    from datetime import datetime

    try:
        return datetime.fromisoformat(start.replace("Z", "+00:00")), datetime.fromisoformat(end.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise InvalidRequest([{"field": "from", "code": "invalid_date", "message": "تاریخ درست نیست.",
                               "detail": "from and to must be ISO 8601 date-times"}]) from None


def _seed(idempotency: dict | None) -> str | None:
    return f"{idempotency['client']}|{idempotency['key']}" if idempotency else None


SERVICE = ComplaintsService

