"""Each service's typed RPC client (services/<name>/client.py) is its service's RPC methods, no more, no less: the
same names, parameters, kinds and defaults, so a route that calls `complaints().register_case(...)` sends exactly
what ComplaintsService.register_case takes. The gateway names no service method by a string."""
from __future__ import annotations

import inspect
import re

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from common.config import PROJECT_ROOT
from common.rpc import Rpc
from services.complaints.api import ComplaintsClient
from services.complaints.service import ComplaintsService
from services.notifications.api import NotificationsClient
from services.notifications.service import NotificationsService
from services.payments.api import PaymentsClient
from services.payments.service import PaymentsService
from services.transparency.api import TransparencyClient
from services.transparency.service import TransparencyService

PAIRS = [(ComplaintsClient, ComplaintsService), (NotificationsClient, NotificationsService),
         (PaymentsClient, PaymentsService), (TransparencyClient, TransparencyService)]


def rpc_methods(service_class) -> dict:
    return {name: member for name, member in inspect.getmembers(service_class, inspect.isfunction)
            if any(isinstance(e, Rpc) for e in getattr(member, ENTRYPOINT_EXTENSIONS_ATTR, ()))}


def client_methods(client_class) -> dict:
    found = {name: member for name, member in inspect.getmembers(client_class, inspect.isfunction)
             if hasattr(member, "rpc_method")}
    return found | {"health": client_class.health}


def shape(function) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("client_class, service_class", PAIRS, ids=lambda c: c.__name__)
def test_a_client_has_each_rpc_method_of_its_service_with_its_signature(client_class, service_class):
    assert client_class.service == service_class.name
    service, client = rpc_methods(service_class), client_methods(client_class)
    assert sorted(client) == sorted(service)
    for name, method in service.items():
        assert shape(client[name]) == shape(method), name
        assert getattr(client[name], "rpc_method", name) == name


class Recorder:
    def __init__(self):
        self.sent = []

    def call(self, service, method, *args, **kwargs):
        self.sent.append(("call", service, method, args, kwargs))
        return {"ok": True}

    def cast(self, service, method, *args, **kwargs):
        self.sent.append(("cast", service, method, args, kwargs))


def test_a_client_sends_the_call_as_given_and_refuses_one_that_does_not_fit_before_sending():
    transport = Recorder()
    complaints = ComplaintsClient(transport)
    assert complaints.get_case("4203917755102846", secret="s") == {"ok": True}
    NotificationsClient(transport).issue_code("09121234567", "reporter", "client-1")
    assert transport.sent == [("call", "complaints", "get_case", ("4203917755102846",), {"secret": "s"}),
                              ("cast", "notifications", "issue_code", ("09121234567", "reporter", "client-1"), {})]
    with pytest.raises(TypeError):
        complaints.get_case("4203917755102846", "s", "one too many")
    with pytest.raises(TypeError):
        complaints.get_case(no_such="x")
    assert len(transport.sent) == 2


def test_the_gateway_names_no_service_method_by_a_string():
    by_string = re.compile(r"""\.(call|cast)\(\s*["']""")
    offenders = [f"{path.relative_to(PROJECT_ROOT)}:{number}"
                 for path in (PROJECT_ROOT / "gateway").rglob("*.py") if path.name != "rpc.py"
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if by_string.search(line)]
    assert offenders == []
