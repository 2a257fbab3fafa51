"""The rows of the event-fed datasets (catalog.py `source="events"`), made from what feeds.py kept."""
from __future__ import annotations

from datetime import date, datetime
from typing import Iterable

import jdatetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.complaints.org_data import PROVINCES
from services.transparency import payment_history
from services.transparency.demo_data import demo_rows
from services.transparency.feeds import tehran_date
from services.transparency.models import complaint_statistics, donations_received

DONOR_KINDS_FA = {"person": "شخص حقیقی", "company": "شرکت (مسئولیت اجتماعی)"}
PERIOD_KINDS_FA = {"weekly": "هفتگی", "monthly": "ماهانه"}
DIMENSIONS_FA = {"total": "کل", "kind": "نوع", "province": "استان", "outcome": "نتیجه"}
OUTCOMES_FA = {"answered": "پاسخ داده شده", "in_progress": "در دست رسیدگی"}
KINDS_FA = {"complaint": "شکایت", "criticism": "انتقاد", "opinion": "نظر", "idea": "ایده", "suggestion": "پیشنهاد",
            "recommendation": "توصیه", "violation_report": "گزارش تخلف", "question": "پرسش", "other": "سایر"}


def jalali_text(day: date) -> str:
    return jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d")


def donations(session: Session) -> Iterable[dict]:
    for (data,) in session.execute(select(donations_received.c.data)
                                   .order_by(donations_received.c.paid_at, donations_received.c.donation_id)):
        day = tehran_date(data["paid_at"])
        jalali = jdatetime.date.fromgregorian(date=day)
        yield {"receipt_number": data["receipt_number"], "paid_on": day.isoformat(), "paid_on_jalali": jalali_text(day),
               "month": f"{jalali.year:04d}-{jalali.month:02d}", "province": data["province"],
               "province_fa": data["province_fa"], "purpose_kind": data["purpose_kind"],
               "purpose_code": data["purpose_code"], "purpose_fa": data["purpose_fa"],
               "amount_rials": data["amount_rials"], "donor_kind": data["donor_kind"],
               "donor_kind_fa": DONOR_KINDS_FA[data["donor_kind"]], "company_name": data.get("company_name")}


def complaint_statistics_rows(session: Session) -> Iterable[dict]:
    """One row per period, dimension and category; complaints published them already suppressed."""
    for (data,) in session.execute(select(complaint_statistics.c.data).order_by(complaint_statistics.c.period)):
        common = {"period": data["period"], "period_kind": data["kind"], "period_kind_fa": PERIOD_KINDS_FA[data["kind"]],
                  "label_fa": data["label_fa"], "from_date": _day(data["from"]), "to_date": _day(data["to"])}
        cells = [("total", "all", "همه", data["received"], data.get("on_time_rate"))]
        for dimension, key, names in (("kind", "by_kind", KINDS_FA), ("province", "by_province", PROVINCES),
                                      ("outcome", "by_outcome", OUTCOMES_FA)):
            cells += [(dimension, code, names.get(code, code), n, None) for code, n in sorted(data[key].items())]
        for dimension, code, name, n, rate in cells:
            yield {"row_id": f"{data['period']}.{dimension}.{code}", **common, "dimension": dimension,
                   "dimension_fa": DIMENSIONS_FA[dimension], "category": code, "category_fa": name, "count": n,
                   "suppressed": n is None, "on_time_rate": rate}


def payment_aggregates(session: Session) -> Iterable[dict]:
    for row in payment_history.aggregate_rows(session):
        yield {"row_id": f"{row['month']}.{row['budget_line']}.{row['province']}", "month": row["month"],
               "month_fa": row["month_fa"], "year": int(row["month"][:4]), "budget_line": row["budget_line"],
               "budget_line_fa": row["budget_line_fa"], "province": row["province"], "province_fa": row["province_fa"],
               "households": row["households"], "amount_rials": row["amount_rials"],
               "suppressed": row["households"] is None}


def budget(session: Session) -> Iterable[dict]:
    """The 16 lines as published, with what has been paid from each according to the disbursements."""
    spent = payment_history.spent_by_line(session)
    for row in demo_rows("budget"):
        yield {**row, "spent_rials": spent.get(row["code"], row.get("spent_rials") or 0)}


def _day(moment: str) -> str:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).date().isoformat()


BY_SLUG = {"donations": donations, "complaint_statistics": complaint_statistics_rows,
           "payment_aggregates": payment_aggregates, "budget": budget}
