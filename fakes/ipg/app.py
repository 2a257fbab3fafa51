"""A local fake internet payment gateway (IPG), in the steps of Iran's PSPs (Sadad, Saman, Parsian…): token,
redirect, callback, verify, settle. Like the fake bank, it keeps everything in memory and signs what it says.

Merchant API (JSON; each answer carries X-Signature: hex HMAC-SHA256(shared key, body)):

* POST /api/v1/token {merchant_id, amount, order_id, callback_url} -> {token, redirect_url}. The same order id
  with the same amount and callback gets the same token again; with another, 409.
* POST /api/v1/verify {merchant_id, token, amount} -> {reference, amount, order_id, card_masked,
  already_verified}: only for a token that was paid, for exactly the amount paid; else 400 {error}.
* POST /api/v1/settle {merchant_id, reference} -> {reference, settled: true}: a verified payment only.

The donor's side: GET /pay/<token> is the payment page (Persian, RTL); POST /pay/<token> (form: action=pay or
cancel) pays or cancels and answers a page that posts the outcome to the merchant's callback URL with the fields
token, status (OK or NOK), reference, amount, order_id and signature (hex HMAC-SHA256 of
"token|status|reference|amount|order_id", see services/payments/psp.py).

The fake's own API: POST /api/pay {token, outcome: paid|cancelled, deliver: bool} does what the page does and
answers {callback_url, fields} (and, with deliver, posts the callback itself and adds {delivered: {status, body}});
POST /api/control ({"verify_fails": true, "unavailable": true, "forge_callbacks": true, "auto_pay": true,
"card": "6037991234567890"}; auto_pay pays as soon as the page is opened); GET /api/transactions, DELETE
/api/transactions (forget everything), and a page at /.

    python -m fakes.ipg --port 8027 [--merchant ID] [--key KEY] [--public-url URL]
"""
from __future__ import annotations

import copy
import os
import secrets
import threading
from datetime import datetime, timezone

import requests
from flask import Flask, jsonify, render_template_string, request

from services.payments.psp import SIGNATURE_HEADER, callback_signature, sign

MERCHANT_API = "/api/v1/"

PAY_PAGE = """<!doctype html><html lang="fa" dir="rtl"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>درگاه پرداخت آزمایشی</title>
<style>body{font-family:sans-serif;margin:2rem auto;max-width:30rem}dd{margin:0 0 .5rem}button{font-size:1.1rem;
padding:.4rem 1.2rem;margin-left:.5rem}</style>
<h1>درگاه پرداخت اینترنتی (آزمایشی)</h1>
{% if tx %}<dl><dt>پذیرنده</dt><dd>{{ tx.merchant_id }}</dd><dt>مبلغ</dt><dd>{{ "{:,}".format(tx.amount) }} ریال</dd>
<dt>شماره سفارش</dt><dd>{{ tx.order_id }}</dd><dt>وضعیت</dt><dd>{{ tx.status }}</dd></dl>
{% if tx.status == "pending" %}<form method="post"><button name="action" value="pay">پرداخت</button>
<button name="action" value="cancel">انصراف</button></form>{% endif %}
{% else %}<p>چنین تراکنشی نیست یا زمان آن گذشته است.</p>{% endif %}</html>"""

CALLBACK_PAGE = """<!doctype html><html lang="fa" dir="rtl"><meta charset="utf-8"><title>بازگشت به پذیرنده</title>
<body onload="document.forms[0].submit()"><p>در حال بازگشت به سایت پذیرنده…</p>
<form method="post" action="{{ url }}">{% for k, v in fields.items() %}
<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}<button>بازگشت</button></form></body></html>"""

LIST_PAGE = """<!doctype html><html lang="fa" dir="rtl"><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>درگاه پرداخت آزمایشی</title>
<style>body{font-family:sans-serif;margin:1rem;max-width:70rem}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}</style>
<h1>درگاه پرداخت آزمایشی</h1><p>{{ txs|length }} تراکنش؛ تازه‌ترین در بالا. <a href="/api/transactions">JSON</a></p>
<table><tr><th>توکن</th><th>شماره سفارش</th><th>مبلغ (ریال)</th><th>وضعیت</th><th>مرجع</th><th>دفعات تأیید</th></tr>
{% for t in txs|reverse %}<tr><td><a href="/pay/{{ t.token }}">{{ t.token[:12] }}…</a></td><td>{{ t.order_id }}</td>
<td>{{ "{:,}".format(t.amount) }}</td><td>{{ t.status }}</td><td>{{ t.reference or "" }}</td>
<td>{{ t.verifications }}</td></tr>{% endfor %}</table></html>"""


def default_control() -> dict:
    return {"verify_fails": False, "unavailable": False, "forge_callbacks": False, "auto_pay": False,
            "card": "6037991234567890"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Gateway:
    def __init__(self, merchant_id: str, shared_key: str):
        self.merchant_id, self.shared_key = merchant_id, shared_key
        self.transactions: dict[str, dict] = {}  # by token
        self.lock = threading.Lock()
        self.control = default_control()

    def reset(self) -> None:
        with self.lock:
            self.transactions.clear()
            self.control = default_control()

    def token(self, amount: int, order_id: str, callback_url: str) -> tuple[int, dict]:
        with self.lock:
            for tx in self.transactions.values():
                if tx["order_id"] == order_id:
                    if (tx["amount"], tx["callback_url"]) != (amount, callback_url):
                        return 409, {"error": "duplicate_order", "detail": "this order id was used with another amount"}
                    return 200, tx
            tx = {"token": secrets.token_hex(16), "merchant_id": self.merchant_id, "amount": amount,
                  "order_id": order_id, "callback_url": callback_url, "status": "pending", "reference": None,
                  "card_masked": None, "created_at": _now(), "verifications": 0}
            self.transactions[tx["token"]] = tx
            return 200, tx

    def outcome(self, token: str, paid: bool) -> dict | None:
        """Pay or cancel a pending transaction; the callback's fields (for any transaction already decided,
        the same outcome again, as a browser's back button would post it)."""
        with self.lock:
            tx = self.transactions.get(token)
            if tx is None:
                return None
            if tx["status"] == "pending":
                if paid:
                    card = self.control["card"]
                    tx.update(status="paid", reference=f"{secrets.randbelow(10**12):012d}",
                              card_masked=f"{card[:6]}******{card[-4:]}", paid_at=_now())
                else:
                    tx["status"] = "cancelled"
            fields = {"token": token, "status": "NOK" if tx["status"] == "cancelled" else "OK",
                      "reference": tx["reference"] or "", "amount": str(tx["amount"]), "order_id": tx["order_id"]}
            key = "not-the-gateway's-key" if self.control["forge_callbacks"] else self.shared_key
            return {**fields, "signature": callback_signature(key, fields)}

    def verify(self, token: str, amount) -> tuple[int, dict]:
        with self.lock:
            tx = self.transactions.get(token)
            if tx is None:
                return 400, {"error": "unknown_token", "detail": "no such transaction"}
            if self.control["verify_fails"]:
                return 400, {"error": "not_verified", "detail": "the gateway does not confirm this payment"}
            if tx["status"] not in ("paid", "verified", "settled"):
                return 400, {"error": "not_paid", "detail": f"the transaction is {tx['status']}"}
            if amount != tx["amount"]:
                return 400, {"error": "amount_mismatch", "detail": f"{tx['amount']} rials were paid, not {amount}"}
            already = tx["status"] != "paid"
            if not already:
                tx["status"] = "verified"
            tx["verifications"] += 1
            return 200, {"reference": tx["reference"], "amount": tx["amount"], "order_id": tx["order_id"],
                         "card_masked": tx["card_masked"], "already_verified": already}

    def settle(self, reference: str) -> tuple[int, dict]:
        with self.lock:
            tx = next((t for t in self.transactions.values() if t["reference"] == reference), None)
            if tx is None or tx["status"] not in ("verified", "settled"):
                return 400, {"error": "not_verified", "detail": "settle only a verified payment"}
            tx["status"] = "settled"
            return 200, {"reference": reference, "settled": True}


def create_app(merchant_id: str = "behzisti-donations", shared_key: str = "demo-ipg-key",
               public_url: str | None = None) -> Flask:
    app = Flask(__name__)
    gateway = Gateway(merchant_id, shared_key)
    app.config["gateway"] = gateway

    @app.before_request
    def misbehave():
        if request.path.startswith(MERCHANT_API) and gateway.control["unavailable"]:
            return "<html><body><h1>503 Service Unavailable</h1></body></html>", 503, {"Content-Type": "text/html"}
        if request.path.startswith(MERCHANT_API):
            body = request.get_json(force=True, silent=True)
            if not isinstance(body, dict) or body.get("merchant_id") != gateway.merchant_id:
                return jsonify({"error": "unknown_merchant", "detail": "merchant_id is not this gateway's"}), 401
        return None

    @app.after_request
    def signed(response):
        if request.path.startswith(MERCHANT_API) and response.status_code < 500:
            response.headers[SIGNATURE_HEADER] = sign(gateway.shared_key, response.get_data())
        return response

    def body() -> dict:
        return request.get_json(force=True, silent=True) or {}

    @app.post("/api/v1/token")
    def token():
        data = body()
        amount, order_id, callback_url = data.get("amount"), str(data.get("order_id") or ""), data.get("callback_url")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
            return jsonify({"error": "invalid_amount", "detail": "amount is a positive whole number of rials"}), 400
        if not order_id or not isinstance(callback_url, str) or not callback_url.startswith(("http://", "https://")):
            return jsonify({"error": "invalid_request", "detail": "order_id and an http(s) callback_url are needed"}), 400
        status, tx = gateway.token(amount, order_id, callback_url)
        if status != 200:
            return jsonify(tx), status
        base = (public_url or request.host_url).rstrip("/")
        return jsonify({"token": tx["token"], "redirect_url": f"{base}/pay/{tx['token']}"})

    @app.post("/api/v1/verify")
    def verify():
        data = body()
        status, answer = gateway.verify(str(data.get("token") or ""), data.get("amount"))
        return jsonify(answer), status

    @app.post("/api/v1/settle")
    def settle():
        status, answer = gateway.settle(str(body().get("reference") or ""))
        return jsonify(answer), status

    # the donor's browser

    def to_merchant(token: str, paid: bool):
        fields = gateway.outcome(token, paid)
        if fields is None:
            return render_template_string(PAY_PAGE, tx=None), 404
        return render_template_string(CALLBACK_PAGE, url=gateway.transactions[token]["callback_url"], fields=fields)

    @app.get("/pay/<token>")
    def pay_page(token):
        tx = gateway.transactions.get(token)
        if tx is not None and tx["status"] == "pending" and gateway.control["auto_pay"]:
            return to_merchant(token, True)
        return render_template_string(PAY_PAGE, tx=tx), 200 if tx else 404

    @app.post("/pay/<token>")
    def pay(token):
        return to_merchant(token, request.form.get("action") == "pay")

    # the fake's own API

    @app.post("/api/pay")
    def api_pay():
        data = body()
        token_ = str(data.get("token") or "")
        fields = gateway.outcome(token_, data.get("outcome", "paid") == "paid")
        if fields is None:
            return jsonify({"error": "unknown_token"}), 404
        callback_url = gateway.transactions[token_]["callback_url"]
        answer = {"callback_url": callback_url, "fields": fields}
        if data.get("deliver"):
            try:
                delivered = requests.post(callback_url, data=fields, timeout=30)
                answer["delivered"] = {"status": delivered.status_code, "body": delivered.text}
            except requests.RequestException as exc:
                answer["delivered"] = {"status": None, "body": str(exc)}
        return jsonify(answer)

    @app.route("/api/control", methods=["GET", "POST"])
    def control():
        data = body() if request.method == "POST" else {}
        with gateway.lock:
            for key in ("verify_fails", "unavailable", "forge_callbacks", "auto_pay"):
                if key in data:
                    gateway.control[key] = bool(data[key])
            if isinstance(data.get("card"), str) and len(data["card"]) == 16 and data["card"].isdigit():
                gateway.control["card"] = data["card"]
            return jsonify(copy.deepcopy(gateway.control))

    @app.get("/api/transactions")
    def transactions():
        return jsonify(list(gateway.transactions.values()))

    @app.delete("/api/transactions")
    def reset():
        gateway.reset()
        return "", 204

    @app.get("/")
    def page():
        return render_template_string(LIST_PAGE, txs=list(gateway.transactions.values()))

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app


def main(argv=None) -> int:
    import argparse

    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="Run the fake internet payment gateway (token, verify, settle)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8027)
    parser.add_argument("--merchant", default=os.environ.get("IPG_MERCHANT_ID", "behzisti-donations"))
    parser.add_argument("--key", default=os.environ.get("IPG_SHARED_KEY", "demo-ipg-key"),
                        help="the key the gateway signs with (default: $IPG_SHARED_KEY or demo-ipg-key)")
    parser.add_argument("--public-url", default=os.environ.get("IPG_PUBLIC_URL"),
                        help="the gateway's address as donors' browsers reach it (default: as asked)")
    args = parser.parse_args(argv)
    run_simple(args.host, args.port, create_app(args.merchant, args.key, args.public_url), threaded=True)
    return 0
