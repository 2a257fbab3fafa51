"""What the payment cycle tests (test_payment_cycle.py, test_payment_cycle_faults.py,
test_payment_issue_and_ledger_checks.py) share: the fake bank's key (the `bank_server` and `bank` fixtures,
tests/service/conftest.py), the budget lines and people enrolled, a session on the enrolled database and one value
read with SQL."""
from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

KEY = "test-bank-key"
PEOPLE = ["0499370899", "0010350829", "0084575948", "1234567891", "0067749828", "0013542419", "0370162187",
          "0440304933", "2282123456", "0793012345", "0010532129", "0012345679"]


def valid(ids):
    from common.identifiers import is_valid_national_id

    return [i for i in ids if is_valid_national_id(i)]


def scalar(session, sql, **params):
    with session.begin():
        return session.execute(sa.text(sql), params).scalar()


PENSION = {"code": "pension", "title_fa": "مستمری", "per_capita_rials": 12_500_000, "purpose_fa": "مستمری ماهانه",
           "legal_basis_fa": "قانون", "pays": "beneficiary", "yearly_allocation_rials": 10_000_000_000}
# a line whose allocation runs out within a cycle
THIN = {"code": "thin", "title_fa": "ردیف کم‌اعتبار", "per_capita_rials": 9_000_000, "purpose_fa": "کمک",
        "legal_basis_fa": "قانون", "pays": "beneficiary", "yearly_allocation_rials": 20_000_000}


@contextmanager
def enrolled(db_url: str, bank, lines: list[dict]):
    """A session on the payments database with `lines` loaded and every valid person of PEOPLE enrolled in all of
    them (the bank opens their accounts)."""
    from sqlalchemy.orm import Session

    from fakes.bank.app import open_iban
    from services.payments import budget, registry

    engine = sa.create_engine(db_url)
    with Session(engine) as s:
        with s.begin():
            budget.load(s, lines=lines)
            for nid in valid(PEOPLE):
                registry.enrol(s, registry.BeneficiaryIn(
                    national_id=nid, full_name="مددجو", household_size=2, mobile="09121234567", province="tehran",
                    iban=open_iban(nid), lines=[line["code"] for line in lines]), "test", bank)
        yield s
    engine.dispose()
