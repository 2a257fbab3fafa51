"""A local fake SMS operator, like a mail catcher. One operator answers two APIs as the real ones would:

* Kavenegar's (``/v1/{API-KEY}/sms/...``: send.json, sendarray.json, status.json, statuslocalmessageid.json;
  message ids, numeric statuses, cost, lookup by our local ids (comma-separated, as the official SDKs send
  them), a repeated local id not sent twice), and
* SMS.ir's v1 (``/v1/send/bulk``, ``/v1/send/likeToLike``, ``/v1/send/{messageId}``, today's report
  ``/v1/send/live`` and the earlier days' ``/v1/send/archive``, paged; the key in X-API-KEY;
  ``{"status", "message", "data"}`` answers, status 1 for success).

It can be told to fail, slow down, go down (per API), refuse or fail to deliver to given mobiles, and post
delivery receipts to a callback URL in each API's shape (per API, as each operator's panel holds one: the
platform's receipt URL with that operator's own secret in its path, which the fake never logs); it shows what it received as JSON (each message says
which API it came through, "api": "kavenegar" or "smsir") and as a page.

It can also be ambiguous, as a real operator sometimes is (`POST /api/control`):
* `accept_then` ("hang", "drop" or "error", or a dict by API) for the next `accept_then_times` send requests
  (default 1): it takes the messages (of a bulk request only the first `accept_first`, when given; 0 takes
  none), then holds the answer past any client's timeout (until reset, or HOLD_SECONDS), drops the connection
  without an answer, or answers a 500;
* `status_mode` ("ok", "unknown" or "error", or a dict by API): its status endpoints answer that they know
  no such message ("unknown"), or every read endpoint (status, lookup by local id, reports) fails with a 500.

    python -m fakes.sms_operator --port 8025
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import logging
import math
import re
import threading
import time
import socket
import struct
import uuid
from collections import Counter
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from flask import Flask, Response, jsonify, render_template_string, request

APIS = ("kavenegar", "smsir")
STATUS_TEXT = {1: "در صف ارسال", 6: "ارسال به مخابرات ناموفق", 10: "رسیده به گیرنده", 11: "نرسیده به گیرنده",
               100: "شناسه پیامک نامعتبر است"}
MOBILE = re.compile(r"^(?:\+98|98|0)?9\d{9}$")
SENDARRAY_LIMIT = 200  # Kavenegar: records per sendarray call
SMSIR_LIMIT = 100  # SMS.ir: mobiles per bulk or likeToLike call
HOLD_SECONDS = 30.0  # how long a "down" API in timeout mode, or a held answer, holds a request at most
REPORT_PAGE_LIMIT = 100  # SMS.ir: records per report page
TEHRAN = ZoneInfo("Asia/Tehran")  # SMS.ir's live report is today's, in Tehran

_log = logging.getLogger(__name__)

PAGE = """<!doctype html><html lang="fa" dir="rtl"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>اپراتور پیامک آزمایشی</title>
<style>body{font-family:sans-serif;margin:1rem;max-width:60rem}article{border:1px solid #ccc;
border-radius:.5rem;padding:.75rem;margin:.5rem 0}pre{white-space:pre-wrap;font:inherit;margin:.5rem 0}
small{color:#555}</style>
<h1>اپراتور پیامک آزمایشی</h1><p>{{ messages|length }} پیامک دریافت شده؛ تازه‌ترین در بالا.
<a href="/api/messages">JSON</a></p>
{% for m in messages|reverse %}<article><small>به {{ m.receptor }} از {{ m.sender }} — شناسه
{{ m.messageid }} — {{ m.statustext }} — {{ m.segments }} بخش — {{ m.api }}</small><pre>{{ m.message }}</pre></article>
{% endfor %}</html>"""


def default_control() -> dict:
    """What the operator is told to do. `latency_ms`, `fail_next`, `mode`, `callback_url`, `accept_then`,
    `accept_then_times`, `accept_first` and `status_mode` take one value for both APIs or a dict by API
    ({"kavenegar": 2}); `down` lists the APIs that are down."""
    return {"latency_ms": 0, "fail_next": 0, "fail_status": 500, "mode": "ok",
            "down": [], "down_mode": "error", "reject": [], "undeliverable": [], "callback_url": None,
            "accept_then": None, "accept_then_times": 1, "accept_first": None, "status_mode": "ok"}


class Operator:
    def __init__(self, api_key: str, cost_per_part: int = 1_200, delivery_after: float = 0.5,
                 smsir_api_key: str = "demo-smsir-key"):
        self.api_key = api_key
        self.smsir_api_key = smsir_api_key
        self.cost_per_part = cost_per_part
        self.initial_delivery_after = delivery_after
        self.delivery_after = delivery_after
        self.messages: list[dict] = []
        self.by_local_id: dict[str, dict] = {}
        self.by_id: dict[int, dict] = {}
        self.ids = itertools.count(100_000_001)
        self.changed = threading.Condition()
        self.control = default_control()
        self.requests: Counter = Counter()  # API calls by API name
        self.calls: list[tuple[str, str]] = []  # (api, endpoint), in order
        self.receipts: list[dict] = []  # the delivery receipts posted to callback URLs, and how they went
        self.releases = 0  # held answers wait until this changes (reset, or {"release": true})
        self.held = 0  # answers being held now

    def reset(self):
        with self.changed:
            self.messages.clear()
            self.by_local_id.clear()
            self.by_id.clear()
            self.requests.clear()
            self.calls.clear()
            self.receipts.clear()
            self.control.clear()
            self.control.update(default_control())
            self.delivery_after = self.initial_delivery_after
            self.releases += 1
            self.changed.notify_all()

    # what the operator has been told

    def setting(self, name: str, api: str, default=0):
        value = self.control.get(name, default)
        return value.get(api, default) if isinstance(value, dict) else value

    def is_down(self, api: str) -> bool:
        down = self.control.get("down") or []
        return down is True or api == down or (isinstance(down, (list, tuple, set)) and api in down)

    def take_failure(self, api: str) -> bool:
        """Should this request fail? `mode` "fail" fails all; `fail_next` counts down (per API when a dict)."""
        with self.changed:
            if self.setting("mode", api, "ok") == "fail":
                return True
            pending = self.control.get("fail_next", 0)
            if isinstance(pending, dict):
                if int(pending.get(api, 0)) > 0:
                    pending[api] = int(pending[api]) - 1
                    return True
            elif int(pending or 0) > 0:
                self.control["fail_next"] = int(pending) - 1
                return True
            return False

    def after_accept(self, api: str) -> tuple[str | None, int | None]:
        """What to do after taking this send request's messages ("hang", "drop", "error" or None), and how
        many of them to take first (None: all). Each misbehaving request uses up one of accept_then_times."""
        with self.changed:
            what = self.setting("accept_then", api, None)
            if what not in ("hang", "drop", "error"):
                return None, None
            times = self.control.get("accept_then_times", 1)
            left = int(times.get(api, 1) if isinstance(times, dict) else times)
            if left <= 1:  # this is the last: the operator behaves again afterwards
                if isinstance(self.control.get("accept_then"), dict):
                    self.control["accept_then"].pop(api, None)
                else:
                    self.control["accept_then"] = None
            elif isinstance(times, dict):
                times[api] = left - 1
            else:
                self.control["accept_then_times"] = left - 1
            first = self.setting("accept_first", api, None)
            return what, None if first is None else int(first)

    def status_mode(self, api: str) -> str:
        return self.setting("status_mode", api, "ok") or "ok"

    def hold(self) -> None:
        """Hold an answer as a hung server would, until released (reset or {"release": true}) or HOLD_SECONDS."""
        with self.changed:
            generation = self.releases
            self.held += 1
            self.changed.notify_all()
            try:
                self.changed.wait_for(lambda: self.releases != generation, timeout=HOLD_SECONDS)
            finally:
                self.held -= 1
                self.changed.notify_all()

    def count(self, api: str, endpoint: str) -> None:
        with self.changed:
            self.requests[api] += 1
            self.calls.append((api, endpoint))

    def refused(self, mobile: str) -> bool:
        return mobile in (self.control.get("reject") or [])

    # messages

    def record(self, api: str, receptor: str, text: str, sender: str, local_id: str | None = None,
               packid: str | None = None) -> dict:
        """Take one message (the caller holds `changed`)."""
        segments = parts(text)
        entry = {"messageid": next(self.ids), "localid": local_id, "message": text, "sender": sender,
                 "receptor": receptor, "date": time.time(), "cost": segments * self.cost_per_part,
                 "segments": segments, "status": 1, "statustext": STATUS_TEXT[1], "api": api}
        if packid:
            entry["packid"] = packid
        entry["_outcome"] = 11 if receptor in (self.control.get("undeliverable") or []) else 10
        self.messages.append(entry)
        self.by_id[entry["messageid"]] = entry
        if local_id:
            self.by_local_id[local_id] = entry
        self.changed.notify_all()
        callback = self.setting("callback_url", api, None)
        if callback:
            timer = threading.Timer(self.delivery_after, self._post_receipt, (entry, callback))
            timer.daemon = True
            timer.start()
        return entry

    def delivered(self, m: dict) -> bool:
        return time.time() - m["date"] >= self.delivery_after

    def status_of(self, m: dict) -> dict:
        """A message as Kavenegar (and /api/messages) shows it: 1 queued, then 10 delivered or 11 not."""
        status = m["_outcome"] if self.delivered(m) else 1
        return {**public(m), "status": status, "statustext": STATUS_TEXT[status]}

    def smsir_report(self, m: dict) -> dict:
        """A message as SMS.ir's report shows it: deliveryState none yet, then 1 delivered or 2 not."""
        done = self.delivered(m)
        return {"messageId": m["messageid"], "mobile": m["receptor"], "messageText": m["message"],
                "sendDateTime": int(m["date"]), "lineNumber": _number(m["sender"]), "cost": m["cost"],
                "deliveryState": (1 if m["_outcome"] == 10 else 2) if done else None,
                "deliveryDateTime": int(m["date"] + self.delivery_after) if done else None}

    def _post_receipt(self, entry: dict, url: str) -> None:
        if entry["api"] == "smsir":
            report = self.smsir_report(entry)
            payload = {k: report[k] for k in ("messageId", "mobile", "deliveryState", "deliveryDateTime")}
            send = {"json": payload}
        else:
            payload = {"messageid": str(entry["messageid"]), "status": str(entry["_outcome"])}
            send = {"data": payload}
        outcome = {"api": entry["api"], "url": url, "payload": payload}
        try:
            outcome["http_status"] = requests.post(url, timeout=5, **send).status_code
        except requests.RequestException as exc:
            outcome["error"] = type(exc).__name__
            # the receipt URL's path holds the platform's receipt secret: only its host is written down
            _log.warning("fake SMS operator: a receipt to %s failed: %s", urlsplit(url).netloc, type(exc).__name__)
        with self.changed:
            self.receipts.append(outcome)


def today_start() -> float:
    """The start of today in Tehran, in Unix seconds."""
    return datetime.now(TEHRAN).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def drop_connection() -> Response:
    """An answer that never comes: the client's connection is reset before a byte of it is written, as by an
    operator's server that crashed mid-request (werkzeug takes the ConnectionResetError as a dropped connection)."""
    sock = request.environ.get("werkzeug.socket")

    def reset():
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionResetError("the fake SMS operator dropped the connection, as told")
        yield b""  # a generator: werkzeug runs it after Flask has returned

    return Response(reset())


def public(m: dict) -> dict:
    return {k: v for k, v in m.items() if not k.startswith("_")}


def parts(text: str) -> int:
    single, multi = (160, 153) if all(ord(c) < 128 for c in text) else (70, 67)
    return 1 if len(text) <= single else math.ceil(len(text) / multi)


def _number(value):
    return int(value) if str(value).isdigit() else value


def create_app(api_key: str = "demo-api-key", smsir_api_key: str = "demo-smsir-key") -> Flask:
    app = Flask(__name__)
    op = Operator(api_key, smsir_api_key=smsir_api_key)
    app.config["operator"] = op

    def guard(api: str, endpoint: str, key_ok: bool, refuse):
        """The misbehaviour asked for, in this API's shape; None when the request may go on."""
        op.count(api, endpoint)
        if op.is_down(api):
            if op.control.get("down_mode") == "timeout":  # hold the request as a hung server would
                with op.changed:
                    op.changed.wait_for(lambda: not op.is_down(api), timeout=HOLD_SECONDS)
            # the operator's front with no server behind it: a 503, which says the request was not handled
            return ("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", 503,
                    {"Content-Type": "text/html"})
        if not key_ok:
            return refuse("key")
        latency = float(op.setting("latency_ms", api)) / 1000
        if latency:
            time.sleep(latency)
        if op.take_failure(api):
            return refuse("fail")
        return None

    def after_taking(what: str | None, answer_now, refuse):
        """The answer to a send request whose messages were taken, or the misbehaviour asked for instead."""
        if what == "hang":  # the answer comes after the client has given up
            op.hold()
        elif what == "drop":
            return drop_connection()
        elif what == "error":
            return refuse("error")
        return answer_now()

    def read_refused(api: str, refuse):
        """A read endpoint (status, lookup, report) told to fail: the refusal; else None."""
        return refuse("error") if op.status_mode(api) == "error" else None

    # Kavenegar

    def answer(status: int, message: str, entries=None, http_status: int = 200):
        return jsonify({"return": {"status": status, "message": message}, "entries": entries}), http_status

    def kavenegar_refusal(kind: str):
        if kind == "key":
            return answer(401, "حساب کاربری غیرفعال شده است", http_status=401)
        if kind == "error":
            return answer(500, "خطای داخلی سرویس", http_status=500)
        status = int(op.control.get("fail_status", 500))
        return answer(status, "خطای داخلی سرویس", http_status=status if status >= 500 else 200)

    def kavenegar_guard(key: str, endpoint: str):
        return guard("kavenegar", endpoint, key == op.api_key, kavenegar_refusal)

    @app.post("/v1/<key>/sms/send.json")
    def send(key):
        if (refused := kavenegar_guard(key, "send")) is not None:
            return refused
        form = request.values
        receptor, text = form.get("receptor", ""), form.get("message", "")
        if not receptor or not text:
            return answer(411, "پارامترها ناقص هستند")
        if op.refused(receptor):
            return answer(411, "دریافت کننده نامعتبر است")
        local_id = form.get("localid")
        what, first = op.after_accept("kavenegar")
        with op.changed:
            if local_id and local_id in op.by_local_id:  # the operator never sends a local id twice
                entry = op.status_of(op.by_local_id[local_id])
            elif first == 0:  # told to take nothing
                entry = None
            else:
                entry = public(op.record("kavenegar", receptor, text, form.get("sender", "10001482"), local_id))
        return after_taking(what, lambda: answer(200, "تایید شد", [entry]), kavenegar_refusal)

    @app.post("/v1/<key>/sms/sendarray.json")
    def send_array(key):
        if (refused := kavenegar_guard(key, "sendarray")) is not None:
            return refused
        form = request.values
        try:
            receptors = json.loads(form.get("receptor") or "[]")
            texts = json.loads(form.get("message") or "[]")
            senders = json.loads(form.get("sender") or "[]") or ["10001482"]
            local_ids = json.loads(form.get("localmessageids") or form.get("localid") or "[]")
        except ValueError:
            return answer(400, "پارامترها ناقص هستند")
        if not receptors or not texts:
            return answer(411, "پارامترها ناقص هستند")
        if len(receptors) > SENDARRAY_LIMIT:
            return answer(414, "حجم درخواست بیش از حد مجاز است")
        n = len(receptors)
        if len(texts) not in (1, n) or len(senders) not in (1, n) or len(local_ids) not in (0, n):
            return answer(419, "طول آرایه متن و گیرنده و فرستنده هم اندازه نیست")
        if all(op.refused(r) for r in receptors):
            return answer(411, "دریافت کننده نامعتبر است")
        entries = []
        what, first = op.after_accept("kavenegar")
        with op.changed:
            for i, receptor in enumerate(receptors):
                if first is not None and i >= first:
                    break  # told to take only the first ones
                text, sender = texts[i % len(texts)], senders[i % len(senders)]
                local_id = str(local_ids[i]) if local_ids else None
                if local_id and local_id in op.by_local_id:
                    entries.append(op.status_of(op.by_local_id[local_id]))
                elif op.refused(receptor):
                    entries.append({"messageid": next(op.ids), "localid": local_id, "message": text,
                                    "sender": sender, "receptor": receptor, "date": time.time(), "cost": 0,
                                    "status": 6, "statustext": STATUS_TEXT[6]})
                else:
                    entries.append(public(op.record("kavenegar", receptor, text, sender, local_id)))
        return after_taking(what, lambda: answer(200, "تایید شد", entries), kavenegar_refusal)

    @app.route("/v1/<key>/sms/statuslocalmessageid.json", methods=["GET", "POST"])
    def status_by_local_id(key):
        if (refused := kavenegar_guard(key, "statuslocalmessageid")) is not None:
            return refused
        if (refused := read_refused("kavenegar", kavenegar_refusal)) is not None:
            return refused
        entries = []
        for local_id in [i.strip() for i in request.values.get("localid", "").split(",")] or [""]:
            entry = op.by_local_id.get(local_id)
            if entry is None:
                entries.append({"localid": local_id, "messageid": 0, "status": 100, "statustext": STATUS_TEXT[100]})
            else:
                e = op.status_of(entry)
                entries.append({k: e[k] for k in ("messageid", "localid", "status", "statustext")})
        return answer(200, "تایید شد", entries)

    @app.route("/v1/<key>/sms/status.json", methods=["GET", "POST"])
    def status(key):
        if (refused := kavenegar_guard(key, "status")) is not None:
            return refused
        if (refused := read_refused("kavenegar", kavenegar_refusal)) is not None:
            return refused
        unknown = op.status_mode("kavenegar") == "unknown"
        entries = []
        for wanted in filter(None, (i.strip() for i in request.values.get("messageid", "").split(","))):
            m = op.by_id.get(int(wanted)) if wanted.isdigit() else None
            if m is None or m["api"] != "kavenegar" or unknown:
                entries.append({"messageid": _number(wanted), "status": 100, "statustext": STATUS_TEXT[100]})
            else:
                e = op.status_of(m)
                entries.append({k: e[k] for k in ("messageid", "status", "statustext")})
        return answer(200, "تایید شد", entries)

    # SMS.ir

    def smsir_answer(status: int, message: str, data=None, http_status: int = 200):
        return jsonify({"status": status, "message": message, "data": data}), http_status

    def smsir_refusal(kind: str):
        if kind == "key":
            return smsir_answer(10, "کلید وب سرویس نامعتبر است", http_status=401)
        if kind == "error":
            return smsir_answer(0, "مشکلی در سامانه رخ داده است، لطفا با پشتیبانی تماس بگیرید", http_status=500)
        status = int(op.control.get("fail_status", 500))
        if status == 429:
            return smsir_answer(20, "تعداد درخواست بیش از حد مجاز است", http_status=429)
        return smsir_answer(0, "مشکلی در سامانه رخ داده است، لطفا با پشتیبانی تماس بگیرید",
                            http_status=status if status >= 500 else 500)

    def smsir_guard(endpoint: str):
        return guard("smsir", endpoint, request.headers.get("X-API-KEY") == op.smsir_api_key, smsir_refusal)

    @app.post("/v1/send/<kind>")
    def smsir_send(kind):
        kind = kind.lower()
        if kind not in ("bulk", "liketolike"):
            return smsir_answer(0, "مسیر نامعتبر است", http_status=404)
        if (refused := smsir_guard(kind)) is not None:
            return refused
        body = request.get_json(force=True, silent=True) or {}
        mobiles = [str(m) for m in body.get("mobiles") or []]
        line = body.get("lineNumber")
        if not line:
            return smsir_answer(101, "شماره خط نامعتبر است", http_status=400)
        if not mobiles:
            return smsir_answer(107, "لیست شماره موبایل خالی است", http_status=400)
        if len(mobiles) > SMSIR_LIMIT:
            return smsir_answer(105, "تعداد شماره موبایل بیش از 100 است", http_status=400)
        if kind == "bulk":
            texts = [body.get("messageText") or ""] * len(mobiles)
        else:
            texts = [str(t) for t in body.get("messageTexts") or []]
            if not texts:
                return smsir_answer(108, "لیست متن پیامک خالی است", http_status=400)
            if len(texts) != len(mobiles):
                return smsir_answer(110, "تعداد شماره موبایل و متن پیامک برابر نیست", http_status=400)
        if not all(t.strip() for t in texts):
            return smsir_answer(103, "متن پیامک خالی است", http_status=400)
        if not any(MOBILE.match(m) and not op.refused(m) for m in mobiles):
            if any(op.refused(m) for m in mobiles):
                return smsir_answer(115, "شماره موبایل در لیست سیاه است", http_status=400)
            return smsir_answer(104, "شماره موبایل نامعتبر است", http_status=400)
        pack_id = str(uuid.uuid4())
        ids, cost = [], 0
        what, first = op.after_accept("smsir")
        with op.changed:
            for i, (mobile, text) in enumerate(zip(mobiles, texts, strict=True)):
                if first is not None and i >= first:
                    break  # told to take only the first ones
                if not MOBILE.match(mobile):
                    ids.append(None)  # an invalid number
                elif op.refused(mobile):
                    ids.append(0)  # blacklisted
                else:
                    entry = op.record("smsir", mobile, text, str(line), packid=pack_id)
                    ids.append(entry["messageid"])
                    cost += entry["cost"]
        return after_taking(what, lambda: smsir_answer(1, "موفق", {"packId": pack_id, "messageIds": ids, "cost": cost}),
                            smsir_refusal)

    @app.get("/v1/send/<int:message_id>")
    def smsir_report(message_id):
        if (refused := smsir_guard("report")) is not None:
            return refused
        if (refused := read_refused("smsir", smsir_refusal)) is not None:
            return refused
        m = op.by_id.get(message_id)
        if m is None or m["api"] != "smsir" or op.status_mode("smsir") == "unknown":
            return smsir_answer(111, "ارسالی با این شناسه یافت نشد", http_status=400)
        return smsir_answer(1, "موفق", op.smsir_report(m))

    def smsir_report_page(endpoint: str, wanted):
        """One page of the reports of the messages `wanted(m)` picks, oldest first or newest first."""
        if (refused := smsir_guard(endpoint)) is not None:
            return refused
        if (refused := read_refused("smsir", smsir_refusal)) is not None:
            return refused
        try:
            number = max(1, int(request.args.get("pageNumber", 1)))
            size = int(request.args.get("pageSize", REPORT_PAGE_LIMIT))
        except ValueError:
            return smsir_answer(0, "پارامترهای صفحه نامعتبر است", http_status=400)
        if not 1 <= size <= REPORT_PAGE_LIMIT:
            return smsir_answer(0, f"اندازه صفحه حداکثر {REPORT_PAGE_LIMIT} است", http_status=400)
        with op.changed:
            picked = [m for m in op.messages if m["api"] == "smsir" and wanted(m)]
        if str(request.args.get("sortByNewest", "")).lower() in ("true", "1"):
            picked.reverse()
        page = picked[(number - 1) * size:number * size]
        return smsir_answer(1, "موفق", [op.smsir_report(m) for m in page])

    @app.get("/v1/send/live")
    def smsir_live_report():
        """Today's sent messages (Tehran's day), paged: pageNumber, pageSize (at most 100), sortByNewest."""
        today = today_start()
        return smsir_report_page("live", lambda m: m["date"] >= today)

    @app.get("/v1/send/archive")
    def smsir_archive_report():
        """Sent messages of earlier days, paged, between fromDate and toDate (Unix seconds) when given."""
        today = today_start()
        try:
            since = float(request.args.get("fromDate") or 0)
            until = float(request.args.get("toDate") or today)
        except ValueError:
            return smsir_answer(0, "تاریخ نامعتبر است", http_status=400)
        return smsir_report_page("archive", lambda m: since <= m["date"] <= until and m["date"] < today)

    # the fake's own API

    @app.get("/api/messages")
    def list_messages():
        """All messages, or those to `receptor`; with `wait=N` it holds the answer up to N seconds
        until at least `min` (default 1) such messages exist, so tests wait on the event itself."""
        receptor = request.args.get("receptor")
        wait = min(float(request.args.get("wait", 0)), 60)
        minimum = int(request.args.get("min", 1))

        def matching():
            return [op.status_of(m) for m in op.messages if receptor in (None, m["receptor"])]

        with op.changed:
            op.changed.wait_for(lambda: len(matching()) >= minimum, timeout=wait)
            return jsonify(matching())

    @app.get("/api/messages/count")
    def count_messages():
        """How many messages the operator holds; with `wait=N`, held up to N seconds until `min`."""
        wait = min(float(request.args.get("wait", 0)), 60)
        minimum = int(request.args.get("min", 1))
        with op.changed:
            op.changed.wait_for(lambda: len(op.messages) >= minimum, timeout=wait)
            return jsonify({"count": len(op.messages)})

    @app.delete("/api/messages")
    def reset():
        op.reset()
        return "", 204

    @app.get("/api/requests")
    def request_counts():
        """How many API calls the operator has had, by API."""
        return jsonify({api: op.requests[api] for api in APIS})

    @app.route("/api/control", methods=["GET", "POST"])
    def control():
        """Tell the operator to misbehave: {"mode": "fail"|"ok", "fail_next": n, "fail_status": 500,
        "latency_ms": 200, "down": ["kavenegar"], "down_mode": "error"|"timeout", "reject": [mobiles],
        "undeliverable": [mobiles], "callback_url": url, "delivery_after": seconds, "accept_then": "hang"|"drop"|
        "error"|null, "accept_then_times": 1, "accept_first": n|null, "status_mode": "ok"|"unknown"|"error",
        "release": true}. latency_ms, fail_next, mode, callback_url, accept_then, accept_then_times, accept_first
        and status_mode may also be given by API: {"fail_next": {"smsir": 2}}. "release" lets held answers go."""
        body = (request.get_json(force=True, silent=True) or {}) if request.method == "POST" else {}
        with op.changed:
            for key in ("latency_ms", "fail_next"):
                if key in body:
                    value = body[key]
                    op.control[key] = {k: int(v) for k, v in value.items()} if isinstance(value, dict) else int(value)
            if "fail_status" in body:
                op.control["fail_status"] = int(body["fail_status"])
            if body.get("mode") in ("ok", "fail") or isinstance(body.get("mode"), dict):
                op.control["mode"] = body["mode"]
            if "down" in body:
                down = body["down"] or []
                op.control["down"] = [down] if isinstance(down, str) else list(down)
            if body.get("down_mode") in ("error", "timeout"):
                op.control["down_mode"] = body["down_mode"]
            for key in ("reject", "undeliverable"):
                if key in body:
                    op.control[key] = [str(m) for m in body[key] or []]
            if "callback_url" in body:
                op.control["callback_url"] = body["callback_url"] or None
            for key in ("accept_then", "status_mode"):
                if key in body:
                    value = body[key]
                    op.control[key] = dict(value) if isinstance(value, dict) else value
            for key in ("accept_then_times", "accept_first"):
                if key in body:
                    value = body[key]
                    op.control[key] = ({k: int(v) for k, v in value.items()} if isinstance(value, dict)
                                       else None if value is None else int(value))
            if body.get("release"):
                op.releases += 1
            if "delivery_after" in body:
                op.delivery_after = float(body["delivery_after"])
            op.changed.notify_all()
            return jsonify({**copy.deepcopy(op.control), "delivery_after": op.delivery_after, "held": op.held})

    @app.get("/")
    def page():
        return render_template_string(PAGE, messages=[op.status_of(m) for m in op.messages])

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app


def main(argv=None) -> int:
    from werkzeug.serving import run_simple

    from common.config import get_settings

    parser = argparse.ArgumentParser(description="Run the fake SMS operator (Kavenegar's and SMS.ir's APIs)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    settings = get_settings()
    run_simple(args.host, args.port, create_app(settings.sms_api_key, settings.smsir_api_key), threaded=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
