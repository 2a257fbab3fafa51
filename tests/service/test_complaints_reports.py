"""Reports (SPEC C13, C15, C16) against the real PostgreSQL, with cases moved by the real workflow."""
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from common.events import schemas
from common.events.catalog import STATISTICS_PUBLISHED
from common.events.envelope import new_event
from services.complaints import cases, reports, staff, sweeps
from common.suppression import suppress
from services.complaints.schemas import CaseIntake

REY = "prov.tehran.county.rey"
SHEMIRANAT = "prov.tehran.county.shemiranat"
TO_REY = [("operator", "hq.social"), ("social", "prov.tehran"), ("tehran", REY)]
TO_SHEMIRANAT = [("operator", "hq.social"), ("social", "prov.tehran"), ("tehran", SHEMIRANAT)]
STAFF = {"operator": ("اپراتور ستاد", "hq_operator", "hq.inspection"),
         "social": ("کارشناس امور اجتماعی", "hq_expert", "hq.social"),
         "tehran": ("مدیرکل تهران", "province_head", "prov.tehran"),
         "rey": ("رئیس ری", "county_head", REY),
         "shemiranat": ("رئیس شمیرانات", "county_head", SHEMIRANAT)}


@pytest.fixture
def session(db_urls):
    engine = sa.create_engine(db_urls["complaints"])
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def people(session):
    with session.begin():
        made = {key: staff.create(session, key, "a long enough password", *spec) for key, spec in STAFF.items()}
        return {key: {"kind": "staff", "id": s.id, "full_name": s.full_name, "role": s.role, "unit": s.unit_id}
                for key, s in made.items()}


def register(session, kind, category=None, center=None, chain=(), people=None, mobile=None) -> str:
    with session.begin():
        code = cases.register(session, CaseIntake(kind=kind, text="متنی برای آزمودن گزارش‌ها", category=category,
                                                  center=center, mobile=mobile)).tracking_code
    for who, unit in chain:
        with session.begin():
            cases.refer(session, people[who], code, unit, "لطفاً پیگیری شود")
    return code


def read(session, fn, *args):
    with session.begin():
        return fn(session, *args)


def counts(items, key="key"):
    return {item[key]: item["count"] for item in items}


def test_dashboards_cover_the_callers_subtree_and_a_miss_lowers_the_managers_score(session, people):
    t0 = datetime.now(timezone.utc)
    start, end = t0 - timedelta(hours=1), t0 + timedelta(days=3)
    a = register(session, "complaint", "pension", f"{REY}.center.ghoncheh", TO_REY, people)
    register(session, "complaint", "pension", f"{REY}.center.omid", TO_REY, people)
    register(session, "question", "housing", None, TO_REY, people)
    register(session, "complaint", "elderly_care", f"{SHEMIRANAT}.center.asayesh", TO_SHEMIRANAT, people)
    register(session, "idea")
    with session.begin():
        cases.answer(session, people["rey"], a, "مستمری شما واریز شد و پیگیری انجام شد.", [])  # on time

    rey = read(session, reports.dashboard, people["rey"], start, end)
    assert rey["scope"] == REY and rey["scope_fa"] == "اداره بهزیستی شهرستان ری"
    assert rey["total"] == 3
    assert counts(rey["by_kind"]) == {"complaint": 2, "question": 1}
    assert {k["key"]: k["label_fa"] for k in rey["by_kind"]}["complaint"] == "شکایت"
    assert counts(rey["by_category"]) == {"pension": 2, "housing": 1}
    assert counts(rey["by_center"]) == {f"{REY}.center.ghoncheh": 1, f"{REY}.center.omid": 1}
    assert counts(rey["by_status"]) == {"referred": 2, "awaiting_approval": 1}
    assert [(u["unit"], u["hops"], u["on_time"], u["missed"], u["rate"]) for u in rey["on_time_by_unit"]] == [
        (REY, 3, 1, 0, 1.0)]
    assert rey["misses"] == {"count": 0, "by_unit": []}
    assert counts(rey["top_problems"], "category") == {"pension": 2, "housing": 1}

    hq = read(session, reports.dashboard, people["operator"], start, end)
    assert hq["total"] == 5
    assert counts(hq["by_kind"]) == {"complaint": 3, "question": 1, "idea": 1}
    assert counts(hq["top_problems"], "category")["other"] == 1  # the uncategorised idea
    assert read(session, reports.dashboard, people["tehran"], start, end)["total"] == 4
    assert read(session, reports.dashboard, people["shemiranat"], start, end)["total"] == 1

    [card] = read(session, reports.scorecards, people["rey"], start, end)
    assert (card["manager_id"], card["hops"], card["on_time"], card["missed"], card["score"]) == (
        people["rey"]["id"], 3, 1, 0, 100)
    assert card["avg_minutes"] is not None and card["avg_minutes"] < 5

    assert sweeps.escalate_overdue(session, now=t0 + timedelta(days=2)) == 5  # every open case misses

    rey = read(session, reports.dashboard, people["rey"], start, end)
    assert rey["misses"] == {"count": 2, "by_unit": [{"unit": REY, "unit_fa": "اداره بهزیستی شهرستان ری",
                                                      "count": 2}]}
    assert rey["total"] == 3  # out of its sight now, but still on its report: it let them slip
    [by_manager] = rey["on_time_by_manager"]
    assert (by_manager["manager_id"], by_manager["on_time"], by_manager["missed"]) == (people["rey"]["id"], 1, 2)
    [card] = read(session, reports.scorecards, people["rey"], start, end)
    assert (card["on_time"], card["missed"], card["rate"]) == (1, 2, round(1 / 3, 4))
    assert card["score"] == 33 - 2 * 5

    hq = read(session, reports.dashboard, people["operator"], start, end)
    assert hq["misses"]["count"] == 5
    cards = read(session, reports.scorecards, people["operator"], start, end)
    assert [(c["manager_id"], c["score"]) for c in cards][:2] == [(people["shemiranat"]["id"], 0),
                                                                   (people["rey"]["id"], 23)]
    assert [c["score"] for c in cards] == sorted(c["score"] for c in cards)


def test_public_statistics_publish_no_small_count_and_no_personal_data(session, people):
    t0 = datetime.now(timezone.utc)
    start, end = t0 - timedelta(hours=1), t0 + timedelta(hours=1)
    for _ in range(6):
        register(session, "opinion", mobile="09121234567")
    register(session, "opinion", chain=TO_REY[:2], people=people)  # no center: the province it was referred to
    for _ in range(2):
        register(session, "complaint", "pension", f"{REY}.center.ghoncheh")

    data = read(session, reports.public_statistics, "weekly", start, end)
    assert data["received"] == 9
    assert data["by_kind"]["complaint"] is None and data["by_kind"]["opinion"] is None  # complementary
    assert data["by_kind"]["idea"] == 0
    assert data["by_province"]["tehran"] is None and data["by_province"]["national"] is None  # 3 and 6
    assert data["by_province"]["fars"] == 0
    assert data["by_outcome"] == {"answered": 0, "in_progress": 9}
    assert data["on_time_rate"] == 1.0  # the two referrals, each well within its deadline
    cells = [v for dim in ("by_kind", "by_province", "by_outcome") for v in data[dim].values()]
    assert not any(v is not None and 0 < v < 5 for v in cells)
    assert "0912" not in json.dumps(data)
    assert schemas.errors_of(new_event(STATISTICS_PUBLISHED, data, subject=data["period"])) == []

    small = read(session, reports.public_statistics, "weekly", start, end, 10)
    assert small["received"] is None and small["threshold"] == 10
    assert all(v in (0, None) for dim in ("by_kind", "by_province") for v in small[dim].values())


def test_each_period_is_published_once(session, db_urls):
    register(session, "opinion")
    _, week_end = reports.week_of(datetime.now(timezone.utc))
    now = week_end + timedelta(days=1)
    published = reports.publish_due_statistics(session, now)
    week_start, _ = reports.last_completed("weekly", now)
    assert published[0] == f"weekly:{week_start.astimezone(reports.TEHRAN).date().isoformat()}"
    assert published[1].startswith("monthly:14") and len(published) == 2
    assert reports.publish_due_statistics(session, now) == []

    with session.begin():
        rows = session.execute(sa.text("SELECT routing_key, envelope FROM outbox WHERE routing_key LIKE '%statistics%'"
                                       " ORDER BY seq")).all()
        periods = session.scalars(sa.text("SELECT period FROM statistics_publications ORDER BY period")).all()
    assert [r.routing_key for r in rows] == ["ir.behzisti.complaints.statistics.published.v1"] * 2
    assert [r.envelope["subject"] for r in rows] == published
    assert sorted(periods) == sorted(published)
    assert rows[0].envelope["data"]["received"] is None  # one case: below the threshold


# the periods ---------------------------------------------------------------------------------------------------
def test_the_iranian_week_runs_saturday_to_saturday_tehran_time():
    start, end = reports.week_of(datetime(2026, 11, 26, 12, tzinfo=timezone.utc))  # a Thursday
    assert start == datetime(2026, 11, 20, 20, 30, tzinfo=timezone.utc)  # Saturday 00:00 in Tehran
    assert end - start == timedelta(days=7)
    assert reports.week_of(start)[0] == start and reports.week_of(start - timedelta(seconds=1))[1] == start
    assert reports.period_of("weekly", start) == ("weekly:2026-11-21", "هفتهٔ ۱۴۰۵/۰۸/۳۰ تا ۱۴۰۵/۰۹/۰۶")


def test_the_jalali_month():
    start, end = reports.month_of(datetime(2026, 11, 26, 12, tzinfo=timezone.utc))
    assert (start, end) == (datetime(2026, 11, 21, 20, 30, tzinfo=timezone.utc),
                            datetime(2026, 12, 21, 20, 30, tzinfo=timezone.utc))
    assert reports.period_of("monthly", start) == ("monthly:1405-09", "آذر ۱۴۰۵")
    esfand, farvardin = reports.last_completed("monthly", datetime(2027, 3, 25, tzinfo=timezone.utc))
    assert reports.period_of("monthly", esfand)[0] == "monthly:1405-12"
    assert reports.period_of("monthly", farvardin)[0] == "monthly:1406-01"


# suppression ---------------------------------------------------------------------------------------------------
def test_small_counts_are_suppressed_with_a_complement():
    assert suppress({"a": 20, "b": 7, "c": 3, "d": 0}, 30, 5) == {"a": 20, "b": None, "c": None, "d": 0}
    assert suppress({"a": 20, "b": 2, "c": 3}, 25, 5) == {"a": 20, "b": None, "c": None}
    assert suppress({"a": 20, "b": 5}, 25, 5) == {"a": 20, "b": 5}
    assert suppress({"a": 3, "b": 0}, 3, 5) == {"a": None, "b": None}
    assert suppress({"a": 0, "b": 0}, 0, 5) == {"a": 0, "b": 0}


@given(st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 30), min_size=1), st.integers(1, 8))
def test_no_small_count_is_published_nor_deducible_from_the_total(counts, threshold):
    total = sum(counts.values())
    cells = suppress(counts, total, threshold)
    assert set(cells) == set(counts)
    assert all(v is None or v == counts[k] for k, v in cells.items())
    assert not any(v is not None and 0 < v < threshold for v in cells.values())
    if 0 < total < threshold:  # the total itself is withheld
        assert all(v is None for v in cells.values())
    else:
        hidden = [k for k, v in cells.items() if v is None]
        assert all(counts[k] > 0 for k in hidden)
        assert len(hidden) != 1  # total minus the published cells never equals one withheld cell
