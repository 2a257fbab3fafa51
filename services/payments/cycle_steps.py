"""The steps of a payment cycle (SPEC P1-P4) on a session the caller owns. Each step is one or more
short transactions and can be run again after a crash anywhere: the orders' ids are deterministic,
each ledger posting and each batch is written once (its key is its cause), the bank takes a batch id
once, and every event goes through the outbox with an id derived from what it reports.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import deque, namedtuple
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from datetime import datetime, timezone
from types import SimpleNamespace

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from common import outbox
from common.config import get_settings
from common.errors import Conflict, NotFound
from common.events.catalog import CYCLE_APPROVED, CYCLE_OPENED, CYCLE_SETTLED, DISBURSEMENTS_PUBLISHED, PAYMENT_FAILED
from common.events.envelope import new_event
from common.jalali import iso, month_fa
from services.payments import cycles, ledger
from services.payments.bank import BankError, BatchRejected, iso20022
from common.budget_lines import SHORT_NAMES_FA
from services.payments.ledger_store import balance, post
from services.payments.models import BankBatch, BudgetLine, Cycle, PaymentOrder
from services.payments.models import outbox as outbox_table

_log = logging.getLogger(__name__)

BATCH_SIZE = get_settings().payment_batch_size  # orders per pain.001 file and per disbursements event
EVENT_NAMESPACE = uuid.UUID("6f1d3b1e-0c57-4c8e-9a59-14051405aaaa")
DEBTOR = {"name": "سازمان بهزیستی کشور", "iban": "IR950170000000000000001405", "bic": "BMJIIRTH"}  # the demo account


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _cycle(session: Session, cycle_id: str, lock: bool = True) -> Cycle:
    query = select(Cycle).where(Cycle.id == cycle_id)
    cycle = session.scalars(query.with_for_update() if lock else query).first()
    if cycle is None:
        raise NotFound("cycle_not_found", "چنین دورهٔ پرداختی نیست.", f"no cycle {cycle_id}")
    return cycle


def _advance(session: Session, cycle: Cycle, stage: str) -> None:
    """Only forward (cycles.check_forward), and only from the stage this worker read: a worker that read an
    older stage than the row now has moves nothing (wrong_cycle_stage), even without a lock on the row."""
    cycles.check_forward(cycle.stage, stage)
    at = now_utc()
    moved = session.execute(update(Cycle).where(Cycle.id == cycle.id, Cycle.stage == cycle.stage)
                            .values(stage=stage, updated_at=at).execution_options(synchronize_session=False)).rowcount
    if not moved:
        raise Conflict("wrong_cycle_stage", "مرحلهٔ دورهٔ پرداخت در این میان تغییر کرد.",
                       f"cycle {cycle.id} is no longer {cycle.stage}: another worker moved it")
    set_committed_value(cycle, "stage", stage)
    set_committed_value(cycle, "updated_at", at)


def _cycle_event(session: Session, event_type, cycle: Cycle, **more) -> None:
    """One event per cycle and step: its id says which, so a step run again publishes nothing new."""
    data = {"cycle_id": cycle.id, "month": cycle.month, "line": cycle.line, "stage": cycle.stage,
            "beneficiaries": cycle.beneficiaries, "total_rials": cycle.total_rials, "at": iso(now_utc()), **more}
    event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{event_type.name}:{cycle.id}"))
    if session.execute(text("SELECT 1 FROM outbox WHERE id = :i"), {"i": event_id}).first() is None:
        outbox.add(session, outbox_table, new_event(event_type, data, subject=cycle.id, event_id=event_id))


# open and compute ------------------------------------------------------------------------------------------
def open_cycle(session: Session, month: str, line: str, actor: str) -> Cycle:
    budget = session.get(BudgetLine, line)
    if budget is None:
        raise NotFound("budget_line_not_found", "چنین ردیف بودجه‌ای نیست.", f"no budget line {line}")
    cycle_id = cycles.cycle_id(month, line)
    if session.get(Cycle, cycle_id) is not None:
        raise Conflict("cycle_exists", "دورهٔ پرداخت این ماه برای این ردیف پیش‌تر باز شده است.",
                       f"a cycle for {month} on {line} exists already")
    cycle = Cycle(id=cycle_id, month=month, line=line, stage="open", prepared_by=actor)
    session.add(cycle)
    session.flush()
    return cycle


# The SQL twin of cycles.order_id, so 1.5 million orders are made in one statement (a test checks
# that both give the same ids).
ORDER_ID_SQL = ("left(replace(left(:cycle, 7), '-', '') || e.national_id || "
                "left(encode(sha256(convert_to(:cycle || '|' || e.national_id, 'UTF8')), 'hex'), 12), 35)")


def compute_entitlements(session: Session, cycle_id: str) -> Cycle:
    """Orders for every active beneficiary enrolled in the line since this month or before, whose
    account the bank confirmed is theirs; stopped when the line's remaining allocation does not
    cover them."""
    cycle = _cycle(session, cycle_id)
    cycles.require(cycle.stage, "open", "compute entitlements of")
    budget = session.get(BudgetLine, cycle.line)
    # Each order is written with the batch issue_orders will put it in (the same numbering), so that issuing
    # does not write all of them a second time: 1.5 million rows rewritten took a minute. The sort by national ID
    # and the join fit in memory with more than the default 4 MB (on disk they took a tenth of the statement).
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    session.execute(text(f"""
        INSERT INTO payment_orders (id, cycle_id, national_id, iban, amount_rials, status, batch_id)
        SELECT {ORDER_ID_SQL}, :cycle, e.national_id, b.iban, :amount, 'issued',
               :cycle || '.' || (1 + (row_number() OVER (ORDER BY e.national_id) - 1) / :size)
        FROM enrolments e JOIN beneficiaries b ON b.national_id = e.national_id
        WHERE e.line = :line AND e.since <= :month AND b.status = 'active' AND b.iban_verified_at IS NOT NULL
        ON CONFLICT (cycle_id, national_id) DO NOTHING"""),
        {"cycle": cycle.id, "amount": cycles.entitlement(budget.per_capita_rials, "active"), "line": cycle.line,
         "month": cycle.month, "size": BATCH_SIZE})
    count, total = session.execute(text("SELECT count(*), coalesce(sum(amount_rials), 0) FROM payment_orders "
                                        "WHERE cycle_id = :c"), {"c": cycle.id}).one()
    cycle.beneficiaries, cycle.total_rials = count, int(total)
    remaining = balance(session, f"allocation:{cycle.line}")
    if not cycles.covers(remaining, cycle.total_rials):
        cycle.stopped_reason = (f"اعتبار باقی‌ماندهٔ ردیف ({remaining:,} ریال) برای این دوره "
                                f"({cycle.total_rials:,} ریال) کافی نیست.")
        _advance(session, cycle, "stopped")
        _cycle_event(session, CYCLE_OPENED, cycle, stopped_reason=cycle.stopped_reason)
        _log.warning("cycle %s stopped: %d rials left, %d needed", cycle.id, remaining, cycle.total_rials)
        return cycle
    _advance(session, cycle, "entitlements_computed")
    _cycle_event(session, CYCLE_OPENED, cycle)
    return cycle


def approve(session: Session, cycle_id: str, actor: str) -> Cycle:
    cycle = _cycle(session, cycle_id)
    cycles.require(cycle.stage, "entitlements_computed", "approve")
    cycles.check_approver(cycle.prepared_by, actor)
    cycle.approved_by = actor
    _advance(session, cycle, "approved")
    _cycle_event(session, CYCLE_APPROVED, cycle)
    return cycle


def issue_orders(session: Session, cycle_id: str) -> Cycle:
    """Orders into bank batches of BATCH_SIZE, numbered in national-ID order: the same on every run. The
    entitlements wrote them so already; only an order numbered otherwise is written again."""
    cycle = _cycle(session, cycle_id)
    cycles.require(cycle.stage, "approved", "issue the orders of")
    if not _numbered(session, cycle.id):
        session.execute(text("""
        UPDATE payment_orders p SET batch_id = n.batch
        FROM (SELECT id, :cycle || '.' || (1 + (row_number() OVER (ORDER BY national_id) - 1) / :size) AS batch
              FROM payment_orders WHERE cycle_id = :cycle) n
        WHERE p.id = n.id AND p.batch_id IS DISTINCT FROM n.batch"""), {"cycle": cycle.id, "size": BATCH_SIZE})
    session.execute(text("""
        INSERT INTO bank_batches (id, cycle_id, orders, total_rials, status)
        SELECT batch_id, :cycle, count(*), sum(amount_rials), 'built' FROM payment_orders
        WHERE cycle_id = :cycle GROUP BY batch_id ON CONFLICT (id) DO NOTHING"""), {"cycle": cycle.id})
    _advance(session, cycle, "orders_issued")
    return cycle


def _numbered(session: Session, cycle_id: str) -> bool:
    """Whether the orders are in the batches issue_orders puts them in: batches 1, 2, ... of BATCH_SIZE orders (the last
    may have fewer), each after the one before in national-ID order. One pass over the orders, summed by batch,
    instead of numbering them all again in order (a sort of 1.5 million rows, a few seconds, for nothing: the
    entitlements number them so)."""
    return bool(session.scalar(text("""
        WITH b AS (SELECT batch_id, count(*) AS n, min(national_id) AS lo, max(national_id) AS hi
                   FROM payment_orders WHERE cycle_id = :cycle GROUP BY batch_id),
             o AS (SELECT *, row_number() OVER (ORDER BY lo) AS k, lag(hi) OVER (ORDER BY lo) AS before,
                          count(*) OVER () AS batches FROM b)
        SELECT bool_and(batch_id IS NOT DISTINCT FROM :cycle || '.' || k AND (before IS NULL OR before < lo)
                        AND (n = :size OR (k = batches AND n < :size))) FROM o"""),
        {"cycle": cycle_id, "size": BATCH_SIZE}))


# the bank -------------------------------------------------------------------------------------------------
# Files and statements at the bank at once (BANK_IN_FLIGHT, 3): each round trip is the bank's work (reading a file
# of 5,000 payments, writing a statement) and ours (building the file, reading the statement); one at a time, each
# side waited for the other. Answers are still recorded one batch at a time and in order, each in its own
# transaction, so a crash anywhere leaves every batch either recorded, or still to send (the bank takes a batch id
# once), or still to settle (a statement is settled once).
IN_FLIGHT = max(1, get_settings().bank_in_flight)
# How long a worker's claim on a file lasts: past the longest it may hold one (answers of the files before it,
# then its own, each within the bank's timeout). A claim past its time is a crashed worker's: another takes the
# file over and sends it again with the same batch id, which the bank answers without booking it twice.
CLAIM_SECONDS = get_settings().bank_claim_seconds or max(120.0, (IN_FLIGHT + 2) * get_settings().bank_timeout)


def send_batches(session: Session, cycle_id: str, bank, in_flight: int | None = None) -> Cycle:
    """Each batch as a pain.001 file, once: a worker claims a file before it builds it (one UPDATE per file),
    so replicas running the cycle at once each send other files; the bank takes a batch id once, and the
    ledger posts its `send` once. A crash between the bank's answer and our commit is healed by sending again
    when the claim runs out. Up to `in_flight` files are built and at the bank at once (in threads); the next
    file is claimed and read while the bank reads them, and the answers are recorded in the order the files were
    claimed."""
    with session.begin():
        cycle = _cycle(session, cycle_id, lock=False)
        cycles.require(cycle.stage, "orders_issued", "send the files of")
        pending = list(session.scalars(select(BankBatch.id).where(BankBatch.cycle_id == cycle_id,
                                                                  BankBatch.status == "built").order_by(BankBatch.id)))
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    claimed: set[str] = set()  # claimed by this call and not yet recorded
    in_flight = max(1, in_flight or IN_FLIGHT)
    at_bank: deque = deque()  # (batch id, its orders, the bank's answer to come), oldest first
    to_bank = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="bank")
    try:
        for batch_id in pending:
            if len(at_bank) >= in_flight:  # the oldest file is answered and recorded before another is built
                claimed.discard(_record_answer(session, cycle_id, *at_bank.popleft()))
            with session.begin():
                if not _claim(session, batch_id, worker):
                    continue  # another worker sends it (or sent it)
                claimed.add(batch_id)
                orders = _orders(session, batch_id)
            at_bank.append((batch_id, orders, to_bank.submit(_build_and_submit, bank, batch_id, orders)))
        while at_bank:
            claimed.discard(_record_answer(session, cycle_id, *at_bank.popleft()))
    finally:
        to_bank.shutdown(wait=True, cancel_futures=True)  # a failure: the files in flight are sent again later
        if claimed:
            _release(session, claimed, worker)
    with session.begin():
        cycle = _cycle(session, cycle_id)
        if cycle.stage == "orders_issued" and not session.scalar(
                select(BankBatch.id).where(BankBatch.cycle_id == cycle_id, BankBatch.status == "built").limit(1)):
            _advance(session, cycle, "bank_file_sent")
    return cycle


def _claim(session: Session, batch_id: str, worker: str) -> bool:
    """The file is this worker's to send until its claim runs out: unless it is sent, or another worker's
    claim on it still runs."""
    return session.execute(text("""
        UPDATE bank_batches SET claimed_by = :worker, claimed_until = now() + make_interval(secs => :lease)
        WHERE id = :batch AND status = 'built' AND (claimed_until IS NULL OR claimed_until < now())
        RETURNING id"""), {"worker": worker, "lease": CLAIM_SECONDS, "batch": batch_id}).first() is not None


def _release(session: Session, batch_ids: set[str], worker: str) -> None:
    """After a failure, the files this worker claimed and did not record are free at once (their outcome may
    be unknown: whoever sends one again sends the same batch id). If the database is gone, the claims run out."""
    try:
        with session.begin():
            session.execute(text("UPDATE bank_batches SET claimed_until = NULL WHERE id = ANY(:ids) "
                                 "AND claimed_by = :worker AND status = 'built'"),
                            {"ids": list(batch_ids), "worker": worker})
    except Exception:  # noqa: BLE001 - the failure that brought us here is the one to report
        _log.warning("could not release the claims on %d bank files; they run out in %ss", len(batch_ids),
                     CLAIM_SECONDS, exc_info=True)


def _build_and_submit(bank, batch_id: str, orders: list) -> dict:
    """The batch's pain.001 built (and validated) and sent, in a thread of send_batches: while this thread builds
    one file, the cycle's own thread claims and reads the next (lxml validates without holding the GIL). A file
    that cannot be built raises here, and in send_batches when its answer is recorded."""
    xml = iso20022.pain001(batch_id, now_utc(), DEBTOR, [
        {"end_to_end_id": o.id, "amount_rials": o.amount_rials, "creditor_name": o.national_id,
         "creditor_iban": o.iban, "national_id": o.national_id} for o in orders])
    return _submit(bank, xml)


def _submit(bank, xml: bytes) -> dict:
    try:
        return bank.submit(xml)
    except BatchRejected as exc:  # the whole file refused: its orders wait for a person
        return {**exc.report, "group_status": "RJCT"}


def _record_answer(session: Session, cycle_id: str, batch_id: str, orders, answer) -> str:
    report = answer.result()  # the bank's error, if any, is raised here
    with session.begin():
        _record_report(session, session.get(Cycle, cycle_id), batch_id, orders, report)
    return batch_id


def _orders(session: Session, batch_id: str, *status: str) -> list:
    """The batch's orders as rows (id, national_id, iban, amount_rials), in id order: 5,000 ORM objects and
    their 5,000 UPDATEs cost more than the rest of the batch."""
    query = (select(PaymentOrder.id, PaymentOrder.national_id, PaymentOrder.iban, PaymentOrder.amount_rials)
             .where(PaymentOrder.batch_id == batch_id).order_by(PaymentOrder.id))
    return list(map(_Order._make, session.execute(query.where(PaymentOrder.status.in_(status)) if status else query)))


# The orders of a batch as plain named tuples: each of their fields is read a few times per order (building the
# file, recording the answer, settling, publishing), and a field of a SQLAlchemy row costs ten times more to read
# (30 ms a batch in all).
_Order = namedtuple("_Order", "id national_id iban amount_rials")
_Settling = namedtuple("_Settling", "id national_id iban amount_rials mobile province")


def _set_status(session: Session, batch_id: str, status: str, reasons: dict[str, str]) -> None:
    """Orders of the batch named in `reasons` (order id -> reason) get `status` and their reason, in one
    statement."""
    if reasons:
        session.execute(text("""
            UPDATE payment_orders p SET status = :status, reason = r.reason
            FROM unnest(CAST(:ids AS text[]), CAST(:reasons AS text[])) AS r(id, reason)
            WHERE p.id = r.id AND p.batch_id = :batch"""),
            {"status": status, "ids": list(reasons), "reasons": list(reasons.values()), "batch": batch_id})


def _failed(orders, status: str, reasons: dict[str, str]) -> list:
    return [SimpleNamespace(id=o.id, national_id=o.national_id, amount_rials=o.amount_rials, status=status,
                            reason=reasons[o.id]) for o in orders if o.id in reasons]


def _record_report(session: Session, cycle: Cycle, batch_id: str, orders, report: dict) -> None:
    batch = session.get(BankBatch, batch_id, with_for_update=True)
    if batch.status != "built":
        return  # answered before (a re-run after a crash): nothing twice
    rejected = dict(report.get("rejected") or {})
    if report.get("group_status") == "RJCT":
        rejected = {o.id: rejected.get(o.id, "batch rejected") for o in orders}
    rejected = {o.id: rejected[o.id] for o in orders if o.id in rejected}  # only this batch's orders
    accepted = [o for o in orders if o.id not in rejected]
    session.execute(text("UPDATE payment_orders SET status = 'sent' WHERE batch_id = :batch "
                         "AND id <> ALL(CAST(:rejected AS text[]))"), {"batch": batch_id, "rejected": list(rejected)})
    _set_status(session, batch_id, "rejected", rejected)
    _publish_failures(session, cycle, _failed(orders, "rejected", rejected))
    total = sum(o.amount_rials for o in accepted)
    if total:
        post(session, ledger.send(batch_id, cycle.line, total))
    batch.status = "accepted" if accepted else "rejected"
    batch.sent_at = now_utc()


def receive_statements(session: Session, cycle_id: str, bank, in_flight: int | None = None) -> Cycle:
    """The bank's statement for each accepted batch (a batch a statement left orders of out is asked again, on
    every run, until each has an outcome): orders paid or returned, the ledger settled, and the batch's
    disbursements published, all in one transaction per batch. Up to `in_flight` statements are
    fetched and read (in threads) while one is settled; they are settled in order."""
    with session.begin():
        cycle = _cycle(session, cycle_id, lock=False)
        cycles.require(cycle.stage, "bank_file_sent", "receive the statements of")
        waiting = list(session.scalars(select(BankBatch.id).where(BankBatch.cycle_id == cycle_id,
                                                                  BankBatch.status == "accepted").order_by(BankBatch.id)))
        batches = session.scalar(text("SELECT count(*) FROM bank_batches WHERE cycle_id = :c"), {"c": cycle_id})
    in_flight = max(1, in_flight or IN_FLIGHT)
    to_fetch = iter(waiting)
    from_bank = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="bank")
    try:
        coming = deque((batch_id, from_bank.submit(bank.statement, batch_id)) for batch_id in islice(to_fetch, in_flight))
        while coming:
            batch_id, answer = coming.popleft()
            statement = answer.result()  # the bank's error, if any, is raised here
            for following in islice(to_fetch, 1):
                coming.append((following, from_bank.submit(bank.statement, following)))
            with session.begin():
                settle_batch(session, cycle_id, batch_id, statement, batches)
    finally:
        from_bank.shutdown(wait=True, cancel_futures=True)
    with session.begin():
        cycle = _cycle(session, cycle_id)
        if cycle.stage == "bank_file_sent" and not session.scalar(
                select(BankBatch.id).where(BankBatch.cycle_id == cycle_id, BankBatch.status == "accepted").limit(1)):
            _advance(session, cycle, "statement_received")
    return cycle


def settle_batch(session: Session, cycle_id: str, batch_id: str, statement: dict, batches: int) -> bool:
    """A statement of the batch: the orders it covers paid or returned, the ledger settled by what it
    covers, the paid ones published. Orders it leaves out stay sent (`left_out` counts them) and the next
    run asks for the batch's statement again; the batch is settled only when every order has an outcome.
    A statement seen before, or one for a batch already settled, changes nothing: False then."""
    batch = session.get(BankBatch, batch_id, with_for_update=True)
    if batch is None or batch.status != "accepted" or batch.statement_id == statement["statement_id"]:
        return False
    cycle = session.get(Cycle, cycle_id)
    entries = {e["end_to_end_id"]: e for e in statement["entries"]}
    paid, returned, back = [], [], {}
    sent = _orders_to_settle(session, batch_id)
    for o in sent:
        entry = entries.get(o.id)
        if entry is None:
            continue  # not on this statement: stays in transit
        if entry.get("returned"):
            back[o.id] = entry.get("reason") or "returned"
            returned.append(o)
        else:
            paid.append(o)
    if paid and len(paid) == len(sent):  # the usual case: the whole batch paid (the batch is locked)
        session.execute(text("UPDATE payment_orders SET status = 'paid' WHERE batch_id = :batch AND status = 'sent'"),
                        {"batch": batch_id})
    elif paid:
        session.execute(text("UPDATE payment_orders SET status = 'paid' WHERE id = ANY(CAST(:ids AS text[]))"),
                        {"ids": [o.id for o in paid]})
    _set_status(session, batch_id, "returned", back)
    returned = _failed(returned, "returned", back)
    if (paid or returned) and not post(session, ledger.settle(statement["statement_id"], cycle.line,
                                                               sum(o.amount_rials for o in paid),
                                                               sum(o.amount_rials for o in returned))):
        # the same statement id with other payments (one for another batch, or the bank's mistake): nothing is
        # taken from it (the transaction rolls back) and the cycle's failure says why
        raise BankError(f"statement {statement['statement_id']} of batch {batch_id} was settled before with "
                        "other payments", retryable=False)
    left_out = len(sent) - len(paid) - len(returned)
    first = batch.statements == 0
    batch.statement_id, batch.statements, batch.left_out = statement["statement_id"], batch.statements + 1, left_out
    if not left_out:
        batch.status, batch.settled_at = "settled", now_utc()
    else:
        _log.warning("the statement %s of batch %s left out %d of its %d orders still at the bank: asked for again",
                     statement["statement_id"], batch_id, left_out, len(sent))
    _publish_failures(session, cycle, returned)
    if paid:  # a later statement's payments are their own event (the first keeps the batch's usual id)
        publish_disbursements(session, cycle, batch_id, paid, batches,
                              part=None if first else statement["statement_id"])
    return True


def _orders_to_settle(session: Session, batch_id: str) -> list:
    """The batch's orders still at the bank, with what the disbursements event says of each beneficiary (one
    query, not two)."""
    return list(map(_Settling._make, session.execute(text("""
        SELECT p.id, p.national_id, p.iban, p.amount_rials, b.mobile, b.province
        FROM payment_orders p LEFT JOIN beneficiaries b ON b.national_id = p.national_id
        WHERE p.batch_id = :batch AND p.status = 'sent' ORDER BY p.id"""), {"batch": batch_id})))


def _publish_failures(session: Session, cycle: Cycle, orders: list) -> None:
    """SPEC P: the beneficiary is told; staff see the payment in the failed list."""
    if not orders:
        return
    budget = session.get(BudgetLine, cycle.line)
    mobiles = dict(session.execute(text("SELECT national_id, mobile FROM beneficiaries WHERE national_id = ANY(:ids)"),
                                   {"ids": [o.national_id for o in orders]}).all())
    events = []
    for o in orders:
        data = {"order_id": o.id, "cycle_id": cycle.id, "line": cycle.line, "line_fa": budget.title_fa,
                "month_fa": month_fa(cycle.month), "national_id": o.national_id, "amount_rials": o.amount_rials,
                "status": o.status, "reason": o.reason or o.status, "at": iso(now_utc())}
        if mobiles.get(o.national_id):
            data["mobile"] = mobiles[o.national_id]
        events.append(new_event(PAYMENT_FAILED, data, subject=cycle.id,
                                event_id=str(uuid.uuid5(EVENT_NAMESPACE, f"failed:{o.id}:{o.status}"))))
    outbox.add_many(session, outbox_table, events)


def mask_account(iban: str) -> str:
    """A Sheba as a person may see it in a public place: grouped by four, only its last four digits shown
    (IR** **** **** **** **** **12 34)."""
    return f"IR** **** **** **** **** **{iban[-4:-2]} {iban[-2:]}"


def publish_disbursements(session: Session, cycle: Cycle, batch_id: str, paid: list, batches: int,
                          part: str | None = None) -> None:
    """The batch's paid orders as one event, or those a later statement of the batch (`part`) paid. Each order
    (a row of _orders_to_settle) carries the beneficiary's mobile and province; the account is the one paid,
    masked."""
    budget = session.get(BudgetLine, cycle.line)
    items = []
    for o in paid:
        item = {"order_id": o.id, "national_id": o.national_id, "amount_rials": o.amount_rials,
                "province": o.province, "account_masked": mask_account(o.iban)}
        if o.mobile:
            item["mobile"] = o.mobile
        items.append(item)
    number = int(batch_id.rsplit(".", 1)[1])
    cause = f"disbursements:{batch_id}" + (f":{part}" if part else "")
    event_id = str(uuid.uuid5(EVENT_NAMESPACE, cause))  # the same batch (and statement), the same id
    data = {"cycle_id": cycle.id, "budget_line": cycle.line, "budget_line_fa": budget.title_fa, "month": cycle.month,
            "month_fa": month_fa(cycle.month), "batch": number, "batches": batches, "paid_at": iso(now_utc()),
            "items": items}
    if cycle.line in SHORT_NAMES_FA:
        data["budget_line_short_fa"] = SHORT_NAMES_FA[cycle.line]
    outbox.add(session, outbox_table, new_event(DISBURSEMENTS_PUBLISHED, data, subject=cycle.id, event_id=event_id))


def reconcile(session: Session, cycle_id: str) -> Cycle:
    """Every order of the cycle is paid, returned or rejected, and the ledger agrees: settled."""
    from services.payments.ledger_store import check

    cycle = _cycle(session, cycle_id)
    cycles.require(cycle.stage, "statement_received", "reconcile")
    open_orders, paid, orders = session.execute(text(  # the cycle's orders read once
        "SELECT count(*) FILTER (WHERE status IN ('issued', 'sent')), count(*) FILTER (WHERE status = 'paid'), "
        "count(*) FROM payment_orders WHERE cycle_id = :c"), {"c": cycle_id}).one()
    problems = check(session)
    if open_orders or problems:
        raise Conflict("not_reconciled", "دورهٔ پرداخت با دفتر کل تطبیق نمی‌کند.",
                       f"{open_orders} orders still open; {'; '.join(problems)}")
    _advance(session, cycle, "reconciled")
    _advance(session, cycle, "settled")
    _cycle_event(session, CYCLE_SETTLED, cycle, paid=paid, failed=orders - paid)
    return cycle


def mark_failed_for_people(session: Session, order_ids: list[str], resolution: str) -> int:
    """A person decides about rejected or returned payments: carried to the next cycle, or cancelled.
    Returned money goes back to the line either way (the next cycle pays it from there)."""
    orders = list(session.scalars(select(PaymentOrder).where(PaymentOrder.id.in_(order_ids),
                                                             PaymentOrder.status.in_(("rejected", "returned")),
                                                             PaymentOrder.resolution.is_(None)).with_for_update()))
    for o in orders:
        if o.status == "returned":
            line = session.get(Cycle, o.cycle_id).line
            post(session, ledger.release(o.id, line, o.amount_rials))
        o.resolution = resolution
    session.execute(update(Cycle).where(Cycle.id.in_({o.cycle_id for o in orders})).values(updated_at=now_utc()))
    return len(orders)


AUTOMATIC = {"open": compute_entitlements, "approved": issue_orders, "statement_received": reconcile}
WITH_BANK = {"orders_issued": send_batches, "bank_file_sent": receive_statements}


MOVED_ON = ("wrong_cycle_stage", "stage_backwards")  # another worker moved the cycle on: read its stage again


def advance(session: Session, cycle_id: str, bank) -> str:
    """Run the cycle's steps from wherever it is (after a crash too) until it waits for a person
    (approval), for the bank (a statement that left orders out) or for another replica (files it claimed),
    or ends (settled, stopped). Returns the stage it reached. Safe beside another replica doing the same:
    each step re-reads the stage under a lock, a stage is written only from the one read, and a step
    already taken is skipped."""
    tried = None  # the stage whose step just ran without moving the cycle
    while True:
        with session.begin():
            stage = _cycle(session, cycle_id, lock=False).stage
        if stage == tried or (stage not in AUTOMATIC and stage not in WITH_BANK):
            return stage
        tried = stage
        try:
            if stage in AUTOMATIC:
                with session.begin():
                    AUTOMATIC[stage](session, cycle_id)
            else:
                WITH_BANK[stage](session, cycle_id, bank)
        except Conflict as exc:
            if exc.code not in MOVED_ON:
                raise
            tried = None
