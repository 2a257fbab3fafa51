from __future__ import annotations

from nameko.extensions import DependencyProvider

from common.config import get_settings
from services.payments.bank import BankHttpAdapter

BANK_URL_KEY = "BANK_URL"


class BankDependency(DependencyProvider):
    """The bank adapter. The default talks to the local fake bank (fakes/bank), which speaks ISO 20022
    files and signs its answers as a bank would; a deployment points BANK_URL at its bank's gateway."""

    def setup(self):
        settings = get_settings()
        url = self.container.config.get(BANK_URL_KEY) or settings.bank_url
        self.bank = BankHttpAdapter(url, settings.bank_shared_key, settings.bank_timeout)

    def get_dependency(self, worker_ctx):
        return self.bank


IPG_URL_KEY = "IPG_URL"


class IpgDependency(DependencyProvider):
    """The payment gateway of the donation portal (services/payments/psp.py). The default talks to the local
    fake gateway (fakes/ipg), which signs its answers and callbacks as a PSP would; a deployment points IPG_URL
    at its PSP."""

    def setup(self):
        from services.payments.psp import IpgHttpAdapter

        settings = get_settings()
        url = self.container.config.get(IPG_URL_KEY) or settings.ipg_url
        self.ipg = IpgHttpAdapter(url, settings.ipg_merchant_id, settings.ipg_shared_key, settings.ipg_timeout)

    def get_dependency(self, worker_ctx):
        return self.ipg
