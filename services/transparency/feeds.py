"""What the transparency service keeps from other services' events (never from their tables). Each
function runs in the consumer's transaction after the inbox claimed the event; each is set-based and
also idempotent on its own keys, so the same payment reaching us under two event ids counts once."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from itertools import compress
from operator import itemgetter

from psycopg2 import errors as pg_errors
from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.jalali import tehran_date
from services.transparency.catalog import donation_row
from services.transparency.models import budget_lines, complaint_statistics, dataset_changes, donations_received

# the datasets each kind of event changes (published anew by publishing.publish_changed)
PAYMENT_DATASETS = ("payment_aggregates", "budget")
BUDGET_DATASETS = ("budget",)
DONATION_DATASETS = ("donations",)
STATISTICS_DATASETS = ("complaint_statistics",)

# A batch of 5,000 reaches PostgreSQL as one text parameter per column, each an array literal the statement
# casts (text[], bigint[]) and unnests: one string for the driver to quote and the server to read, where a
# Python list was 5,000 quoted literals in an ARRAY[...] for psycopg2 to build and the server to parse one by
# one (docs/benchmarks.md §8: that was over a third of the consumer's time, and about as much of the server's).
#
# The contacts: only the new and the changed are written. Every month pays the same people again, and
# `ON CONFLICT DO UPDATE … WHERE` locks each existing row before it reads the WHERE: for a batch of known people
# 5,000 row locks and 274 kB of WAL, 13.1 against 9.5 ms when each is looked up first (docs/benchmarks.md §8).
# A correlated subquery, not a join: it stays one index probe a person, where a join planned on the statistics
# of a table still filling (a cycle's first batches) scanned the whole table for every batch. The ON CONFLICT
# stays for a person another batch inserts meanwhile. Two batches giving one person two mobiles at the same time
# (two lines' cycles across a change of number) have no order between them, before or now: whichever wrote its
# mobile first keeps it until a later month's batch, which carries the registry's mobile of then.
_CONTACTS_SQL = text("""
INSERT INTO beneficiary_contacts (national_id, mobile, updated_at)
SELECT c.national_id, c.mobile, now()
FROM unnest(CAST(:national_ids AS text[]), CAST(:mobiles AS text[])) AS c(national_id, mobile)
WHERE c.mobile IS DISTINCT FROM (SELECT known.mobile FROM beneficiary_contacts known
                                 WHERE known.national_id = c.national_id)
ORDER BY c.national_id
ON CONFLICT (national_id) DO UPDATE SET mobile = excluded.mobile, updated_at = excluded.updated_at
  WHERE beneficiary_contacts.mobile <> excluded.mobile
""")

# A household's first month: nobody of the batch is known yet, and a plain INSERT spares the lookup of each person
# and ON CONFLICT's speculative insertion. Tried only when none of a few people of the batch (its first, middle
# and last) is known, in a savepoint: a known person among the others, or one another batch inserted meanwhile,
# makes the key refuse it, and the batch takes _CONTACTS_SQL as every later month does.
_KNOWN_SQL = text("SELECT EXISTS (SELECT FROM beneficiary_contacts WHERE national_id = ANY(CAST(:sample AS text[])))")
_NEW_CONTACTS_SQL = text("""
INSERT INTO beneficiary_contacts (national_id, mobile, updated_at)
SELECT c.national_id, c.mobile, now()
FROM unnest(CAST(:national_ids AS text[]), CAST(:mobiles AS text[])) AS c(national_id, mobile)
ORDER BY c.national_id
""")

# The history, first as plain new rows: a cycle's payments are new, and the primary key refuses the batch only
# when one of them is kept already; then, and only then, the batch takes the way below. INSERT … ON CONFLICT
# costs PostgreSQL a speculative insertion and its confirmation per row (docs/benchmarks.md §8).
_NEW_PAYMENTS_SQL = text("""
INSERT INTO beneficiary_payments (order_id, national_id, paid_on, month, budget_line, amount_rials,
                                  account_masked, status)
SELECT order_id, national_id, :paid_on, :month, :line, amount_rials, account_masked, 'paid'
FROM unnest(CAST(:order_ids AS text[]), CAST(:national_ids AS text[]), CAST(:amounts AS bigint[]),
            CAST(:accounts AS text[])) AS s(order_id, national_id, amount_rials, account_masked)
""")

# The history when some of the batch is kept already. It answers how many payments it took (inserted, or a
# failure now paid) and, only when that is not all of them (the same payment under another event id, already
# kept as paid), which: the totals count each payment once.
_PAYMENTS_SQL = text("""
WITH taken AS (
  INSERT INTO beneficiary_payments (order_id, national_id, paid_on, month, budget_line, amount_rials,
                                    account_masked, status)
  SELECT order_id, national_id, :paid_on, :month, :line, amount_rials, account_masked, 'paid'
  FROM unnest(CAST(:order_ids AS text[]), CAST(:national_ids AS text[]), CAST(:amounts AS bigint[]),
              CAST(:accounts AS text[])) AS s(order_id, national_id, amount_rials, account_masked)
  ON CONFLICT (order_id) DO UPDATE SET status = 'paid', paid_on = excluded.paid_on
    WHERE beneficiary_payments.status <> 'paid'
  RETURNING order_id
)
SELECT CASE WHEN count(*) < :items THEN coalesce(array_agg(order_id), '{}') END FROM taken
""")

# The line's title, kept as the newest event names it: written, so locked, only when new or renamed (every batch
# of a cycle names the same line, and a row each batch updated would be one more for them to queue on).
_TITLE_SQL = text("""
WITH renamed AS (
  UPDATE budget_line_titles SET title_fa = :title WHERE code = :code AND title_fa <> :title RETURNING code
)
INSERT INTO budget_line_titles (code, title_fa) VALUES (:code, :title) ON CONFLICT (code) DO NOTHING
""")

# Last, the rows every batch of a cycle changes, in one statement just before the commit: the totals by province
# of what the history took (in province order) and the mark that the payment datasets changed. Concurrent
# batches wait on these rows for this statement and the commit only, and never deadlock on them.
_TOTALS_SQL = text("""
WITH totals AS (
  INSERT INTO payment_totals (budget_line, province, month, households, amount_rials, updated_at)
  SELECT :line, province, :month, households, amount_rials, now()
  FROM unnest(CAST(:provinces AS text[]), CAST(:households AS bigint[]), CAST(:amounts AS bigint[]))
       AS t(province, households, amount_rials)
  ORDER BY province
  ON CONFLICT (budget_line, province, month) DO UPDATE
    SET households = payment_totals.households + excluded.households,
        amount_rials = payment_totals.amount_rials + excluded.amount_rials, updated_at = excluded.updated_at
)
INSERT INTO dataset_changes (slug) SELECT unnest(CAST(:datasets AS text[]))
ON CONFLICT (slug) DO UPDATE SET changed_at = excluded.changed_at
""")


def text_array(values: list[str]) -> str:
    """A PostgreSQL array literal of `values` (strings), every element quoted: `{"a","b"}`."""
    if not values:
        return "{}"
    if '"' in (everything := "".join(values)) or "\\" in everything:  # rare: escape each element
        return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
    return '{"' + '","'.join(values) + '"}'


def integer_array(values: list[int]) -> str:
    return "{" + ",".join(["%d" % v for v in values]) + "}"


_ORDER_ID, _NATIONAL_ID, _AMOUNT, _PROVINCE = (itemgetter(k) for k in ("order_id", "national_id", "amount_rials", "province"))


def record_disbursements(session: Session, data: dict) -> int:
    """A batch of a cycle's disbursements: each beneficiary's contact for the one-time code, their history,
    and the public totals by line, province and month. Returns the number of items."""
    items = data["items"]
    # one mobile per person (the batch's last), in national ID order: concurrent batches that share people
    # lock their contacts in the same order, so they wait for each other rather than deadlock
    mobiles = {i["national_id"]: i["mobile"] for i in items if i.get("mobile")}
    if mobiles:
        people = sorted(mobiles)
        contacts = {"national_ids": text_array(people), "mobiles": text_array(list(map(mobiles.__getitem__, people)))}
        sample = text_array(sorted({people[0], people[len(people) // 2], people[-1]}))
        if session.execute(_KNOWN_SQL, {"sample": sample}).scalar() or not new_rows(session, _NEW_CONTACTS_SQL, contacts):
            session.execute(_CONTACTS_SQL, contacts)
    order_ids, amounts = list(map(_ORDER_ID, items)), list(map(_AMOUNT, items))
    payments = {
        "order_ids": text_array(order_ids), "national_ids": text_array(list(map(_NATIONAL_ID, items))),
        "amounts": integer_array(amounts), "accounts": text_array([i.get("account_masked", "") for i in items]),
        "paid_on": tehran_date(data["paid_at"]), "month": data["month"], "line": data["budget_line"],
    }
    taken = None if new_rows(session, _NEW_PAYMENTS_SQL, payments) else \
        session.execute(_PAYMENTS_SQL, {**payments, "items": len(items)}).scalar()
    provinces = list(map(_PROVINCE, items))
    if taken is not None:  # not all of them: only those taken count
        keep = list(map(set(taken).__contains__, order_ids))
        provinces, amounts = list(compress(provinces, keep)), list(compress(amounts, keep))
    households = Counter(provinces)
    if len(households) > 1:
        rials = dict.fromkeys(households, 0)
        for province, amount in zip(provinces, amounts, strict=True):
            rials[province] += amount
    else:
        rials = {province: sum(amounts) for province in households}
    session.execute(_TITLE_SQL, {"code": data["budget_line"], "title": data["budget_line_fa"]})
    cells = sorted(households)
    session.execute(_TOTALS_SQL, {
        "line": data["budget_line"], "month": data["month"], "provinces": text_array(cells),
        "households": integer_array([households[p] for p in cells]), "amounts": integer_array([rials[p] for p in cells]),
        "datasets": text_array(list(PAYMENT_DATASETS))})
    return len(items)


def new_rows(session: Session, statement, params: dict) -> bool:
    """Runs a plain INSERT in a savepoint: True when it inserted every row, False (nothing kept) when a unique
    key refused one of them. Cheaper than ON CONFLICT when the rows are new, as a cycle's mostly are."""
    try:
        with session.begin_nested():
            session.execute(statement, params)
    except IntegrityError as error:
        if not isinstance(error.orig, pg_errors.UniqueViolation):
            raise
        return False
    return True


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
