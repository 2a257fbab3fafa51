"""The complaints service (SPEC C): entrypoints only translate; the rules live in cases.py, staff.py,
org.py and domain.py."""
from __future__ import annotations

from datetime import datetime, timedelta

from nameko.timer import timer

from common import authorization
from common.config import get_settings
from common.db import Database
from common.errors import InvalidRequest
from common.health import HealthRpc
from common.idempotency import once, purge_idempotency_records
from common.observability import Observability
from common.rpc import rpc
from common.validation import parse
from services.complaints import (
    api_keys, cases, domain, evidence, identity_audit, open311, org, outages, reports, staff, steps, sweeps,
)
from services.complaints.models import Case, idempotency_keys
from services.complaints.schemas import (
    Answer, Note, OutageIntake, Rating, Referral, ReportAgain, ReporterCodeRequest, RequiredNote, register_for,
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
        `actor`: the hotline operator or staff member registering on a caller's behalf (SPEC C1), or the
        integrator's key of an Open311 app."""
        intake = register_for(payload, actor)  # the public sets neither channel nor urgency
        secret = domain.case_secret(_seed(idempotency), get_settings().secret_derivation_key)
        with self.db.begin():
            case = once(self.db, idempotency_keys, idempotency, "register_case", intake.model_dump(),
                        lambda: cases.register(self.db, intake, secret, actor),
                        remember=lambda case: {"case_id": case.id}, replay=lambda kept: self.db.get(Case, kept["case_id"]))
            view = cases.public_view(case)  # a retry's too: rebuilt, as no tracking code is kept
        return {**view, "secret": secret} if view["anonymous"] else view

    @rpc
    def get_case(self, tracking_code: str, secret: str | None = None) -> dict:
        with self.db.begin():
            return cases.public_view(cases.find_for_citizen(self.db, tracking_code, secret))

    @rpc
    def get_case_for_staff(self, actor: dict, tracking_code: str) -> dict:
        authorization.require(actor, *org.ROLES)  # staff only: an integrator's key never sees the text
        with self.db.begin():
            return cases.staff_view(self.db, actor, tracking_code)

    @rpc
    def get_case_for_caller(self, actor: dict, tracking_code: str) -> dict:
        authorization.require(actor, *org.ANSWERS_CALLERS)
        with self.db.begin():
            return cases.caller_view(self.db, tracking_code)

    @rpc
    def list_cases_for_staff(self, actor: dict, limit: int = 20, after: str | None = None,
                             mobile: str | None = None) -> dict:
        if mobile is not None:
            authorization.require(actor, *org.FINDS_BY_MOBILE)
        with self.db.begin():
            return cases.list_for_staff(self.db, actor, limit, after, mobile)

    @rpc
    def reporter_identity_views(self, actor: dict, limit: int = 200) -> list:
        """Who was shown a reporter's identity (SPEC C17), for the auditor: the inspection roles who
        see identities cannot be the ones who audit those views."""
        authorization.require(actor, "auditor")
        with self.db.begin():
            return identity_audit.listing(self.db, limit)

    @rpc
    def cartable(self, actor: dict, limit: int = 20, after: str | None = None, filters: dict | None = None) -> dict:
        authorization.require(actor, *org.ACTS_ON_CASES)
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
    # `actor`: a named case's reporter session ({"kind": "reporter", "tracking_code"}, signed by the gateway);
    # an anonymous report is acted on with its secret instead (cases.find_for_reporter)
    @rpc
    def report_again(self, tracking_code: str, secret: str | None, payload: dict, actor: dict | None = None) -> dict:
        report = parse(ReportAgain, payload)
        with self.db.begin():
            return cases.report_again(self.db, tracking_code, secret, report.text, actor)

    @rpc
    def rate_answer(self, tracking_code: str, secret: str | None, payload: dict, actor: dict | None = None) -> dict:
        rating = parse(Rating, payload)
        with self.db.begin():
            return cases.rate(self.db, tracking_code, secret, rating.score, actor)

    @rpc
    def authorise_evidence(self, tracking_code: str, secret: str | None, actor: dict | None = None) -> dict:
        """Asked by the gateway before it reads an upload: the room the case has left, or the refusal."""
        with self.db.begin():
            return evidence.authorise_reporter(self.db, tracking_code, secret, actor)

    @rpc
    def add_evidence(self, tracking_code: str, secret: str | None, filename: str | None, content_b64: str,
                     actor: dict | None = None) -> dict:
        with self.db.begin():
            return evidence.add_from_reporter(self.db, tracking_code, secret, filename, content_b64, actor)

    # Open311 GeoReport v2 for third-party apps (services/complaints/open311.py) --------------------------------
    @rpc
    def open311_requests(self, kinds: list, start: str, end: str, statuses: list, limit: int = 1000) -> list:
        with self.db.begin():
            return open311.requests(self.db, list(kinds), datetime.fromisoformat(start), datetime.fromisoformat(end),
                                    list(statuses), int(limit))

    @rpc
    def open311_request(self, request_id: str) -> dict | None:
        with self.db.begin():
            return open311.request(self.db, str(request_id))

    @rpc
    def reporter_case(self, tracking_code: str, mobile: str) -> str | None:
        """The case's tracking code (as the case has it) if this is the mobile the named case was registered
        with, else None. The gateway texts the code that proves the reporter (purpose case_reporter) only to
        that one, and tells no one which it is."""
        mobile = parse(ReporterCodeRequest, {"mobile": mobile}).mobile
        with self.db.begin():
            return cases.reporter_case(self.db, tracking_code, mobile)

    @rpc
    def add_attachment(self, actor: dict, tracking_code: str, filename: str | None, content_b64: str) -> dict:
        authorization.require(actor, *org.ACTS_ON_CASES)
        with self.db.begin():
            return evidence.add_from_staff(self.db, actor, tracking_code, filename, content_b64)

    @rpc
    def get_file(self, actor: dict, tracking_code: str, file_id: str) -> dict:
        authorization.require(actor, *org.ROLES)
        with self.db.begin():
            return evidence.download(self.db, actor, tracking_code, file_id)

    # reports (SPEC C13, C15) ------------------------------------------------------------------------------
    @rpc
    def dashboard(self, actor: dict, start: str, end: str) -> dict:
        authorization.require(actor, *org.SEES_REPORTS)
        with self.db.begin():
            return reports.dashboard(self.db, actor, *_period(start, end))

    @rpc
    def scorecards(self, actor: dict, start: str, end: str) -> list:
        authorization.require(actor, *org.SEES_REPORTS)
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
        authorization.require(actor, "admin")
        window = parse(OutageIntake, payload)
        with self.db.begin():
            return once(self.db, idempotency_keys, idempotency, "record_outage", window.model_dump(mode="json"),
                        lambda: outages.record_by_operator(self.db, actor, window.starts_at, window.ends_at,
                                                           window.reason))

    @rpc
    def list_outages(self, actor: dict) -> list:
        authorization.require(actor, *org.SEES_REPORTS)
        with self.db.begin():
            return outages.listing(self.db)

    @rpc
    def list_sweep_failures(self, actor: dict) -> list:
        authorization.require(actor, "admin")
        with self.db.begin():
            return sweeps.failures(self.db)

    @rpc
    def retry_sweep_failure(self, actor: dict, sweep: str, subject_id: str) -> dict:
        authorization.require(actor, "admin")
        with self.db.begin():
            return sweeps.retry_now(self.db, actor, sweep, subject_id)

    @timer(interval=600)
    def purge_idempotency(self) -> int:  # every replica: common/retention.py says why that is safe
        return purge_idempotency_records(self.db, idempotency_keys)

    @timer(interval=600)
    def publish_statistics(self) -> list:
        return reports.publish_due_statistics(self.db)

    # staff sessions (SPEC C11, C12) ----------------------------------------------------------------
    @rpc
    def login(self, username: str, password: str, address: str | None = None) -> dict:
        """`address`: the client's, for the login throttle (login_throttle.py)."""
        with self.db.begin():
            outcome = staff.authenticate(self.db, username, password, address)
        if isinstance(outcome, Exception):
            raise outcome  # after the commit, so failed attempts are counted
        return outcome

    @rpc
    def change_password(self, username: str, password: str, new_password: str, address: str | None = None) -> dict:
        """A login that also sets a new password (required after an administrator's reset)."""
        with self.db.begin():
            outcome = staff.authenticate(self.db, username, password, address, new_password=new_password)
        if isinstance(outcome, Exception):
            raise outcome
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
        authorization.require(actor, "admin")
        with self.db.begin():
            return sweeps.revoke_by_admin(self.db, staff_id, reason)

    @rpc
    def list_staff(self, actor: dict, only_revoked: bool = False) -> list:
        authorization.require(actor, "admin")
        with self.db.begin():
            return staff.listing(self.db, only_revoked)

    @rpc
    def deadline_policies(self) -> list:
        with self.db.begin():
            return steps.policy_rows(self.db)

    @rpc
    def set_deadline_policies(self, actor: dict, rules: list) -> list:
        authorization.require(actor, "admin")
        with self.db.begin():
            steps.set_policy(self.db, rules)
            return steps.policy_rows(self.db)

    @rpc
    def restore_access(self, actor: dict, staff_id: str, new_password: str) -> dict:
        authorization.require(actor, "admin")
        with self.db.begin():
            return staff.restore(self.db, actor, staff_id, new_password)

    @rpc
    def password_resets(self, actor: dict) -> list:
        authorization.require(actor, "admin")
        with self.db.begin():
            return staff.pending_resets(self.db)

    @rpc
    def approve_password_reset(self, actor: dict, reset_id: str) -> dict:
        authorization.require(actor, "admin")
        with self.db.begin():
            return staff.approve_reset(self.db, actor, reset_id)

    # integrators' API keys ---------------------------------------------------------------------------
    @rpc
    def issue_api_key(self, actor: dict, name: str, scopes: list, idempotency: dict | None = None) -> dict:
        authorization.require(actor, "admin")
        secret = api_keys.key_secret(_seed(idempotency), get_settings().secret_derivation_key)
        with self.db.begin():
            issued = once(self.db, idempotency_keys, idempotency, "issue_api_key", [name, sorted(scopes)],
                          lambda: api_keys.issue(self.db, actor, name, scopes, secret),
                          remember=lambda issued: {k: v for k, v in issued.items() if k != "key"})
        return {**issued, "key": api_keys.full_key(issued["prefix"], secret)}

    @rpc
    def revoke_api_key(self, actor: dict, key_id: str) -> dict:
        authorization.require(actor, "admin")
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

