"""The beneficiary registry (SPEC P2): who is paid, where, in which budget lines; every change audited.
On a session the caller owns."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common.errors import FieldError, InvalidRequest, NotFound
from services.payments.models import AuditEntry, Beneficiary, BudgetLine, Enrolment
from services.payments.schemas import BeneficiaryIn

STATUSES = ("active", "suspended", "deceased")


def _snapshot(person: Beneficiary | None) -> dict | None:
    if person is None:
        return None
    return {"full_name": person.full_name, "household_size": person.household_size, "mobile": person.mobile,
            "province": person.province, "iban": person.iban, "status": person.status}


def _audit(session: Session, national_id: str, actor: str, action: str, before, after) -> None:
    session.add(AuditEntry(national_id=national_id, actor=actor, action=action, before=before, after=after))


def enrol(session: Session, data: BeneficiaryIn, actor: str, bank) -> dict:
    """Add a person (or update them) and enrol them in budget lines, once each. The Sheba is used
    only when the bank confirms that the account is this person's."""
    from common.identifiers import InvalidIdentifier, normalise_sheba

    try:
        iban = normalise_sheba(data.iban)
    except InvalidIdentifier as exc:
        raise InvalidRequest([FieldError("iban", exc.code, exc.message_fa, exc.detail)]) from None
    unknown = [line for line in data.lines if session.get(BudgetLine, line) is None]
    if unknown:
        raise InvalidRequest([FieldError("lines", "unknown_budget_line", "ردیف بودجه ناشناخته است.",
                                         f"no budget line {', '.join(unknown)}")])
    owner = bank.owner_of(iban)
    if owner != data.national_id:
        raise InvalidRequest([FieldError("iban", "account_not_owned",
                                         "این حساب به نام صاحب این کد ملی نیست.",
                                         "the bank says the account belongs to someone else")])
    now = datetime.now(timezone.utc)
    person = session.get(Beneficiary, data.national_id, with_for_update=True)
    before = _snapshot(person)
    if person is None:
        person = Beneficiary(national_id=data.national_id, status="active")
        session.add(person)
    person.full_name, person.household_size, person.mobile = data.full_name, data.household_size, data.mobile
    person.province, person.iban, person.iban_verified_at = data.province, iban, now
    session.flush()
    added = session.scalars(insert(Enrolment).values([{"national_id": data.national_id, "line": line,
                                                       "since": data.since} for line in data.lines])
                            .on_conflict_do_nothing().returning(Enrolment.line)).all()
    _audit(session, data.national_id, actor, "enrol" if before is None else "update", before,
           {**_snapshot(person), "lines_added": list(added)})
    return view(session, data.national_id)


def set_status(session: Session, national_id: str, status: str, actor: str) -> dict:
    if status not in STATUSES:
        raise InvalidRequest([FieldError("status", "unknown_status", "وضعیت ناشناخته است.", f"not one of {STATUSES}")])
    person = _get(session, national_id)
    before = _snapshot(person)
    person.status = status
    _audit(session, national_id, actor, "status", before, _snapshot(person))
    return view(session, national_id)


def _get(session: Session, national_id: str) -> Beneficiary:
    person = session.get(Beneficiary, national_id, with_for_update=True)
    if person is None:
        raise NotFound("beneficiary_not_found", "مددجویی با این کد ملی ثبت نشده است.", "no such beneficiary")
    return person


def view(session: Session, national_id: str) -> dict:
    person = session.get(Beneficiary, national_id)
    if person is None:
        raise NotFound("beneficiary_not_found", "مددجویی با این کد ملی ثبت نشده است.", "no such beneficiary")
    lines = session.scalars(select(Enrolment.line).where(Enrolment.national_id == national_id)).all()
    return {"national_id": person.national_id, **_snapshot(person), "lines": sorted(lines),
            "iban_verified": person.iban_verified_at is not None}


def history(session: Session, national_id: str) -> list[dict]:
    rows = session.scalars(select(AuditEntry).where(AuditEntry.national_id == national_id).order_by(AuditEntry.id))
    return [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "before": r.before, "after": r.after}
            for r in rows]
