"""What the transparency service keeps from other services' events (never from their tables). Each
function runs in the consumer's transaction after the inbox claimed the event; each is set-based and
also idempotent on its own keys, so the same payment reaching us under two event ids counts once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common.jalali import tehran_date
from services.transparency.catalog import donation_row
from services.transparency.models import budget_lines, complaint_statistics, dataset_changes, donations_received

# the datasets each kind of event changes (published anew by publishing.publish_changed)
PAYMENT_DATASETS = ("payment_aggregates", "budget")
BUDGET_DATASETS = ("budget",)
DONATION_DATASETS = ("donations",)
STATISTICS_DATASETS = ("complaint_statistics",)

_DISBURSEMENTS_SQL = text("""
WITH src AS (
  SELECT * FROM unnest(CAST(:order_ids AS text[]), CAST(:national_ids AS text[]), CAST(:amounts AS bigint[]),
                       CAST(:provinces AS text[]), CAST(:accounts AS text[]))
         AS s(order_id, national_id, amount_rials, province, account_masked)
), paid AS (
  INSERT INTO beneficiary_payments (order_id, national_id, paid_on, month, budget_line, amount_rials,
                                    account_masked, status)
  SELECT order_id, national_id, :paid_on, :month, :line, amount_rials, account_masked, 'paid' FROM src
  ON CONFLICT (order_id) DO UPDATE SET status = 'paid', paid_on = excluded.paid_on
    WHERE beneficiary_payments.status <> 'paid'
  RETURNING order_id
)
INSERT INTO payment_totals (budget_line, province, month, households, amount_rials, updated_at)
SELECT :line, src.province, :month, count(*), sum(src.amount_rials), now()
FROM src JOIN paid USING (order_id) GROUP BY src.province
ON CONFLICT (budget_line, province, month) DO UPDATE
  SET households = payment_totals.households + excluded.households,
      amount_rials = payment_totals.amount_rials + excluded.amount_rials, updated_at = excluded.updated_at
""")

_CONTACTS_SQL = text("""
INSERT INTO beneficiary_contacts (national_id, mobile, updated_at)
SELECT DISTINCT ON (national_id) national_id, mobile, now()
FROM unnest(CAST(:national_ids AS text[]), CAST(:mobiles AS text[])) AS c(national_id, mobile)
ORDER BY national_id
ON CONFLICT (national_id) DO UPDATE SET mobile = excluded.mobile, updated_at = excluded.updated_at
""")


def record_disbursements(session: Session, data: dict) -> int:
    """A batch of a cycle's disbursements: each beneficiary's history, their contact for the one-time
    code, and the public totals by line, province and month. Returns the number of items."""
    items = data["items"]
    session.execute(_DISBURSEMENTS_SQL, {
        "order_ids": [i["order_id"] for i in items], "national_ids": [i["national_id"] for i in items],
        "amounts": [i["amount_rials"] for i in items], "provinces": [i["province"] for i in items],
        "accounts": [i.get("account_masked", "") for i in items],
        "paid_on": tehran_date(data["paid_at"]), "month": data["month"], "line": data["budget_line"],
    })
    with_mobile = [i for i in items if i.get("mobile")]
    if with_mobile:
        session.execute(_CONTACTS_SQL, {"national_ids": [i["national_id"] for i in with_mobile],
                                        "mobiles": [i["mobile"] for i in with_mobile]})
    session.execute(text("INSERT INTO budget_line_titles (code, title_fa) VALUES (:code, :title) "
                         "ON CONFLICT (code) DO UPDATE SET title_fa = excluded.title_fa"),
                    {"code": data["budget_line"], "title": data["budget_line_fa"]})
    changed(session, PAYMENT_DATASETS)
    return len(items)


def record_payment_failure(session: Session, data: dict) -> None:
    """A payment the bank refused: the beneficiary sees it in their own history, with its status."""
    session.execute(text("""
        INSERT INTO beneficiary_payments (order_id, national_id, paid_on, month, budget_line, amount_rials,
                                          account_masked, status)
        VALUES (:order_id, :national_id, :on, :month, :line, :amount, '', :status)
        ON CONFLICT (order_id) DO NOTHING"""), {
        "order_id": data["order_id"], "national_id": data["national_id"], "on": tehran_date(data["at"]),
        "month": data["cycle_id"].split(".", 1)[0], "line": data["line"], "amount": data["amount_rials"],
        "status": "returned" if data["status"] == "returned" else "failed"})
    session.execute(text("INSERT INTO budget_line_titles (code, title_fa) VALUES (:code, :title) "
                         "ON CONFLICT (code) DO NOTHING"), {"code": data["line"], "title": data["line_fa"]})


def record_budget_lines(session: Session, data: dict) -> None:
    """SPEC T9: a year's budget lines as payments loaded them. Versions may arrive in any order: the highest
    kept wins, and an older one changes nothing."""
    stmt = insert(budget_lines).values(year=data["year"], version=data["version"], lines=data["lines"])
    kept = session.execute(stmt.on_conflict_do_update(
        index_elements=["year"], where=budget_lines.c.version < stmt.excluded.version,
        set_={"version": stmt.excluded.version, "lines": stmt.excluded.lines, "updated_at": func.now()})).rowcount
    if kept:
        changed(session, BUDGET_DATASETS)


def record_donation(session: Session, data: dict) -> None:
    """SPEC P5, P6: a donation for the donations dataset. A person is never named; a company is."""
    session.execute(insert(donations_received).values(
        donation_id=data["donation_id"], data=donation_row(data),
        paid_at=datetime.fromisoformat(data["paid_at"].replace("Z", "+00:00"))).on_conflict_do_nothing())
    changed(session, DONATION_DATASETS)


def record_statistics(session: Session, data: dict) -> None:
    """SPEC C16: complaints' weekly and monthly statistics, already suppressed by complaints."""
    session.execute(insert(complaint_statistics).values(period=data["period"], data=data)
                    .on_conflict_do_nothing())
    changed(session, STATISTICS_DATASETS)


def changed(session: Session, slugs: tuple[str, ...]) -> None:
    stmt = insert(dataset_changes).values([{"slug": s} for s in slugs])
    session.execute(stmt.on_conflict_do_update(index_elements=["slug"], set_={"changed_at": stmt.excluded.changed_at}))
