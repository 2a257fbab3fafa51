"""A month's pensions through the real platform: finance staff open and approve a cycle at the gateway,
the payments worker sends ISO 20022 files to the fake bank and reconciles its statements, the ledger
balances, and each paid beneficiary with a mobile gets "your pension was paid" by SMS."""
from __future__ import annotations

import re

import pytest
import requests

from fakes.bank.app import open_iban
from tests.e2e.payments import LINE, PEOPLE, cycle_reaches

pytestmark = pytest.mark.e2e


def test_finance_staff_pay_a_month_and_every_paid_person_hears_of_it(platform, api, funded):
    for national_id, mobile in PEOPLE.items():
        enrolled = api.call("POST", "/api/v1/staff/payments/beneficiaries", "finance.expert", json={
            "national_id": national_id, "full_name": "مددجوی نمونه", "household_size": 2, "province": "tehran",
            "iban": open_iban(national_id), "lines": [LINE], **({"mobile": mobile} if mobile else {})})
        assert enrolled.status_code == 200, enrolled.text
    not_theirs = api.call("POST", "/api/v1/staff/payments/beneficiaries", "finance.expert", json={
        "national_id": "0499370899", "full_name": "x y", "household_size": 1, "province": "tehran",
        "iban": open_iban("0010350829"), "lines": [LINE]})
    assert not_theirs.status_code == 400 and not_theirs.json()["errors"][0]["field"] == "iban"

    key = {"Idempotency-Key": "open-1405-09-elderly-0001"}
    opened = api.call("POST", "/api/v1/staff/payments/cycles", "finance.expert", headers=dict(key),
                      json={"month": "1405-09", "line": LINE})
    assert opened.status_code == 201, opened.text
    assert opened.json()["stage"] == "entitlements_computed" and opened.json()["beneficiaries"] == 3
    again = api.call("POST", "/api/v1/staff/payments/cycles", "finance.expert", headers=dict(key),
                     json={"month": "1405-09", "line": LINE})
    assert again.status_code == 201 and again.json()["id"] == opened.json()["id"]  # a retry: the same cycle
    cycle_id = opened.json()["id"]
    assert api.call("POST", f"/api/v1/staff/payments/cycles/{cycle_id}/approve", "finance.expert").status_code == 403
    approved = api.call("POST", f"/api/v1/staff/payments/cycles/{cycle_id}/approve", "finance.approver")
    assert approved.status_code == 200, approved.text

    settled = cycle_reaches(api, cycle_id, "settled")
    assert settled["stage"] == "settled" and settled["orders"] == {"paid": 3}
    listed = api.call("GET", "/api/v1/staff/payments/cycles", "auditor", params={"month": "1405-09"}).json()["items"]
    assert [(c["id"], c["stage"]) for c in listed] == [(cycle_id, "settled")]
    assert api.call("GET", "/api/v1/staff/payments/cycles", "rey.expert").status_code == 403
    # what the PaymentCycleStuck alert reads: no cycle left in any stage once this one settled
    metrics = requests.get(f"http://127.0.0.1:{platform['metrics']['payments']}/metrics", timeout=10).text
    waiting = re.findall(r'^payment_cycles\{stage="(\w+)"\} (\S+)$', metrics, re.M)
    assert len(waiting) >= 7 and all(float(n) == 0 for _, n in waiting), waiting
    assert api.call("GET", "/api/v1/staff/payments/ledger/check", "auditor").json() == {"balanced": True,
                                                                                       "problems": []}
    lines = {line["code"]: line for line in api.call("GET", "/api/v1/payments/budget-lines").json()["items"]}
    assert lines[LINE]["spent_rials"] == 3 * lines[LINE]["per_capita_rials"]
    for mobile in filter(None, PEOPLE.values()):
        sms = requests.get(f"{platform['sms']}/api/messages", params={"receptor": mobile, "wait": 30},
                           timeout=40).json()
        assert len(sms) == 1 and "واریز شد" in sms[0]["message"]
