"""The cartable route checks its query before the service is asked: a bad filter is a problem+json naming the
field in Persian and nothing is called; good ones reach the service as filters (the service's answer is stubbed:
tests/service/test_complaints_cartable.py covers the search itself)."""
from __future__ import annotations

import re

from common.config import Settings
from gateway.app import create_app
from gateway.auth import access_token
from gateway.rpc import RpcClient

EXPERT = {"id": "6f1c2a9e-8d5b-4c3a-9e7f-1b2d3c4e5f60", "credentials_version": 1, "role": "county_expert",
          "unit": "prov.tehran.county.rey", "kind": "staff", "username": "rey.expert", "full_name": "کارشناس"}


class Complaints(RpcClient):
    def __init__(self):
        super().__init__(config={}, timeout=1)
        self.calls = []

    def call(self, service, method, *args, **kwargs):
        if method == "principal":
            return EXPERT
        self.calls.append((method, args[1:]))
        return {"items": [], "next": None}


def client():
    settings = Settings(rate_limits_enabled=False)
    rpc = Complaints()
    token, _ = access_token(EXPERT, settings)
    return create_app(rpc, settings).test_client(), rpc, {"Authorization": f"Bearer {token}"}


def test_bad_filters_are_refused_in_persian_naming_the_field_and_nothing_is_asked():
    app, rpc, auth = client()
    for query, field in [("due=tomorrow", "due"), ("kind=gossip", "kind"), ("order=random", "order"),
                         ("category=x", "category"), ("limit=500", "limit"), ("q=" + "ب" * 101, "q")]:
        response = app.get(f"/api/v1/staff/cartable?{query}", headers=auth)
        assert response.status_code == 400, (query, response.get_data(as_text=True))
        assert response.content_type.startswith("application/problem+json")
        [error] = response.json["errors"]
        assert error["field"] == field and re.search(r"[\u0600-\u06ff]", error["message"])
    assert rpc.calls == []


def test_filters_reach_the_service():
    app, rpc, auth = client()
    response = app.get("/api/v1/staff/cartable?q=مستمری&kind=complaint&urgency=urgent&category=pension&due=today"
                       "&order=newest&limit=50", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert rpc.calls == [("cartable", (50, None, {"q": "مستمری", "kind": "complaint", "urgency": "urgent",
                                                   "category": "pension", "due": "today", "order": "newest"}))]
