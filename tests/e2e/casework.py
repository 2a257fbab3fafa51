"""The staff client the e2e and browser tests call the real gateway with (the demo staff's logins), and a case
referred down the chain to Rey county as its staff do it."""
from __future__ import annotations

import requests

from services.complaints.demo_staff import DEMO_PASSWORD

REY = "prov.tehran.county.rey"


class Api:
    def __init__(self, base):
        self.base, self.tokens = base, {}

    def token(self, username):
        if username not in self.tokens:
            response = requests.post(f"{self.base}/api/v1/auth/login",
                                     json={"username": username, "password": DEMO_PASSWORD}, timeout=10)
            assert response.status_code == 200, response.text
            self.tokens[username] = response.json()["access_token"]
        return self.tokens[username]

    def call(self, method, path, username=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if username:
            headers["Authorization"] = f"Bearer {self.token(username)}"
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=20, **kwargs)

    def act(self, username, code, action, body, expect=200):
        response = self.call("POST", f"/api/v1/staff/cases/{code}/{action}", username, json=body)
        assert response.status_code == expect, response.text
        return response.json()


def down_to_rey(api, code):
    api.act("operator", code, "refer", {"unit": "hq.rehabilitation", "note": "مربوط به معاونت توانبخشی"})
    api.act("rehab.expert", code, "refer", {"unit": "prov.tehran", "note": "استان تهران پیگیری کند"})
    return api.act("tehran.head", code, "refer", {"unit": REY, "note": "شهرستان ری رسیدگی کند"})
