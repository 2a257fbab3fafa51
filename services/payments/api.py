"""payments' published contract: all a caller (the gateway) imports from this service. Its typed RPC client
(`PaymentsClient`: one method per RPC method of service.py, with its signature) and the request and answer models
of pensions (`schemas`) and of donations (`donation_schemas`), each also by name below.
tests/unit/test_import_contracts.py fails on any other import across the boundary (import-linter,
pyproject.toml)."""
from services.payments import donation_schemas, schemas
from services.payments.client import PaymentsClient
from services.payments.donation_schemas import (
    CallbackForm, DonationIn, DonationPurposes, DonationReceipt, DonationsDataset, DonationStarted,
)
from services.payments.schemas import (
    CYCLE_STAGES, BeneficiaryIn, BeneficiaryView, BudgetLineList, CycleList, CycleOpen, CycleView, FailedPayments,
    LedgerCheck, Resolve, Resolved, StatusChange,
)

__all__ = [
    "PaymentsClient", "donation_schemas", "schemas", "CallbackForm", "DonationIn", "DonationPurposes",
    "DonationReceipt", "DonationsDataset", "DonationStarted", "CYCLE_STAGES", "BeneficiaryIn", "BeneficiaryView",
    "BudgetLineList", "CycleList", "CycleOpen", "CycleView", "FailedPayments", "LedgerCheck", "Resolve", "Resolved",
    "StatusChange",
]
