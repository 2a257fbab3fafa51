"""A local fake bank, like the fake SMS operator: it takes payment batches as ISO 20022 pain.001, answers with
a pain.002 status report, keeps a camt.053 statement of each batch, and answers account-owner inquiries.

Bank API (each answer carries X-Signature: hex HMAC-SHA256(shared key, body)):

* POST /pain001 (the XML as body) -> pain.002. A batch id (MsgId) already received gets the same answer again
  and is not booked twice; the same id with other payments gets 409. Payments to an account the bank does not
  know are rejected (AC01); NbOfTxs or CtrlSum that do not match the payments reject the batch (AM18, AM10).
* GET /statements/<batch_id> -> camt.053 of that batch: a booked debit per accepted payment and, for each
  payment returned by the creditor's bank, a booked credit with the return reason (RtrInf). 404 if unknown.
  While `leave_out` names accounts, their payments are left out of the statement (not booked yet, as a bank
  whose statement of the day does not have them): that statement has an id of its own, and the next statement
  asked for once the control is cleared has them all, under the batch's usual id.
* GET /accounts/<iban>/owner -> {"iban", "national_id", "name"}, or 404.

The fake's own API: POST /api/accounts (register [{iban, national_id, name}]), POST /api/control (misbehave:
{"reject": [ibans] or {iban: code}, "return_later": [ibans] or {iban: code}, "leave_out": [ibans], "fail_batch": true,
"fail_reason": "AM04", "unavailable": true, "fail_next": n, "latency_ms": 200, "forge_signature": true,
"tamper": true}; unavailable and fail_next answer 503, latency_ms answers late but after the work is done,
forge_signature signs with another key, tamper changes a digit after signing), GET /api/batches (a summary of
each batch, with how many times it was submitted and its statement asked for), GET /api/batches/<batch_id> (with its rejected and returned payments), DELETE /api/batches (forget
batches, accounts and control), and a page at /.

Memory stays bounded however many batches it takes (a month's 1.5 million pensions are 300 files of 2 MB): what
it keeps in memory of a batch is a summary of a few hundred bytes; its payments (id, amount, account, national
ID and what became of each) and its status report go to a spool directory on disk, and a statement is built from
them when it is asked for, the same bytes every time (its time is the booking's).

Open registry (--open): besides the registered accounts, every valid Sheba whose last 10 digits are a valid
national ID belongs to that national ID (open_iban() makes one), so a demo registry of 1.5 million people need
not be registered one by one.

    python -m fakes.bank --port 8026 [--open] [--key KEY] [--spool DIR]
"""
from __future__ import annotations

import atexit
import copy
import hashlib
import hmac
import os
import pickle
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from flask import Flask, jsonify, render_template_string, request

from common.identifiers import InvalidIdentifier, normalise_national_id, normalise_sheba
from services.payments.bank import iso20022

SIGNATURE_HEADER = "X-Signature"
DEFAULT_REASON = "AC04"  # account closed
UNKNOWN_ACCOUNT = "AC01"  # incorrect account number
BANK_API = ("/pain001", "/statements/", "/accounts/")

PAGE = """<!doctype html><html lang="fa" dir="rtl"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>بانک آزمایشی</title>
<style>body{font-family:sans-serif;margin:1rem;max-width:70rem}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}small{color:#555}</style>
<h1>بانک آزمایشی</h1><p>{{ batches|length }} دستهٔ پرداخت دریافت شده؛ تازه‌ترین در بالا.
{{ accounts }} حساب ثبت‌شده{% if open %}، و هر شبایی که ده رقم آخرش کد ملی معتبر باشد{% endif %}.
<a href="/api/batches">JSON</a></p>
<table><tr><th>شناسهٔ دسته</th><th>زمان دریافت</th><th>وضعیت</th><th>پرداخت‌ها</th><th>جمع (ریال)</th>
<th>پذیرفته</th><th>ردشده</th><th>برگشتی</th><th>دفعات ارسال</th></tr>
{% for b in batches|reverse %}<tr><td>{{ b.batch_id }}</td><td><small>{{ b.received_at }}</small></td>
<td>{{ b.group_status }}</td><td>{{ b.count }}</td><td>{{ "{:,}".format(b.total) }}</td><td>{{ b.accepted }}</td>
<td>{{ b.rejected }}</td><td>{{ b.returned }}</td><td>{{ b.submissions }}</td></tr>
{% endfor %}</table></html>"""


def default_control() -> dict:
    return {"reject": {}, "return_later": {}, "leave_out": {}, "fail_batch": False, "fail_reason": "AM04", "unavailable": False,
            "fail_next": 0, "latency_ms": 0, "forge_signature": False, "tamper": False}


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def open_iban(national_id: str, bank_code: str = "017") -> str:
    """A valid Sheba of bank `bank_code` whose last 10 digits are `national_id` (the open registry's rule)."""
    bban = bank_code + "0" * (22 - len(bank_code) - 10) + national_id
    check = 98 - int(bban + "1827" + "00") % 97  # I=18, R=27, check digits 00
    return f"IR{check:02d}{bban}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _codes(value) -> dict[str, str]:
    """Control lists of Shebas, [ibans] or {iban: reason code}, as {normalised iban: code}."""
    items = value.items() if isinstance(value, dict) else ((iban, DEFAULT_REASON) for iban in value or [])
    return {normalise_sheba(iban): str(code or DEFAULT_REASON) for iban, code in items}


PAID, REJECTED, RETURNED = "", "R", "B"  # what became of a payment, in the spool


class Bank:
    def __init__(self, shared_key: str, open_registry: bool = False, account_iban: str | None = None,
                 opening_balance: int = 10**16, spool: str | os.PathLike | None = None):
        self.shared_key = shared_key
        self.open_registry = open_registry
        self.account_iban = account_iban or open_iban("0000000000", "017")  # the payer's account here
        self.initial_balance = opening_balance
        self.balance = opening_balance
        self.accounts: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}  # batch id -> its summary (see _book)
        self.changed = threading.Condition()
        self.control = default_control()
        if spool is None:
            spool = tempfile.mkdtemp(prefix="fake-bank-")
            atexit.register(shutil.rmtree, spool, True)
        self.spool = Path(spool)
        self.spool.mkdir(parents=True, exist_ok=True)

    def reset(self) -> None:
        with self.changed:
            for record in self.batches.values():
                for path in (self._rows_file(record), self._report_file(record)):
                    path.unlink(missing_ok=True)
            self.batches.clear()
            self.accounts.clear()
            self.control = default_control()
            self.balance = self.initial_balance
            self.changed.notify_all()

    def owner(self, iban: str) -> dict | None:
        if iban in self.accounts:
            return self.accounts[iban]
        if self.open_registry and iso20022.national_id_ok(iban[-10:]):  # is_valid_national_id, quicker (5,000 a file)
            return {"iban": iban, "national_id": iban[-10:], "name": None}
        return None

    def register(self, iban: str, national_id: str, name: str | None = None) -> dict:
        iban, national_id = normalise_sheba(iban), normalise_national_id(national_id)
        with self.changed:
            self.accounts[iban] = {"iban": iban, "national_id": national_id, "name": name}
        return self.accounts[iban]

    def receive(self, batch: dict) -> tuple[int, bytes]:
        """Take a parsed pain.001: (HTTP status, pain.002) — the stored answer when the batch id is known."""
        fingerprint = _digest(*(f"{p['end_to_end_id']}|{p['amount_rials']}|{p['creditor_iban']}"
                                for p in batch["payments"]))
        with self.changed:
            known = self.batches.get(batch["batch_id"])
            if known is not None:
                if known["fingerprint"] != fingerprint:
                    return 409, b"this batch id was received with other payments"
                known["submissions"] += 1
                return 200, self.status_report(known)
            record, report = self._book(batch, fingerprint)
            self.batches[batch["batch_id"]] = record
            self.changed.notify_all()
            return 200, report

    def _decide(self, batch: dict) -> tuple[str, str | None, dict[str, str], dict[str, str]]:
        """(group status, group reason, rejected {e2e: code}, returned {e2e: code}) for a new batch."""
        payments = batch["payments"]
        if self.control["fail_batch"]:
            return "RJCT", self.control["fail_reason"], {}, {}
        if batch["declared_count"] != len(payments):
            return "RJCT", "AM18", {}, {}
        if batch["declared_sum"] is not None and batch["declared_sum"] != sum(p["amount_rials"] for p in payments):
            return "RJCT", "AM10", {}, {}
        rejected, returned = {}, {}
        reject, return_later = self.control["reject"], self.control["return_later"]
        for p in payments:
            iban, e2e = p["creditor_iban"], p["end_to_end_id"]
            if p["currency"] != iso20022.CURRENCY:
                rejected[e2e] = "AM03"
            elif iban in reject:
                rejected[e2e] = reject[iban]
            elif self.owner(iban) is None:
                rejected[e2e] = UNKNOWN_ACCOUNT
            elif iban in return_later:
                returned[e2e] = return_later[iban]
        status = "RJCT" if len(rejected) == len(payments) else "PART" if rejected else "ACCP"
        return status, None, rejected, returned

    def _book(self, batch: dict, fingerprint: str) -> tuple[dict, bytes]:
        """Book a new batch: its summary (kept in memory) and its status report. The payments, what became of
        each, and the report are written to the spool; the balance moves now, by what the statement will show."""
        now = datetime.now(timezone.utc)
        batch_id, payments = batch["batch_id"], batch["payments"]
        status, reason, rejected, returned = self._decide(batch)
        total = sum(p["amount_rials"] for p in payments)
        report = iso20022.pain002("PSR-" + _digest(batch_id)[:30], now, batch_id, status, len(payments), total,
                                  rejected, reason)
        rows = []
        for p in payments:
            e2e = p["end_to_end_id"]
            fate = (REJECTED, rejected[e2e]) if e2e in rejected else (RETURNED, returned[e2e]) \
                if e2e in returned else (PAID, None)
            rows.append((e2e, p["amount_rials"], p["creditor_iban"], p["national_id"], *fate))
        if status == "RJCT":
            paid_out = came_back = 0
        else:
            paid_out = sum(r[1] for r in rows if r[4] != REJECTED)
            came_back = sum(r[1] for r in rows if r[4] == RETURNED)
        record = {"batch_id": batch_id, "received_at": now.isoformat(timespec="seconds"), "group_status": status,
                  "group_reason": reason, "count": len(payments), "total": total,
                  "accepted": 0 if status == "RJCT" else len(payments) - len(rejected),
                  "rejected": len(payments) if status == "RJCT" else len(rejected), "returned": len(returned),
                  "submissions": 1, "statements": 0, "fingerprint": fingerprint, "booked_at": now,
                  "opening_balance": self.balance,
                  "file": _digest(batch_id)[:40]}
        self._rows_file(record).write_bytes(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))
        self._report_file(record).write_bytes(report)
        self.balance += came_back - paid_out
        return record, report

    # the spool: a batch's payments and status report, read back when asked for

    def _rows_file(self, record: dict) -> Path:
        return self.spool / f"{record['file']}.payments"

    def _report_file(self, record: dict) -> Path:
        return self.spool / f"{record['file']}.pain002.xml"

    def _rows(self, record: dict) -> list[tuple]:
        return pickle.loads(self._rows_file(record).read_bytes())

    def status_report(self, record: dict) -> bytes:
        return self._report_file(record).read_bytes()

    def statement(self, record: dict) -> bytes:
        """The camt.053 of a batch, built now from the spool: a booked debit per accepted payment, and a booked
        credit with its reason per payment that came back. The same bytes on every request."""
        batch_id = record["batch_id"]
        entries, left_out = [], []
        for e2e, amount, iban, national_id, fate, code in self._rows(record) if record["group_status"] != "RJCT" else ():
            if fate == REJECTED:
                continue
            if iban in self.control["leave_out"]:
                left_out.append(e2e)
                continue
            common = {"batch_id": batch_id, "end_to_end_id": e2e, "amount_rials": amount, "creditor_iban": iban,
                      "national_id": national_id}
            entries.append({**common, "entry_ref": "E" + _digest(batch_id, e2e, "paid")[:30], "credit_debit": "DBIT"})
            if fate == RETURNED:
                entries.append({**common, "entry_ref": "E" + _digest(batch_id, e2e, "back")[:30],
                                "credit_debit": "CRDT", "returned": True, "reason": code})
        # A bank does not check its own statements against the XSD on every request: the payments service does,
        # on receipt, and the unit tests check what this builder writes.
        return iso20022.camt053("STMT-" + _digest(batch_id, *left_out)[:30], record["booked_at"], self.account_iban,
                                record["opening_balance"], entries, validate=False)

    def details(self, record: dict) -> dict:
        rows = self._rows(record)
        return {**public(record), "rejections": {r[0]: r[5] for r in rows if r[4] == REJECTED},
                "returns": {r[0]: r[5] for r in rows if r[4] == RETURNED}}


def public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("fingerprint", "booked_at", "opening_balance", "file")}


def tampered(body: bytes) -> bytes:
    """The body with one digit changed, as a forger would: in the first number (of five digits or more) that is
    an element's whole text, such as an amount, else in the first such number anywhere."""
    def bump(match):
        return match.group()[:-1] + str((int(match.group()[-1:]) + 1) % 10).encode()

    for pattern in (rb"(?<=>)\d{5,}(?=<)", rb"\d{5,}"):
        changed = re.sub(pattern, bump, body, count=1)
        if changed != body:
            return changed
    return body + b" "


def create_app(shared_key: str = "demo-bank-key", open_registry: bool = False, spool: str | None = None) -> Flask:
    app = Flask(__name__)
    bank = Bank(shared_key, open_registry, spool=spool)
    app.config["bank"] = bank

    @app.before_request
    def misbehave():
        if not request.path.startswith(BANK_API):
            return None
        control = bank.control
        with bank.changed:
            failing = control["unavailable"] or control["fail_next"] > 0
            if control["fail_next"] > 0:
                control["fail_next"] -= 1
        if failing:
            return "<html><body><h1>503 Service Unavailable</h1></body></html>", 503, {"Content-Type": "text/html"}
        return None

    @app.after_request
    def signed(response):
        """Sign the bank's answers; a slow bank is slow to answer, after it has done the work."""
        if request.path.startswith(BANK_API) and bank.control["latency_ms"]:
            time.sleep(bank.control["latency_ms"] / 1000)
        if request.path.startswith(BANK_API) and response.status_code < 500:
            body = response.get_data()
            key = "not-the-bank's-key" if bank.control["forge_signature"] else bank.shared_key
            response.headers[SIGNATURE_HEADER] = sign(key, body)
            if bank.control["tamper"]:
                response.set_data(tampered(body))
        return response

    def xml(body: bytes, status: int = 200):
        return body, status, {"Content-Type": "application/xml; charset=utf-8"}

    @app.post("/pain001")
    def take_batch():
        try:
            batch = iso20022.parse_pain001(request.get_data())
        except iso20022.BankFileError as exc:
            return str(exc), 400, {"Content-Type": "text/plain; charset=utf-8"}
        status, body = bank.receive(batch)
        return xml(body) if status == 200 else (body, status, {"Content-Type": "text/plain; charset=utf-8"})

    @app.get("/statements/<batch_id>")
    def statement(batch_id):
        record = bank.batches.get(batch_id)
        if record is None:
            return "no such batch", 404, {"Content-Type": "text/plain; charset=utf-8"}
        with bank.changed:
            record["statements"] += 1
        return xml(bank.statement(record))

    @app.get("/accounts/<iban>/owner")
    def owner(iban):
        try:
            iban = normalise_sheba(iban)
        except InvalidIdentifier:
            return jsonify({"error": "invalid_sheba"}), 400
        found = bank.owner(iban)
        return (jsonify(found), 200) if found else (jsonify({"error": "unknown_account", "iban": iban}), 404)

    # the fake's own API

    @app.route("/api/accounts", methods=["GET", "POST"])
    def accounts():
        if request.method == "GET":
            return jsonify({"count": len(bank.accounts), "open": bank.open_registry})
        body = request.get_json(force=True, silent=True)
        rows = body.get("accounts", []) if isinstance(body, dict) else body or []
        try:
            added = [bank.register(r["iban"], r["national_id"], r.get("name")) for r in rows]
        except (InvalidIdentifier, KeyError, TypeError, AttributeError) as exc:
            return jsonify({"error": "invalid_account", "detail": str(exc)}), 400
        return jsonify({"registered": len(added), "count": len(bank.accounts)})

    @app.route("/api/control", methods=["GET", "POST"])
    def control():
        body = (request.get_json(force=True, silent=True) or {}) if request.method == "POST" else {}
        with bank.changed:
            try:
                for key in ("reject", "return_later", "leave_out"):
                    if key in body:
                        bank.control[key] = _codes(body[key])
            except InvalidIdentifier as exc:
                return jsonify({"error": "invalid_sheba", "detail": str(exc)}), 400
            for key in ("fail_batch", "unavailable", "forge_signature", "tamper"):
                if key in body:
                    bank.control[key] = bool(body[key])
            for key in ("fail_next", "latency_ms"):
                if key in body:
                    bank.control[key] = int(body[key] or 0)
            if body.get("fail_reason"):
                bank.control["fail_reason"] = str(body["fail_reason"])[:4]
            return jsonify(copy.deepcopy(bank.control))

    @app.get("/api/batches")
    def batches():
        return jsonify([public(b) for b in bank.batches.values()])

    @app.get("/api/batches/<batch_id>")
    def one_batch(batch_id):
        record = bank.batches.get(batch_id)
        return (jsonify(bank.details(record)), 200) if record else (jsonify({"error": "unknown_batch"}), 404)

    @app.delete("/api/batches")
    def reset():
        bank.reset()
        return "", 204

    @app.get("/")
    def page():
        return render_template_string(PAGE, batches=[public(b) for b in bank.batches.values()],
                                      accounts=len(bank.accounts), open=bank.open_registry)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app


def main(argv=None) -> int:
    import argparse
    import os

    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="Run the fake bank (ISO 20022 pain.001, pain.002, camt.053)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--key", default=os.environ.get("BANK_SHARED_KEY", "demo-bank-key"),
                        help="the key the bank signs its answers with (default: $BANK_SHARED_KEY or demo-bank-key)")
    parser.add_argument("--open", action="store_true",
                        help="any valid Sheba whose last 10 digits are a valid national ID belongs to that ID")
    parser.add_argument("--spool", default=None,
                        help="where the payments of the batches received are kept (default: a temporary directory, "
                             "removed on exit)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that the temporary spool is removed
    run_simple(args.host, args.port, create_app(args.key, open_registry=args.open, spool=args.spool), threaded=True)
    return 0
