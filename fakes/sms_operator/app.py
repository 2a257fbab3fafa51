"""A local fake SMS operator, like a mail catcher: it answers the Kavenegar-style API as the operator
would (message ids, numeric statuses, cost, lookup by our local id, a repeated local id not sent
twice), can be told to fail or slow down, and shows what it received as JSON and as a page.

    python -m fakes.sms_operator --port 8025
"""
from __future__ import annotations

import argparse
import itertools
import math
import threading
import time

from flask import Flask, jsonify, render_template_string, request

STATUS_TEXT = {1: "در صف ارسال", 10: "رسیده به گیرنده", 6: "ارسال به مخابرات ناموفق"}
PAGE = """<!doctype html><html lang="fa" dir="rtl"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>اپراتور پیامک آزمایشی</title>
<style>body{font-family:sans-serif;margin:1rem;max-width:60rem}article{border:1px solid #ccc;
border-radius:.5rem;padding:.75rem;margin:.5rem 0}pre{white-space:pre-wrap;font:inherit;margin:.5rem 0}
small{color:#555}</style>
<h1>اپراتور پیامک آزمایشی</h1><p>{{ messages|length }} پیامک دریافت شده؛ تازه‌ترین در بالا.
<a href="/api/messages">JSON</a></p>
{% for m in messages|reverse %}<article><small>به {{ m.receptor }} از {{ m.sender }} — شناسه
{{ m.messageid }} — {{ m.statustext }} — {{ m.segments }} بخش</small><pre>{{ m.message }}</pre></article>
{% endfor %}</html>"""


class Operator:
    def __init__(self, api_key: str, cost_per_part: int = 1_200, delivery_after: float = 0.5):
        self.api_key = api_key
        self.cost_per_part = cost_per_part
        self.delivery_after = delivery_after
        self.messages: list[dict] = []
        self.by_local_id: dict[str, dict] = {}
        self.ids = itertools.count(100_000_001)
        self.changed = threading.Condition()
        self.control = {"latency_ms": 0, "fail_next": 0, "fail_status": 500, "mode": "ok"}

    def reset(self):
        with self.changed:
            self.messages.clear()
            self.by_local_id.clear()
            self.control.update(latency_ms=0, fail_next=0, fail_status=500, mode="ok")

    def status_of(self, m: dict) -> dict:
        delivered = time.time() - m["date"] >= self.delivery_after
        status = 10 if delivered else 1
        return {**m, "status": status, "statustext": STATUS_TEXT[status]}


def parts(text: str) -> int:
    single, multi = (160, 153) if all(ord(c) < 128 for c in text) else (70, 67)
    return 1 if len(text) <= single else math.ceil(len(text) / multi)


def create_app(api_key: str = "demo-api-key") -> Flask:
    app = Flask(__name__)
    op = Operator(api_key)
    app.config["operator"] = op

    def answer(status: int, message: str, entries=None, http_status: int = 200):
        return jsonify({"return": {"status": status, "message": message}, "entries": entries}), http_status

    def guard(key: str):
        if key != op.api_key:
            return answer(401, "حساب کاربری غیرفعال شده است", http_status=401)
        latency = op.control["latency_ms"] / 1000
        if latency:
            time.sleep(latency)
        if op.control["mode"] == "fail" or op.control["fail_next"] > 0:
            with op.changed:
                op.control["fail_next"] = max(0, op.control["fail_next"] - 1)
            status = op.control["fail_status"]
            return answer(status, "خطای داخلی سرویس", http_status=status if status >= 500 else 200)
        return None

    @app.post("/v1/<key>/sms/send.json")
    def send(key):
        if (refused := guard(key)) is not None:
            return refused
        form = request.values
        receptor, text = form.get("receptor", ""), form.get("message", "")
        if not receptor or not text:
            return answer(411, "پارامترها ناقص هستند")
        local_id = form.get("localid")
        with op.changed:
            if local_id and local_id in op.by_local_id:  # the operator never sends a local id twice
                return answer(200, "تایید شد", [op.status_of(op.by_local_id[local_id])])
            segments = parts(text)
            entry = {"messageid": next(op.ids), "localid": local_id, "message": text,
                     "sender": form.get("sender", "10001482"), "receptor": receptor,
                     "date": time.time(), "cost": segments * op.cost_per_part, "segments": segments,
                     "status": 1, "statustext": STATUS_TEXT[1]}
            op.messages.append(entry)
            if local_id:
                op.by_local_id[local_id] = entry
            op.changed.notify_all()
        return answer(200, "تایید شد", [entry])

    @app.get("/v1/<key>/sms/statuslocalmessageid.json")
    def status_by_local_id(key):
        if (refused := guard(key)) is not None:
            return refused
        local_id = request.args.get("localid", "")
        entry = op.by_local_id.get(local_id)
        if entry is None:
            return answer(200, "تایید شد", [{"localid": local_id, "messageid": 0, "status": 100,
                                              "statustext": "شناسه پیامک نامعتبر است"}])
        e = op.status_of(entry)
        return answer(200, "تایید شد", [{k: e[k] for k in ("messageid", "localid", "status", "statustext")}])

    @app.get("/v1/<key>/sms/status.json")
    def status(key):
        if (refused := guard(key)) is not None:
            return refused
        wanted = set(request.args.get("messageid", "").split(","))
        found = [op.status_of(m) for m in op.messages if str(m["messageid"]) in wanted]
        return answer(200, "تایید شد", [{k: e[k] for k in ("messageid", "status", "statustext")} for e in found])

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

    @app.delete("/api/messages")
    def reset():
        op.reset()
        return "", 204

    @app.post("/api/control")
    def control():
        """Tell the operator to misbehave: {"mode": "fail"|"ok", "fail_next": n,
        "fail_status": 500, "latency_ms": 200}."""
        body = request.get_json(force=True, silent=True) or {}
        with op.changed:
            for key in ("latency_ms", "fail_next", "fail_status"):
                if key in body:
                    op.control[key] = int(body[key])
            if body.get("mode") in ("ok", "fail"):
                op.control["mode"] = body["mode"]
        return jsonify(op.control)

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

    parser = argparse.ArgumentParser(description="Run the fake SMS operator")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    run_simple(args.host, args.port, create_app(get_settings().sms_api_key), threaded=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
