"""The complaints service (SPEC C): entrypoints only translate; the rules live in cases.py/domain.py."""
from __future__ import annotations

from nameko.rpc import rpc

from common.db import Database
from common.health import HealthRpc
from common.idempotency import once
from common.observability import Observability
from common.validation import parse
from services.complaints import cases
from services.complaints.models import idempotency_keys
from services.complaints.schemas import CaseIntake


class ComplaintsService(HealthRpc):
    name = "complaints"

    db = Database("complaints")
    observability = Observability()

    @rpc
    def register_case(self, payload: dict, idempotency: dict | None = None) -> dict:
        """`idempotency`: {"client", "key"} from the caller's Idempotency-Key header."""
        intake = parse(CaseIntake, payload)
        with self.db.begin():
            return once(self.db, idempotency_keys, idempotency, "register_case", intake.model_dump(),
                        lambda: cases.public_view(cases.register(self.db, intake)))

    @rpc
    def get_case(self, tracking_code: str) -> dict:
        with self.db.begin():
            return cases.public_view(cases.find(self.db, tracking_code))


SERVICE = ComplaintsService
