"""A service's typed RPC client (services/<name>/client.py, published by its api.py).

One method per RPC method of the service, with the service method's own signature, so that a caller writes
`complaints.register_case(intake, idempotency)` rather than a pair of strings, and a reader follows the call
from the route into the service method of the same name. The methods are stubs: `remote` sends the call
through a transport (the gateway's RpcClient, or a test's stand-in) with `call(service, method, *args,
**kwargs)`, and `sent` through its `cast` (published, its answer not waited for). Arguments are checked
against the signature before anything is sent. tests/unit/test_service_clients.py keeps every client equal
to its service's `@rpc` methods: the same names, parameters and defaults.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, ClassVar, Protocol


class Transport(Protocol):
    def call(self, service: str, method: str, *args, **kwargs) -> Any: ...

    def cast(self, service: str, method: str, *args, **kwargs) -> None: ...


class ServiceClient:
    service: ClassVar[str]

    def __init__(self, transport: Transport):
        self.transport = transport

    def health(self) -> dict:
        """common.health.HealthRpc.health, which every service answers."""
        return self.transport.call(self.service, "health")

    def health_sent(self) -> None:
        """A health request published without waiting for its answer: the one publish to the broker a caller
        makes in place of a real request it must not be seen to skip (the time would tell)."""
        self.transport.cast(self.service, "health")


def remote(stub):
    """The service's RPC method of the stub's name: its answer, or the error the service raised."""
    return _sending(stub, "call")


def sent(stub):
    """The service's RPC method of the stub's name, published without waiting for its answer: for what the
    caller must not wait on (a one-time code whose sending must take the same time as none)."""
    return _sending(stub, "cast")


def _sending(stub, how: str):
    signature = inspect.signature(stub)

    @functools.wraps(stub)
    def send(self: ServiceClient, *args, **kwargs):
        signature.bind(self, *args, **kwargs)  # a call that does not fit fails here, before anything is sent
        return getattr(self.transport, how)(self.service, stub.__name__, *args, **kwargs)

    send.rpc_method = stub.__name__
    return send
