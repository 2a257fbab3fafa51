"""ISO 20022 bank files for paying pensions, built and read as pure functions:

* pain.001.001.03 (Customer Credit Transfer Initiation): the payment batch we send,
* pain.002.001.03 (Customer Payment Status Report): the bank's answer to it,
* camt.053.001.02 (Bank To Customer Statement): what the bank booked, and what came back.

Every file built here and every file read here is checked against ISO 20022's own XSDs in
contracts/iso20022/ (a file that does not validate raises BankFileError), and parsing never resolves
entities nor fetches anything. Amounts are whole rials in currency IRR, written as integers ("12500000").

The two large messages (a pain.001 of 5,000 payments, a camt.053 of 5,000 entries) are written as text,
every value escaped, then parsed and validated like a file received: the bytes returned are the bytes
that were checked. This is several times quicker than building the tree element by element (about 50 ms
instead of 1 s for 5,000 payments), and the files are written without indentation (half the bytes).
"""
from __future__ import annotations

import re
import threading
from collections import deque
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import methodcaller, mul
from types import SimpleNamespace

from lxml import etree
from lxml.builder import ElementMaker
from xml.sax.saxutils import escape

from common.config import PROJECT_ROOT
from common.identifiers import InvalidIdentifier, is_valid_national_id, is_valid_sheba, normalise_sheba

SCHEMA_DIR = PROJECT_ROOT / "contracts" / "iso20022"
MESSAGES = {"pain.001": "pain.001.001.03", "pain.002": "pain.002.001.03", "camt.053": "camt.053.001.02"}
CURRENCY = "IRR"
NATIONAL_ID_SCHEME = "IR-NATIONAL-ID"  # the scheme under which a creditor's national ID is given
NOT_PROVIDED = "NOTPROVIDED"
DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"
_CANONICAL_SHEBA = re.compile(r"IR\d{24}")


class BankFileError(ValueError):
    """A bank file that cannot be built from these values, or a file that is not valid ISO 20022."""


def namespace(kind: str) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{MESSAGES[kind]}"


def schema(kind: str) -> etree.XMLSchema:
    """The message's official XSD, compiled: one of the pool's, or a new one. A compiled schema keeps the last error
    log on itself, so a thread validating takes one from the pool and validate() gives it back after; lxml validates
    without holding the GIL, so threads validating at once (files sent and statements read in parallel) each have
    their own. A pool and not one per thread: the fake bank's server starts a thread per request, and compiling the
    XSD again for each took longer than validating a small file."""
    try:
        return _schemas[kind].pop()
    except IndexError:
        pass
    with _compiling:  # libxml2 compiling schemas in several threads at once may fail ("not valid XML Schema")
        return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"{MESSAGES[kind]}.xsd")))


_schemas: dict[str, list[etree.XMLSchema]] = {kind: [] for kind in MESSAGES}  # compiled and free (list.pop, .append
# are atomic)
_compiling = threading.Lock()


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
    try:
        valid = checker.validate(root)
    except etree.XMLSchemaValidateError as exc:
        raise BankFileError(f"{kind}: cannot be validated: {exc}") from None
    if not valid:
        errors = "; ".join(f"line {e.line}: {e.message}" for e in list(checker.error_log)[:5])
        raise BankFileError(f"{kind}: does not validate against {MESSAGES[kind]}.xsd: {errors}")
    _schemas[kind].append(checker)  # back to the pool (one that failed is dropped with its error log)
    return root


def _plain(xml: bytes | str) -> bool:
    """Whether each element of the document has at most one text node: no comment, no CDATA section and no
    processing instruction (the XML declaration aside) can split an element's text. Then a leaf's text nodes, one
    per leaf, read by one XPath over the whole document, say which leaf each came from (see _columns)."""
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    # by rare bytes, not by "<!--" or "<?" (a search for those stops at each of the file's 300,000 "<"): no "!" at all,
    # no "?" after the declaration (either may be in a value: then the file is simply walked)
    return b"!" not in xml and xml.find(b"?", xml.find(b"?>", 0, 100) + 2 if xml.startswith(b"<?xml") else 0) == -1


def _serialise(kind: str, document: etree._Element) -> bytes:
    xml = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    validate(kind, xml)
    return xml


def _message(kind: str, body: str) -> bytes:
    """The Document of `kind` around `body` (its content as XML text, every value escaped with _x), checked as a
    file received is: well-formed, no DTD, valid against the XSD. The bytes that were checked."""
    xml = _document(kind, body)
    validate(kind, xml)
    return xml


def _document(kind: str, body: str) -> bytes:
    """The Document of `kind` around `body`, not checked."""
    return f'{DECLARATION}<Document xmlns="{namespace(kind)}">{body}</Document>'.encode("utf-8")


_SPECIAL = re.compile(r"[&<>]")


def _escaper(rows: list[dict], *keys: str):
    """_x, or str when none of the rows' values at `keys` needs escaping (the usual file): one search over the 20,000
    values of a file, gathered in C, instead of a call of _x on each. A value that is not text: _x."""
    try:
        values = "".join("".join(filter(None, map(methodcaller("get", key), rows))) for key in keys)
    except TypeError:
        return _x
    return _x if _SPECIAL.search(values) else str


def _x(value) -> str:
    """A value as XML text: &, < and > escaped (attribute values here are constants)."""
    return escape(value if isinstance(value, str) else str(value))


# checking what we are asked to write


def _text(value, what: str, max_length: int = 35) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise BankFileError(f"{what} must be text of 1 to {max_length} characters, got {value!r}")
    return value


def _sheba(value, what: str) -> str:
    if isinstance(value, str) and _CANONICAL_SHEBA.fullmatch(value) and is_valid_sheba(value):
        return value  # already what normalise_sheba would make of it (the usual case: 5,000 per file)
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


_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_FIELDS = ("end_to_end_id", "amount_rials", "creditor_name", "creditor_iban", "national_id")


def _national_id_ok(value: str) -> bool:
    """common.identifiers.is_valid_national_id for ten ASCII digits, in a few C calls (5,000 per file); anything
    else is left to it."""
    if not (len(value) == 10 and value.isascii() and value.isdigit()):
        return is_valid_national_id(value)
    if value.count(value[0]) == 10:
        return False
    digits = value.encode()
    total = (sum(map(mul, digits[:9], _WEIGHTS)) - 48 * 54) % 11  # 48 is "0", 54 the sum of the weights
    check = digits[9] - 48
    return check == total if total < 2 else check == 11 - total


national_id_ok = _national_id_ok  # the fake bank checks the accounts of an open registry with it


def _payment(p: dict, n: int) -> dict:
    e2e, amount, name, iban, national_id = map(p.get, _FIELDS)
    if (type(e2e) is str and 0 < len(e2e) <= 35 and not e2e.isspace() and type(amount) is int and amount > 0
            and type(name) is str and 0 < len(name) <= 140 and not name.isspace() and type(iban) is str
            and _CANONICAL_SHEBA.fullmatch(iban) and int(iban[4:] + "1827" + iban[2:4]) % 97 == 1
            and type(national_id) is str and _national_id_ok(national_id)):  # the usual case, checked at once
        return {"end_to_end_id": e2e, "amount_rials": amount, "creditor_name": name, "creditor_iban": iban,
                "national_id": national_id}
    return {"end_to_end_id": _text(e2e, f"payment {n}: end_to_end_id"),
            "amount_rials": _rials(amount, f"payment {n}: amount_rials"),
            "creditor_name": _text(name, f"payment {n}: creditor_name", 140),
            "creditor_iban": _sheba(iban, f"payment {n}: creditor_iban"),
            "national_id": _national_id(national_id, f"payment {n}: national_id")}


def _agent(bic: str | None) -> str:
    if bic:
        return f"<FinInstnId><BIC>{_x(bic)}</BIC></FinInstnId>"
    return f"<FinInstnId><Othr><Id>{NOT_PROVIDED}</Id></Othr></FinInstnId>"


def _creditor(name: str, national_id: str, x=_x) -> str:
    return (f"<Cdtr><Nm>{x(name)}</Nm><Id><PrvtId><Othr><Id>{x(national_id)}</Id>"
            f"<SchmeNm><Prtry>{NATIONAL_ID_SCHEME}</Prtry></SchmeNm></Othr></PrvtId></Id></Cdtr>")


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
    count, total = len(rows), sum(r["amount_rials"] for r in rows)
    x = _escaper(rows, "end_to_end_id", "creditor_name", "creditor_iban", "national_id")
    transfers = "".join(
        f"<CdtTrfTxInf><PmtId><EndToEndId>{x(r['end_to_end_id'])}</EndToEndId></PmtId>"
        f"<Amt><InstdAmt Ccy=\"{CURRENCY}\">{r['amount_rials']}</InstdAmt></Amt>"
        f"{_creditor(r['creditor_name'], r['national_id'], x)}"
        f"<CdtrAcct><Id><IBAN>{x(r['creditor_iban'])}</IBAN></Id></CdtrAcct>"
        f"<RmtInf><Ustrd>{x(r['national_id'])}</Ustrd></RmtInf></CdtTrfTxInf>" for r in rows)
    batch, debtor_name_xml = _x(batch_id), _x(debtor_name)
    xml = _message("pain.001", (
        f"<CstmrCdtTrfInitn><GrpHdr><MsgId>{batch}</MsgId><CreDtTm>{stamp}</CreDtTm><NbOfTxs>{count}</NbOfTxs>"
        f"<CtrlSum>{total}</CtrlSum><InitgPty><Nm>{debtor_name_xml}</Nm></InitgPty></GrpHdr>"
        f"<PmtInf><PmtInfId>{batch}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>false</BtchBookg>"
        f"<NbOfTxs>{count}</NbOfTxs><CtrlSum>{total}</CtrlSum>"
        f"<ReqdExctnDt>{(execution_date or created_at.date()).isoformat()}</ReqdExctnDt>"
        f"<Dbtr><Nm>{debtor_name_xml}</Nm></Dbtr><DbtrAcct><Id><IBAN>{_x(debtor_iban)}</IBAN></Id><Ccy>{CURRENCY}</Ccy>"
        f"</DbtrAcct><DbtrAgt>{_agent(debtor.get('bic'))}</DbtrAgt>{transfers}</PmtInf></CstmrCdtTrfInitn>"))
    if "\r" not in batch_id and not any("\r" in r["end_to_end_id"] or "\r" in r["creditor_name"] for r in rows):
        _built.append((xml, {"batch_id": batch_id, "created_at": stamp, "declared_count": count,
                             "declared_sum": Decimal(total), "debtor_iban": debtor_iban}, rows))
    return xml


# The last few pain.001 files built (and validated) here, with what they were built from. The adapter reads back
# each file it is about to send (for its batch id): the very same bytes object, already checked, is then read
# from the values it was written with instead of being parsed and validated again (a fifth of our time for a
# batch of 5,000). Any other bytes are parsed and validated as always; values with a carriage return, which a
# parser turns into a line feed, are always parsed.
_built: deque[tuple[bytes, dict, list[dict]]] = deque(maxlen=8)  # files in flight, and the next being built


@lru_cache(maxsize=None)
def _xpath(expression: str, kind: str) -> etree.XPath:
    """An XPath on documents of `kind` (prefix d:), compiled once: 5,000 payments are read with 30,000 of them,
    and lxml compiles a path given with a prefix map again on every call."""
    return etree.XPath(expression, namespaces={"d": namespace(kind)})


def _find(node, path: str, kind: str) -> str | None:
    """The text of the first element at `path` under `node`, None when there is none. Only leaves are read here,
    and the schema allows none of them to be empty: an empty string-value means that there is no element."""
    return _xpath(f"string({path})", kind)(node) or None


def _amount(text: str | None, what: str) -> int:
    if text and text.isascii() and text.isdigit():
        return int(text)  # the usual case: a whole number of rials
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise BankFileError(f"{what}: not an amount: {text!r}") from None
    if value != value.to_integral_value():
        raise BankFileError(f"{what}: rials have no fractions: {text!r}")
    return int(value)


# Reading the thousands of repeated blocks of a statement or a batch: each block's children are walked once,
# by their tags, instead of one XPath per field (11 per entry). What is read is what those paths read: the
# first element of a path in document order, its string-value, None when there is none or it is empty (the
# schema allows no empty leaf).
def _tags(kind: str, names: str) -> SimpleNamespace:
    ns = namespace(kind)
    return SimpleNamespace(**{name: f"{{{ns}}}{name}" for name in names.split()})


def _first(node, *tags: str):
    """The first element at the path `tags` under `node` (in document order, as XPath gives it), or None. The
    first child at each step is tried first; only when that path ends short are the later ones searched."""
    found = node
    for depth, tag in enumerate(tags):
        found = next(found.iterchildren(tag), None)
        if found is None:
            return _search(node, tags) if depth else None  # not even the first step: there is no other way
    return found


def _search(node, tags: tuple):
    if not tags:
        return node
    for child in node.iterchildren(tags[0]):
        found = _search(child, tags[1:])
        if found is not None:
            return found
    return None


def _children(node) -> dict:
    """The first child of `node` of each tag, by tag (one walk over its children)."""
    return {child.tag: child for child in reversed(node)}


def _string(node) -> str | None:
    if node is None:
        return None
    return (node.text if not len(node) else node.xpath("string()")) or None


# Reading the blocks by column: a document that is plain (_plain) and valid has, at a path along which the schema
# allows at most one element per block, at most one text node per block; when there are as many text nodes as
# blocks, each block has exactly one, in document order: one XPath reads a field of all 5,000 blocks at once, in
# C, instead of 5,000 walks in Python (a statement is read in half the time). A block the columns cannot describe
# (a field missing, or one they do not read) is read by the walk.
def _column(expression: str, kind: str) -> etree.XPath:
    """The XPath, compiled once per thread: an XPath object evaluates one document at a time (it holds a lock while
    it runs, without the GIL), and the threads reading statements each run their own at once."""
    compiled = getattr(_per_thread, "columns", None)
    if compiled is None:
        compiled = _per_thread.columns = {}
    xpath = compiled.get((expression, kind))
    if xpath is None:
        xpath = compiled[expression, kind] = etree.XPath(expression, namespaces={"d": namespace(kind)},
                                                        smart_strings=False)
    return xpath


_per_thread = threading.local()


def _columns(node, kind: str, count: int, paths: dict[str, str]) -> dict[str, list] | None:
    """{name: the text of each block's leaf at paths[name]}, or None unless every block has each of them."""
    columns = {}
    for name, path in paths.items():
        column = _column(path, kind)(node)
        if len(column) != count:
            return None
        columns[name] = column
    return columns


def pain001_batch_id(xml: bytes | str) -> str:
    """The batch id of a valid pain.001 (BankFileError if it is not one): of a file built here, without reading it
    again (see _built)."""
    for file, header, _ in list(_built):
        if file is xml:
            return header["batch_id"]
    return parse_pain001(xml)["batch_id"]


def parse_pain001(xml: bytes | str) -> dict:
    """A pain.001.001.03 batch as {batch_id, created_at, declared_count, declared_sum, debtor_iban,
    payments: [{end_to_end_id, amount_rials, currency, creditor_name, creditor_iban, national_id}]}
    (the bank's side; the declared count and sum are as written, to be checked against the payments)."""
    for file, header, rows in list(_built):
        if file is xml:
            return {**header, "payments": [{"end_to_end_id": r["end_to_end_id"], "amount_rials": r["amount_rials"],
                                            "currency": CURRENCY, "creditor_name": r["creditor_name"],
                                            "creditor_iban": r["creditor_iban"], "national_id": r["national_id"]}
                                           for r in rows]}
    root = validate("pain.001", xml)
    payments = _payments(root, _plain(xml))
    declared_sum = _find(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:CtrlSum", "pain.001")
    return {"batch_id": _find(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:MsgId", "pain.001"),
            "created_at": _find(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:CreDtTm", "pain.001"),
            "declared_count": int(_find(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:NbOfTxs", "pain.001")),
            "declared_sum": None if declared_sum is None else Decimal(declared_sum),
            "debtor_iban": _find(root, ".//d:PmtInf/d:DbtrAcct/d:Id/d:IBAN", "pain.001"),
            "payments": payments}


def _payments(root, plain: bool = False) -> list[dict]:
    if plain:
        payments = _payments_by_column(root)
        if payments is not None:
            return payments
    t = _P1
    payments = []
    for block in root.iterchildren(t.CstmrCdtTrfInitn):
        for pmt_inf in block.iterchildren(t.PmtInf):
            for tx in pmt_inf.iterchildren(t.CdtTrfTxInf):
                payments.append(_payment_of(tx))
    return payments


def _payment_of(tx) -> dict:
    t = _P1
    part = _children(tx)
    amount = _first(part[t.Amt], t.InstdAmt) if t.Amt in part else None
    creditor = part.get(t.Cdtr)
    return {
        "end_to_end_id": _string(_first(part[t.PmtId], t.EndToEndId)) if t.PmtId in part else None,
        "amount_rials": _amount(_string(amount), "InstdAmt") if amount is not None else 0,
        "currency": amount.get("Ccy") or None if amount is not None else None,
        "creditor_name": None if creditor is None else _string(_first(creditor, t.Nm)),
        "creditor_iban": _string(_first(tx, t.CdtrAcct, t.Id, t.IBAN)),
        "national_id": _string(_first(tx, t.Cdtr, t.Id, t.PrvtId, t.Othr, t.Id))
        or _string(_first(tx, t.RmtInf, t.Ustrd)),
    }


_TX = "d:CstmrCdtTrfInitn/d:PmtInf/d:CdtTrfTxInf"
_PAYMENT_COLUMNS = {  # each step at most once per CdtTrfTxInf (Othr[1]: the first, as _first reads it)
    "end_to_end_id": f"{_TX}/d:PmtId/d:EndToEndId/text()", "amount": f"{_TX}/d:Amt/d:InstdAmt/text()",
    "currency": f"{_TX}/d:Amt/d:InstdAmt/@Ccy", "creditor_name": f"{_TX}/d:Cdtr/d:Nm/text()",
    "creditor_iban": f"{_TX}/d:CdtrAcct/d:Id/d:IBAN/text()",
    "national_id": f"{_TX}/d:Cdtr/d:Id/d:PrvtId/d:Othr[1]/d:Id/text()"}


def _payments_by_column(root) -> list[dict] | None:
    """_payments of a plain document whose every payment has each field (the usual file), read by column."""
    c = _columns(root, "pain.001", int(_column(f"count({_TX})", "pain.001")(root)), _PAYMENT_COLUMNS)
    if c is None:
        return None
    return [{"end_to_end_id": e2e, "amount_rials": _amount(amount, "InstdAmt"), "currency": currency or None,
             "creditor_name": name, "creditor_iban": iban, "national_id": national_id}
            for e2e, amount, currency, name, iban, national_id in zip(
                c["end_to_end_id"], c["amount"], c["currency"], c["creditor_name"], c["creditor_iban"],
                c["national_id"], strict=True)]


_P1 = _tags("pain.001", "CstmrCdtTrfInitn PmtInf CdtTrfTxInf Amt InstdAmt PmtId EndToEndId Cdtr Nm CdtrAcct Id IBAN "
                        "PrvtId Othr RmtInf Ustrd")


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


def _balance(code: str, amount: int, day: str) -> str:
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{CURRENCY}\">{abs(amount)}</Amt>"
            f"<CdtDbtInd>{'CRDT' if amount >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")


def _entry(e: dict, day: str, x=_x) -> str:
    returned = bool(e.get("returned"))
    ref, batch = x(e["entry_ref"]), x(e["batch_id"])
    amount = _rials(e["amount_rials"], "entry amount")
    details = (f"<Refs><MsgId>{batch}</MsgId><AcctSvcrRef>{ref}</AcctSvcrRef><PmtInfId>{batch}</PmtInfId>"
               f"<EndToEndId>{x(e['end_to_end_id'])}</EndToEndId></Refs>"
               f"<AmtDtls><InstdAmt><Amt Ccy=\"{CURRENCY}\">{amount}</Amt></InstdAmt></AmtDtls>")
    if e.get("creditor_iban"):
        details += f"<RltdPties><CdtrAcct><Id><IBAN>{x(e['creditor_iban'])}</IBAN></Id></CdtrAcct></RltdPties>"
    if e.get("national_id"):
        details += f"<RmtInf><Ustrd>{x(e['national_id'])}</Ustrd></RmtInf>"
    if returned:
        details += f"<RtrInf><Rsn><Cd>{x(_text(e.get('reason') or 'NARR', 'return reason', 4))}</Cd></Rsn></RtrInf>"
    return (f"<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy=\"{CURRENCY}\">{amount}</Amt>"
            f"<CdtDbtInd>{x(e['credit_debit'])}</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt>"
            f"<ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>"
            f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>{'RRTN' if returned else 'DMCT'}</SubFmlyCd>"
            f"</Fmly></Domn></BkTxCd><NtryDtls><TxDtls>{details}</TxDtls></NtryDtls></Ntry>")


def camt053(statement_id: str, created_at: datetime, account_iban: str, opening_balance: int,
            entries: list[dict], validate: bool = True) -> bytes:
    """A camt.053.001.02 statement of `account_iban` (used by the fake bank). Each entry is {entry_ref (unique,
    at most 35 characters), batch_id, end_to_end_id, amount_rials, credit_debit ("DBIT" paid out, "CRDT" came
    back), returned (bool), reason (the return reason code, e.g. AC04), creditor_iban, national_id}; all
    entries are booked. The closing balance is the opening balance less debits plus credits. With validate=False
    the file is not checked against the XSD here (the fake bank: its reader checks it)."""
    stamp, day = _timestamp(created_at, "created_at"), created_at.date().isoformat()
    closing = opening_balance + sum(e["amount_rials"] if e["credit_debit"] == "CRDT" else -e["amount_rials"]
                                    for e in entries)
    statement = _x(_text(statement_id, "statement_id"))
    x = _escaper(entries, "entry_ref", "batch_id", "end_to_end_id", "credit_debit", "creditor_iban", "national_id",
                 "reason")
    return (_message if validate else _document)("camt.053", (
        f"<BkToCstmrStmt><GrpHdr><MsgId>{statement}</MsgId><CreDtTm>{stamp}</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement}</Id><CreDtTm>{stamp}</CreDtTm>"
        f"<Acct><Id><IBAN>{_x(_sheba(account_iban, 'account'))}</IBAN></Id><Ccy>{CURRENCY}</Ccy></Acct>"
        f"{_balance('OPBD', opening_balance, day)}{_balance('CLBD', closing, day)}"
        f"{''.join(_entry(e, day, x) for e in entries)}</Stmt></BkToCstmrStmt>"))


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
    entries = _entries(stmt, _plain(xml))
    return {"statement_id": _find(stmt, "d:Id", "camt.053"),
            "message_id": _find(root, "d:BkToCstmrStmt/d:GrpHdr/d:MsgId", "camt.053"),
            "created_at": _find(stmt, "d:CreDtTm", "camt.053"),
            "account_iban": _find(stmt, "d:Acct/d:Id/d:IBAN", "camt.053"),
            "opening_balance": _signed_balance(stmt, "OPBD"),
            "closing_balance": _signed_balance(stmt, "CLBD"),
            "entries": entries}


def _entries(stmt, plain: bool = False) -> list[dict]:
    if plain:
        entries = _entries_by_column(stmt)
        if entries is not None:
            return entries
    return [_entry_of(n) for n in stmt.iterchildren(_C53.Ntry)]


def _entry_of(n) -> dict:
    t = _C53
    own = _children(n)
    tx = None
    for details in n.iterchildren(t.NtryDtls):  # the first TxDtls of the entry: "(NtryDtls/TxDtls)[1]"
        tx = next(details.iterchildren(t.TxDtls), None)
        if tx is not None:
            break
    part = {} if tx is None else _children(tx)
    refs = _children(part[t.Refs]) if t.Refs in part else {}
    returned = t.RtrInf in part
    return {
        "entry_ref": _string(own.get(t.AcctSvcrRef)) or _string(own.get(t.NtryRef)),
        "batch_id": _string(refs.get(t.MsgId)),
        "end_to_end_id": _string(refs.get(t.EndToEndId)),
        "amount_rials": _amount(_string(own.get(t.Amt)), "Ntry/Amt"),
        "credit_debit": _string(own.get(t.CdtDbtInd)),
        "status": _string(own.get(t.Sts)),
        "reversal": _string(own.get(t.RvslInd)) == "true",
        "returned": returned,
        "reason": None if not returned else (_string(_first(tx, t.RtrInf, t.Rsn, t.Cd))
                                             or _string(_first(tx, t.RtrInf, t.Rsn, t.Prtry))),
        "creditor_iban": None if tx is None else _string(_first(tx, t.RltdPties, t.CdtrAcct, t.Id, t.IBAN)),
        "national_id": None if tx is None else _string(_first(tx, t.RmtInf, t.Ustrd)),
    }


_TXD = "d:Ntry/d:NtryDtls/d:TxDtls"
_ENTRY_COLUMNS = {  # with one TxDtls per entry, each step at most once per entry (Ustrd[1]: the first)
    "entry_ref": "d:Ntry/d:AcctSvcrRef/text()", "amount": "d:Ntry/d:Amt/text()",
    "credit_debit": "d:Ntry/d:CdtDbtInd/text()", "status": "d:Ntry/d:Sts/text()",
    "batch_id": f"{_TXD}/d:Refs/d:MsgId/text()", "end_to_end_id": f"{_TXD}/d:Refs/d:EndToEndId/text()",
    "creditor_iban": f"{_TXD}/d:RltdPties/d:CdtrAcct/d:Id/d:IBAN/text()",
    "national_id": f"{_TXD}/d:RmtInf/d:Ustrd[1]/text()"}
_ONE_TX_EACH = f"count(d:Ntry) = count({_TXD}) and not(d:Ntry[not(d:NtryDtls/d:TxDtls)])"
_OTHERS = f"d:Ntry/d:RvslInd | {_TXD}/d:RtrInf"  # what the columns do not read: those entries are walked
_MOST_WALKED = 64  # beyond that many (each found by counting its preceding entries), all are walked


def _entries_by_column(stmt) -> list[dict] | None:
    """_entries of a plain statement whose every entry has one TxDtls and each field the columns read (the usual
    statement), read by column; the few entries with a reversal indicator or a return are walked."""
    count = int(_column("count(d:Ntry)", "camt.053")(stmt))
    if not _column(_ONE_TX_EACH, "camt.053")(stmt):
        return None
    others = _column(_OTHERS, "camt.053")(stmt)
    if len(others) > _MOST_WALKED:
        return None
    c = _columns(stmt, "camt.053", count, _ENTRY_COLUMNS)
    if c is None:
        return None
    entries = [{"entry_ref": ref, "batch_id": batch, "end_to_end_id": e2e, "amount_rials": _amount(amount, "Ntry/Amt"),
                "credit_debit": cd, "status": status, "reversal": False, "returned": False, "reason": None,
                "creditor_iban": iban, "national_id": national_id}
               for ref, batch, e2e, amount, cd, status, iban, national_id in zip(
                   c["entry_ref"], c["batch_id"], c["end_to_end_id"], c["amount"], c["credit_debit"], c["status"],
                   c["creditor_iban"], c["national_id"], strict=True)]
    position = _column("count(preceding-sibling::d:Ntry)", "camt.053")
    for node in others:
        entry = node.getparent() if node.tag == _C53.RvslInd else node.getparent().getparent().getparent()
        entries[int(position(entry))] = _entry_of(entry)
    return entries


_C53 = _tags("camt.053", "Ntry NtryDtls TxDtls AcctSvcrRef NtryRef Amt CdtDbtInd Sts RvslInd RtrInf Rsn Cd Prtry Refs "
                         "MsgId EndToEndId RltdPties CdtrAcct Id IBAN RmtInf Ustrd")
