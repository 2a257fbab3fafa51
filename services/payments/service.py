"""The payments service (SPEC P1-P4): entrypoints only translate; the rules are in cycles.py and
ledger.py, the work in cycle_steps.py and registry.py."""
from __future__ import annotations

from datetime import datetime, timezone

from nameko.timer import timer
from sqlalchemy import select

from common import authorization
from common.config import get_settings
from common.db import Database
from common.health import HealthRpc
from common.metrics import PAYMENT_CYCLES_FAILING, record_payment_cycles
from common.observability import Observability
from common.rpc import rpc
from common.validation import parse
from common.idempotency import once, purge_idempotency_records
from services.payments import cycle_steps, cycle_worker, cycles, donations, ledger_store, registry
from services.payments.donation_schemas import DonationIn
from services.payments.dependencies import BankDependency, IpgDependency
from services.payments.models import BudgetLine, Cycle, idempotency_keys
from services.payments.schemas import BeneficiaryIn, CycleOpen, Resolve, StatusChange
from services.payments.views import budget_line_view, cycle_list, cycle_view, failed_orders

# Four eyes (SPEC P): one finance expert prepares, another person approves; the administrator, who manages
# accounts, does neither (issue 18) and only reads.
PREPARES = {"finance_expert"}
APPROVES = {"finance_approver"}
READS = PREPARES | APPROVES | {"auditor", "admin"}


def _require(actor: dict | None, roles: set[str]) -> str:
    """common/authorization.py decides; the username is who the ledger names."""
    return authorization.require(actor, *roles)["username"]


class PaymentsService(HealthRpc):
    name = "payments"

    db = Database("payments")
    bank = BankDependency()
    ipg = IpgDependency()
    observability = Observability()

    # budget lines and the registry -----------------------------------------------------------------------
    @rpc
    def budget_lines(self) -> list:  # public: the budget is published (SPEC T9)
        with self.db.begin():
            return [budget_line_view(self.db, line) for line in self.db.scalars(select(BudgetLine).order_by(BudgetLine.code))]

    @rpc
    def enrol(self, actor: dict, payload: dict) -> dict:
        who = _require(actor, PREPARES)
        data = parse(BeneficiaryIn, payload)
        with self.db.begin():
            return registry.enrol(self.db, data, who, self.bank)

    @rpc
    def set_beneficiary_status(self, actor: dict, national_id: str, payload: dict) -> dict:
        who = _require(actor, PREPARES)
        change = parse(StatusChange, payload)
        with self.db.begin():
            return registry.set_status(self.db, national_id, change.status, who)

    @rpc
    def beneficiary(self, actor: dict, national_id: str) -> dict:
        _require(actor, READS)
        with self.db.begin():
            return {**registry.view(self.db, national_id), "history": registry.history(self.db, national_id)}

    # cycles ----------------------------------------------------------------------------------------------
    @rpc
    def open_cycle(self, actor: dict, payload: dict, idempotency: dict | None = None) -> dict:
        who = _require(actor, PREPARES)
        data = parse(CycleOpen, payload)
        cycle_id = cycles.cycle_id(data.month, data.line)
        with self.db.begin():
            opened = once(self.db, idempotency_keys, idempotency, "open_cycle", data.model_dump(),
                          lambda: {"id": cycle_steps.open_cycle(self.db, data.month, data.line, who).id})
        cycle_steps.advance(self.db, opened["id"], self.bank)  # to its entitlements, or stopped
        return self.cycle(actor, cycle_id)

    @rpc
    def approve_cycle(self, actor: dict, cycle_id: str, idempotency: dict | None = None) -> dict:
        who = _require(actor, APPROVES)
        with self.db.begin():
            once(self.db, idempotency_keys, idempotency, "approve_cycle", cycle_id,
                 lambda: {"id": cycle_steps.approve(self.db, cycle_id, who).id})
        return self.cycle(actor, cycle_id)

    @rpc
    def cycle(self, actor: dict, cycle_id: str) -> dict:
        _require(actor, READS)
        with self.db.begin():
            return cycle_view(self.db, cycle_id)

    @rpc
    def cycles(self, actor: dict, month: str | None = None, line: str | None = None, stage: str | None = None) -> list:
        _require(actor, READS)
        with self.db.begin():
            return cycle_list(self.db, month, line, stage)

    @rpc
    def failed_payments(self, actor: dict, cycle_id: str | None = None) -> list:
        _require(actor, READS)
        with self.db.begin():
            return failed_orders(self.db, cycle_id)

    @rpc
    def resolve_failed(self, actor: dict, payload: dict, idempotency: dict | None = None) -> dict:
        _require(actor, PREPARES)
        data = parse(Resolve, payload)
        with self.db.begin():
            return once(self.db, idempotency_keys, idempotency, "resolve_failed", data.model_dump(),
                        lambda: {"resolved": cycle_steps.mark_failed_for_people(self.db, data.order_ids,
                                                                                 data.resolution)})

    @rpc
    def check_ledger(self, actor: dict) -> dict:
        _require(actor, READS)
        with self.db.begin():
            problems = ledger_store.check(self.db)
        return {"balanced": not problems, "problems": problems}

    # donations (SPEC P5, P6): public; a donation's id is a random uuid ------------------------------------
    @rpc
    def start_donation(self, payload: dict, idempotency: dict | None = None) -> dict:
        data = parse(DonationIn, payload)
        settings = get_settings()
        callback_url = (settings.donation_callback_base_url or settings.public_base_url).rstrip("/") \
            + donations.CALLBACK_PATH
        with self.db.begin():
            return once(self.db, idempotency_keys, idempotency, "start_donation", data.model_dump(mode="json"),
                        lambda: donations.start(self.db, data, self.ipg, callback_url))

    @rpc
    def donation_callback(self, fields: dict) -> dict:
        with self.db.begin():
            return donations.callback(self.db, fields or {}, self.ipg)

    @rpc
    def donation_receipt(self, donation_id: str) -> dict:
        with self.db.begin():
            return donations.receipt(self.db, donation_id)

    @rpc
    def donation_purposes(self) -> dict:
        with self.db.begin():
            return donations.purposes(self.db)

    @rpc
    def donations_dataset(self) -> dict:  # public: the transparency portal (T1, P5)
        with self.db.begin():
            return donations.dataset(self.db)

    @rpc
    def settle_donations(self, actor: dict) -> dict:
        _require(actor, PREPARES)
        return {"settled": donations.settle_pending(self.db, self.ipg)}  # its own short transactions

    # in every replica: donations left behind past a few minutes (claimed with SKIP LOCKED) ------------------
    @timer(interval=600)
    def purge_idempotency(self) -> int:  # every replica: common/retention.py says why that is safe
        return purge_idempotency_records(self.db, idempotency_keys)

    @timer(interval=get_settings().donation_retry_seconds)
    def retry_donations(self) -> dict:
        return donations.retry_pending(self.db, self.ipg)  # its own short transactions, none around a call

    # the cycle worker: in every replica; each cycle alone (cycle_worker.py), each step re-reads its stage ----
    @timer(interval=get_settings().cycle_run_seconds)
    def run_cycles(self) -> dict:
        moved = cycle_worker.run(self.db, self.bank)
        with self.db.begin():  # for PaymentCycleStuck (how long each unfinished cycle has not moved), PaymentCycleFailing
            now = datetime.now(timezone.utc)
            unfinished = self.db.execute(select(Cycle.stage, Cycle.updated_at, Cycle.failures)
                                         .where(Cycle.stage.not_in(cycles.FINAL))).all()
        record_payment_cycles([(stage, (now - updated).total_seconds()) for stage, updated, _ in unfinished])
        PAYMENT_CYCLES_FAILING.set(sum(1 for *_, failures in unfinished if failures))
        return moved


SERVICE = PaymentsService
