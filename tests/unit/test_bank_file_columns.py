"""Statements and batches read by column (one XPath per field over the whole file) give exactly what the walk over
each block gives, whatever the file holds: returns, reversals, a field missing from one entry, two transaction
details in one, comments, CDATA sections, escaped text."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from lxml import etree

from fakes.bank.app import open_iban
from services.payments.bank import iso20022

CREATED = datetime(2025, 3, 21, 8, 30, tzinfo=timezone.utc)
C53 = iso20022.namespace("camt.053")
P1 = iso20022.namespace("pain.001")


def national_id(first9: str) -> str:
    total = sum(int(first9[i]) * (10 - i) for i in range(9)) % 11
    return first9 + str(total if total < 2 else 11 - total)


IDS = [national_id(f"{n:03d}123456") for n in range(1, 41)]


def entries(returned=()):
    rows = []
    for i, nid in enumerate(IDS):
        common = {"batch_id": "B-1", "end_to_end_id": f"PO-{i:04d}", "amount_rials": 1_000_000 + i,
                  "creditor_iban": open_iban(nid), "national_id": nid}
        rows.append({**common, "entry_ref": f"E{i:04d}", "credit_debit": "DBIT"})
        if i in returned:
            rows.append({**common, "entry_ref": f"R{i:04d}", "credit_debit": "CRDT", "returned": True, "reason": "AC04"})
    return rows


def statement(rows) -> bytes:
    return iso20022.camt053("STMT-1", CREATED, open_iban("0000000000"), 10**12, rows)


def walked(xml: bytes) -> list[dict]:
    root = iso20022.validate("camt.053", xml)
    stmt = root.find(f"{{{C53}}}BkToCstmrStmt/{{{C53}}}Stmt")
    return [iso20022._entry_of(n) for n in stmt.iterchildren(f"{{{C53}}}Ntry")]


def edit(xml: bytes, change) -> bytes:
    root = etree.fromstring(xml)
    change(root, {"d": C53})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _drop_first(path):
    def change(root, ns):
        node = root.xpath(path, namespaces=ns)[0]
        node.getparent().remove(node)
    return change


def _second_tx(root, ns):
    details = root.xpath("//d:Ntry[3]/d:NtryDtls", namespaces=ns)[0]
    details.append(etree.fromstring(etree.tostring(details[0])))


def _reversal(root, ns):
    sts = root.xpath("//d:Ntry[5]/d:Sts", namespaces=ns)[0]
    flag = etree.Element(f"{{{C53}}}RvslInd")
    flag.text = "true"
    sts.addprevious(flag)


def _comment_in_a_leaf(root, ns):
    amount = root.xpath("//d:Ntry[2]/d:Amt", namespaces=ns)[0]
    amount.text = "100"
    amount.append(etree.Comment("x"))
    amount[0].tail = "0001"


def _second_ustrd(root, ns):
    ustrd = root.xpath("//d:Ntry[4]//d:RmtInf/d:Ustrd", namespaces=ns)[0]
    other = etree.Element(f"{{{C53}}}Ustrd")
    other.text = "another"
    ustrd.addprevious(other)


CASES = {
    "usual": lambda rows: statement(rows),
    "returned": lambda rows: statement(entries(returned={1, 7, 30})),
    "no_entry_ref": lambda rows: edit(statement(rows), _drop_first("//d:Ntry[6]/d:AcctSvcrRef")),
    "no_iban": lambda rows: edit(statement(rows), _drop_first("//d:Ntry[9]//d:RltdPties")),
    "no_tx": lambda rows: edit(statement(rows), _drop_first("//d:Ntry[2]/d:NtryDtls")),
    "two_tx": lambda rows: edit(statement(rows), _second_tx),
    "reversal": lambda rows: edit(statement(rows), _reversal),
    "comment": lambda rows: edit(statement(rows), _comment_in_a_leaf),
    "two_ustrd": lambda rows: edit(statement(rows), _second_ustrd),
    "cdata": lambda rows: statement(rows).replace(b"<Ustrd>", b"<Ustrd><![CDATA[x]]>", 1),
    "escaped": lambda rows: statement([{**r, "entry_ref": "A&B<C>"} if n == 3 else r for n, r in enumerate(rows)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_statement_read_by_column_is_the_statement_walked(case):
    xml = CASES[case](entries())
    assert iso20022.parse_camt053(xml)["entries"] == walked(xml)


def test_the_usual_statement_is_read_by_column_and_its_returns_walked():
    xml = statement(entries(returned={2, 11}))
    stmt = iso20022.validate("camt.053", xml).find(f"{{{C53}}}BkToCstmrStmt/{{{C53}}}Stmt")
    read = iso20022._entries_by_column(stmt)
    assert read is not None and read == walked(xml)
    assert [e["reason"] for e in read if e["returned"]] == ["AC04", "AC04"]


def payments(n=40):
    return [{"end_to_end_id": f"PO-{i:04d}", "amount_rials": 5_000_000 + i, "creditor_name": f"name {i}",
             "creditor_iban": open_iban(IDS[i]), "national_id": IDS[i]} for i in range(n)]


def batch(rows) -> bytes:
    xml = iso20022.pain001("B-1", CREATED, {"name": "payer", "iban": open_iban("0000000000"), "bic": None}, rows)
    return bytes(bytearray(xml))  # other bytes than those built: parsed, not taken from what was built


def walked_payments(xml: bytes) -> list[dict]:
    root = iso20022.validate("pain.001", xml)
    return [iso20022._payment_of(tx) for tx in root.iter(f"{{{P1}}}CdtTrfTxInf")]


def _no_creditor_id(root, ns):
    node = root.xpath("//d:CdtTrfTxInf[3]/d:Cdtr/d:Id", namespaces=ns)[0]
    node.getparent().remove(node)


def _two_othr(root, ns):
    othr = root.xpath("//d:CdtTrfTxInf[2]/d:Cdtr/d:Id/d:PrvtId/d:Othr", namespaces=ns)[0]
    first = etree.fromstring(etree.tostring(othr))
    first[0].text = "9999999999"
    othr.addprevious(first)


def _second_block(root, ns):
    pmt_inf = root.xpath("//d:PmtInf", namespaces=ns)[0]
    pmt_inf.addnext(etree.fromstring(etree.tostring(pmt_inf)))
    for node in root.xpath("//d:PmtInf[2]//d:EndToEndId", namespaces=ns):
        node.text = "X" + node.text


PAY_CASES = {
    "usual": lambda: batch(payments()),
    "escaped": lambda: batch([{**p, "creditor_name": "A & <B>"} for p in payments()]),
    "no_creditor_id": lambda: edit_p(batch(payments()), _no_creditor_id),
    "two_othr": lambda: edit_p(batch(payments()), _two_othr),
    "two_blocks": lambda: edit_p(batch(payments()), _second_block),
    "comment": lambda: batch(payments()).replace(b"<Nm>name 5</Nm>", b"<Nm>name<!-- c --> 5</Nm>"),
}


def edit_p(xml: bytes, change) -> bytes:
    root = etree.fromstring(xml)
    change(root, {"d": P1})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("case", sorted(PAY_CASES))
def test_a_batch_read_by_column_is_the_batch_walked(case):
    xml = PAY_CASES[case]()
    assert iso20022.parse_pain001(xml)["payments"] == walked_payments(xml)


def test_the_usual_batch_is_read_by_column():
    xml = batch(payments())
    assert iso20022._payments_by_column(iso20022.validate("pain.001", xml)) == walked_payments(xml)
