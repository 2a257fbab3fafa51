"""The bank interface of the payments service: ISO 20022 files (iso20022) and the bank adapter (adapter)."""
from services.payments.bank.adapter import (
    BankAdapter,
    BankError,
    BatchRejected,
    BankHttpAdapter,
    ForgedAnswer,
    ForgedStatement,
)
from services.payments.bank.iso20022 import BankFileError

__all__ = ["BankAdapter", "BankError", "BankFileError", "BatchRejected", "BankHttpAdapter", "ForgedAnswer",
           "ForgedStatement"]
