"""ISO 20022 bank files for paying pensions, built and read as pure functions:

* pain.001.001.03 (Customer Credit Transfer Initiation): the payment batch we send,
* pain.002.001.03 (Customer Payment Status Report): the bank's answer to it,
* camt.053.001.02 (Bank To Customer Statement): what the bank booked, and what came back.

Every file built here and every file read here is checked against ISO 20022's own XSDs in
contracts/iso20022/ (a file that does not validate raises BankFileError), and parsing never resolves
entities nor fetches anything. Amounts are whole rials in currency IRR, written as integers ("12500000").
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
import threading
from functools import lru_cache

from lxml import etree
from lxml.builder import ElementMaker

from common.config import PROJECT_ROOT
from common.identifiers import InvalidIdentifier, is_valid_national_id, normalise_sheba

SCHEMA_DIR = PROJECT_ROOT / "contracts" / "iso20022"
MESSAGES = {"pain.001": "pain.001.001.03", "pain.002": "pain.002.001.03", "camt.053": "camt.053.001.02"}
CURRENCY = "IRR"
NATIONAL_ID_SCHEME = "IR-NATIONAL-ID"  # the scheme under which a creditor's national ID is given
NOT_PROVIDED = "NOTPROVIDED"
_validating = threading.Lock()


class BankFileError(ValueError):
    """A bank file that cannot be built from these values, or a file that is not valid ISO 20022."""


def namespace(kind: str) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{MESSAGES[kind]}"


@lru_cache(maxsize=None)
def schema(kind: str) -> etree.XMLSchema:
    """The message's official XSD, compiled once."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"{MESSAGES[kind]}.xsd")))


def validate(kind: str, xml: bytes | str) -> etree._Element:
    """Parse `xml` (safely) and check it against the XSD of `kind`; the document's root, or BankFileError."""
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise BankFileError(f"{kind}: not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise BankFileError(f"{kind}: a document type declaration has no place in an ISO 20022 message")
    if root.tag != f"{{{namespace(kind)}}}Document":
        raise BankFileError(f"{kind}: expected a {MESSAGES[kind]} Document, got {root.tag}")
    checker = schema(kind)
    with _validating:  # a compiled schema keeps the last error log on itself
        try:
            valid = checker.validate(root)
        except etree.XMLSchemaValidateError as exc:
            raise BankFileError(f"{kind}: cannot be validated: {exc}") from None
        errors = "; ".join(f"line {e.line}: {e.message}" for e in list(checker.error_log)[:5])
    if not valid:
        raise BankFileError(f"{kind}: does not validate against {MESSAGES[kind]}.xsd: {errors}")
    return root


def _serialise(kind: str, document: etree._Element) -> bytes:
    xml = etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    validate(kind, xml)
    return xml


# checking what we are asked to write


def _text(value, what: str, max_length: int = 35) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise BankFileError(f"{what} must be text of 1 to {max_length} characters, got {value!r}")
    return value


def _sheba(value, what: str) -> str:
    try:
        return normalise_sheba(value)
    except (InvalidIdentifier, TypeError):
        raise BankFileError(f"{what} is not a valid Sheba (IBAN): {value!r}") from None


def _rials(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BankFileError(f"{what} must be a whole positive number of rials, got {value!r}")
    return value


def _national_id(value, what: str) -> str:
    if not isinstance(value, str) or not is_valid_national_id(value):
        raise BankFileError(f"{what} is not a valid national ID: {value!r}")
    return value


def _timestamp(value, what: str) -> str:
    if not isinstance(value, datetime):
        raise BankFileError(f"{what} must be a datetime, got {value!r}")
    return value.isoformat(timespec="seconds")


def _payment(p: dict, n: int) -> dict:
    return {"end_to_end_id": _text(p.get("end_to_end_id"), f"payment {n}: end_to_end_id"),
            "amount_rials": _rials(p.get("amount_rials"), f"payment {n}: amount_rials"),
            "creditor_name": _text(p.get("creditor_name"), f"payment {n}: creditor_name", 140),
            "creditor_iban": _sheba(p.get("creditor_iban"), f"payment {n}: creditor_iban"),
            "national_id": _national_id(p.get("national_id"), f"payment {n}: national_id")}


def _agent(E, bic: str | None):
    if bic:
        return E.FinInstnId(E.BIC(bic))
    return E.FinInstnId(E.Othr(E.Id(NOT_PROVIDED)))


def _creditor(E, name: str, national_id: str):
    return E.Cdtr(E.Nm(name), E.Id(E.PrvtId(E.Othr(E.Id(national_id), E.SchmeNm(E.Prtry(NATIONAL_ID_SCHEME))))))


# pain.001: the payment batch


def pain001(batch_id: str, created_at: datetime, debtor: dict, payments: list[dict],
            execution_date: date | None = None) -> bytes:
    """A pain.001.001.03 credit transfer batch: one payment information block (its id is the batch id) paying
    each creditor's Sheba from the debtor's account. `debtor` is {name, iban, bic (or None)}; each payment is
    {end_to_end_id (the payment order id, at most 35 characters), amount_rials (int > 0), creditor_name,
    creditor_iban, national_id}; the national ID goes as the creditor's identification and as the
    remittance information. Raises BankFileError before writing anything if a value is wrong."""
    batch_id = _text(batch_id, "batch_id")
    stamp = _timestamp(created_at, "created_at")
    debtor = debtor or {}
    debtor_name = _text(debtor.get("name"), "debtor name", 140)
    debtor_iban = _sheba(debtor.get("iban"), "debtor iban")
    if not payments:
        raise BankFileError("a batch needs at least one payment")
    rows = [_payment(p, n) for n, p in enumerate(payments, 1)]
    if len({r["end_to_end_id"] for r in rows}) != len(rows):
        raise BankFileError("end_to_end_id must be unique within a batch")
    count, total = str(len(rows)), str(sum(r["amount_rials"] for r in rows))
    E = ElementMaker(namespace=namespace("pain.001"), nsmap={None: namespace("pain.001")})
    transfers = [E.CdtTrfTxInf(
        E.PmtId(E.EndToEndId(r["end_to_end_id"])),
        E.Amt(E.InstdAmt(str(r["amount_rials"]), Ccy=CURRENCY)),
        _creditor(E, r["creditor_name"], r["national_id"]),
        E.CdtrAcct(E.Id(E.IBAN(r["creditor_iban"]))),
        E.RmtInf(E.Ustrd(r["national_id"])),
    ) for r in rows]
    document = E.Document(E.CstmrCdtTrfInitn(
        E.GrpHdr(E.MsgId(batch_id), E.CreDtTm(stamp), E.NbOfTxs(count), E.CtrlSum(total),
                 E.InitgPty(E.Nm(debtor_name))),
        E.PmtInf(E.PmtInfId(batch_id), E.PmtMtd("TRF"), E.BtchBookg("false"), E.NbOfTxs(count), E.CtrlSum(total),
                 E.ReqdExctnDt((execution_date or created_at.date()).isoformat()),
                 E.Dbtr(E.Nm(debtor_name)), E.DbtrAcct(E.Id(E.IBAN(debtor_iban)), E.Ccy(CURRENCY)),
                 E.DbtrAgt(_agent(E, debtor.get("bic"))), *transfers)))
    return _serialise("pain.001", document)


def _find(node, path: str, kind: str) -> str | None:
    found = node.find(path, {"d": namespace(kind)})
    return None if found is None else found.text


def _amount(text: str | None, what: str) -> int:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise BankFileError(f"{what}: not an amount: {text!r}") from None
    if value != value.to_integral_value():
        raise BankFileError(f"{what}: rials have no fractions: {text!r}")
    return int(value)


def parse_pain001(xml: bytes | str) -> dict:
    """A pain.001.001.03 batch as {batch_id, created_at, declared_count, declared_sum, debtor_iban,
    payments: [{end_to_end_id, amount_rials, currency, creditor_name, creditor_iban, national_id}]}
    (the bank's side; the declared count and sum are as written, to be checked against the payments)."""
    root = validate("pain.001", xml)
    ns = {"d": namespace("pain.001")}
    payments = []
    for tx in root.iterfind(".//d:CdtTrfTxInf", ns):
        amount = tx.find("d:Amt/d:InstdAmt", ns)
        payments.append({
            "end_to_end_id": _find(tx, "d:PmtId/d:EndToEndId", "pain.001"),
            "amount_rials": _amount(amount.text, "InstdAmt") if amount is not None else 0,
            "currency": amount.get("Ccy") if amount is not None else None,
            "creditor_name": _find(tx, "d:Cdtr/d:Nm", "pain.001"),
            "creditor_iban": _find(tx, "d:CdtrAcct/d:Id/d:IBAN", "pain.001"),
            "national_id": _find(tx, "d:Cdtr/d:Id/d:PrvtId/d:Othr/d:Id", "pain.001")
            or _find(tx, "d:RmtInf/d:Ustrd", "pain.001"),
        })
    declared_sum = _find(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:CtrlSum", "pain.001")
    return {"batch_id": _find(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:MsgId", "pain.001"),
            "created_at": _find(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:CreDtTm", "pain.001"),
            "declared_count": int(_find(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:NbOfTxs", "pain.001")),
            "declared_sum": None if declared_sum is None else Decimal(declared_sum),
            "debtor_iban": _find(root, ".//d:PmtInf/d:DbtrAcct/d:Id/d:IBAN", "pain.001"),
            "payments": payments}


# pain.002: the bank's status report


def pain002(report_id: str, created_at: datetime, batch_id: str, group_status: str, count: int, total: int,
            rejected: dict[str, str] | None = None, group_reason: str | None = None) -> bytes:
    """A pain.002.001.03 status report on batch `batch_id`: the group status (ACCP, PART, RJCT, ...), and each
    rejected payment (end_to_end_id -> ISO reason code such as AC01 or AC04). Used by the fake bank."""
    rejected = rejected or {}
    E = ElementMaker(namespace=namespace("pain.002"), nsmap={None: namespace("pain.002")})

    def reason(code):
        return E.StsRsnInf(E.Rsn(E.Cd(_text(code, "reason code", 4))))

    per_status = [E.NbOfTxsPerSts(E.DtldNbOfTxs(str(n)), E.DtldSts(status))
                  for status, n in (("ACCP", count - len(rejected)), ("RJCT", len(rejected))) if n > 0]
    group = [E.OrgnlMsgId(batch_id), E.OrgnlMsgNmId(MESSAGES["pain.001"]), E.OrgnlNbOfTxs(str(count)),
             E.OrgnlCtrlSum(str(total)), E.GrpSts(group_status)]
    if group_reason:
        group.append(reason(group_reason))
    payment_info = []
    if rejected:
        payment_info.append(E.OrgnlPmtInfAndSts(E.OrgnlPmtInfId(batch_id), *[
            E.TxInfAndSts(E.OrgnlEndToEndId(e2e), E.TxSts("RJCT"), reason(code)) for e2e, code in rejected.items()]))
    document = E.Document(E.CstmrPmtStsRpt(
        E.GrpHdr(E.MsgId(_text(report_id, "report_id")), E.CreDtTm(_timestamp(created_at, "created_at"))),
        E.OrgnlGrpInfAndSts(*group, *per_status), *payment_info))
    return _serialise("pain.002", document)


def parse_pain002(xml: bytes | str) -> dict:
    """A pain.002.001.03 report as {report_id, created_at, batch_id, group_status, group_reason,
    rejected: {end_to_end_id: reason_code}}."""
    root = validate("pain.002", xml)
    ns = {"d": namespace("pain.002")}
    report = root.find("d:CstmrPmtStsRpt", ns)
    rejected = {}
    for tx in report.iterfind("d:OrgnlPmtInfAndSts/d:TxInfAndSts", ns):
        if _find(tx, "d:TxSts", "pain.002") == "RJCT":
            code = _find(tx, "d:StsRsnInf/d:Rsn/d:Cd", "pain.002") or _find(tx, "d:StsRsnInf/d:Rsn/d:Prtry", "pain.002")
            rejected[_find(tx, "d:OrgnlEndToEndId", "pain.002")] = code
    return {"report_id": _find(report, "d:GrpHdr/d:MsgId", "pain.002"),
            "created_at": _find(report, "d:GrpHdr/d:CreDtTm", "pain.002"),
            "batch_id": _find(report, "d:OrgnlGrpInfAndSts/d:OrgnlMsgId", "pain.002"),
            "group_status": _find(report, "d:OrgnlGrpInfAndSts/d:GrpSts", "pain.002"),
            "group_reason": _find(report, "d:OrgnlGrpInfAndSts/d:StsRsnInf/d:Rsn/d:Cd", "pain.002"),
            "rejected": rejected}


# camt.053: the statement


def _balance(E, code: str, amount: int, day: date):
    return E.Bal(E.Tp(E.CdOrPrtry(E.Cd(code))), E.Amt(str(abs(amount)), Ccy=CURRENCY),
                 E.CdtDbtInd("CRDT" if amount >= 0 else "DBIT"), E.Dt(E.Dt(day.isoformat())))


def _entry(E, e: dict, day: date):
    returned = bool(e.get("returned"))
    details = [E.Refs(E.MsgId(e["batch_id"]), E.AcctSvcrRef(e["entry_ref"]), E.PmtInfId(e["batch_id"]),
                      E.EndToEndId(e["end_to_end_id"])),
               E.AmtDtls(E.InstdAmt(E.Amt(str(e["amount_rials"]), Ccy=CURRENCY)))]
    if e.get("creditor_iban"):
        details.append(E.RltdPties(E.CdtrAcct(E.Id(E.IBAN(e["creditor_iban"])))))
    if e.get("national_id"):
        details.append(E.RmtInf(E.Ustrd(e["national_id"])))
    if returned:
        details.append(E.RtrInf(E.Rsn(E.Cd(_text(e.get("reason") or "NARR", "return reason", 4)))))
    return E.Ntry(
        E.NtryRef(e["entry_ref"]), E.Amt(str(_rials(e["amount_rials"], "entry amount")), Ccy=CURRENCY),
        E.CdtDbtInd(e["credit_debit"]), E.Sts("BOOK"), E.BookgDt(E.Dt(day.isoformat())),
        E.ValDt(E.Dt(day.isoformat())), E.AcctSvcrRef(e["entry_ref"]),
        E.BkTxCd(E.Domn(E.Cd("PMNT"), E.Fmly(E.Cd("ICDT"), E.SubFmlyCd("RRTN" if returned else "DMCT")))),
        E.NtryDtls(E.TxDtls(*details)))


def camt053(statement_id: str, created_at: datetime, account_iban: str, opening_balance: int,
            entries: list[dict]) -> bytes:
    """A camt.053.001.02 statement of `account_iban` (used by the fake bank). Each entry is {entry_ref (unique,
    at most 35 characters), batch_id, end_to_end_id, amount_rials, credit_debit ("DBIT" paid out, "CRDT" came
    back), returned (bool), reason (the return reason code, e.g. AC04), creditor_iban, national_id}; all
    entries are booked. The closing balance is the opening balance less debits plus credits."""
    stamp, day = _timestamp(created_at, "created_at"), created_at.date()
    closing = opening_balance + sum(e["amount_rials"] if e["credit_debit"] == "CRDT" else -e["amount_rials"]
                                    for e in entries)
    E = ElementMaker(namespace=namespace("camt.053"), nsmap={None: namespace("camt.053")})
    document = E.Document(E.BkToCstmrStmt(
        E.GrpHdr(E.MsgId(_text(statement_id, "statement_id")), E.CreDtTm(stamp)),
        E.Stmt(E.Id(statement_id), E.CreDtTm(stamp), E.Acct(E.Id(E.IBAN(_sheba(account_iban, "account"))),
                                                            E.Ccy(CURRENCY)),
               _balance(E, "OPBD", opening_balance, day), _balance(E, "CLBD", closing, day),
               *[_entry(E, e, day) for e in entries])))
    return _serialise("camt.053", document)


def _signed_balance(node, code: str) -> int | None:
    ns = {"d": namespace("camt.053")}
    for bal in node.iterfind("d:Bal", ns):
        if _find(bal, "d:Tp/d:CdOrPrtry/d:Cd", "camt.053") == code:
            amount = _amount(_find(bal, "d:Amt", "camt.053"), code)
            return amount if _find(bal, "d:CdtDbtInd", "camt.053") == "CRDT" else -amount
    return None


def parse_camt053(xml: bytes | str) -> dict:
    """A camt.053.001.02 statement as {statement_id, message_id, created_at, account_iban, opening_balance,
    closing_balance, entries: [{entry_ref, batch_id, end_to_end_id, amount_rials, credit_debit, status,
    reversal, returned, reason, creditor_iban, national_id}]} (one statement per message is expected)."""
    root = validate("camt.053", xml)
    ns = {"d": namespace("camt.053")}
    statements = root.findall("d:BkToCstmrStmt/d:Stmt", ns)
    if len(statements) != 1:
        raise BankFileError(f"camt.053: expected one statement, got {len(statements)}")
    stmt = statements[0]
    entries = []
    for n in stmt.iterfind("d:Ntry", ns):
        tx = n.find("d:NtryDtls/d:TxDtls", ns)
        reason = None if tx is None else (_find(tx, "d:RtrInf/d:Rsn/d:Cd", "camt.053")
                                          or _find(tx, "d:RtrInf/d:Rsn/d:Prtry", "camt.053"))
        returned = tx is not None and tx.find("d:RtrInf", ns) is not None

        def ref(path, tx=tx):
            return None if tx is None else _find(tx, path, "camt.053")

        entries.append({
            "entry_ref": _find(n, "d:AcctSvcrRef", "camt.053") or _find(n, "d:NtryRef", "camt.053"),
            "batch_id": ref("d:Refs/d:MsgId"),
            "end_to_end_id": ref("d:Refs/d:EndToEndId"),
            "amount_rials": _amount(_find(n, "d:Amt", "camt.053"), "Ntry/Amt"),
            "credit_debit": _find(n, "d:CdtDbtInd", "camt.053"),
            "status": _find(n, "d:Sts", "camt.053"),
            "reversal": _find(n, "d:RvslInd", "camt.053") == "true",
            "returned": returned,
            "reason": reason,
            "creditor_iban": ref("d:RltdPties/d:CdtrAcct/d:Id/d:IBAN"),
            "national_id": ref("d:RmtInf/d:Ustrd"),
        })
    return {"statement_id": _find(stmt, "d:Id", "camt.053"),
            "message_id": _find(root, "d:BkToCstmrStmt/d:GrpHdr/d:MsgId", "camt.053"),
            "created_at": _find(stmt, "d:CreDtTm", "camt.053"),
            "account_iban": _find(stmt, "d:Acct/d:Id/d:IBAN", "camt.053"),
            "opening_balance": _signed_balance(stmt, "OPBD"),
            "closing_balance": _signed_balance(stmt, "CLBD"),
            "entries": entries}
