"""The nameko service classes the platform runs, by process: a service runs in one process (its module's
SERVICE) or in several (its module's PROCESSES, as transparency and transparency-feeds). Imported only
where the classes are needed: it imports the services."""
from __future__ import annotations

import importlib

from common.config import SERVICES, service_of


def processes_of(service: str) -> dict[str, type]:
    module = importlib.import_module(f"services.{service}.service")
    return getattr(module, "PROCESSES", {service: module.SERVICE})


def process_class(process: str) -> type:
    return processes_of(service_of(process))[process]


def classes_of(services=None) -> list[type]:
    """Every class of the services, each service's main one first."""
    return [cls for service in services or SERVICES for cls in processes_of(service).values()]


def handler_queues(cls) -> dict[str, str]:
    """{queue: event type} of a class's event handlers, named as nameko names them:
    evt-<source>-<event type>--<service>.<method>."""
    from nameko.events import EventHandler
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    return {f"evt-{e.source_service}-{e.event_type}--{cls.name}.{attr}": e.event_type
            for attr in sorted(dir(cls)) for e in getattr(getattr(cls, attr), ENTRYPOINT_EXTENSIONS_ATTR, ())
            if isinstance(e, EventHandler)}
