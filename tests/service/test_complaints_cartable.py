"""The cartable at a county's size on the real PostgreSQL (SPEC C14): keyset pages past 100 cases, search by
code, some of its digits, text or (inspection only) mobile, filters by kind, urgency, category and deadline,
an excerpt per row; a case registered a minute ago is reached by its code and first when newest come first."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.errors import Forbidden
from services.complaints import cases
from services.complaints.cartable import excerpt
from services.complaints.demo_staff import load_demo_staff
from services.complaints.schemas import CaseIntake
from tests.conftest import empty_databases
from tests.service.complaints_helpers import principal, refer_to_rey

LONG = ("مستمری سه ماه گذشتهٔ مادرم واریز نشده است و هر بار که به اداره می‌روم می‌گویند هفتهٔ بعد بیایید؛ "
        "مادرم بیمار است و هزینهٔ دارو را نمی‌توانیم بدهیم. لطفاً رسیدگی کنید تا دست‌کم این ماه واریز شود.")


def register(session, **fields):
    intake = {"kind": "complaint", "urgency": "normal", "text": "نوبت ویزیت مرکز توانبخشی داده نمی‌شود.", **fields}
    with session.begin():
        code = cases.register(session, CaseIntake(**intake)).tracking_code
    refer_to_rey(session, code)
    return code


def cartable(session, username="rey.expert", limit=100, after=None, **filters):
    with session.begin():
        return cases.cartable(session, principal(session, username), limit, after, filters)


def all_pages(session, **filters):
    codes, after = [], None
    while True:
        page = cartable(session, after=after, **filters)
        codes += [item["tracking_code"] for item in page["items"]]
        if not page["next"]:
            return codes
        after = page["next"]


@pytest.fixture(scope="module")
def county(databases):
    """108 cases at Rey, registered once for the module's tests, which only read them."""
    empty_databases(databases)
    load_demo_staff(databases["complaints"])
    made = sa.create_engine(databases["complaints"])
    with Session(made) as session:
        older = [register(session) for _ in range(105)]
        special = {
            "urgent": register(session, urgency="urgent", kind="violation_report", category="center_conduct",
                               text="در این مرکز با کودکان بدرفتاری می‌شود."),
            "long": register(session, category="pension", mobile="09351112233", text=LONG),
        }
        with session.begin():  # one case overdue, one due after today
            session.execute(sa.text("UPDATE cases SET deadline_at = now() - interval '1 minute' WHERE tracking_code = :c"),
                            {"c": older[0]})
            session.execute(sa.text("UPDATE cases SET deadline_at = now() + interval '3 days' WHERE tracking_code = :c"),
                            {"c": older[1]})
        newest = register(session, text="همین الان ثبت شد: مستمری پدرم قطع شده است.")
        yield session, older, special, newest
    made.dispose()


def test_keyset_pages_reach_every_case_past_the_first_hundred(county):
    session, older, special, newest = county
    first = cartable(session)
    assert len(first["items"]) == 100 and first["next"]
    everything = all_pages(session)
    assert len(everything) == len(set(everything)) == 108 and newest in everything
    by_newest = cartable(session, limit=5, order="newest")
    assert by_newest["items"][0]["tracking_code"] == newest  # registered a minute ago: first
    assert len(all_pages(session, order="newest")) == 108


def test_search_by_code_digits_text_and_for_inspection_only_mobile(county):
    session, older, special, newest = county
    for typed in (newest, "-".join(newest[i:i + 4] for i in range(0, 16, 4)), newest[-6:]):
        assert [i["tracking_code"] for i in cartable(session, q=typed)["items"]] == [newest]
    assert [i["tracking_code"] for i in cartable(session, q="بدرفتاری")["items"]] == [special["urgent"]]
    with pytest.raises(Forbidden) as refused:
        cartable(session, q="09351112233")
    assert "بازرسی" in refused.value.message  # the unit never learns who reported (SPEC C17)


def test_filters_by_kind_urgency_category_and_deadline(county):
    session, older, special, newest = county
    assert [i["tracking_code"] for i in cartable(session, urgency="urgent")["items"]] == [special["urgent"]]
    assert [i["tracking_code"] for i in cartable(session, kind="violation_report")["items"]] == [special["urgent"]]
    assert [i["tracking_code"] for i in cartable(session, category="pension")["items"]] == [special["long"]]
    overdue = cartable(session, due="overdue")["items"]
    assert [i["tracking_code"] for i in overdue] == [older[0]] and overdue[0]["overdue"]
    later, today = set(all_pages(session, due="later")), set(all_pages(session, due="today"))
    assert older[1] in later and older[1] not in today and older[0] not in today | later
    assert len(later | today) == 107


def test_each_row_has_an_excerpt_of_the_text(county):
    session, older, special, newest = county
    [row] = cartable(session, q=special["long"])["items"]
    assert row["excerpt"] == excerpt(LONG) and row["excerpt"].endswith("…") and len(row["excerpt"]) <= 141
    assert row["excerpt"].startswith("مستمری سه ماه گذشتهٔ مادرم")
    assert excerpt("  کوتاه\nو دو خطی ") == "کوتاه و دو خطی"


def test_inspection_finds_a_reporter_s_case_by_mobile_in_its_own_cartable(engine):
    with Session(engine) as session, session.begin():
        code = cases.register(session, CaseIntake(kind="complaint", mobile="09351112244",
                                                  text="مستمری این ماه هنوز واریز نشده است.")).tracking_code
    with Session(engine) as session:
        found = cartable(session, "operator", q="۰۹۳۵۱۱۱۲۲۴۴")["items"]
        assert [i["tracking_code"] for i in found] == [code]
        assert timedelta(0) < timedelta(seconds=found[0]["seconds_left"])
