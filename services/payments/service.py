"""The payments service (SPEC P): for now it starts, reports healthy and exposes metrics; the
pension run and donations come with their own issue."""

from common.db import Database
from common.health import HealthRpc
from common.observability import Observability


class PaymentsService(HealthRpc):
    name = "payments"

    db = Database("payments")
    observability = Observability()


SERVICE = PaymentsService
