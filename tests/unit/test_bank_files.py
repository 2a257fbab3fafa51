"""The ISO 20022 bank files: pain.001 batches built and checked against ISO 20022's XSDs, pain.002 status
reports and camt.053 statements read back, and nothing written or read that the schema refuses."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from fakes.bank.app import open_iban
from services.payments.bank import iso20022
from services.payments.bank.iso20022 import BankFileError

CREATED = datetime(2025, 3, 21, 8, 30, tzinfo=timezone.utc)
NS = {"p": iso20022.namespace("pain.001")}


def national_id(first9: str) -> str:
    total = sum(int(first9[i]) * (10 - i) for i in range(9)) % 11
    return first9 + str(total if total < 2 else 11 - total)


DEBTOR = {"name": "سازمان بهزیستی کشور", "iban": open_iban("0000000000", "010"), "bic": "BKMNIRTH"}
IDS = [national_id(f"00{n}1234567"[:9]) for n in (1, 2, 3)]


def payments(n: int = 3) -> list[dict]:
    return [{"end_to_end_id": f"PO-2025-03-{i:06d}", "amount_rials": 12_500_000 + i * 1_000,
             "creditor_name": "مریم احمدی", "creditor_iban": open_iban(IDS[i]), "national_id": IDS[i]}
            for i in range(n)]


def test_a_batch_of_three_validates_with_its_count_and_control_sum():
    xml = iso20022.pain001("BATCH-1403-12-01", CREATED, DEBTOR, payments())
    root = iso20022.validate("pain.001", xml)
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "37503000"
    assert root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:NbOfTxs", namespaces=NS) == "3"
    assert root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum", namespaces=NS) == "37503000"
    amounts = [e.text for e in root.iterfind(".//p:InstdAmt", NS)]
    assert amounts == ["12500000", "12501000", "12502000"]
    assert {e.get("Ccy") for e in root.iterfind(".//p:InstdAmt", NS)} == {"IRR"}
    assert [e.text for e in root.iterfind(".//p:RmtInf/p:Ustrd", NS)] == IDS


def test_the_bank_reads_back_what_we_wrote():
    xml = iso20022.pain001("BATCH-1", CREATED, {**DEBTOR, "bic": None}, payments(), execution_date=date(2025, 3, 22))
    batch = iso20022.parse_pain001(xml)
    assert batch["batch_id"] == "BATCH-1"
    assert batch["declared_count"] == 3 and batch["declared_sum"] == Decimal(37_503_000)
    assert batch["debtor_iban"] == DEBTOR["iban"]
    assert [(p["end_to_end_id"], p["amount_rials"], p["creditor_iban"], p["national_id"]) for p in batch["payments"]] \
        == [(p["end_to_end_id"], p["amount_rials"], p["creditor_iban"], p["national_id"]) for p in payments()]


@pytest.mark.parametrize("change", [
    {"creditor_iban": "IR000000000000000000000000"},  # bad check digits
    {"creditor_iban": "DE89370400440532013000"},
    {"amount_rials": 12_500_000.5},
    {"amount_rials": 0},
    {"amount_rials": -5},
    {"amount_rials": "12500000"},
    {"amount_rials": True},
    {"national_id": "1234567890"},
    {"end_to_end_id": "X" * 36},
])
def test_a_wrong_payment_is_refused_before_any_xml(change):
    rows = payments()
    rows[1].update(change)
    with pytest.raises(BankFileError):
        iso20022.pain001("BATCH-1", CREATED, DEBTOR, rows)


def test_an_empty_batch_or_a_repeated_payment_is_refused():
    with pytest.raises(BankFileError):
        iso20022.pain001("BATCH-1", CREATED, DEBTOR, [])
    rows = payments()
    rows[2]["end_to_end_id"] = rows[0]["end_to_end_id"]
    with pytest.raises(BankFileError):
        iso20022.pain001("BATCH-1", CREATED, DEBTOR, rows)


def test_a_status_report_round_trips():
    xml = iso20022.pain002("PSR-1", CREATED, "BATCH-1", "PART", 3, 37_503_000, {"PO-2025-03-000001": "AC04"})
    report = iso20022.parse_pain002(xml)
    assert report == {"report_id": "PSR-1", "created_at": "2025-03-21T08:30:00+00:00", "batch_id": "BATCH-1",
                      "group_status": "PART", "group_reason": None, "rejected": {"PO-2025-03-000001": "AC04"}}
    whole = iso20022.parse_pain002(iso20022.pain002("PSR-2", CREATED, "BATCH-2", "RJCT", 3, 1, None, "AM04"))
    assert (whole["group_status"], whole["group_reason"], whole["rejected"]) == ("RJCT", "AM04", {})


def test_a_statement_round_trips_with_a_returned_payment():
    paid = {"batch_id": "BATCH-1", "end_to_end_id": "PO-1", "amount_rials": 12_500_000,
            "creditor_iban": open_iban(IDS[0]), "national_id": IDS[0]}
    entries = [{**paid, "entry_ref": "E-1", "credit_debit": "DBIT"},
               {**paid, "entry_ref": "E-2", "credit_debit": "CRDT", "returned": True, "reason": "AC04"}]
    statement = iso20022.parse_camt053(iso20022.camt053("STMT-1", CREATED, DEBTOR["iban"], 100_000_000, entries))
    assert statement["statement_id"] == "STMT-1"
    assert statement["opening_balance"] == statement["closing_balance"] == 100_000_000
    booked, back = statement["entries"]
    assert booked == {"entry_ref": "E-1", "batch_id": "BATCH-1", "end_to_end_id": "PO-1", "amount_rials": 12_500_000,
                      "credit_debit": "DBIT", "status": "BOOK", "reversal": False, "returned": False, "reason": None,
                      "creditor_iban": paid["creditor_iban"], "national_id": IDS[0]}
    assert (back["entry_ref"], back["credit_debit"], back["returned"], back["reason"]) == ("E-2", "CRDT", True, "AC04")


def test_a_negative_balance_is_written_as_a_debit():
    entry = {"batch_id": "B", "end_to_end_id": "PO-1", "amount_rials": 300, "entry_ref": "E-1", "credit_debit": "DBIT"}
    statement = iso20022.parse_camt053(iso20022.camt053("STMT-2", CREATED, DEBTOR["iban"], 100, [entry]))
    assert statement["closing_balance"] == -200


def _replace(xml: bytes, path: str, text: str, kind: str = "pain.001") -> bytes:
    root = etree.fromstring(xml)
    root.find(path, {"p": iso20022.namespace(kind)}).text = text
    return etree.tostring(root)


@pytest.mark.parametrize("path,text", [
    (".//p:InstdAmt", "12,500,000"),
    (".//p:CdtrAcct/p:Id/p:IBAN", "not an iban"),
    (".//p:GrpHdr/p:NbOfTxs", "three"),
    (".//p:PmtMtd", "CASH"),
])
def test_a_tampered_file_fails_validation(path, text):
    xml = iso20022.pain001("BATCH-1", CREATED, DEBTOR, payments())
    with pytest.raises(BankFileError, match="does not validate"):
        iso20022.parse_pain001(_replace(xml, path, text))


def test_a_fraction_of_a_rial_is_not_read_as_a_whole_amount():
    xml = iso20022.pain001("BATCH-1", CREATED, DEBTOR, payments())
    with pytest.raises(BankFileError, match="fractions"):
        iso20022.parse_pain001(_replace(xml, ".//p:InstdAmt", "12500000.5"))


def test_other_documents_and_entities_are_refused():
    report = iso20022.pain002("PSR-1", CREATED, "BATCH-1", "ACCP", 1, 1)
    with pytest.raises(BankFileError, match="expected a camt.053"):
        iso20022.parse_camt053(report)
    with pytest.raises(BankFileError):
        iso20022.parse_pain002(b"<Document")
    entity = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
              b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">&x;</Document>')
    with pytest.raises(BankFileError):
        iso20022.parse_pain002(entity)


def test_the_first_transaction_details_of_an_entry_are_read_wherever_they_are():
    """An entry's details are "(NtryDtls/TxDtls)[1]": the first TxDtls, even under a later NtryDtls."""
    paid = {"batch_id": "BATCH-1", "end_to_end_id": "PO-1", "amount_rials": 12_500_000, "entry_ref": "E-1",
            "credit_debit": "DBIT", "creditor_iban": open_iban(IDS[0]), "national_id": IDS[0]}
    xml = iso20022.camt053("STMT-1", CREATED, DEBTOR["iban"], 100_000_000, [paid])
    xml = xml.replace(b"<NtryDtls><TxDtls>", b"<NtryDtls><Btch><NbOfTxs>1</NbOfTxs></Btch></NtryDtls><NtryDtls><TxDtls>")
    [entry] = iso20022.parse_camt053(xml)["entries"]
    assert (entry["end_to_end_id"], entry["batch_id"], entry["national_id"]) == ("PO-1", "BATCH-1", IDS[0])


def test_files_are_built_checked_and_read_in_several_threads_at_once():
    """The cycle builds, sends and reads files from a few threads: each thread checks with its own compiled XSD."""
    from concurrent.futures import ThreadPoolExecutor

    def round_trip(n):
        xml = iso20022.pain001(f"BATCH-{n}", CREATED, DEBTOR, payments())
        copy = bytes(bytearray(xml))  # not the bytes built here: parsed and validated like a file received
        return iso20022.parse_pain001(copy)["batch_id"]

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(round_trip, range(40))) == [f"BATCH-{n}" for n in range(40)]
    tampered = _replace(iso20022.pain001("BATCH-X", CREATED, DEBTOR, payments()), ".//p:PmtMtd", "CASH")
    with ThreadPoolExecutor(2) as pool, pytest.raises(BankFileError, match="does not validate"):
        list(pool.map(iso20022.parse_pain001, [tampered] * 4))


@given(st.text(alphabet="0123456789۰۱۲۳۴۵۶۷۸۹a ", min_size=0, max_size=12))
def test_the_quick_national_id_check_of_the_files_agrees_with_the_identifiers_one(value):
    from common.identifiers import is_valid_national_id

    assert iso20022._national_id_ok(value) == is_valid_national_id(value)
