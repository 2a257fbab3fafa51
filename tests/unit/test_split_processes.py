"""A service run in several processes (common/config.py SPLIT_PROCESSES; transparency and transparency-feeds):
each process consumes its own queues. Two classes answering the same rpc-<service> queue would each take
some of its calls, and one would answer MethodNotFound for the other's methods; two consuming the same event
queue would each take some of its events. All keep the service's name, so its queues are named as before."""
from nameko.events import EventHandler
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc
from nameko.timer import Timer

from common.config import SERVICES, SPLIT_PROCESSES
from common.health import event_queues
from common.service_classes import classes_of, process_class, processes_of


def entrypoints(cls) -> list:
    return [e for attr in dir(cls) for e in getattr(getattr(cls, attr), ENTRYPOINT_EXTENSIONS_ATTR, ())]


def test_each_split_process_is_of_its_service_and_runs_its_own_class():
    for process, service in SPLIT_PROCESSES.items():
        assert service in SERVICES and process in processes_of(service)
        assert process_class(process).name == service
        assert process_class(process) is not process_class(service)


def test_only_the_service_s_own_process_answers_rpc_and_no_queue_has_two_processes():
    for service in SERVICES:
        classes = processes_of(service)
        answering = [p for p, cls in classes.items() if any(isinstance(e, Rpc) for e in entrypoints(cls))]
        assert answering == [service], (service, answering)
        handlers = [f"{e.source_service}.{e.event_type}" for cls in classes.values()
                    for e in entrypoints(cls) if isinstance(e, EventHandler)]
        assert len(handlers) == len(set(handlers)), service


def test_transparency_s_rpc_process_consumes_no_event_and_runs_no_timer():
    """What the split is for: a payment cycle's ingest runs beside, never in, the process answering people."""
    answering = process_class("transparency")
    assert not any(isinstance(e, (EventHandler, Timer)) for e in entrypoints(answering))
    feeds = entrypoints(process_class("transparency-feeds"))
    assert {type(e) for e in feeds} - {Timer} and not any(isinstance(e, Rpc) for e in feeds)
    assert len(event_queues(["transparency"])) == sum(isinstance(e, EventHandler) for e in feeds) == 5
    assert {cls.name for cls in classes_of(["transparency"])} == {"transparency"}
