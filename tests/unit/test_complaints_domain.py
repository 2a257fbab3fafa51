import pytest

from common.errors import InvalidRequest
from common.validation import parse
from services.complaints.domain import display_tracking_code, new_tracking_code, normalise_tracking_code
from services.complaints.schemas import CaseIntake


def test_tracking_codes_are_16_digits_random_and_self_checking():
    codes = {new_tracking_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == 16 and code.isdigit() and code[0] != "0"
        assert normalise_tracking_code(code) == code


def test_a_typed_code_is_understood_and_a_typo_is_caught():
    code = new_tracking_code()
    persian = display_tracking_code(code).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert normalise_tracking_code(persian) == code
    typo = code[:5] + str((int(code[5]) + 1) % 10) + code[6:]
    assert normalise_tracking_code(typo) is None
    assert normalise_tracking_code("12") is None


def test_intake_normalises_identifiers():
    intake = parse(CaseIntake, {"kind": "complaint", "text": "مستمری واریز نشده است.",
                                "mobile": "+98 912 123 4567", "national_id": "۰۴۹۹۳۷۰۸۹۹"})
    assert intake.mobile == "09121234567" and intake.national_id == "0499370899"
    assert intake.channel == "web" and intake.urgency == "normal"


@pytest.mark.parametrize("payload, field, code", [
    ({"text": "مستمری واریز نشده است."}, "kind", "missing"),
    ({"kind": "gossip", "text": "مستمری واریز نشده است."}, "kind", "literal_error"),
    ({"kind": "complaint"}, "text", "missing"),
    ({"kind": "complaint", "text": "کوتاه"}, "text", "string_too_short"),
    ({"kind": "complaint", "text": "ا" * 4001}, "text", "string_too_long"),
    ({"kind": "complaint", "text": "مستمری واریز نشده است.", "mobile": "12345"}, "mobile", "invalid_mobile"),
    ({"kind": "complaint", "text": "مستمری واریز نشده است.", "national_id": "0499370898"},
     "national_id", "invalid_national_id"),
    ({"kind": "complaint", "text": "مستمری واریز نشده است.", "admin": True}, "admin", "extra_forbidden"),
    ({"kind": "complaint", "text": "مستمری واریز\u0000 نشده است."}, "text", "invalid_characters"),
    ({"kind": "complaint", "text": "مستمری واریز \udad5 نشده است."}, "text", "string_unicode"),
])
def test_bad_intake_names_the_field_in_persian(payload, field, code):
    with pytest.raises(InvalidRequest) as err:
        parse(CaseIntake, payload)
    errors = {e["field"]: e for e in err.value.errors}
    assert field in errors
    assert errors[field]["code"] == code
    assert any("\u0600" <= ch <= "\u06ff" for ch in errors[field]["message"])  # Persian for people
    assert errors[field]["detail"]  # English for developers


def test_scope_hq_sees_all_a_province_its_counties_a_county_itself():
    from services.complaints.org import units, within

    rey, shemiranat = "prov.tehran.county.rey", "prov.tehran.county.shemiranat"
    assert within(rey, "hq") and within(rey, "hq.inspection")
    assert within(rey, "prov.tehran") and not within(rey, "prov.isfahan")
    assert within(rey, rey) and not within(rey, shemiranat)
    assert not within("prov.tehranx", "prov.tehran")  # a prefix of letters is not a subtree
    ids = [u["id"] for u in units()]
    assert len([u for u in units() if u["kind"] == "province"]) == 31
    assert len(ids) == len(set(ids))
    assert all(u["parent"] is None or ids.index(u["parent"]) < ids.index(u["id"]) for u in units())


def test_an_anonymous_reports_secret_is_derived_from_its_idempotency_key_or_random():
    from services.complaints.domain import case_secret, is_anonymous_report, secret_hash, secret_matches

    assert case_secret("ip:1|k", "key") == case_secret("ip:1|k", "key")
    assert case_secret("ip:1|k", "key") != case_secret("ip:2|k", "key") != case_secret("ip:1|k", "other")
    assert case_secret(None, "key") != case_secret(None, "key")
    secret = case_secret(None, "key")
    assert len(secret) == 16 and secret_matches(secret_hash(secret), secret.lower())
    assert not secret_matches(secret_hash(secret), None) and not secret_matches(secret_hash(secret), "x")
    assert is_anonymous_report("violation_report", None, None, None)
    assert not is_anonymous_report("violation_report", None, "09121234567", None)
    assert not is_anonymous_report("complaint", None, None, None)


def test_third_party_apps_cannot_send_violation_reports():
    with pytest.raises(InvalidRequest) as err:
        parse(CaseIntake, {"kind": "violation_report", "channel": "partner_app",
                           "text": "در مرکز نگهداری تخلف رخ داده است."})
    assert err.value.errors[0]["code"] == "not_for_partner_apps" and err.value.errors[0]["message"]
    assert parse(CaseIntake, {"kind": "complaint", "channel": "partner_app",
                              "text": "نوبت مشاوره داده نمی‌شود."}).channel == "partner_app"
