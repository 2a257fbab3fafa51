"""The gateway's signature over a request (common/caller_signature.py): bound to the method, the
deadline and the exact body; verified with any of the services' keys (rotation)."""
import base64
import os

from common import caller_signature as cs

BODY = b'{"args": [{"kind": "staff", "id": "a", "role": "finance_approver", "unit": "hq.pensions"}, "1405-09"]}'


def seed() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_signature_verifies_only_for_its_method_deadline_and_body():
    key = seed()
    public = cs.public_key_b64(key)
    signature = cs.sign(key, "payments.approve_cycle", 1790000000.25, BODY)
    assert cs.verify(public, "payments.approve_cycle", 1790000000.25, BODY, signature)
    assert not cs.verify(public, "payments.open_cycle", 1790000000.25, BODY, signature)
    assert not cs.verify(public, "payments.approve_cycle", 1790000001.25, BODY, signature)
    assert not cs.verify(public, "payments.approve_cycle", 1790000000.25, BODY.replace(b"a", b"b", 1), signature)
    assert not cs.verify(public, "payments.approve_cycle", None, BODY, signature)
    assert not cs.verify(public, "payments.approve_cycle", 1790000000.25, BODY, None)
    assert not cs.verify(public, "payments.approve_cycle", 1790000000.25, BODY, "not base64!")


def test_another_key_does_not_verify_and_rotation_accepts_either_listed_key():
    old, new = seed(), seed()
    signed_by_old = cs.sign(old, "complaints.refer_case", 1.5, BODY)
    assert not cs.verify(cs.public_key_b64(new), "complaints.refer_case", 1.5, BODY, signed_by_old)
    both = f"{cs.public_key_b64(new)}, {cs.public_key_b64(old)}"
    assert cs.verify(both, "complaints.refer_case", 1.5, BODY, signed_by_old)
    assert cs.verify(both, "complaints.refer_case", 1.5, BODY, cs.sign(new, "complaints.refer_case", 1.5, BODY))


def test_the_development_key_is_what_empty_settings_mean():
    signature = cs.sign("", "x.y", 2.0, BODY)
    assert cs.verify("", "x.y", 2.0, BODY, signature)
    assert cs.verify(cs.public_key_b64(""), "x.y", 2.0, BODY, signature)
