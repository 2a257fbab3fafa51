"""What the payment cycle tests (test_payment_cycle.py, test_payment_cycle_faults.py) share: the fake bank's key
(the `bank_server` and `bank` fixtures, tests/service/conftest.py), the people enrolled and one value read with SQL."""
from __future__ import annotations

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
