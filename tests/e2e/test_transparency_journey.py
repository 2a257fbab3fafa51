"""The Shafaf portal through the real platform: a payment cycle settles in payments, its disbursements
reach transparency by events, the beneficiary logs in with the one-time code the fake SMS operator
received and sees the payment; the budget dataset shows the lines payments loaded (they too travel by
event) with what was paid; the public side serves every dataset in every format with ETags, and no public
answer holds a national ID or a mobile; anyone can verify the published versions."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
import rdflib
import requests

from common.budget_lines import BUDGET_LINES
from services.transparency.formats import fiscal, ocds
from services.transparency.verify import verify_api
from tests.e2e.transparency import LINE, PEOPLE, _until

pytestmark = pytest.mark.e2e
PLATFORM_ENV = {"TRANSPARENCY_DEMO_SCALE": "1"}  # the whole demo: its 22,000 contracts are downloaded in every format

NOBODY = "4608968882"  # a valid national ID that receives nothing


def test_a_settled_cycle_reaches_the_beneficiary_who_logs_in_with_a_one_time_code(platform, paid):
    base = f"{platform['base']}/api/v1/transparency"
    national_id, mobile = next(iter(PEOPLE.items()))
    # the disbursements travel by event: the public totals show when transparency has them
    _until(lambda: requests.get(f"{base}/spending?by=line", timeout=10).json(),
           lambda body: body["households"] == len(PEOPLE), "the cycle's payments at transparency")
    asked = requests.post(f"{base}/me/code", json={"national_id": national_id}, timeout=10)
    nobody = requests.post(f"{base}/me/code", json={"national_id": NOBODY}, timeout=10)
    assert asked.status_code == nobody.status_code == 202 and asked.json() == nobody.json()
    # "your pension was paid", then the code
    sms = requests.get(f"{platform['sms']}/api/messages", params={"receptor": mobile, "wait": 30, "min": 2},
                       timeout=40).json()
    code = re.search(r"کد ورود شما (\d{6})", " ".join(m["message"] for m in sms)).group(1)

    refused = requests.post(f"{base}/me/session", json={"national_id": NOBODY, "code": code}, timeout=10)
    assert refused.status_code == 401 and refused.json()["errors"][0]["field"] == "code"
    assert requests.get(f"{base}/me/payments", timeout=10).status_code == 401
    session = requests.post(f"{base}/me/session", json={"national_id": national_id, "code": code}, timeout=10)
    assert session.status_code == 200, session.text
    token = session.json()["token"]

    mine = _until(lambda: requests.get(f"{base}/me/payments", headers={"Authorization": f"Bearer {token}"},
                                       timeout=10).json(),
                  lambda body: body.get("items"), "the payment in the beneficiary's history")
    payment = mine["items"][0]
    assert payment["budget_line"] == LINE and payment["status"] == "paid" and payment["amount_rials"] > 0
    assert payment["month"] == paid.split(".")[0] == "1405-09" and len(mine["items"]) == 1
    assert re.fullmatch(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}", payment["paid_on_fa"])
    assert national_id not in payment.get("account_masked", "")[:-4]
    # a staff token, or none, never opens someone's payments
    assert requests.get(f"{base}/me/payments", headers={"Authorization": "Bearer x.y.z"}, timeout=10).status_code == 401


def _budget_with_the_month_paid(base: str) -> list[dict]:
    """The budget dataset once payments' `budget_lines.published` and the cycle's disbursements reached it."""
    return _until(lambda: requests.get(f"{base}/datasets/budget/rows", params={"limit": 100}, timeout=10).json(),
                  lambda body: len(body.get("items", ())) == len(BUDGET_LINES)  # before: no version yet, or no rows
                  and any(r["spent_rials"] for r in body["items"]),
                  "the budget lines payments announced, with the month paid")["items"]


def test_the_budget_dataset_shows_the_lines_payments_loaded_and_what_was_paid_from_them(platform, paid):
    base = f"{platform['base']}/api/v1/transparency"
    rows = {r["code"]: r for r in _budget_with_the_month_paid(base)}
    for line in BUDGET_LINES:
        shown = rows[line["code"]]
        assert {k: shown[k] for k in ("title_fa", "purpose_fa", "legal_basis_fa", "pays", "per_capita_rials",
                                      "yearly_allocation_rials")} == {k: line[k] for k in (
            "title_fa", "purpose_fa", "legal_basis_fa", "pays", "per_capita_rials", "yearly_allocation_rials")}
        assert shown["year"] == 1405
    spending = requests.get(f"{base}/spending?by=line", timeout=10).json()
    assert rows[LINE]["spent_rials"] == spending["amount_rials"] > 0  # the one month paid, from the one line
    assert all(r["spent_rials"] == 0 for code, r in rows.items() if code != LINE)


def _public_answers(platform) -> list[tuple[str, requests.Response]]:
    base = f"{platform['base']}/api/v1/transparency"
    urls = [f"{base}/datasets", f"{base}/catalog.jsonld", f"{base}/public-key",
            f"{base}/datasets/contracts/ocds.json", f"{base}/datasets/budget/datapackage.json"]
    urls += [f"{base}/spending?by={by}" for by in ("line", "province", "month")]
    for item in requests.get(f"{base}/datasets", timeout=10).json()["items"]:
        slug = item["slug"]
        urls += [f"{base}/datasets/{slug}", f"{base}/datasets/{slug}/rows?limit=100",
                 f"{base}/datasets/{slug}/download.csv", f"{base}/datasets/{slug}/download.json"]
    return [(url, requests.get(url, timeout=120)) for url in urls]


def test_the_public_side_serves_every_dataset_in_every_format_and_no_personal_data(platform, paid,
                                                                                     tmp_path_factory):
    base = f"{platform['base']}/api/v1/transparency"
    _until(lambda: requests.get(f"{base}/datasets", timeout=10).json()["items"],
           lambda items: all(i["version"] for i in items), "every dataset published")
    _until(lambda: requests.get(f"{base}/spending?by=line", timeout=10).json(),
           lambda body: body["households"] == len(PEOPLE), "the cycle's payments in the public totals")
    _budget_with_the_month_paid(base)  # the Fiscal Data Package below then describes the year's lines
    answers = _public_answers(platform)
    for url, response in answers:
        assert response.status_code == 200, (url, response.text[:300])
        assert response.headers.get("ETag") and response.headers.get("Last-Modified"), url
        for planted in (*PEOPLE, *PEOPLE.values()):
            assert planted not in response.text, f"{planted} in {url}"

    by_url = dict(answers)
    csv_body = by_url[f"{base}/datasets/contracts/download.csv"].content
    assert csv_body.startswith("\ufeff".encode())
    contracts = list(csv.DictReader(io.StringIO(csv_body.decode("utf-8-sig"))))
    assert len(contracts) == 22_000
    assert len(by_url[f"{base}/datasets/properties/download.json"].json()["rows"]) == 2_800

    package = by_url[f"{base}/datasets/contracts/ocds.json"].json()
    assert len(package["releases"]) == 22_000
    # the whole package against the official schema is tests/unit/test_transparency_formats.py's; here the
    # served head and a sample of releases (uniqueItems over 22,000 releases takes jsonschema minutes)
    errors = list(ocds.validator().iter_errors({**package, "releases": package["releases"][:200]}))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]

    folder = tmp_path_factory.mktemp("fdp")  # the descriptor beside its CSV, as a harvester keeps them
    descriptor = by_url[f"{base}/datasets/budget/datapackage.json"].json()
    (folder / "budget.csv").write_bytes(by_url[f"{base}/datasets/budget/download.csv"].content)
    descriptor["resources"][0]["path"] = "budget.csv"
    (folder / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False))
    report = fiscal.validate_package(folder / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]

    graph = rdflib.Graph().parse(data=by_url[f"{base}/catalog.jsonld"].text, format="json-ld")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    assert len(set(graph.subjects(rdflib.RDF.type, dcat.Dataset))) == len(by_url[f"{base}/datasets"].json()["items"])

    spending = by_url[f"{base}/spending?by=line"].json()
    assert [c["key"] for c in spending["cells"]] == [LINE]


def test_conditional_requests_answer_304_and_anyone_can_verify_the_versions(platform, paid):
    base = f"{platform['base']}/api/v1/transparency"
    for url in (f"{base}/datasets/contracts", f"{base}/datasets/contracts/download.csv", f"{base}/spending?by=month",
                f"{base}/public-key",
                f"{base}/datasets/contracts/rows?q=" + "قرارداد"):
        first = requests.get(url, timeout=60)
        assert first.status_code == 200
        again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=60)
        assert again.status_code == 304 and again.content == b""
        since = requests.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]}, timeout=60)
        assert since.status_code == 304
    assert verify_api(platform["base"]) == []


def test_search_finds_the_same_rows_in_arabic_letters_and_persian_digits(platform, paid):
    base = f"{platform['base']}/api/v1/transparency/datasets/centers/rows"
    persian = requests.get(base, params={"q": "توانبخشی کرج پلاک ۲۷", "limit": 100}, timeout=10).json()
    arabic = requests.get(base, params={"q": "توانبخشي كرج پلاک ٢٧", "limit": 100}, timeout=10).json()
    ascii_digits = requests.get(base, params={"q": "توانبخشی کرج پلاک 27", "limit": 100}, timeout=10).json()
    assert persian["items"] and persian["items"] == arabic["items"] == ascii_digits["items"]
    assert all("کرج" in r["name"] or "کرج" in r["county_fa"] for r in persian["items"])
    first = requests.get(base, params={"province": "tehran", "sort": "center_id", "limit": 5}, timeout=10).json()
    second = requests.get(base, params={"province": "tehran", "sort": "center_id", "limit": 5,
                                        "after": first["next"]}, timeout=10).json()
    ids = [r["center_id"] for r in first["items"] + second["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 10
    assert all(r["province"] == "tehran" for r in first["items"] + second["items"])
    bad = requests.get(base, params={"sort": "no_such_column"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "sort"
