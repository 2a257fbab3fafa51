"""The SMS operations routes through the real gateway: templates and their preview, the dead-letter
list and its replay, and the operators' receipt callback."""
from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from common.config import get_settings

pytestmark = pytest.mark.e2e


def test_templates_are_listed_and_previewed_with_their_parts(api):
    listed = api.call("GET", "/api/v1/staff/sms/templates", "operator")
    assert listed.status_code == 200
    names = {t["name"]: t for t in listed.json()["items"]}
    assert names["case_handed.citizen"]["variables"] == ["holder_unit_fa", "tracking_code"]
    preview = api.call("POST", "/api/v1/staff/sms/templates/case_handed.citizen/preview", "operator",
                       json={"values": {"tracking_code": "1111222233334444"}})
    assert preview.status_code == 200 and "1111222233334444" in preview.json()["text"]
    assert preview.json()["encoding"] == "UCS-2" and preview.json()["segments"] == 1
    assert api.call("POST", "/api/v1/staff/sms/templates/nope.citizen/preview", "operator", json={}).status_code == 404
    assert api.call("GET", "/api/v1/staff/sms/templates", "rey.expert").status_code == 403


def test_a_dead_letter_is_listed_and_replayed_and_a_receipt_is_taken(platform, api):
    registered = api.call("POST", "/api/v1/cases", json={
        "kind": "question", "mobile": "09351239876", "text": "نشانی اداره بهزیستی شهرستان ری کجاست؟"})
    code = registered.json()["tracking_code"]
    messages = requests.get(f"{platform['sms']}/api/messages", params={"receptor": "09351239876", "wait": 20},
                            timeout=30).json()
    assert code in messages[0]["message"]
    engine = sa.create_engine(platform["db"]["notifications"])
    with engine.begin() as conn:  # as if every attempt had come back undelivered
        message_id, provider, provider_id = conn.execute(sa.text(
            "UPDATE sms_messages SET status = 'undelivered', dead_lettered_at = now() WHERE recipient = '09351239876' "
            "RETURNING id, provider, provider_message_id")).one()
    engine.dispose()
    dead = api.call("GET", "/api/v1/staff/sms/dead-letters", "operator").json()["items"]
    assert str(message_id) in [d["id"] for d in dead]
    replayed = api.call("POST", "/api/v1/staff/sms/dead-letters/replay", "operator", json={"ids": [str(message_id)]})
    assert replayed.status_code == 200 and replayed.json()["replayed"] == [str(message_id)]
    again = requests.get(f"{platform['sms']}/api/messages", params={"receptor": "09351239876", "wait": 20, "min": 2},
                         timeout=30).json()
    assert len(again) == 2  # sent again, under a new key

    secret = get_settings().receipt_secret(provider)
    refused = requests.post(f"{platform['base']}/api/v1/sms/receipts/{provider}/wrong-secret", timeout=10,
                            data={"messageid": again[1]["messageid"], "status": "10"})
    assert refused.status_code == 401
    taken = requests.post(f"{platform['base']}/api/v1/sms/receipts/{provider}/{secret}", timeout=10,
                          data={"messageid": str(again[1]["messageid"]), "status": "10"})
    assert taken.status_code == 200 and taken.json()["receipts"] == 1
    assert provider_id
