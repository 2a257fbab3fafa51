"""The authorization matrix (gateway/authorization.yaml) walked against the running platform: every
operation × every kind of caller × object, each answered with the status the matrix decides. Requests
with effects carry bodies the gateway refuses after authorising (400), or bodies the case's state
refuses (409), so the walk changes nothing it later depends on."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.config import PROJECT_ROOT, get_settings
from common.db import make_engine
from gateway.auth import beneficiary_token, reporter_token
from scripts.processes import free_port, platform_processes, start_platform, wait_ready
from services.complaints import org
from services.complaints.admin import ensure_staff
from services.complaints.demo_staff import DEMO_PASSWORD, load_demo_staff
from tests import authorization_matrix as matrix
from tests.conftest import empty_databases
from tests.helpers import TEST_PLATFORM_ENV
from tests.helpers import PLATFORM_READY_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]  # one platform, ~2,500 requests; slower beside the other test parts

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ACCOUNTS = {  # caller → demo account (services/complaints/demo_staff.py, and two made here)
    "admin": "admin", "hq_operator": "operator", "inspector": "inspector", "hotline_operator": "hotline",
    "hq_head": "rehab.head", "hq_expert": "rehab.expert", "province_head": "tehran.head",
    "province_expert": "tehran.expert", "county_head": "rey.head", "county_expert": "rey.expert",
    "county_expert_elsewhere": "shemiranat.expert", "center_head": "ghoncheh.head", "center_staff": "ghoncheh.staff",
    "finance_expert": "finance.expert", "finance_approver": "finance.approver", "auditor": "auditor",
}
EXTRA_STAFF = [("tehran.expert", "کارشناس استان تهران", "province_expert", "prov.tehran"),
               ("ghoncheh.staff", "کارشناس مهدکودک غنچه", "center_staff", "prov.tehran.county.rey.center.ghoncheh")]
HOLDERS = {"rey_case": "prov.tehran.county.rey", "shemiranat_case": "prov.tehran.county.shemiranat",
           "anonymous_report": "prov.tehran.county.rey"}
INVALID = {"not_a_field": 1}  # request models forbid extra fields: an authorised caller gets 400
# Valid bodies for the entries about an object: the case's state refuses them (see the matrix's notes)
BODIES = {
    "POST /api/v1/staff/cases/{tracking_code}/refer": {"unit": "hq", "note": "آزمون دسترسی"},
    "POST /api/v1/staff/cases/{tracking_code}/answer": {"text": "پاسخ آزمایشی برای سنجش دسترسی کارکنان.",
                                                         "attachments": [str(uuid.uuid4())]},
    "POST /api/v1/staff/cases/{tracking_code}/approve": {},
    "POST /api/v1/staff/cases/{tracking_code}/return": {"note": "آزمون دسترسی"},
    "POST /api/v1/cases/{tracking_code}/report-again": {},
    "POST /api/v1/cases/{tracking_code}/rating": {"score": 5},
}
FORMS = {"POST /open311/v2/requests.json", "POST /api/v1/donations/callback",
         "POST /api/v1/sms/receipts/{provider}/{secret}"}
UPLOADS = {"POST /api/v1/cases/{tracking_code}/evidence", "POST /api/v1/staff/cases/{tracking_code}/attachments",
           "POST /api/v1/staff/transparency/datasets/{slug}/uploads"}


# the callers log in once and the walk takes minutes (over five, the tokens' life, on a slow machine under the
# other test parts' load): their tokens live an hour here; expiry has its own test (tests/e2e/test_staff_access.py)
WALK_TOKEN_SECONDS = 3600


def walk_settings():
    """The settings the test signs beneficiary and reporter sessions with, living as long as the staff's."""
    return get_settings().model_copy(update={"beneficiary_token_seconds": WALK_TOKEN_SECONDS,
                                             "reporter_token_seconds": WALK_TOKEN_SECONDS})


@pytest.fixture(scope="module")
def platform(databases, module_vhost, tmp_path_factory):
    empty_databases(databases)
    ports = {name: free_port() for name in ("sms-operator", "gateway")}
    ports.update({f"metrics:{name}": free_port() for name in platform_processes()})
    logs = tmp_path_factory.mktemp("logs")
    # thousands of requests from one address and a few accounts: the limits are tested elsewhere
    group = start_platform(module_vhost, databases, ports, str(PROJECT_ROOT), log_dir=str(logs),
                           extra_env={**TEST_PLATFORM_ENV, "RATE_LIMITS_ENABLED": "false", "ACCESS_TOKEN_SECONDS": str(WALK_TOKEN_SECONDS)})
    base = f"http://127.0.0.1:{ports['gateway']}"
    try:
        try:
            wait_ready(f"{base}/readyz", group, timeout=PLATFORM_READY_SECONDS)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}; logs in {logs}") from None
        yield {"base": base, "db": databases}
    finally:
        group.stop(timeout=3)  # the graceful stop has tests of its own (tests/integration/test_sigterm.py)


@pytest.fixture(scope="module")
def world(platform):
    """The callers' credentials, the objects, and the path parameters of every operation."""
    base, db = platform["base"], platform["db"]["complaints"]
    load_demo_staff(db)
    engine = make_engine(db)
    with Session(engine) as session, session.begin():
        for username, name, role, unit in EXTRA_STAFF:
            ensure_staff(session, username, DEMO_PASSWORD, name, role, unit)
        session.execute(sa.text("UPDATE staff SET last_cartable_at = now()"))
    http = requests.Session()
    headers: dict[str, dict] = {c: {} for c in matrix.NO_CREDENTIALS}
    for caller, username in ACCOUNTS.items():
        login = http.post(f"{base}/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD}, timeout=10)
        assert login.status_code == 200, (username, login.text)
        headers[caller] = {"Authorization": f"Bearer {login.json()['access_token']}"}
    headers["beneficiary"] = {"Authorization": f"Bearer {beneficiary_token('0499370899', walk_settings())[0]}"}
    for caller, scope in matrix.KEY_SCOPES.items():
        issued = http.post(f"{base}/api/v1/staff/api-keys", json={"name": f"walk {scope}", "scopes": [scope]},
                           headers=headers["admin"], timeout=10)
        assert issued.status_code == 201, issued.text
        headers[caller] = {"X-API-Key": issued.json()["key"]}

    objects = {}
    for name, holder in HOLDERS.items():
        body = ({"kind": "violation_report", "text": "در مرکز نگهداری سالمندان با سالمندان بدرفتاری می‌شود."}
                if name == "anonymous_report" else
                {"kind": "complaint", "text": "اداره شهرستان به درخواست مستمری پاسخ نمی‌دهد.", "mobile": "09351112233",
                 "name": "زهرا کریمی"})
        registered = http.post(f"{base}/api/v1/cases", json=body, timeout=10)
        assert registered.status_code == 201, registered.text
        code, secret = registered.json()["tracking_code"], registered.json().get("secret")
        session_token = None if secret else reporter_token(code, walk_settings())[0]  # as after the texted code
        proof = {"X-Case-Secret": secret} if secret else {"Authorization": f"Bearer {session_token}"}
        evidence = http.post(f"{base}/api/v1/cases/{code}/evidence", files={"file": ("proof.pdf", PDF, "application/pdf")},
                             headers=proof, timeout=10)
        assert evidence.status_code == 201, evidence.text
        path = ["hq.inspection", "hq.rehabilitation", org.parent_of(holder), holder]
        with engine.begin() as conn:  # as if referred there (tests/e2e/test_case_journey.py refers for real)
            conn.execute(sa.text("UPDATE cases SET holder_unit_id = :u, path = :p, visible_to = :v, status = 'referred' "
                                 "WHERE tracking_code = :c"),
                         {"u": holder, "p": path, "v": org.visible_to(path), "c": code})
        objects[name] = {"tracking_code": code, "secret": secret, "file_id": evidence.json()["id"],
                         "reporter_session": {"Authorization": f"Bearer {session_token}"} if session_token else {}}
    engine.dispose()
    headers["case_reporter"] = objects["rey_case"]["reporter_session"]

    datasets = http.get(f"{base}/api/v1/transparency/datasets", timeout=10).json()
    params = {
        "name": "cloudevents-envelope", "slug": datasets["items"][0]["slug"], "version": "1",
        "tracking_code": objects["rey_case"]["tracking_code"], "file_id": objects["rey_case"]["file_id"],
        "staff_id": str(uuid.uuid4()), "reset_id": str(uuid.uuid4()), "key_id": str(uuid.uuid4()),
        "integrator_id": str(uuid.uuid4()),
        "sweep": "warn_due", "subject_id": str(uuid.uuid4()), "service_code": "complaint",
        "provider": "kavenegar", "secret": "not-the-receipt-secret", "national_id": "0011223344",
        "cycle_id": "1405-01.no_such_cycle", "donation_id": str(uuid.uuid4()), "upload_id": str(uuid.uuid4()), "service_request_id": None, "token": None,
    }
    http.close()
    queries = {"GET /open311/v2/requests.json": {"service_request_id": objects["rey_case"]["tracking_code"]}}
    return {"base": base, "headers": headers, "objects": objects, "params": params, "queries": queries}


def _request(world, key: str, caller: str, obj: str | None) -> tuple:
    method, template = key.split(" ", 1)
    params = dict(world["params"])
    headers = dict(world["headers"][caller])
    if obj is not None:
        case = world["objects"][obj]
        params.update(tracking_code=case["tracking_code"], file_id=case["file_id"],
                      service_request_id=case["tracking_code"], token=case["tracking_code"])
        if caller == "reporter" and case["secret"]:
            headers["X-Case-Secret"] = case["secret"]
        if caller == "case_reporter" and case["reporter_session"]:
            headers = dict(case["reporter_session"])
    url = world["base"] + template.format(**params)
    kwargs: dict = {"headers": headers, "params": world["queries"].get(key), "timeout": 20, "allow_redirects": False}
    if method in ("POST", "PUT"):
        if key in UPLOADS:
            kwargs["files"] = {"not_the_file": ("x.txt", b"x", "text/plain")}
        elif key in FORMS:
            kwargs["data"] = INVALID
        else:
            kwargs["json"] = BODIES.get(key, INVALID)
    return method, url, kwargs


def _walk(world) -> tuple[int, list[str]]:
    cases = [(key, caller, obj) for key, entry in matrix.operations().items() for caller in matrix.callers()
             for obj in (matrix.objects() if entry.get("objects") else [None])]
    local = threading.local()

    def one(case):
        key, caller, obj = case
        if not hasattr(local, "http"):
            local.http = requests.Session()
        method, url, kwargs = _request(world, key, caller, obj)
        got = local.http.request(method, url, **kwargs)
        want = matrix.expected(matrix.operations()[key], caller, obj)
        if got.status_code != want:
            return f"{key} as {caller}{f' on {obj}' if obj else ''}: {got.status_code}, the matrix says {want}: {got.text[:160]}"
        return None

    with ThreadPoolExecutor(max_workers=6) as pool:
        wrong = [m for m in pool.map(one, cases) if m]
    return len(cases), wrong


def test_every_operation_answers_every_caller_and_object_as_the_matrix_decides(world):
    walked, wrong = _walk(world)
    assert walked > 2000
    assert wrong == [], f"{len(wrong)} of {walked} answers differ from gateway/authorization.yaml:\n" + "\n".join(wrong)


def test_the_walk_changed_none_of_its_objects(world):
    """Refused steps leave the cases where they were: held by the same unit, in the same stage."""
    for name, case in world["objects"].items():
        view = requests.get(f"{world['base']}/api/v1/staff/cases/{case['tracking_code']}",
                            headers=world["headers"]["inspector"], timeout=10).json()
        assert view["holder_unit"] == HOLDERS[name] and view["status"] == "referred", name
