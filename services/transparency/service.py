"""The transparency service (SPEC T): for now it starts, reports healthy and exposes metrics; the
Shafaf datasets come with their own issue."""

from common.db import Database
from common.health import HealthRpc
from common.observability import Observability


class TransparencyService(HealthRpc):
    name = "transparency"

    db = Database("transparency")
    observability = Observability()


SERVICE = TransparencyService
