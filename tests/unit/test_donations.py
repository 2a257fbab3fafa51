"""Donations' rules without a database (SPEC P5, P6): receipt numbers, amounts, companies' national IDs, the
gateway's signatures, the ledger's postings, the SMS receipt, and the fake gateway's merchant API."""
from __future__ import annotations

import json
from datetime import date

import pytest

from common.config import Settings
from common.errors import InvalidRequest
from common.events import schemas
from common.events.catalog import DONATION_RECEIVED
from common.events.envelope import new_event
from common.validation import parse
from fakes.ipg.app import create_app as create_ipg
from gateway.app import create_app
from gateway.rpc import RpcClient
from services.notifications import case_messages
from services.notifications.templates import segments
from services.payments import donations, psp
from services.payments.donation_schemas import DonationIn, is_valid_company_id

KEY = "unit-ipg-key"
PERSON = {"province": "tehran", "purpose": {"kind": "line", "code": "child_support"}, "amount_rials": 5_000_000}


class NoRpc(RpcClient):
    def call(self, service, method, *args, **kwargs):
        raise AssertionError("no RPC expected: refused at the door")


def test_receipt_numbers_are_12_digits_with_a_check_digit_and_unique():
    numbers = {donations.new_receipt_number() for _ in range(2000)}
    assert len(numbers) == 2000
    for number in list(numbers)[:200]:
        assert donations.is_receipt_number(number)
        wrong = number[:5] + str((int(number[5]) + 1) % 10) + number[6:]
        assert not donations.is_receipt_number(wrong)  # one digit misread on the phone is caught
    assert not donations.is_receipt_number("12345")


@pytest.mark.parametrize("amount", [0, -5, 1, 9_999, 1.5, "1000", True, None, 10**13, [], "۱۰۰۰"])
def test_an_amount_that_is_not_a_positive_whole_number_of_rials_is_refused_in_persian(amount):
    with pytest.raises(InvalidRequest) as caught:
        parse(DonationIn, {**PERSON, "amount_rials": amount})
    [error] = caught.value.errors
    assert error["field"] == "amount_rials" and "ریال" in error["message"]


def test_whole_amounts_are_taken():
    assert parse(DonationIn, {**PERSON, "amount_rials": 10_000}).amount_rials == 10_000  # the minimum
    assert parse(DonationIn, {**PERSON, "amount_rials": 10_000.0}).amount_rials == 10_000


def test_the_gateway_refuses_a_bad_amount_before_any_service_with_a_problem_naming_the_field():
    client = create_app(NoRpc(config={}, timeout=1), Settings(rate_limits_enabled=False)).test_client()
    response = client.post("/api/v1/donations", json={**PERSON, "amount_rials": 12.5},
                           headers={"Idempotency-Key": "donation-key-0001"})
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"
    [error] = response.get_json()["errors"]
    assert error["field"] == "amount_rials" and "مبلغ" in error["message"]


def test_company_national_ids_have_a_check_digit():
    assert is_valid_company_id("10100834460") and is_valid_company_id("14007650912")
    assert not is_valid_company_id("10100834461") and not is_valid_company_id("1010083446")
    assert not is_valid_company_id("00000000000")
    with pytest.raises(InvalidRequest) as caught:
        parse(DonationIn, {**PERSON, "donor_kind": "company", "donor_name": "شرکت نمونه",
                           "company_national_id": "10100834461"})
    assert caught.value.errors[0]["field"] == "company_national_id"
    assert parse(DonationIn, {**PERSON, "donor_kind": "company", "donor_name": "شرکت نمونه",
                              "company_national_id": "۱۰۱۰۰۸۳۴۴۶۰"}).company_national_id == "10100834460"


def test_a_company_names_itself_and_a_person_has_no_company_id():
    company = parse(DonationIn, {**PERSON, "donor_kind": "company"})
    with pytest.raises(InvalidRequest) as caught:
        donations._check(None, company, date(2026, 11, 26))
    assert {e["field"] for e in caught.value.errors} == {"company_national_id", "donor_name"}
    person = parse(DonationIn, {**PERSON, "company_national_id": "10100834460"})
    with pytest.raises(InvalidRequest) as caught:
        donations._check(None, person, date(2026, 11, 26))
    assert caught.value.errors[0]["field"] == "company_national_id"
    with pytest.raises(InvalidRequest) as caught:
        parse(DonationIn, {**PERSON, "purpose": {"kind": "line", "code": "no_such_line"}})
    assert caught.value.errors[0]["field"].startswith("purpose.") and caught.value.errors[0]["field"].endswith("code")


def test_a_callback_is_signed_over_all_its_fields():
    fields = {"token": "t1", "status": "OK", "reference": "118273645501", "amount": "5000000", "order_id": "4053"}
    signed = {**fields, "signature": psp.callback_signature(KEY, fields)}
    assert psp.callback_is_signed(KEY, signed)
    assert not psp.callback_is_signed("another key", signed)
    for name in ("token", "status", "reference", "amount", "order_id"):
        assert not psp.callback_is_signed(KEY, {**signed, name: signed[name] + "0"}), name
    assert not psp.callback_is_signed(KEY, fields)  # no signature at all


def test_donation_postings_balance_and_name_the_province_and_purpose():
    account = donations.purpose_account("bushehr", "campaign", "bushehr_rehab_centers")
    verified = donations.received("d1", account, 2_000_000)
    settled = donations.settled("d1", 2_000_000)
    assert dict(verified.lines) == {"psp_receivable": 2_000_000, "donations:bushehr:campaign.bushehr_rehab_centers":
                                    -2_000_000}
    assert dict(settled.lines) == {"bank": 2_000_000, "psp_receivable": -2_000_000}
    assert verified.key != settled.key


def test_the_sms_receipt_fits_two_parts_with_the_largest_values():
    example = schemas.load_schema(DONATION_RECEIVED.type)["examples"][0]
    event = new_event(DONATION_RECEIVED, {**example, "amount_rials": 10**12, "province_fa": "کهگیلویه و بویراحمد",
                                          "purpose_fa": "حق پرستاری و نگهداری افراد دارای معلولیت شدید در منزل"})
    [message] = case_messages.for_donation(event)
    body = message.render()
    assert example["receipt_number"] in body and segments(body) <= 2
    anonymous = {k: v for k, v in example.items() if k != "mobile"}
    assert case_messages.for_donation(new_event(DONATION_RECEIVED, anonymous)) == []


def test_the_fake_gateway_signs_its_answers_and_verifies_only_the_amount_paid():
    app = create_ipg("m1", KEY)
    client = app.test_client()

    def call(path, **body):
        response = client.post(path, json={"merchant_id": "m1", **body})
        assert response.headers["X-Signature"] == psp.sign(KEY, response.get_data())
        return response.status_code, json.loads(response.get_data())

    status, token = call("/api/v1/token", amount=5000, order_id="405318920477", callback_url="http://x/cb")
    assert status == 200 and token["redirect_url"].endswith(token["token"])
    assert call("/api/v1/verify", token=token["token"], amount=5000)[1]["error"] == "not_paid"
    fields = client.post("/api/pay", json={"token": token["token"]}).get_json()["fields"]
    assert psp.callback_is_signed(KEY, fields) and fields["status"] == "OK" and fields["amount"] == "5000"
    assert call("/api/v1/verify", token=token["token"], amount=4000)[1]["error"] == "amount_mismatch"
    status, verified = call("/api/v1/verify", token=token["token"], amount=5000)
    assert status == 200 and verified["reference"] == fields["reference"] and not verified["already_verified"]
    assert call("/api/v1/settle", reference=fields["reference"])[1]["settled"] is True
    assert client.post("/api/v1/token", json={"merchant_id": "someone", "amount": 1, "order_id": "1",
                                              "callback_url": "http://x"}).status_code == 401
    page = client.get(f"/pay/{token['token']}")
    assert page.status_code == 200 and 'dir="rtl"' in page.get_data(as_text=True)
