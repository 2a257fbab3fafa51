"""The gateway's secrets, in process: access tokens name their signing key (kid) and keys rotate (the
previous ones verify until removed); a refused token gets one fixed answer, never the library's text; each
SMS operator's receipts need that operator's own secret; Swagger UI is off in production."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest

from common.config import Settings, get_settings
from gateway import auth
from gateway.app import create_app
from gateway.rpc import RpcClient

OLD_KEY, NEW_KEY = "an-old-signing-key-" + "o" * 32, "a-new-signing-key-" + "n" * 32
STAFF = {"kind": "staff", "id": "u1", "role": "hq_operator", "unit": "hq", "username": "operator"}


class FakeRpc(RpcClient):
    """Answers the two calls these routes make, and records them."""

    def __init__(self):
        super().__init__(config={}, timeout=1)
        self.calls = []

    def call(self, service, method, *args, **kwargs):
        self.calls.append((service, method, args))
        if method == "principal":
            return STAFF
        if method == "record_receipts":
            return {"receipts": 1, "changed": 1}
        raise AssertionError(f"unexpected RPC {method}")


def client_for(settings: Settings):
    rpc = FakeRpc()
    return create_app(rpc, settings).test_client(), rpc


def staff_token(settings: Settings, **headers) -> str:
    token, _ = auth.access_token({"id": "u1", "credentials_version": 1}, settings)
    return token


# keys with ids, and rotation ---------------------------------------------------------------------------------
def test_a_token_names_its_key_and_verifies_with_it():
    settings = Settings(token_secret=NEW_KEY, token_key_id="2026-12", rate_limits_enabled=False)
    token = staff_token(settings)
    assert jwt.get_unverified_header(token)["kid"] == "2026-12"
    assert auth.verify(token, settings)["sub"] == "u1"


def test_rotation_keeps_the_previous_key_until_it_is_removed():
    before = Settings(token_secret=OLD_KEY, token_key_id="2026-06", rate_limits_enabled=False)
    during = Settings(token_secret=NEW_KEY, token_key_id="2026-12", token_previous_keys={"2026-06": OLD_KEY},
                      rate_limits_enabled=False)
    after = Settings(token_secret=NEW_KEY, token_key_id="2026-12", rate_limits_enabled=False)
    old_token, new_token = staff_token(before), staff_token(during)
    assert jwt.get_unverified_header(new_token)["kid"] == "2026-12"  # signed with the current key only
    client, _ = client_for(during)
    for token in (old_token, new_token):
        assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    client, _ = client_for(after)
    gone = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old_token}"})
    assert gone.status_code == 401 and gone.get_json()["code"] == "invalid_token"
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {new_token}"}).status_code == 200


def test_a_kid_cannot_pick_another_key_than_its_own():
    """A token signed with the old key but naming the new key's id is refused (and one naming no kid is
    checked against the current key only)."""
    during = Settings(token_secret=NEW_KEY, token_key_id="2026-12", token_previous_keys={"2026-06": OLD_KEY})
    claims = {"sub": "u1", "ver": 1, "exp": int(time.time()) + 60}
    for token in (jwt.encode(claims, OLD_KEY, algorithm="HS256", headers={"kid": "2026-12"}),
                  jwt.encode(claims, OLD_KEY, algorithm="HS256"),
                  jwt.encode(claims, NEW_KEY, algorithm="HS256", headers={"kid": "unknown"})):
        with pytest.raises(jwt.InvalidTokenError):
            auth.verify(token, during)
    assert auth.verify(jwt.encode(claims, NEW_KEY, algorithm="HS256"), during)["sub"] == "u1"


def test_a_refused_token_gets_one_fixed_answer_not_the_library_s_text():
    settings = Settings(rate_limits_enabled=False)
    client, _ = client_for(settings)
    claims = {"sub": "u1", "ver": 1, "exp": int(time.time()) + 60}
    answers = []
    for token in ("not.a.jwt", "x" * 40, jwt.encode(claims, "an-attacker-key-" + "a" * 32, algorithm="HS256"),
                  jwt.encode({"sub": "u1", "exp": int(time.time()) + 60}, settings.token_secret, algorithm="HS256"),
                  jwt.encode(claims, None, algorithm="none")):
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        body = response.get_json()
        answers.append((body["code"], body["message"], body["detail"]))
    assert set(answers) == {("invalid_token", "توکن دسترسی معتبر نیست.", "the access token is not valid")}


# SMS receipts: a secret per operator ---------------------------------------------------------------------
RECEIPT_SECRETS = {"kavenegar": "kavenegar-receipts-" + uuid.uuid4().hex, "smsir": "smsir-receipts-" + uuid.uuid4().hex}


@pytest.fixture
def receipts(monkeypatch):
    monkeypatch.setenv("KAVENEGAR_RECEIPT_SECRET", RECEIPT_SECRETS["kavenegar"])  # the route reads get_settings()
    monkeypatch.setenv("SMSIR_RECEIPT_SECRET", RECEIPT_SECRETS["smsir"])
    get_settings.cache_clear()
    yield client_for(Settings(rate_limits_enabled=False))
    monkeypatch.undo()
    get_settings.cache_clear()


def test_each_operator_s_receipts_are_taken_with_its_own_secret(receipts):
    client, rpc = receipts
    taken = client.post(f"/api/v1/sms/receipts/kavenegar/{RECEIPT_SECRETS['kavenegar']}",
                        data={"messageid": "100000001", "status": "10"})
    assert taken.status_code == 200 and taken.get_json() == {"receipts": 1, "changed": 1}
    taken = client.post(f"/api/v1/sms/receipts/smsir/{RECEIPT_SECRETS['smsir']}",
                        json={"messageId": 5, "deliveryState": 1})
    assert taken.status_code == 200
    assert [(c[1], c[2][0]) for c in rpc.calls] == [("record_receipts", "kavenegar"), ("record_receipts", "smsir")]


@pytest.mark.parametrize("path, status", [
    (f"kavenegar/{RECEIPT_SECRETS['smsir']}", 401),  # the other operator's secret
    (f"smsir/{RECEIPT_SECRETS['kavenegar']}", 401),
    ("kavenegar/wrong-secret-of-some-length", 401),
    (f"kavenegar/{RECEIPT_SECRETS['kavenegar'][:-1]}", 401),
    ("kavenegar", 404),  # no secret at all
    (f"kavenegar?token={RECEIPT_SECRETS['kavenegar']}", 404),  # the old query string is no way in
])
def test_a_receipt_without_that_operator_s_secret_is_refused_and_nothing_is_recorded(receipts, path, status):
    client, rpc = receipts
    refused = client.post(f"/api/v1/sms/receipts/{path}", data={"messageid": "100000001", "status": "10"})
    assert refused.status_code == status and refused.headers["Content-Type"] == "application/problem+json"
    if status == 401:
        assert refused.get_json()["code"] == "invalid_receipt_secret"
    assert rpc.calls == []


# Swagger UI --------------------------------------------------------------------------------------------------
def test_swagger_ui_is_off_in_production_and_the_document_stays_public():
    from tests.unit.production_profile import production

    development, _ = client_for(Settings(rate_limits_enabled=False))
    assert development.get("/api/v1/swagger").status_code == 200
    client, _ = client_for(production(rate_limits_enabled=False))
    for page in ("/api/v1/swagger", "/api/v1/", "/api/v1/redoc"):
        answer = client.get(page)
        assert answer.status_code == 404 and "unsafe-inline" not in answer.headers["Content-Security-Policy"], page
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200 and "/api/v1/sms/receipts/{provider}/{secret}" in document.get_json()["paths"]
