"""Staff sessions and scope in the complaints service, over RPC against the real broker and database."""
import pytest
from tests.helpers import gateway_proxy

from common.errors import Forbidden, NotFound, Unauthenticated
from services.complaints.demo_staff import DEMO_PASSWORD, load_demo_staff
from services.complaints.service import ComplaintsService

CASE = {"kind": "violation_report", "text": "در مرکز نگهداری سالمندان غذای کافی داده نمی‌شود.",
        "mobile": "09121234567", "name": "گزارشگر"}


@pytest.fixture
def complaints(container_factory, service_config, db_urls):
    load_demo_staff(db_urls["complaints"])
    container_factory(ComplaintsService, service_config).start()
    with gateway_proxy("complaints", service_config) as proxy:
        yield proxy


def login(complaints, username, password=DEMO_PASSWORD, address="ip:192.0.2.1"):
    return complaints.login(username, password, address)


def refer_down_to_rey(complaints, code):
    for username, unit in [("operator", "hq.rehabilitation"), ("rehab.expert", "prov.tehran"),
                           ("tehran.head", "prov.tehran.county.rey")]:
        complaints.refer_case(login(complaints, username)["principal"], code, {"unit": unit, "note": "پیگیری شود"})


def test_login_gives_a_principal_and_a_refresh_token(complaints):
    outcome = login(complaints, "REY.expert")  # usernames are case-insensitive
    assert outcome["principal"]["role"] == "county_expert"
    assert outcome["principal"]["unit"] == "prov.tehran.county.rey"
    assert len(outcome["refresh_token"]) >= 32
    assert "password" not in str(outcome)


def test_wrong_passwords_are_refused_and_never_lock_the_account(complaints):
    for _ in range(5):
        with pytest.raises(Unauthenticated) as err:
            login(complaints, "rey.expert", "wrong", address="ip:203.0.113.9")
        assert err.value.code == "invalid_credentials"
    assert login(complaints, "rey.expert", address="ip:198.51.100.7")["principal"]["username"] == "rey.expert"
    with pytest.raises(Unauthenticated) as err:
        login(complaints, "nobody", "x")
    assert err.value.code == "invalid_credentials"  # unknown users look the same


def test_refresh_tokens_rotate_and_a_reused_one_ends_every_session(complaints):
    first = login(complaints, "operator")
    second = complaints.refresh_session(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    with pytest.raises(Unauthenticated):
        complaints.refresh_session(first["refresh_token"])  # stolen and replayed
    with pytest.raises(Unauthenticated):
        complaints.refresh_session(second["refresh_token"])  # so the thief's session ended too


def test_revocation_ends_the_session_at_once_and_only_an_admin_restores(complaints):
    admin = login(complaints, "admin")["principal"]
    expert = login(complaints, "rey.expert")
    who = expert["principal"]
    assert complaints.principal(who["id"], who["credentials_version"])["username"] == "rey.expert"

    with pytest.raises(Forbidden):
        complaints.revoke_access(who, who["id"], "not an admin")
    complaints.revoke_access(admin, who["id"], "cartable unopened for 48 hours (C12)")
    with pytest.raises(Unauthenticated):
        complaints.principal(who["id"], who["credentials_version"])  # the next request
    with pytest.raises(Unauthenticated):
        complaints.refresh_session(expert["refresh_token"])
    with pytest.raises(Unauthenticated) as err:
        login(complaints, "rey.expert")
    assert err.value.code == "access_revoked"

    complaints.restore_access(admin, who["id"], "a-new-long-password")
    with pytest.raises(Forbidden) as err:
        login(complaints, "rey.expert", "a-new-long-password")  # first a password of their own
    assert err.value.code == "password_change_required"
    changed = complaints.change_password("rey.expert", "a-new-long-password", "only-rey-knows-this", "ip:192.0.2.1")
    assert changed["principal"]["credentials_version"] == 4  # revoked, reset, changed
    assert login(complaints, "rey.expert", "only-rey-knows-this")["principal"]["credentials_version"] == 4


def test_staff_see_cases_only_within_their_unit(complaints):
    code = complaints.register_case(CASE)["tracking_code"]
    refer_down_to_rey(complaints, code)
    rey = login(complaints, "rey.expert")["principal"]
    shemiranat = login(complaints, "shemiranat.expert")["principal"]
    province = login(complaints, "tehran.head")["principal"]
    inspector = login(complaints, "inspector")["principal"]

    seen = complaints.get_case_for_staff(rey, code)
    assert seen["holder_unit"] == "prov.tehran.county.rey" and "reporter" not in seen  # C17
    assert complaints.get_case_for_staff(province, code)["tracking_code"] == code
    assert complaints.get_case_for_staff(inspector, code)["reporter"]["mobile"] == "09121234567"
    with pytest.raises(NotFound):
        complaints.get_case_for_staff(shemiranat, code)  # another county: as if it did not exist
