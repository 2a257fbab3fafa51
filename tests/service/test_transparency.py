"""The transparency service in a nameko container, against the real broker and PostgreSQL: what the
payments and complaints events become, the signed chain of versions and its verify command, the
suppression of small cells, and the beneficiary's one-time-code login through the notifications service."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import pytest
import requests
import sqlalchemy as sa
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter
from sqlalchemy.orm import Session

from common.config import get_settings
from common.events.catalog import DISBURSEMENTS_PUBLISHED, DONATION_RECEIVED, PAYMENT_FAILED
from common.events.envelope import new_event
from services.notifications.service import NotificationsService
from services.transparency import dataset_versions, payment_history, publishing, signing
from services.transparency.verify import verify_database
from tests.helpers import publish

PLANTED_ID, PLANTED_MOBILE = "0499370899", "09127770001"


@pytest.fixture
def db(engine_of):
    return engine_of("transparency")


def signer() -> signing.Signer:
    return signing.Signer.from_seed(get_settings().transparency_signing_key)


def disbursements(items: list[dict], batch: int = 1, line: str = "pension_disability", month: str = "1405-09",
                  event_id: str | None = None) -> dict:
    return new_event(DISBURSEMENTS_PUBLISHED, {
        "cycle_id": f"{month}.{line}", "budget_line": line, "budget_line_fa": "مستمری خانوارهای دارای معلول",
        "month": month, "month_fa": "آذر ۱۴۰۵", "batch": batch, "batches": 2, "paid_at": "2026-11-26T09:00:00Z",
        "items": items}, subject=f"{month}.{line}", event_id=event_id)


def item(national_id: str, province: str, amount: int = 12_500_000, mobile: str | None = None) -> dict:
    return {"order_id": f"1405-09.pension_disability.{national_id}", "national_id": national_id,
            "amount_rials": amount, "province": province, **({"mobile": mobile} if mobile else {})}


def national_id(n: int) -> str:
    payload = f"{n:09d}"
    total = sum(int(payload[i]) * (10 - i) for i in range(9)) % 11
    return payload + str(total if total < 2 else 11 - total)


def deliver(container, amqp_uri, event, method="on_disbursements_published"):
    with entrypoint_waiter(container, method, timeout=15) as result:
        publish(amqp_uri, event)
    return result.get()


def test_disbursements_become_each_beneficiarys_history_and_the_totals_once(transparency, rabbit_config, db):
    amqp = rabbit_config["AMQP_URI"]
    people = [item(PLANTED_ID, "tehran", mobile=PLANTED_MOBILE)] + [item(national_id(i), "tehran") for i in range(1, 8)]
    event = disbursements(people)
    assert deliver(transparency, amqp, event) is True
    assert deliver(transparency, amqp, event) is False  # a redelivery: the inbox knew it
    # the same payments under another event id (a republished batch) still count once
    assert deliver(transparency, amqp, disbursements(people, event_id=str(uuid.uuid4()))) is True
    failed = new_event(PAYMENT_FAILED, {
        "order_id": "1405-09.pension_disability.0010350829", "cycle_id": "1405-09.pension_disability",
        "line": "pension_disability", "line_fa": "مستمری خانوارهای دارای معلول", "month_fa": "آذر ۱۴۰۵",
        "national_id": PLANTED_ID, "amount_rials": 12_500_000, "status": "rejected", "reason": "account closed",
        "at": "2026-11-26T09:05:00Z"})
    assert deliver(transparency, amqp, failed, "on_payment_failed") is True

    with Session(db) as session:
        assert session.scalar(sa.text("SELECT count(*) FROM beneficiary_payments WHERE status = 'paid'")) == 8
        assert session.execute(sa.text("SELECT households, amount_rials FROM payment_totals")).one() == (8, 8 * 12_500_000)
        mine = payment_history.history(session, PLANTED_ID, None, 20)
        assert [(p["status"], p["paid_on"], p["paid_on_fa"]) for p in mine["items"]] == [
            ("paid", "2026-11-26", "۱۴۰۵/۰۹/۰۵"), ("failed", "2026-11-26", "۱۴۰۵/۰۹/۰۵")]
        assert mine["items"][0]["budget_line_fa"] == "مستمری خانوارهای دارای معلول"
        assert payment_history.mobile_of(session, PLANTED_ID) == PLANTED_MOBILE
        # the budget dataset changed: marked for the publishing timer, or published by it already (it runs
        # every second here, and may have taken the mark between the events and this read)
        assert session.scalar(sa.text("SELECT (SELECT count(*) FROM dataset_changes WHERE slug = 'budget') + "
                                      "(SELECT count(*) FROM dataset_versions WHERE slug = 'budget')")) > 0


def test_a_batch_partly_kept_already_takes_only_what_is_new(db):
    """The plain inserts' way back (feeds.new_rows): a batch where some payments are kept already, one of
    them as failed, and one person's mobile changed, counts the new and the now-paid payments only."""
    from services.transparency import feeds

    first, later = national_id(1), national_id(2)
    with Session(db) as session, session.begin():
        feeds.record_disbursements(session, disbursements([item(first, "tehran", mobile="09120000001")])["data"])
        feeds.record_payment_failure(session, {
            "order_id": f"1405-09.pension_disability.{later}", "cycle_id": "1405-09.pension_disability",
            "line": "pension_disability", "line_fa": "مستمری", "national_id": later, "amount_rials": 12_500_000,
            "status": "rejected", "at": "2026-11-26T09:05:00Z"})
    batch = [item(first, "tehran", mobile="09120000009"), item(later, "tehran", mobile="09120000002"),
             item(national_id(3), "fars", amount=7_000_000, mobile="09120000003")]
    with Session(db) as session, session.begin():
        assert feeds.record_disbursements(session, disbursements(batch)["data"]) == 3
    with Session(db) as session:
        assert session.scalar(sa.text("SELECT count(*) FROM beneficiary_payments WHERE status = 'paid'")) == 3
        assert session.execute(sa.text("SELECT province, households, amount_rials FROM payment_totals "
                                       "ORDER BY province")).all() == [("fars", 1, 7_000_000), ("tehran", 2, 25_000_000)]
        assert payment_history.mobile_of(session, first) == "09120000009"
        assert payment_history.mobile_of(session, national_id(3)) == "09120000003"


def test_a_later_month_of_known_people_leaves_their_contacts_untouched(db):
    """Every month pays the same people: a contact whose mobile is unchanged is neither rewritten nor locked
    (a locked row carries the locker's transaction id in xmax); a changed one is rewritten."""
    from services.transparency import feeds

    known, moved = national_id(4), national_id(5)
    month = [item(known, "tehran", mobile="09120000004"), item(moved, "tehran", mobile="09120000005")]
    with Session(db) as session, session.begin():
        feeds.record_disbursements(session, disbursements(month)["data"])

    def contact(national):
        with Session(db) as session:
            return session.execute(sa.text("SELECT xmin::text, xmax::text, mobile FROM beneficiary_contacts "
                                           "WHERE national_id = :n"), {"n": national}).one()

    before = contact(known)
    later = [{**i, "order_id": i["order_id"].replace("1405-09", "1405-10")} for i in month]
    later[1]["mobile"] = "09120000055"
    with Session(db) as session, session.begin():
        feeds.record_disbursements(session, disbursements(later, month="1405-10")["data"])
    assert contact(known) == before and before[1] == "0"  # not written, not even locked
    assert contact(moved)[2] == "09120000055"


def test_a_batch_of_new_people_with_known_ones_among_them_keeps_every_contact_right(db):
    """A first month's batch is inserted plain when none of its first, middle and last people is known; a known
    person elsewhere in it makes the key refuse that insert, and the batch is kept as a later month's: the new
    written, the changed rewritten, the unchanged left unwritten."""
    from services.transparency import feeds

    people = [national_id(n) for n in range(10, 15)]  # sorted: the 1st, 3rd and 5th are the ones looked up
    unchanged, moved = people[1], people[3]
    with Session(db) as session, session.begin():
        feeds.record_disbursements(session, disbursements([item(unchanged, "tehran", mobile="09120000011"),
                                                           item(moved, "tehran", mobile="09120000013")])["data"])
    with Session(db) as session:
        before = session.execute(sa.text("SELECT xmin::text, xmax::text FROM beneficiary_contacts WHERE national_id = :n"),
                                 {"n": unchanged}).one()
    batch = [{**item(p, "tehran", mobile=f"0912{n:07d}"), "order_id": f"1405-10.pension_disability.{p}"}
             for n, p in enumerate(people, start=100)]
    batch[1]["mobile"] = "09120000011"  # the known person's own mobile again
    with Session(db) as session, session.begin():
        assert feeds.record_disbursements(session, disbursements(batch, month="1405-10")["data"]) == 5
    with Session(db) as session:
        assert {n: payment_history.mobile_of(session, n) for n in people} == {
            people[0]: "09120000100", unchanged: "09120000011", people[2]: "09120000102",
            moved: "09120000103", people[4]: "09120000104"}
        assert session.execute(sa.text("SELECT xmin::text, xmax::text FROM beneficiary_contacts WHERE national_id = :n"),
                               {"n": unchanged}).one() == before
        assert session.scalar(sa.text("SELECT count(*) FROM beneficiary_payments WHERE month = '1405-10'")) == 5


def test_small_cells_are_suppressed_with_their_complement(db):
    with Session(db) as session, session.begin():
        session.execute(sa.text(
            "INSERT INTO payment_totals VALUES ('pension_disability', 'tehran', '1405-09', 40, 400), "
            "('pension_disability', 'qom', '1405-09', 3, 30), ('pension_disability', 'yazd', '1405-09', 6, 60), "
            "('pension_disability', 'ilam', '1405-09', 9, 90)"))
    with Session(db) as session:
        rows = {r["province"]: (r["households"], r["amount_rials"]) for r in payment_history.aggregate_rows(session)}
        by_province = {c["key"]: c["households"] for c in payment_history.spending(session, "province")["cells"]}
        by_line = payment_history.spending(session, "line")
    # qom (3) is small; yazd (6), the smallest other cell, goes with it: 58 - 40 - 9 gives neither away
    assert rows == {"tehran": (40, 400), "ilam": (9, 90), "qom": (None, None), "yazd": (None, None)}
    assert by_province == {"ilam": 9, "qom": None, "tehran": 40, "yazd": None}
    assert by_line["households"] == 58 and by_line["cells"][0]["households"] == 58


def _publish_small(session, rows, note="") -> dict:
    with session.begin():
        return dataset_versions.publish(session, "managers", rows, signer(), datetime.now(timezone.utc), note=note)


def test_versions_are_chained_signed_and_the_verify_command_finds_an_edit_or_a_gap(db, databases):
    url = databases["transparency"]
    key = signer().public_key_b64()
    rows = [{"manager_id": f"m{i}", "full_name": f"مدیر {i}"} for i in range(3)]
    with Session(db) as session:
        first = _publish_small(session, rows)
        assert _publish_small(session, rows) is None  # the same rows: no new version
        second = _publish_small(session, rows[:2] + [{"manager_id": "m2", "full_name": "مدیر اصلاح‌شده"}], "اصلاح")
    assert (first["version"], second["version"]) == (1, 2) and second["prev_sha256"] == first["record_sha256"]
    assert verify_database(url, key) == []

    with db.begin() as conn:  # someone with the database's keys edits a published row behind the triggers
        with pytest.raises(sa.exc.InternalError, match="append-only"):
            conn.execute(sa.text("UPDATE dataset_rows SET data = '{}' WHERE slug = 'managers'"))
    with db.begin() as conn:
        conn.execute(sa.text("ALTER TABLE dataset_rows DISABLE TRIGGER dataset_rows_append_only"))
        conn.execute(sa.text("UPDATE dataset_rows SET data = jsonb_set(data, '{full_name}', '\"دیگری\"') "
                             "WHERE slug = 'managers' AND version = 1 AND n = 1"))
        conn.execute(sa.text("ALTER TABLE dataset_rows ENABLE TRIGGER dataset_rows_append_only"))
    assert verify_database(url, key) == ["managers v1: its rows are not the rows published (content_sha256)"]

    with db.begin() as conn:
        conn.execute(sa.text("ALTER TABLE dataset_versions DISABLE TRIGGER dataset_versions_append_only"))
        conn.execute(sa.text("DELETE FROM dataset_versions WHERE slug = 'managers' AND version = 1"))
        conn.execute(sa.text("ALTER TABLE dataset_versions ENABLE TRIGGER dataset_versions_append_only"))
    problems = verify_database(url, key, check_rows=False)
    assert "managers: version 1 is missing (found v2)" in problems
    assert "managers v2: does not follow the version before it (prev_sha256)" in problems


def test_a_forged_signature_is_caught(db, databases):
    with Session(db) as session:
        _publish_small(session, [{"manager_id": "m1", "full_name": "مدیر"}])
    other = signing.Signer.from_seed(signing.base64.b64encode(b"\x01" * 32).decode())
    assert verify_database(databases["transparency"], other.public_key_b64()) == [
        "managers v1: the signature does not verify"]


def test_a_correction_is_a_new_version_and_the_old_one_stays(db):
    from services.transparency.schemas import Correction

    with Session(db) as session:
        _publish_small(session, [{"manager_id": "m1", "full_name": "الف"}, {"manager_id": "m2", "full_name": "ب"}])
        with session.begin():
            record = publishing.correct(session, signer(), "managers",
                                       Correction(note="نام مدیر دوم اصلاح شد", rows=[{"manager_id": "m2", "full_name": "پ"}]),
                                       "admin", datetime.now(timezone.utc))
        assert record["version"] == 2 and "نام مدیر دوم" in record["note"]
        assert [r["full_name"] for r in dataset_versions.stored_rows(session, "managers", 1)] == ["الف", "ب"]
        assert [r["full_name"] for r in dataset_versions.stored_rows(session, "managers", 2)] == ["الف", "پ"]


def test_event_fed_datasets_are_published_when_changed_and_hold_no_personal_data(transparency, rabbit_config, db):
    amqp = rabbit_config["AMQP_URI"]
    people = [item(PLANTED_ID, "tehran", mobile=PLANTED_MOBILE)] + [item(national_id(i), "qom") for i in range(1, 9)]
    deliver(transparency, amqp, disbursements(people))
    donation = new_event(DONATION_RECEIVED, {
        "donation_id": str(uuid.uuid4()), "receipt_number": "140509000001", "donor_kind": "person",
        "mobile": PLANTED_MOBILE, "province": "tehran", "province_fa": "تهران", "purpose_kind": "line",
        "purpose_code": "pension_disability", "purpose_fa": "مستمری خانوارهای دارای معلول", "amount_rials": 5_000_000,
        "psp_reference": "PSP-1", "paid_at": "2026-11-26T10:00:00Z", "paid_at_fa": "۱۴۰۵/۰۹/۰۵ ۱۳:۳۰"})
    deliver(transparency, amqp, donation, "on_donation_received")
    def published(*_) -> bool:
        with Session(db) as session:
            return {"payment_aggregates", "donations", "budget"} <= set(dataset_versions.latest_of_all(session))

    if not published():  # the timer publishes what changed on its next tick (or did already)
        with entrypoint_waiter(transparency, "publish_changed", timeout=20, callback=published):
            pass
    with Session(db) as session:
        latest = dataset_versions.latest_of_all(session)
        assert {"payment_aggregates", "donations", "budget"} <= set(latest)
        public = " ".join(str(d) for (d,) in session.execute(sa.text("SELECT data::text FROM dataset_rows")))
        events = " ".join(str(e) for (e,) in session.execute(sa.text("SELECT envelope::text FROM outbox")))
        aggregates = list(dataset_versions.stored_rows(session, "payment_aggregates", latest["payment_aggregates"]["version"]))
    for planted in (PLANTED_ID, PLANTED_MOBILE) + tuple(p["national_id"] for p in people):
        assert planted not in public and planted not in events
    # tehran has one household: suppressed, and so is qom (8), the only other cell, as its complement
    assert {r["province"]: r["households"] for r in aggregates} == {"tehran": None, "qom": None}
    assert re.search(r'"receipt_number": "140509000001"', public)


def test_a_beneficiary_gets_a_code_and_an_unknown_national_id_gets_the_same_answer(
        transparency, container_factory, service_config, sms_operator, rabbit_config, db):
    notifications = container_factory(NotificationsService, {**service_config, "SMS_PROVIDER_URL": sms_operator.url,
                                                             "SMS_PROVIDERS": "kavenegar"})
    notifications.start()
    deliver(transparency, rabbit_config["AMQP_URI"], disbursements([item(PLANTED_ID, "tehran", mobile=PLANTED_MOBILE)]))
    with ServiceRpcProxy("transparency", rabbit_config) as rpc:
        unknown = rpc.request_code({"national_id": national_id(5)}, "test-client")
        known = rpc.request_code({"national_id": PLANTED_ID}, "test-client")
        assert unknown == known == {"accepted": True}
        # the code goes out without the caller waiting for it: wait for the SMS itself
        # (the notifications service also texts "your pension was paid" for the disbursement)
        texts = requests.get(f"{sms_operator.url}/api/messages", params={"receptor": PLANTED_MOBILE, "wait": 15,
                                                                          "min": 2}, timeout=20).json()
        code = re.search(r"کد ورود شما (\d{6})", " ".join(t["message"] for t in texts)).group(1)
        assert rpc.check_code({"national_id": national_id(5), "code": code}) == {"verified": False, "national_id": None}
        assert rpc.check_code({"national_id": PLANTED_ID, "code": "000000" if code != "000000" else "111111"})[
            "verified"] is False
        assert rpc.check_code({"national_id": PLANTED_ID, "code": code}) == {"verified": True, "national_id": PLANTED_ID}
    assert {m["receptor"] for m in sms_operator.operator.messages} == {PLANTED_MOBILE}  # none for the unknown ID


def test_a_code_filter_offers_each_value_with_its_persian_name(db):
    """Shafaf's pickers (issue 22): a filterable code column lists the latest version's values with the Persian
    name beside them, so that a reader picks «تهران» and the filter still sends `tehran`."""
    from services.transparency import browse
    from services.transparency.catalog import CATALOG

    rows = [{"manager_id": f"m{i}", "full_name": f"مدیر {i}", "level": level, "level_fa": level_fa,
             "province": province, "province_fa": province_fa}
            for i, (level, level_fa, province, province_fa) in enumerate([
                ("province", "استان", "tehran", "تهران"), ("county", "شهرستان", "tehran", "تهران"),
                ("province", "استان", "alborz", "البرز")])]
    with Session(db) as session:
        record = _publish_small(session, rows)
        with session.begin():
            versions = dataset_versions.versions_of(session, "managers")
            picks = browse.choices(session, CATALOG["managers"], versions[-1])
        detail = publishing.detail(CATALOG["managers"], versions, picks)
    assert versions[-1]["version"] == record["version"]
    columns = {c["name"]: c for c in detail["columns"]}
    assert sorted(columns["province"]["choices"], key=lambda c: c["value"]) == [
        {"value": "alborz", "title_fa": "البرز"}, {"value": "tehran", "title_fa": "تهران"}]
    assert {c["value"]: c["title_fa"] for c in columns["level"]["choices"]} == {"province": "استان", "county": "شهرستان"}
    assert "choices" not in columns["full_name"] and "choices" not in columns["province_fa"]
