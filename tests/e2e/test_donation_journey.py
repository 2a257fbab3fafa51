"""A donation through the real platform (SPEC P5, P6): a donor starts it at the gateway, pays at the fake internet
payment gateway, which brings the browser back to the callback; the receipt has its number and Jalali date, the
ledger balances, the donor gets the receipt by SMS, and a forged or replayed callback changes nothing."""
from __future__ import annotations

import re
from html import unescape

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.payments import ledger_store

pytestmark = pytest.mark.e2e

MOBILE = "09123334455"
DONATION = {"donor_name": "مریم احمدی", "mobile": MOBILE, "province": "bushehr",
            "purpose": {"kind": "campaign", "code": "bushehr_rehab_centers"}, "amount_rials": 7_500_000}


def _fields_of(page: str) -> tuple[str, dict]:
    """What the gateway's page posts back to the merchant: its form's action and hidden fields."""
    action = unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
    fields = {name: unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}
    return action, fields


def test_a_donor_gives_pays_at_the_gateway_and_gets_a_receipt_and_an_sms(platform, campaigns):
    base = platform["base"]
    purposes = requests.get(f"{base}/api/v1/donations/purposes", timeout=10).json()
    assert "bushehr_rehab_centers" in {c["code"] for c in purposes["campaigns"]}

    bad = requests.post(f"{base}/api/v1/donations", json={**DONATION, "amount_rials": -10},
                        headers={"Idempotency-Key": "donation-e2e-bad-0001"}, timeout=10)
    assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "amount_rials"

    key = {"Idempotency-Key": "donation-e2e-0001"}
    started = requests.post(f"{base}/api/v1/donations", json=DONATION, headers=key, timeout=20)
    assert started.status_code == 201, started.text
    again = requests.post(f"{base}/api/v1/donations", json=DONATION, headers=key, timeout=20)
    assert again.status_code == 201 and again.json() == started.json()  # a retry: the same donation
    donation = started.json()

    # the donor's browser at the gateway: the page, then "pay", which posts back to our callback
    redirect = donation["redirect_url"]
    assert requests.get(redirect, timeout=10).status_code == 200
    paid_page = requests.post(redirect, data={"action": "pay"}, timeout=10)
    callback_url, fields = _fields_of(paid_page.text)
    assert callback_url == f"{base}/api/v1/donations/callback"

    forged = requests.post(callback_url, data={**fields, "amount": "7500"}, timeout=20)
    assert forged.status_code == 403 and forged.json()["code"] == "callback_forged"

    receipt = requests.post(callback_url, data=fields, timeout=30)
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["status"] == "paid" and receipt.json()["receipt_number"] == donation["receipt_number"]
    replayed = requests.post(callback_url, data=fields, timeout=20)
    assert replayed.status_code == 409 and replayed.json()["code"] == "callback_replayed"

    shown = requests.get(f"{base}/api/v1/donations/{donation['id']}/receipt", timeout=10).json()
    assert shown["status"] == "paid" and shown["amount_rials"] == 7_500_000
    assert re.fullmatch(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2} [۰-۹]{2}:[۰-۹]{2}", shown["paid_at"]["jalali"])
    assert shown["province_fa"] == "بوشهر" and shown["mobile_masked"] == "0912***4455"
    assert requests.get(f"{base}/api/v1/donations/00000000-0000-4000-8000-000000000000/receipt",
                        timeout=10).status_code == 404

    dataset = requests.get(f"{base}/api/v1/donations/dataset", timeout=10).json()
    assert dataset["total_rials"] == 7_500_000 and MOBILE not in str(dataset)

    engine = sa.create_engine(platform["db"]["payments"])
    with Session(engine) as session, session.begin():
        assert ledger_store.check(session) == []
        assert ledger_store.balance(session, "bank") == 7_500_000
        assert session.scalar(sa.text("SELECT count(*) FROM donations WHERE status = 'paid'")) == 1
    engine.dispose()

    sms = requests.get(f"{platform['sms']}/api/messages", params={"receptor": MOBILE, "wait": 30}, timeout=40).json()
    assert len(sms) == 1 and donation["receipt_number"] in sms[0]["message"]
