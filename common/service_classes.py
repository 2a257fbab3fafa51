"""The nameko service classes the platform runs, by process: a service runs in one process (its module's
SERVICE) or in several (its module's PROCESSES, as transparency and transparency-feeds). Imported only
where the classes are needed: it imports the services."""
from __future__ import annotations

import importlib

from common.config import SERVICES, SPLIT_PROCESSES


def processes_of(service: str) -> dict[str, type]:
    module = importlib.import_module(f"services.{service}.service")
    return getattr(module, "PROCESSES", {service: module.SERVICE})


def process_class(process: str) -> type:
    return processes_of(SPLIT_PROCESSES.get(process, process))[process]


def classes_of(services=None) -> list[type]:
    """Every class of the services, each service's main one first."""
    return [cls for service in services or SERVICES for cls in processes_of(service).values()]
